// What the Service proxy needs to know about Services and EndpointSlices, parsed from the API
// objects the informers hold: cluster IP, ports, node ports, session affinity and traffic
// policies of a Service; addresses, conditions, node and named ports of an EndpointSlice.
// Objects the proxy ignores (ExternalName and headless Services, IPv6 and FQDN slices) parse to
// nullopt; malformed ones are InvalidArgument errors naming the field, never a crash.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "common/status.h"
#include "net/ip.h"

namespace kelp::proxy {

enum class Protocol { kTcp, kUdp, kSctp };

// "tcp", "udp", "sctp": the names nft uses.
std::string_view ProtocolName(Protocol protocol);

// The label an EndpointSlice carries to say which Service it belongs to.
inline constexpr std::string_view kServiceNameLabel = "kubernetes.io/service-name";

// Kubernetes' default for sessionAffinityConfig.clientIP.timeoutSeconds (3 hours).
inline constexpr int kDefaultAffinityTimeoutSeconds = 10800;

struct ServicePort {
  std::string name;  // spec.ports[].name; "" for a Service's single unnamed port
  Protocol protocol = Protocol::kTcp;
  uint16_t port = 0;
  uint16_t node_port = 0;  // 0: none (ClusterIP Services, or not allocated yet)
  bool operator==(const ServicePort&) const = default;
};

struct Service {
  std::string namespace_name;
  std::string name;
  net::Ipv4Address cluster_ip;
  std::vector<ServicePort> ports;
  bool affinity_client_ip = false;  // spec.sessionAffinity: ClientIP
  int affinity_timeout_seconds = kDefaultAffinityTimeoutSeconds;
  bool external_policy_local = false;  // spec.externalTrafficPolicy: Local (NodePort traffic)
  bool internal_policy_local = false;  // spec.internalTrafficPolicy: Local (ClusterIP traffic)
  bool operator==(const Service&) const = default;
};

struct Endpoint {
  net::Ipv4Address address;  // addresses[0], as kube-proxy uses
  bool ready = true;         // conditions.ready; absent counts as true
  bool serving = true;       // conditions.serving; absent means "as ready"
  bool terminating = false;  // conditions.terminating; absent counts as false
  std::string node_name;
  bool operator==(const Endpoint&) const = default;
};

struct SlicePort {
  std::string name;
  Protocol protocol = Protocol::kTcp;
  uint16_t port = 0;
  bool operator==(const SlicePort&) const = default;
};

struct EndpointSlice {
  std::string namespace_name;
  std::string name;
  std::string service_name;  // from the kubernetes.io/service-name label
  std::vector<SlicePort> ports;
  std::vector<Endpoint> endpoints;
  bool operator==(const EndpointSlice&) const = default;
};

// nullopt for a Service the proxy does not program: ExternalName, headless (clusterIP None),
// no cluster IP yet, or an IPv6 cluster IP. Ports of other protocols are left out.
Result<std::optional<Service>> ParseService(const boost::json::object& object);

// nullopt for a slice that is not IPv4 or names no Service.
Result<std::optional<EndpointSlice>> ParseEndpointSlice(const boost::json::object& object);

}  // namespace kelp::proxy
