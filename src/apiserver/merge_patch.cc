// RFC 7386 section 2, written recursively over Boost.JSON values.
#include "apiserver/merge_patch.h"

#include <boost/json.hpp>

namespace kelp::apiserver {

boost::json::value ApplyMergePatch(const boost::json::value& target,
                                   const boost::json::value& patch) {
  if (!patch.is_object()) return patch;
  boost::json::object result = target.is_object() ? target.as_object() : boost::json::object();
  for (const auto& [key, value] : patch.as_object()) {
    if (value.is_null()) {
      result.erase(key);
      continue;
    }
    const boost::json::value* current = result.if_contains(key);
    result[key] = ApplyMergePatch(current ? *current : boost::json::value(), value);
  }
  return result;
}

}  // namespace kelp::apiserver
