// The `kubernetes` Service in namespace `default`, as every Kubernetes API server keeps it:
// ClusterIP = the first address of the service CIDR, port 443 (https) → the API server's
// advertised address and HTTPS port, published through its Endpoints and EndpointSlice of the
// same name. Written through the REST handlers, so the ClusterIP is held by the allocator like
// any other Service's and never handed out twice.
#pragma once

#include <cstdint>
#include <string_view>

#include "apiserver/allocator.h"
#include "apiserver/rest.h"
#include "common/status.h"

namespace kelp::apiserver {

// Creates the Service, Endpoints and EndpointSlice when absent and points them at
// `endpoint_ip`:`port` (server-side apply, so a restart with another address updates them).
Status EnsureKubernetesService(const RestApi& rest, const ServiceNetwork& network,
                               std::string_view endpoint_ip, uint16_t port);

}  // namespace kelp::apiserver
