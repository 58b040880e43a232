// API discovery built from the resource table (resources.h): the legacy documents (/api
// APIVersions, /apis APIGroupList, /apis/<group> APIGroup, /api/v1 and /apis/<g>/<v>
// APIResourceList) and, when the Accept header asks for it, aggregated discovery
// (apidiscovery.k8s.io/v2 APIGroupDiscoveryList), which kubectl 1.32 prefers.
#pragma once

#include "apiserver/router.h"

namespace kelp::apiserver {

inline constexpr const char* kAggregatedDiscoveryContentType =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

void AddDiscoveryRoutes(Router& router);

}  // namespace kelp::apiserver
