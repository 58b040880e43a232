// Which objects a list or watch returns: the labelSelector and fieldSelector query
// parameters. For now labels support equality only (`k=v`, `k==v`, `k!=v`, comma-joined) and
// fields metadata.name / metadata.namespace; the full selector language (set-based, per
// resource fields) lives in api/selectors.h and replaces Parse's internals once it lands,
// without changing this interface.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kelp::apiserver {

class ObjectFilter {
 public:
  ObjectFilter() = default;  // matches everything

  // InvalidArgument with Kubernetes' wording for selectors it cannot evaluate.
  static Result<ObjectFilter> Parse(std::string_view label_selector,
                                    std::string_view field_selector);

  bool Empty() const { return labels_.empty() && fields_.empty(); }
  bool Matches(const boost::json::object& object) const;

 private:
  struct Term {
    std::string key;
    bool negated = false;
    std::string value;
  };
  std::vector<Term> labels_;
  std::vector<Term> fields_;  // key is "metadata.name" or "metadata.namespace"
};

}  // namespace kelp::apiserver
