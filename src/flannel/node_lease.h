// The kube subnet manager's view of a Node, as flannel's: the node's subnet is
// spec.podCIDR (given by the node-ipam controller), and flannel publishes what peers need on
// the Node itself as annotations (flannel.alpha.coreos.com/backend-type, backend-data,
// public-ip, kube-subnet-manager) plus the NetworkUnavailable=False condition. Pure
// functions from a Node object to a NodeLease and from a lease to the patches that publish it.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "common/status.h"
#include "net/ip.h"

namespace kelp::flannel {

inline constexpr char kAnnotationBackendType[] = "flannel.alpha.coreos.com/backend-type";
inline constexpr char kAnnotationBackendData[] = "flannel.alpha.coreos.com/backend-data";
inline constexpr char kAnnotationPublicIp[] = "flannel.alpha.coreos.com/public-ip";
inline constexpr char kAnnotationKubeSubnetManager[] =
    "flannel.alpha.coreos.com/kube-subnet-manager";

// One node's lease: what a backend needs to reach the pods of that node.
struct NodeLease {
  std::string node;
  net::Ipv4Prefix subnet;  // network form
  net::Ipv4Address public_ip;
  std::string backend_type;
  std::optional<net::MacAddress> vtep_mac;  // vxlan: backend-data's VtepMAC
  uint32_t vni = 0;                         // vxlan: backend-data's VNI
  bool operator==(const NodeLease&) const = default;
};

// The lease a Node publishes. NotFound while it has none yet (no spec.podCIDR, or flannel
// has not annotated it); InvalidArgument for malformed values (reported, then ignored).
Result<NodeLease> LeaseFromNode(const boost::json::object& node);

// spec.podCIDR of a Node in network form; NotFound when unset.
Result<net::Ipv4Prefix> PodCidrOf(const boost::json::object& node);

// flannel's backend-data for vxlan: {"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}.
std::string VxlanBackendData(uint32_t vni, const net::MacAddress& mac);

// A merge patch setting the four annotations; `backend_data` is the JSON text ("null" for
// host-gw, as flannel writes).
std::string AnnotationPatch(const std::string& backend_type, const std::string& backend_data,
                            net::Ipv4Address public_ip);
// True when `node` already carries exactly these annotations (no patch needed).
bool HasAnnotations(const boost::json::object& node, const std::string& backend_type,
                    const std::string& backend_data, net::Ipv4Address public_ip);

// A strategic merge patch for nodes/<name>/status setting NetworkUnavailable=False with
// reason FlannelIsUp, as flannel does.
std::string NetworkAvailablePatch(std::chrono::system_clock::time_point now);
// True when the Node already has NetworkUnavailable=False.
bool NetworkAvailable(const boost::json::object& node);

}  // namespace kelp::flannel
