// Validation of API objects before they are stored, with Kubernetes' exact field paths and
// messages so that kubectl shows what it would show against a real cluster, e.g.
//   Deployment.apps "BAD" is invalid: metadata.name: Invalid value: "BAD": a lowercase RFC 1123
//   subdomain must consist of ...
// The apiserver turns a non-empty cause list into a 422 Status (reason Invalid, details.causes).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kelp::api {

// One entry of a 422's details.causes.
struct FieldCause {
  // FieldValueInvalid, FieldValueRequired, FieldValueNotSupported, FieldValueDuplicate,
  // FieldValueTooLong or FieldValueForbidden.
  std::string reason;
  // The message without the field: `Invalid value: "BAD": a lowercase RFC 1123 ...`.
  std::string message;
  // Kubernetes' path syntax: "spec.template.spec.containers[0].ports[1].containerPort",
  // "data[my.key]".
  std::string field;

  friend bool operator==(const FieldCause&, const FieldCause&) = default;
};

// Constructors mirroring k8s.io/apimachinery's field errors. `bad` is rendered like Kubernetes
// does: strings quoted Go-style, numbers and booleans bare, anything else as JSON.
FieldCause InvalidCause(std::string field, const boost::json::value& bad, std::string_view detail);
FieldCause RequiredCause(std::string field, std::string_view detail = {});
FieldCause NotSupportedCause(std::string field, const boost::json::value& bad,
                             const std::vector<std::string_view>& supported);
FieldCause DuplicateCause(std::string field, const boost::json::value& bad);
FieldCause TooLongCause(std::string field, std::size_t max_bytes);
FieldCause ForbiddenCause(std::string field, std::string_view detail);

// "field: message", one line of an error list.
std::string CauseText(const FieldCause& cause);
// Go's %q of a string (the quoting Kubernetes uses in messages).
std::string GoQuote(std::string_view text);
// Kubernetes' rendering of a list of errors: one → itself, several → "[a, b]", repeats dropped.
std::string JoinCauseTexts(const std::vector<std::string>& texts);

// Checks of single strings; each returns Kubernetes' messages (empty when valid).
std::vector<std::string> IsDNS1123Label(std::string_view value);
std::vector<std::string> IsDNS1123Subdomain(std::string_view value);
std::vector<std::string> IsDNS1035Label(std::string_view value);
std::vector<std::string> IsQualifiedName(std::string_view value);
std::vector<std::string> IsValidLabelValue(std::string_view value);
std::vector<std::string> IsConfigMapKey(std::string_view value);
std::vector<std::string> IsValidPortName(std::string_view value);
std::vector<std::string> IsValidPortNum(std::int64_t port);

// Validates a new object of `resource` in `group` ("" for core). `namespaced` says whether the
// resource lives in namespaces (metadata.namespace is then required, otherwise forbidden).
// Unknown resources get the metadata checks only. Expects defaults already applied.
std::vector<FieldCause> ValidateObject(std::string_view group, std::string_view resource,
                                       const boost::json::object& object, bool namespaced);

// ValidateObject of `updated` plus the fields that may not change: metadata.name, namespace
// and uid, spec.selector of deployments/replicasets/daemonsets, a service's cluster IP once set.
std::vector<FieldCause> ValidateUpdate(std::string_view group, std::string_view resource,
                                       const boost::json::object& old_object,
                                       const boost::json::object& updated, bool namespaced);

// "Deployment.apps" for ("apps", "Deployment"), "Pod" for ("", "Pod").
std::string QualifiedKind(std::string_view group, std::string_view kind);

// The 422 message: `<qualified kind> "<name>" is invalid: <cause list>`.
std::string InvalidMessage(std::string_view qualified_kind, std::string_view name,
                           const std::vector<FieldCause>& causes);

}  // namespace kelp::api
