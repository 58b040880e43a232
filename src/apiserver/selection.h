// Which objects a list, watch or deletecollection touches: the labelSelector and
// fieldSelector query parameters, evaluated with src/api's selector language (set-based label
// requirements; the fields each resource supports).
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

#include "api/selectors.h"
#include "common/status.h"

namespace kelp::apiserver {

class ObjectFilter {
 public:
  ObjectFilter() = default;  // matches everything

  // InvalidArgument with Kubernetes' wording for selectors that do not parse or name a field
  // `resource` (plural) cannot be selected by.
  static Result<ObjectFilter> Parse(std::string_view label_selector,
                                    std::string_view field_selector, std::string_view resource);

  bool Empty() const { return labels_.Empty() && fields_.Empty(); }
  bool Matches(const boost::json::object& object) const;

 private:
  api::LabelSelector labels_;
  api::FieldSelector fields_;
};

}  // namespace kelp::apiserver
