// KubeletConnector: how the API server reaches node agents' kubelet servers (port 10250,
// mutual TLS with the cluster CA): pods/log and pods/exec become UpstreamRequests the HTTPS
// transport relays (chunked log streams; WebSocket v5.channel.k8s.io exec sessions end to
// end), after the checks Kubernetes makes first (pod scheduled, container named and valid,
// not completed, node known with an InternalIP); and /stats/summary is fetched for the
// metrics API. Answers are Kubernetes Status errors with Kubernetes' messages.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "apiserver/router.h"
#include "common/status.h"

namespace kelp::apiserver {

struct KubeletEndpoint {
  std::string host;       // the Node's InternalIP
  uint16_t port = 10250;  // status.daemonEndpoints.kubeletEndpoint.Port
};

// Where `node`'s kubelet listens. Unavailable when it has no InternalIP.
Result<KubeletEndpoint> KubeletEndpointOf(const boost::json::object& node);

class KubeletConnector {
 public:
  // `tls`: the cluster CA (kubelets' serving certificates chain to it) and the API server's
  // kubelet client certificate (pki.h EnsureKubeletClientCertificate).
  explicit KubeletConnector(UpstreamTls tls);

  // GET pods/{name}/log and pods/{name}/exec: `pod` is the stored pod, `node` its node (null
  // when it does not exist). A proxied response, or a Status failure.
  HttpResponse PodLog(const HttpRequest& request, const boost::json::object& pod,
                      const boost::json::object* node) const;
  HttpResponse PodExec(const HttpRequest& request, const boost::json::object& pod,
                       const boost::json::object* node) const;

  // GET /stats/summary of `node`'s kubelet (blocking, at most `timeout`).
  Result<std::string> StatsSummary(const boost::json::object& node,
                                   std::chrono::milliseconds timeout) const;

 private:
  std::shared_ptr<const UpstreamTls> tls_;
};

}  // namespace kelp::apiserver
