// flannel's configuration formats, parsed and written exactly as flannel does: net-conf.json
// (ConfigMap kube-system/kube-flannel-cfg, key net-conf.json: Network, SubnetLen, Backend
// {Type, VNI, Port, DirectRouting}) and /run/flannel/subnet.env (FLANNEL_NETWORK,
// FLANNEL_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ), the file the CNI plugin reads. Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "net/ip.h"

namespace kelp::flannel {

inline constexpr char kConfigMapNamespace[] = "kube-system";
inline constexpr char kConfigMapName[] = "kube-flannel-cfg";
inline constexpr char kNetConfKey[] = "net-conf.json";

inline constexpr char kBackendVxlan[] = "vxlan";
inline constexpr char kBackendHostGw[] = "host-gw";
inline constexpr char kBackendUdp[] = "udp";

inline constexpr uint16_t kVxlanDefaultPort = 8472;  // flannel's, not IANA's 4789
inline constexpr uint16_t kUdpDefaultPort = 8285;

struct BackendConfig {
  std::string type = kBackendVxlan;
  uint32_t vni = 1;
  uint16_t port = kVxlanDefaultPort;  // the type's default when net-conf.json has none
  bool direct_routing = false;        // vxlan: host-gw routes to peers on the same L2 subnet
};

struct NetworkConfig {
  net::Ipv4Prefix network;  // network form, e.g. 10.244.0.0/16
  int subnet_len = 24;
  BackendConfig backend;
};

// Parses net-conf.json. InvalidArgument naming the field for anything flannel would reject
// (bad CIDR, SubnetLen not longer than the network's, unknown backend type, VNI/Port range).
Result<NetworkConfig> ParseNetConf(std::string_view json_text);

// The net-conf.json `kelp server` publishes for --cluster-cidr and --flannel-backend.
// InvalidArgument for a bad CIDR or backend.
Result<std::string> MakeNetConf(std::string_view cluster_cidr, std::string_view backend);

// What subnet.env says: the node's lease and how pods attach to it.
struct SubnetEnv {
  net::Ipv4Prefix network;  // FLANNEL_NETWORK
  net::Ipv4Prefix subnet;   // the node's pod subnet, network form; written as <first host>/len
  uint32_t mtu = 1500;      // FLANNEL_MTU
  bool ip_masq = true;      // FLANNEL_IPMASQ: flannel masquerades, so the CNI plugin must not
};

// "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\n
// FLANNEL_IPMASQ=true\n", as flanneld writes it.
std::string FormatSubnetEnv(const SubnetEnv& env);

}  // namespace kelp::flannel
