// Names and addresses of a lab (see topology.h).
#include "lab/topology.h"

#include <fmt/format.h>

namespace kelp::lab {

const LabNode* LabTopology::Find(std::string_view name) const {
  for (const LabNode& node : nodes) {
    if (node.name == name) return &node;
  }
  return nullptr;
}

std::string LabTopology::ServerUrl() const { return "https://" + nodes.front().address + ":6443"; }

std::vector<NodeMount> NodeMounts(const LabNode& node) {
  // What a node keeps for itself; everything else (binaries, /tmp, cgroups) is the host's.
  const std::pair<const char*, const char*> kPaths[] = {
      {"/run", "run"},
      {"/var/lib/kelp", "var-lib-kelp"},
      {"/var/lib/cni", "var-lib-cni"},
      {"/var/log/pods", "var-log-pods"},
      {"/var/log/containers", "var-log-containers"},
      {"/etc/cni", "etc-cni"},
      {"/opt/cni", "opt-cni"},
  };
  std::vector<NodeMount> mounts;
  for (const auto& [target, source] : kPaths) {
    mounts.push_back({target, (node.root / source).string()});
  }
  return mounts;
}

Result<LabTopology> MakeTopology(const LabOptions& options) {
  if (options.nodes < 1 || options.nodes > 24) {
    return InvalidArgumentError("--nodes must be between 1 and 24");
  }
  if (options.flannel_backend != "vxlan" && options.flannel_backend != "host-gw" &&
      options.flannel_backend != "udp") {
    return InvalidArgumentError("--flannel-backend must be vxlan, host-gw or udp");
  }
  if (options.prefix.empty() || options.prefix.size() > 8 ||
      options.prefix.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") !=
          std::string::npos) {
    return InvalidArgumentError("the lab prefix must be 1-8 lower-case letters or digits");
  }
  Result<net::Ipv4Prefix> subnet = net::Ipv4Prefix::Parse(options.subnet);
  if (!subnet.ok() || subnet->length != 24 || subnet->Network() != *subnet) {
    return InvalidArgumentError("--subnet must be an IPv4 /24 network such as 192.168.206.0/24");
  }
  LabTopology topology;
  topology.options = options;
  topology.subnet = *subnet;
  topology.host_address = net::Ipv4Address{subnet->address.value + 1}.ToString();
  topology.host_link = options.prefix + "-lab0";
  topology.host_peer = "host0";
  topology.underlay_netns = options.prefix + "-underlay";
  topology.kubeconfig = options.dir / "kubeconfig.yaml";
  topology.state_file = options.dir / "lab.json";
  for (int i = 0; i < options.nodes; ++i) {
    LabNode node;
    node.name = i == 0 ? "master" : fmt::format("node{:02}", i);
    node.address = net::Ipv4Address{subnet->address.value + 10u * (i + 1)}.ToString();
    node.netns = options.prefix + "-" + node.name;
    node.underlay_port = node.name + "-eth0";
    node.server = i == 0;
    node.root = options.dir / "nodes" / node.name;
    node.mount_ns = options.dir / "ns" / (node.name + ".mnt");
    topology.nodes.push_back(std::move(node));
  }
  return topology;
}

}  // namespace kelp::lab
