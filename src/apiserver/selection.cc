// Equality-only selectors. A label that is absent reads as "" for `!=` (so `k!=v` matches
// objects without k, as in Kubernetes) and fails `=`.
#include "apiserver/selection.h"

#include "apiserver/objects.h"

namespace kelp::apiserver {
namespace {

std::vector<std::string_view> SplitTerms(std::string_view text) {
  std::vector<std::string_view> terms;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view term = text.substr(0, comma);
    if (!term.empty()) terms.push_back(term);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return terms;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

// "k=v", "k==v" or "k!=v"; nullopt-like error for anything else.
template <typename Term>
Result<Term> ParseEquality(std::string_view text) {
  size_t op = text.find_first_of("!=");
  if (op == std::string_view::npos || op == 0) {
    return InvalidArgumentError("unable to parse requirement: found '" + std::string(text) +
                                "', only equality-based selectors (k=v, k!=v) are supported");
  }
  Term term;
  term.key = std::string(Trim(text.substr(0, op)));
  size_t value_start = op + 1;
  if (text[op] == '!') {
    if (op + 1 >= text.size() || text[op + 1] != '=') {
      return InvalidArgumentError("unable to parse requirement: " + std::string(text));
    }
    term.negated = true;
    value_start = op + 2;
  } else if (op + 1 < text.size() && text[op + 1] == '=') {
    value_start = op + 2;
  }
  term.value = std::string(Trim(text.substr(value_start)));
  return term;
}

std::string LabelValue(const boost::json::object& object, const std::string& key) {
  const boost::json::value* metadata = object.if_contains("metadata");
  if (!metadata || !metadata->is_object()) return "";
  const boost::json::value* labels = metadata->as_object().if_contains("labels");
  if (!labels || !labels->is_object()) return "";
  const boost::json::value* value = labels->as_object().if_contains(key);
  return value && value->is_string() ? std::string(value->as_string()) : "";
}

bool HasLabel(const boost::json::object& object, const std::string& key) {
  const boost::json::value* metadata = object.if_contains("metadata");
  if (!metadata || !metadata->is_object()) return false;
  const boost::json::value* labels = metadata->as_object().if_contains("labels");
  return labels && labels->is_object() && labels->as_object().contains(key);
}

}  // namespace

Result<ObjectFilter> ObjectFilter::Parse(std::string_view label_selector,
                                         std::string_view field_selector) {
  ObjectFilter filter;
  for (std::string_view text : SplitTerms(label_selector)) {
    KELP_ASSIGN_OR_RETURN(Term term, ParseEquality<Term>(text));
    filter.labels_.push_back(std::move(term));
  }
  for (std::string_view text : SplitTerms(field_selector)) {
    KELP_ASSIGN_OR_RETURN(Term term, ParseEquality<Term>(text));
    if (term.key != "metadata.name" && term.key != "metadata.namespace") {
      return InvalidArgumentError("field label not supported: " + term.key);
    }
    filter.fields_.push_back(std::move(term));
  }
  return filter;
}

bool ObjectFilter::Matches(const boost::json::object& object) const {
  for (const Term& term : labels_) {
    bool equal = HasLabel(object, term.key) && LabelValue(object, term.key) == term.value;
    if (equal == term.negated) return false;
  }
  for (const Term& term : fields_) {
    std::string field = term.key.substr(std::string_view("metadata.").size());
    bool equal = MetadataString(object, field) == term.value;
    if (equal == term.negated) return false;
  }
  return true;
}

}  // namespace kelp::apiserver
