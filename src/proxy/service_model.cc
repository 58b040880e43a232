// Parsing of Services and EndpointSlices into the proxy's model (see service_model.h).
#include "proxy/service_model.h"

#include <boost/json.hpp>

#include "common/json.h"

namespace kelp::proxy {

namespace json = boost::json;

namespace {

Result<std::optional<Protocol>> ParseProtocol(const json::object& object, std::string_view path) {
  KELP_ASSIGN_OR_RETURN(std::optional<std::string> protocol, FindString(object, path));
  if (!protocol || *protocol == "TCP") return std::optional<Protocol>(Protocol::kTcp);
  if (*protocol == "UDP") return std::optional<Protocol>(Protocol::kUdp);
  if (*protocol == "SCTP") return std::optional<Protocol>(Protocol::kSctp);
  return std::optional<Protocol>();  // a protocol the proxy does not program
}

// A port number field: absent is 0 when `optional`, otherwise an error; out of 1..65535 is one.
Result<uint16_t> ParsePort(const json::object& object, std::string_view path, bool optional) {
  KELP_ASSIGN_OR_RETURN(std::optional<int64_t> port, FindInt64(object, path));
  if (!port) {
    if (optional) return uint16_t{0};
    return InvalidArgumentError(std::string(path) + ": required");
  }
  if (*port == 0 && optional) return uint16_t{0};
  if (*port < 1 || *port > 65535) {
    return InvalidArgumentError(std::string(path) + ": port " + std::to_string(*port) +
                                " out of range 1-65535");
  }
  return static_cast<uint16_t>(*port);
}

std::string Indexed(std::string_view base, size_t index, std::string_view field) {
  return std::string(base) + "." + std::to_string(index) + "." + std::string(field);
}

Result<bool> ConditionOr(const json::object& endpoint, std::string_view path, bool fallback) {
  KELP_ASSIGN_OR_RETURN(std::optional<bool> value, FindBool(endpoint, path));
  return value.value_or(fallback);
}

}  // namespace

std::string_view ProtocolName(Protocol protocol) {
  switch (protocol) {
    case Protocol::kTcp:
      return "tcp";
    case Protocol::kUdp:
      return "udp";
    case Protocol::kSctp:
      return "sctp";
  }
  return "tcp";
}

Result<std::optional<Service>> ParseService(const json::object& object) {
  Service service;
  KELP_ASSIGN_OR_RETURN(service.namespace_name, GetString(object, "metadata.namespace"));
  KELP_ASSIGN_OR_RETURN(service.name, GetString(object, "metadata.name"));
  KELP_ASSIGN_OR_RETURN(std::optional<std::string> type, FindString(object, "spec.type"));
  if (type.value_or("") == "ExternalName") return std::optional<Service>();
  KELP_ASSIGN_OR_RETURN(std::optional<std::string> cluster_ip,
                        FindString(object, "spec.clusterIP"));
  if (!cluster_ip || cluster_ip->empty() || *cluster_ip == "None" ||
      cluster_ip->find(':') != std::string::npos) {
    return std::optional<Service>();
  }
  Result<net::Ipv4Address> address = net::Ipv4Address::Parse(*cluster_ip);
  if (!address.ok()) return InvalidArgumentError("spec.clusterIP: " + address.status().message());
  service.cluster_ip = *address;
  const bool node_ports = type.value_or("") == "NodePort" || type.value_or("") == "LoadBalancer";

  KELP_ASSIGN_OR_RETURN(const json::array* ports, FindArray(object, "spec.ports"));
  if (ports != nullptr) {
    for (size_t i = 0; i < ports->size(); ++i) {
      const json::value& entry = (*ports)[i];
      if (!entry.is_object()) {
        return InvalidArgumentError("spec.ports." + std::to_string(i) + ": expected object");
      }
      const json::object& port_object = entry.get_object();
      ServicePort port;
      KELP_ASSIGN_OR_RETURN(std::optional<std::string> name, FindString(port_object, "name"));
      port.name = name.value_or("");
      KELP_ASSIGN_OR_RETURN(std::optional<Protocol> protocol,
                            ParseProtocol(port_object, "protocol"));
      KELP_ASSIGN_OR_RETURN(port.port, ParsePort(port_object, "port", false));
      KELP_ASSIGN_OR_RETURN(uint16_t node_port, ParsePort(port_object, "nodePort", true));
      if (!protocol) continue;
      port.protocol = *protocol;
      if (node_ports) port.node_port = node_port;
      service.ports.push_back(std::move(port));
    }
  }

  KELP_ASSIGN_OR_RETURN(std::optional<std::string> affinity,
                        FindString(object, "spec.sessionAffinity"));
  service.affinity_client_ip = affinity.value_or("") == "ClientIP";
  KELP_ASSIGN_OR_RETURN(std::optional<int64_t> timeout,
                        FindInt64(object, "spec.sessionAffinityConfig.clientIP.timeoutSeconds"));
  if (timeout) {
    if (*timeout < 1 || *timeout > 86400) {
      return InvalidArgumentError(
          "spec.sessionAffinityConfig.clientIP.timeoutSeconds: must be within 1-86400");
    }
    service.affinity_timeout_seconds = static_cast<int>(*timeout);
  }
  KELP_ASSIGN_OR_RETURN(std::optional<std::string> external,
                        FindString(object, "spec.externalTrafficPolicy"));
  service.external_policy_local = node_ports && external.value_or("") == "Local";
  KELP_ASSIGN_OR_RETURN(std::optional<std::string> internal,
                        FindString(object, "spec.internalTrafficPolicy"));
  service.internal_policy_local = internal.value_or("") == "Local";
  return std::optional<Service>(std::move(service));
}

Result<std::optional<EndpointSlice>> ParseEndpointSlice(const json::object& object) {
  EndpointSlice slice;
  KELP_ASSIGN_OR_RETURN(slice.namespace_name, GetString(object, "metadata.namespace"));
  KELP_ASSIGN_OR_RETURN(slice.name, GetString(object, "metadata.name"));
  KELP_ASSIGN_OR_RETURN(std::optional<std::string> address_type, FindString(object, "addressType"));
  if (address_type.value_or("") != "IPv4") return std::optional<EndpointSlice>();
  KELP_ASSIGN_OR_RETURN(const json::object* labels, FindObject(object, "metadata.labels"));
  if (labels == nullptr) return std::optional<EndpointSlice>();
  const json::value* service_name = labels->if_contains(kServiceNameLabel);
  if (service_name == nullptr || !service_name->is_string() || service_name->get_string().empty()) {
    return std::optional<EndpointSlice>();
  }
  slice.service_name = std::string(service_name->get_string());

  KELP_ASSIGN_OR_RETURN(const json::array* ports, FindArray(object, "ports"));
  if (ports != nullptr) {
    for (size_t i = 0; i < ports->size(); ++i) {
      const json::value& entry = (*ports)[i];
      if (!entry.is_object()) {
        return InvalidArgumentError("ports." + std::to_string(i) + ": expected object");
      }
      const json::object& port_object = entry.get_object();
      SlicePort port;
      KELP_ASSIGN_OR_RETURN(std::optional<std::string> name, FindString(port_object, "name"));
      port.name = name.value_or("");
      KELP_ASSIGN_OR_RETURN(std::optional<Protocol> protocol,
                            ParseProtocol(port_object, "protocol"));
      Result<uint16_t> number = ParsePort(port_object, "port", false);
      if (!number.ok()) {
        return InvalidArgumentError("ports." + std::to_string(i) + "." + number.status().message());
      }
      if (!protocol) continue;
      port.protocol = *protocol;
      port.port = *number;
      slice.ports.push_back(std::move(port));
    }
  }

  KELP_ASSIGN_OR_RETURN(const json::array* endpoints, FindArray(object, "endpoints"));
  if (endpoints != nullptr) {
    for (size_t i = 0; i < endpoints->size(); ++i) {
      const json::value& entry = (*endpoints)[i];
      if (!entry.is_object()) {
        return InvalidArgumentError("endpoints." + std::to_string(i) + ": expected object");
      }
      const json::object& endpoint_object = entry.get_object();
      KELP_ASSIGN_OR_RETURN(const json::array* addresses, GetArray(endpoint_object, "addresses"));
      if (addresses->empty()) continue;
      if (!(*addresses)[0].is_string()) {
        return InvalidArgumentError(Indexed("endpoints", i, "addresses.0: expected string"));
      }
      Result<net::Ipv4Address> address =
          net::Ipv4Address::Parse(std::string_view((*addresses)[0].get_string()));
      if (!address.ok()) {
        return InvalidArgumentError(Indexed("endpoints", i, "addresses.0: ") +
                                    address.status().message());
      }
      Endpoint endpoint;
      endpoint.address = *address;
      KELP_ASSIGN_OR_RETURN(endpoint.ready, ConditionOr(endpoint_object, "conditions.ready", true));
      KELP_ASSIGN_OR_RETURN(endpoint.serving,
                            ConditionOr(endpoint_object, "conditions.serving", endpoint.ready));
      KELP_ASSIGN_OR_RETURN(endpoint.terminating,
                            ConditionOr(endpoint_object, "conditions.terminating", false));
      KELP_ASSIGN_OR_RETURN(std::optional<std::string> node,
                            FindString(endpoint_object, "nodeName"));
      endpoint.node_name = node.value_or("");
      slice.endpoints.push_back(std::move(endpoint));
    }
  }
  return std::optional<EndpointSlice>(std::move(slice));
}

}  // namespace kelp::proxy
