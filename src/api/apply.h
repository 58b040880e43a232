// Server-side apply (`PATCH` with `application/apply-patch+yaml`): the body is an applied
// configuration in YAML or JSON, merged into the live object. A first approximation of
// Kubernetes' field management: the configuration is applied as a strategic merge patch, and
// managedFields, field ownership and conflicts are not tracked (`force` changes nothing).
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

#include "api/patch.h"
#include "common/status.h"

namespace kelp::api {

// The applied configuration as a JSON object. YAML scalars take the JSON type YAML 1.2's core
// schema gives them (`50` a number, `true` a boolean, `"50"` a string). InvalidArgument for a
// body that is not a single YAML/JSON map, larger than kMaxPatchBytes, nested deeper than
// kMaxPatchDepth, or expanding (through YAML aliases) into more than kMaxApplyNodes values.
Result<boost::json::object> ParseApplyConfiguration(std::string_view body);

inline constexpr std::size_t kMaxApplyNodes = 1 << 20;

// `live` with `applied` merged in: maps recurse, lists merge by the schema's keys.
Result<boost::json::object> MergeApplyConfiguration(const boost::json::object& live,
                                                    const boost::json::object& applied,
                                                    const PatchSchema& schema);

}  // namespace kelp::api
