// KubeletConnector (see the header).
#include "apiserver/kubelet_proxy.h"

#include <boost/json.hpp>

#include "apiserver/kubelet_client.h"
#include "common/json.h"

namespace kelp::apiserver {
namespace json = boost::json;
namespace {

std::string StringAt(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  return value && value->is_string() ? std::string(value->get_string()) : "";
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The last value of `key` in a query string, percent-decoded; empty when absent.
std::string QueryValue(std::string_view query, std::string_view key) {
  std::string found;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) != key) continue;
    std::string_view raw = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    found.clear();
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        found += ' ';
      } else if (raw[i] == '%' && i + 2 < raw.size() && HexValue(raw[i + 1]) >= 0 &&
                 HexValue(raw[i + 2]) >= 0) {
        found += static_cast<char>(HexValue(raw[i + 1]) * 16 + HexValue(raw[i + 2]));
        i += 2;
      } else {
        found += raw[i];
      }
    }
  }
  return found;
}

std::vector<std::string> ContainerNames(const json::object& pod, std::string_view list) {
  std::vector<std::string> names;
  const json::value* containers = FindPath(pod, std::string("spec.") + std::string(list));
  if (containers == nullptr || !containers->is_array()) return names;
  for (const json::value& container : containers->get_array()) {
    if (container.is_object()) names.push_back(StringAt(container.get_object(), "name"));
  }
  return names;
}

// The container's status entry (containerStatuses or initContainerStatuses), or null.
const json::object* ContainerStatusOf(const json::object& pod, const std::string& container) {
  for (const char* list : {"status.containerStatuses", "status.initContainerStatuses"}) {
    const json::value* statuses = FindPath(pod, list);
    if (statuses == nullptr || !statuses->is_array()) continue;
    for (const json::value& status : statuses->get_array()) {
      if (status.is_object() && StringAt(status.get_object(), "name") == container) {
        return &status.get_object();
      }
    }
  }
  return nullptr;
}

HttpResponse BadRequest(std::string message) {
  return StatusFailureResponse(400, "BadRequest", message);
}

// The container a request names (query `container`), defaulted for one-container pods.
Result<std::string> ContainerOf(const HttpRequest& request, const json::object& pod) {
  const std::string pod_name = StringAt(pod, "metadata.name");
  std::vector<std::string> containers = ContainerNames(pod, "containers");
  std::string container = QueryValue(request.query, "container");
  if (container.empty()) {
    if (containers.size() == 1) return containers.front();
    std::string choices;
    for (const std::string& name : containers) choices += (choices.empty() ? "" : " ") + name;
    return InvalidArgumentError("a container name must be specified for pod " + pod_name +
                                ", choose one of: [" + choices + "]");
  }
  for (const char* list : {"containers", "initContainers", "ephemeralContainers"}) {
    for (const std::string& name : ContainerNames(pod, list)) {
      if (name == container) return container;
    }
  }
  return InvalidArgumentError("container " + container + " is not valid for pod " + pod_name);
}

// The query without `container` (it is in the kubelet's path).
std::string KubeletQuery(std::string_view query) {
  std::string out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty() || pair.starts_with("container=") || pair == "container") continue;
    if (!out.empty()) out += '&';
    out += pair;
  }
  return out;
}

}  // namespace

Result<KubeletEndpoint> KubeletEndpointOf(const json::object& node) {
  KubeletEndpoint endpoint;
  const json::value* addresses = FindPath(node, "status.addresses");
  if (addresses != nullptr && addresses->is_array()) {
    for (const json::value& address : addresses->get_array()) {
      if (address.is_object() && StringAt(address.get_object(), "type") == "InternalIP") {
        endpoint.host = StringAt(address.get_object(), "address");
        break;
      }
    }
  }
  if (endpoint.host.empty()) {
    return UnavailableError("node \"" + StringAt(node, "metadata.name") +
                            "\" has no InternalIP address");
  }
  const json::value* port = FindPath(node, "status.daemonEndpoints.kubeletEndpoint.Port");
  if (port != nullptr && port->is_int64() && port->get_int64() > 0 && port->get_int64() <= 65535) {
    endpoint.port = static_cast<uint16_t>(port->get_int64());
  }
  return endpoint;
}

KubeletConnector::KubeletConnector(UpstreamTls tls)
    : tls_(std::make_shared<const UpstreamTls>(std::move(tls))) {}

namespace {

// The pod's kubelet, or the failure to answer with.
Result<KubeletEndpoint> PodKubelet(const json::object& pod, const json::object* node) {
  const std::string pod_name = StringAt(pod, "metadata.name");
  const std::string node_name = StringAt(pod, "spec.nodeName");
  if (node_name.empty()) {
    return InvalidArgumentError("pod " + pod_name + " does not have a host assigned");
  }
  if (node == nullptr) {
    return UnavailableError("node \"" + node_name + "\" of pod " + pod_name + " is not registered");
  }
  return KubeletEndpointOf(*node);
}

HttpResponse FailureOf(const Status& status) {
  if (status.code() == StatusCode::kInvalidArgument) return BadRequest(status.message());
  return StatusFailureResponse(503, "ServiceUnavailable", status.message());
}

}  // namespace

HttpResponse KubeletConnector::PodLog(const HttpRequest& request, const json::object& pod,
                                      const json::object* node) const {
  Result<std::string> container = ContainerOf(request, pod);
  if (!container.ok()) return FailureOf(container.status());
  const bool previous = QueryValue(request.query, "previous") == "true";
  if (const json::object* status = ContainerStatusOf(pod, *container); status && !previous) {
    const json::value* waiting = FindPath(*status, "state.waiting");
    const json::value* running = FindPath(*status, "state.running");
    const json::value* terminated = FindPath(*status, "state.terminated");
    if (waiting && waiting->is_object() && !running && !terminated) {
      const std::string reason = StringAt(waiting->get_object(), "reason");
      return BadRequest(
          "container \"" + *container + "\" in pod \"" + StringAt(pod, "metadata.name") +
          "\" is waiting to start: " + (reason.empty() ? "ContainerCreating" : reason));
    }
  }
  Result<KubeletEndpoint> endpoint = PodKubelet(pod, node);
  if (!endpoint.ok()) return FailureOf(endpoint.status());
  auto upstream = std::make_shared<UpstreamRequest>();
  upstream->host = endpoint->host;
  upstream->port = endpoint->port;
  upstream->target = "/containerLogs/" + StringAt(pod, "metadata.namespace") + "/" +
                     StringAt(pod, "metadata.name") + "/" + *container;
  if (std::string query = KubeletQuery(request.query); !query.empty()) {
    upstream->target += "?" + query;
  }
  upstream->tls = tls_;
  HttpResponse response;
  response.upstream = std::move(upstream);
  return response;
}

HttpResponse KubeletConnector::PodExec(const HttpRequest& request, const json::object& pod,
                                       const json::object* node) const {
  Result<std::string> container = ContainerOf(request, pod);
  if (!container.ok()) return FailureOf(container.status());
  const std::string phase = StringAt(pod, "status.phase");
  if (phase == "Succeeded" || phase == "Failed") {
    return BadRequest("cannot exec into a container in a completed pod; current phase is " + phase);
  }
  Result<KubeletEndpoint> endpoint = PodKubelet(pod, node);
  if (!endpoint.ok()) return FailureOf(endpoint.status());
  auto upstream = std::make_shared<UpstreamRequest>();
  upstream->host = endpoint->host;
  upstream->port = endpoint->port;
  upstream->method = request.method;
  upstream->target = "/exec/" + StringAt(pod, "metadata.namespace") + "/" +
                     StringAt(pod, "metadata.name") + "/" + *container;
  if (std::string query = KubeletQuery(request.query); !query.empty()) {
    upstream->target += "?" + query;
  }
  // The upgrade handshake goes to the kubelet as the client sent it (not the credentials).
  for (const char* header : {"upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
                             "sec-websocket-protocol", "x-stream-protocol-version"}) {
    if (std::optional<std::string_view> value = request.Header(header)) {
      upstream->headers.emplace_back(header, std::string(*value));
    }
  }
  upstream->tls = tls_;
  HttpResponse response;
  response.upstream = std::move(upstream);
  return response;
}

Result<std::string> KubeletConnector::StatsSummary(const json::object& node,
                                                   std::chrono::milliseconds timeout) const {
  KELP_ASSIGN_OR_RETURN(KubeletEndpoint endpoint, KubeletEndpointOf(node));
  UpstreamRequest request{
      .host = endpoint.host, .port = endpoint.port, .target = "/stats/summary", .tls = tls_};
  return FetchFromUpstream(request, timeout);
}

}  // namespace kelp::apiserver
