// net-conf.json and subnet.env (see net_conf.h).
#include "flannel/net_conf.h"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "common/json.h"

namespace kelp::flannel {
namespace {

namespace json = boost::json;

Result<int64_t> IntField(const json::object& object, std::string_view key, int64_t fallback,
                         int64_t min, int64_t max) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return fallback;
  if (!value->is_int64() && !value->is_uint64()) {
    return InvalidArgumentError(fmt::format("net-conf.json: {} must be a number", key));
  }
  const int64_t number =
      value->is_int64() ? value->get_int64() : static_cast<int64_t>(value->get_uint64());
  if (number < min || number > max) {
    return InvalidArgumentError(
        fmt::format("net-conf.json: {} {} is out of range [{}, {}]", key, number, min, max));
  }
  return number;
}

Result<BackendConfig> ParseBackend(const json::object& root) {
  BackendConfig backend;
  const json::value* value = root.if_contains("Backend");
  if (value == nullptr) return backend;  // flannel's default: vxlan
  if (!value->is_object()) return InvalidArgumentError("net-conf.json: Backend must be an object");
  const json::object& object = value->get_object();
  if (const json::value* type = object.if_contains("Type")) {
    if (!type->is_string())
      return InvalidArgumentError("net-conf.json: Backend.Type must be a string");
    backend.type = std::string(type->get_string());
  }
  if (backend.type != kBackendVxlan && backend.type != kBackendHostGw &&
      backend.type != kBackendUdp) {
    return InvalidArgumentError("net-conf.json: Backend.Type \"" + backend.type +
                                "\" is not one of vxlan, host-gw, udp");
  }
  const int64_t default_port = backend.type == kBackendUdp ? kUdpDefaultPort : kVxlanDefaultPort;
  KELP_ASSIGN_OR_RETURN(int64_t vni, IntField(object, "VNI", 1, 0, (1 << 24) - 1));
  KELP_ASSIGN_OR_RETURN(int64_t port, IntField(object, "Port", default_port, 0, 65535));
  backend.vni = static_cast<uint32_t>(vni);
  backend.port = static_cast<uint16_t>(port == 0 ? default_port : port);
  if (const json::value* direct = object.if_contains("DirectRouting")) {
    if (!direct->is_bool()) {
      return InvalidArgumentError("net-conf.json: Backend.DirectRouting must be a boolean");
    }
    backend.direct_routing = direct->get_bool();
  }
  return backend;
}

}  // namespace

Result<NetworkConfig> ParseNetConf(std::string_view json_text) {
  Result<json::object> parsed = ParseJsonObject(json_text);
  if (!parsed.ok()) return InvalidArgumentError("net-conf.json: " + parsed.status().message());
  const json::object& root = *parsed;
  NetworkConfig config;
  const json::value* network = root.if_contains("Network");
  if (network == nullptr || !network->is_string()) {
    return InvalidArgumentError("net-conf.json: Network (an IPv4 CIDR) is required");
  }
  Result<net::Ipv4Prefix> prefix = net::Ipv4Prefix::Parse(network->get_string());
  if (!prefix.ok())
    return InvalidArgumentError("net-conf.json: Network: " + prefix.status().message());
  config.network = prefix->Network();
  KELP_ASSIGN_OR_RETURN(int64_t subnet_len, IntField(root, "SubnetLen", 24, 1, 30));
  if (subnet_len <= config.network.length) {
    return InvalidArgumentError(
        fmt::format("net-conf.json: SubnetLen {} must be longer than the Network's /{}", subnet_len,
                    config.network.length));
  }
  config.subnet_len = static_cast<int>(subnet_len);
  KELP_ASSIGN_OR_RETURN(config.backend, ParseBackend(root));
  return config;
}

Result<std::string> MakeNetConf(std::string_view cluster_cidr, std::string_view backend) {
  Result<net::Ipv4Prefix> network = net::Ipv4Prefix::Parse(cluster_cidr);
  if (!network.ok()) return InvalidArgumentError("cluster CIDR: " + network.status().message());
  if (backend != kBackendVxlan && backend != kBackendHostGw && backend != kBackendUdp) {
    return InvalidArgumentError("flannel backend \"" + std::string(backend) +
                                "\" is not one of vxlan, host-gw, udp");
  }
  json::object backend_object{{"Type", backend}};
  if (backend == kBackendVxlan) {
    backend_object["VNI"] = 1;
    backend_object["Port"] = kVxlanDefaultPort;
  } else if (backend == kBackendUdp) {
    backend_object["Port"] = kUdpDefaultPort;
  }
  json::object conf{{"Network", network->Network().ToString()},
                    {"SubnetLen", 24},
                    {"Backend", std::move(backend_object)}};
  return json::serialize(conf) + "\n";
}

std::string FormatSubnetEnv(const SubnetEnv& env) {
  const net::Ipv4Prefix first_host{{env.subnet.Network().address.value + 1}, env.subnet.length};
  return fmt::format("FLANNEL_NETWORK={}\nFLANNEL_SUBNET={}\nFLANNEL_MTU={}\nFLANNEL_IPMASQ={}\n",
                     env.network.Network().ToString(), first_host.ToString(), env.mtu,
                     env.ip_masq ? "true" : "false");
}

}  // namespace kelp::flannel
