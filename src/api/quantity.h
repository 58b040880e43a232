// resource.Quantity as far as validation needs it: parse Kubernetes' quantity strings ("500m",
// "1.5Gi", "2e3", "128974848") into a number so that requests can be compared with limits.
// The value is a long double: exact for every quantity a pod spec realistically carries, and
// comparisons between equal quantities written differently ("1Gi" vs "1024Mi") hold.
#pragma once

#include <string_view>

#include "common/status.h"

namespace kelp::api {

// Kubernetes' own wording for a malformed quantity.
inline constexpr std::string_view kQuantityFormatError =
    "quantities must match the regular expression "
    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

// The numeric value of a quantity string; InvalidArgument with kQuantityFormatError otherwise.
Result<long double> ParseQuantity(std::string_view text);

}  // namespace kelp::api
