// Node objects ↔ flannel leases (see node_lease.h).
#include "flannel/node_lease.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <ctime>

#include "common/json.h"

namespace kelp::flannel {
namespace {

namespace json = boost::json;

std::string Annotation(const json::object& node, std::string_view key) {
  const json::value* annotations = FindPath(node, "metadata.annotations");
  if (annotations == nullptr || !annotations->is_object()) return "";
  const json::value* value = annotations->get_object().if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : "";
}

std::string NodeName(const json::object& node) {
  return std::string(GetString(node, "metadata.name").value_or(""));
}

}  // namespace

Result<net::Ipv4Prefix> PodCidrOf(const json::object& node) {
  Result<std::string> cidr = GetString(node, "spec.podCIDR");
  if (!cidr.ok() || cidr->empty())
    return NotFoundError("node " + NodeName(node) + " has no podCIDR yet");
  Result<net::Ipv4Prefix> prefix = net::Ipv4Prefix::Parse(*cidr);
  if (!prefix.ok()) {
    return InvalidArgumentError("node " + NodeName(node) +
                                ": spec.podCIDR: " + prefix.status().message());
  }
  return prefix->Network();
}

Result<NodeLease> LeaseFromNode(const json::object& node) {
  NodeLease lease;
  lease.node = NodeName(node);
  KELP_ASSIGN_OR_RETURN(lease.subnet, PodCidrOf(node));
  lease.backend_type = Annotation(node, kAnnotationBackendType);
  const std::string public_ip = Annotation(node, kAnnotationPublicIp);
  if (lease.backend_type.empty() || public_ip.empty()) {
    return NotFoundError("node " + lease.node + " has no flannel annotations yet");
  }
  Result<net::Ipv4Address> ip = net::Ipv4Address::Parse(public_ip);
  if (!ip.ok()) {
    return InvalidArgumentError("node " + lease.node + ": " + kAnnotationPublicIp + ": " +
                                ip.status().message());
  }
  lease.public_ip = *ip;
  const std::string data = Annotation(node, kAnnotationBackendData);
  if (lease.backend_type == "vxlan") {
    Result<json::object> parsed = ParseJsonObject(data);
    if (!parsed.ok()) {
      return InvalidArgumentError("node " + lease.node + ": " + kAnnotationBackendData +
                                  " is not a JSON object");
    }
    Result<std::string> mac_text = GetString(*parsed, "VtepMAC");
    Result<net::MacAddress> mac = mac_text.ok() ? net::MacAddress::Parse(*mac_text)
                                                : Result<net::MacAddress>(mac_text.status());
    if (!mac.ok()) {
      return InvalidArgumentError("node " + lease.node + ": " + kAnnotationBackendData +
                                  ": VtepMAC: " + mac.status().message());
    }
    lease.vtep_mac = *mac;
    lease.vni = static_cast<uint32_t>(GetInt64(*parsed, "VNI").value_or(1));
  }
  return lease;
}

std::string VxlanBackendData(uint32_t vni, const net::MacAddress& mac) {
  return json::serialize(json::object{{"VNI", vni}, {"VtepMAC", mac.ToString()}});
}

std::string AnnotationPatch(const std::string& backend_type, const std::string& backend_data,
                            net::Ipv4Address public_ip) {
  json::object annotations{{kAnnotationBackendType, backend_type},
                           {kAnnotationBackendData, backend_data},
                           {kAnnotationPublicIp, public_ip.ToString()},
                           {kAnnotationKubeSubnetManager, "true"}};
  return json::serialize(
      json::object{{"metadata", json::object{{"annotations", std::move(annotations)}}}});
}

bool HasAnnotations(const json::object& node, const std::string& backend_type,
                    const std::string& backend_data, net::Ipv4Address public_ip) {
  return Annotation(node, kAnnotationBackendType) == backend_type &&
         Annotation(node, kAnnotationBackendData) == backend_data &&
         Annotation(node, kAnnotationPublicIp) == public_ip.ToString() &&
         Annotation(node, kAnnotationKubeSubnetManager) == "true";
}

std::string NetworkAvailablePatch(std::chrono::system_clock::time_point now) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  const std::string time = text;
  json::object condition{
      {"type", "NetworkUnavailable"}, {"status", "False"},
      {"reason", "FlannelIsUp"},      {"message", "Flannel is running on this node"},
      {"lastTransitionTime", time},   {"lastHeartbeatTime", time}};
  return json::serialize(
      json::object{{"status", json::object{{"conditions", json::array{std::move(condition)}}}}});
}

bool NetworkAvailable(const json::object& node) {
  const json::value* conditions = FindPath(node, "status.conditions");
  if (conditions == nullptr || !conditions->is_array()) return false;
  for (const json::value& condition : conditions->get_array()) {
    if (!condition.is_object()) continue;
    const json::object& c = condition.get_object();
    if (GetString(c, "type").value_or("") == "NetworkUnavailable") {
      return GetString(c, "status").value_or("") == "False";
    }
  }
  return false;
}

}  // namespace kelp::flannel
