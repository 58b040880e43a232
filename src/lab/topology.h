// The lab's shape, computed before anything is made and again when it is taken down: which
// namespaces, links, addresses and directories a lab of N nodes on a /24 uses. Pure data,
// so `kelp lab down` can find everything from the options alone, even after a crash.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"
#include "net/ip.h"

namespace kelp::lab {

struct LabOptions {
  int nodes = 3;                               // master + node01 .. node<N-1>
  std::string flannel_backend = "vxlan";       // vxlan | host-gw | udp
  std::string subnet = "192.168.206.0/24";     // the "physical" LAN of the nodes
  std::string prefix = "kelp";                 // names of namespaces and links (≤ 8 chars)
  std::filesystem::path dir = "/var/lib/kelp-lab";  // state, per-node roots, kubeconfig
  bool hollow = false;  // hollow agents (kubemark-style) instead of real ones: no containers
  // Image archives (docker-archive or OCI tarballs) loaded into every node's image store; empty:
  // every *.tar in the `images` folder beside the kelp binary (the build puts the demo images,
  // nginx:1.22 and busybox:1.35 made by tools/mkimage, there).
  std::vector<std::filesystem::path> images;
};

struct LabNode {
  std::string name;     // "master", "node01", ...
  std::string address;  // "192.168.206.10"
  std::string netns;    // "kelp-master"
  std::string underlay_port;  // its veth's end in the underlay namespace
  bool server = false;  // runs `kelp server` (with its embedded agent)
  std::filesystem::path root;  // <dir>/nodes/<name>: what the node sees at its standard paths
  std::filesystem::path mount_ns;  // <dir>/ns/<name>.mnt: its persistent mount namespace
};

struct LabTopology {
  LabOptions options;
  net::Ipv4Prefix subnet;      // network form, /24
  std::string host_address;    // the host's end of the LAN, ".1"
  std::string host_link;       // the veth in the host's namespace, "<prefix>-lab0"
  std::string host_peer;       // its peer in the underlay, attached to the bridge
  std::string underlay_netns;  // "<prefix>-underlay"
  std::string bridge = "phys0";
  std::vector<LabNode> nodes;  // the server first
  std::filesystem::path kubeconfig;  // <dir>/kubeconfig.yaml, for the host's kubectl
  std::filesystem::path state_file;  // <dir>/lab.json

  // The node named `name`, or null.
  const LabNode* Find(std::string_view name) const;
  std::string ServerUrl() const;  // https://<master address>:6443
};

// The standard paths a node's mount namespace gets from its own directory under `root`.
struct NodeMount {
  std::string target;  // e.g. "/var/lib/kelp"
  std::string source;  // <root>/var-lib-kelp
};
std::vector<NodeMount> NodeMounts(const LabNode& node);

// InvalidArgument for options kelp cannot lay out (node count, subnet, prefix, backend).
Result<LabTopology> MakeTopology(const LabOptions& options);

}  // namespace kelp::lab
