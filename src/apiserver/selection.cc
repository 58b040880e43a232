// ObjectFilter over api::LabelSelector and api::FieldSelector.
#include "apiserver/selection.h"

namespace kelp::apiserver {

Result<ObjectFilter> ObjectFilter::Parse(std::string_view label_selector,
                                         std::string_view field_selector,
                                         std::string_view resource) {
  ObjectFilter filter;
  KELP_ASSIGN_OR_RETURN(filter.labels_, api::LabelSelector::Parse(label_selector));
  KELP_ASSIGN_OR_RETURN(filter.fields_, api::FieldSelector::Parse(field_selector, resource));
  return filter;
}

bool ObjectFilter::Matches(const boost::json::object& object) const {
  if (!labels_.Empty()) {
    const boost::json::object* labels = nullptr;
    if (const auto* metadata = object.if_contains("metadata")) {
      if (const auto* meta = metadata->if_object()) {
        if (const auto* value = meta->if_contains("labels")) labels = value->if_object();
      }
    }
    if (!labels_.Matches(labels)) return false;
  }
  return fields_.Matches(object);
}

}  // namespace kelp::apiserver
