// Label and field selectors as the API server evaluates them for list/watch requests and as
// controllers use them to find their pods. Label selectors come from the query string
// (`app=web,tier!=db,env in (a,b),!canary`) or from a LabelSelector object (matchLabels +
// matchExpressions); field selectors (`metadata.name=x,spec.nodeName!=n`) are checked against
// the fields each resource supports. Errors carry Kubernetes' own messages.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kelp::api {

enum class SelectorOperator {
  kIn,
  kNotIn,
  kEquals,        // "="
  kDoubleEquals,  // "=="
  kNotEquals,     // "!="
  kExists,        // "key"
  kDoesNotExist,  // "!key"
  kGreaterThan,   // "key>3"
  kLessThan,      // "key<3"
};

struct LabelRequirement {
  std::string key;
  SelectorOperator op = SelectorOperator::kExists;
  std::vector<std::string> values;  // sorted, without duplicates

  // `labels` is an object of string values, or null for an object without labels.
  bool Matches(const boost::json::object* labels) const;
  // Kubernetes' text form: "app=web", "env in (a,b)", "!canary".
  std::string ToString() const;
};

// A conjunction of requirements, sorted by key. The empty selector matches everything.
class LabelSelector {
 public:
  LabelSelector() = default;

  // The query-string syntax. Errors: "unable to parse requirement: ...", "found ',', expected: ...".
  static Result<LabelSelector> Parse(std::string_view text);
  // A metav1.LabelSelector object ({"matchLabels":{...},"matchExpressions":[...]}).
  static Result<LabelSelector> FromJson(const boost::json::object& selector);

  bool Empty() const { return requirements_.empty(); }
  bool Matches(const boost::json::object* labels) const;
  // Requirements joined with ","; what a Scale's status.selector shows ("app=nginx1").
  std::string ToString() const;
  const std::vector<LabelRequirement>& requirements() const { return requirements_; }

 private:
  explicit LabelSelector(std::vector<LabelRequirement> requirements);
  std::vector<LabelRequirement> requirements_;
};

struct FieldRequirement {
  std::string label;  // as written: "spec.nodeName"
  bool negated = false;
  std::string value;
};

// A field selector bound to the resource it filters.
class FieldSelector {
 public:
  FieldSelector() = default;

  // Parses `text` for `resource` ("pods", "events", ... ; any group). A field the resource does
  // not support is an error: "field label not supported: foo" for the core resources with their
  // own field list, `"foo" is not a known field selector: only "metadata.name", ...` otherwise.
  static Result<FieldSelector> Parse(std::string_view text, std::string_view resource);

  bool Empty() const { return requirements_.empty(); }
  bool Matches(const boost::json::object& object) const;
  const std::vector<FieldRequirement>& requirements() const { return requirements_; }

 private:
  FieldSelector(std::string resource, std::vector<FieldRequirement> requirements);
  std::string resource_;
  std::vector<FieldRequirement> requirements_;
};

// The value of a selectable field of `object` as a field selector compares it: "" when absent,
// "true"/"false" for booleans, decimal for counts. Labels the resource does not select on give "".
std::string SelectableFieldValue(std::string_view resource, const boost::json::object& object,
                                 std::string_view label);

}  // namespace kelp::api
