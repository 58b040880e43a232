// FetchFromUpstream: one blocking HTTPS GET to a node's kubelet (mutual TLS, UpstreamTls) for
// a whole, small answer — /stats/summary for the metrics API. Beast/Asio stay inside
// kubelet_client.cc; logs and exec are relayed by the HTTPS transport instead (UpstreamRequest).
#pragma once

#include <chrono>
#include <string>

#include "apiserver/router.h"
#include "common/status.h"

namespace kelp::apiserver {

// The body of a 200 answer to `request` (its method, target, headers). Unavailable when the
// upstream cannot be reached or its certificate does not verify, DeadlineExceeded after
// `timeout`, Internal with the status and body for any other answer.
Result<std::string> FetchFromUpstream(const UpstreamRequest& request,
                                      std::chrono::milliseconds timeout);

}  // namespace kelp::apiserver
