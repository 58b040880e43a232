// Agent: everything a real kelp node runs, assembled from flags — the API client, the image
// store (<data-dir>/images), the ContainerRuntime (runc + kelp-shim + CNI), the Kubelet and,
// unless disabled, the ServiceProxy. `kelp agent` runs one until SIGTERM/SIGINT
// (RunAgent); `kelp server` embeds one over its own agent token and CA.
#pragma once

#include <memory>
#include <string>

#include "agent/hollow_command.h"
#include "client/api_client.h"
#include "common/status.h"

namespace kelp::agent {

class ContainerRuntime;
class Kubelet;

struct AgentOptions {
  HollowAgentOptions connection;  // --server, --token, --ca-file (hollow's node fields unused)
  std::string node_name;          // empty: the hostname
  std::string node_ip;            // empty: the address of the default route's interface
  std::string data_dir = "/var/lib/kelp/agent";
  std::string cni_bin_dir = "/opt/cni/bin";
  std::string cni_conf_dir = "/etc/cni/net.d";
  // runc's root is <run-dir>/runc; bundles and shim files are in <run-dir>/runtime.
  std::string run_dir = "/run/kelp";
  std::string pod_log_dir = "/var/log/pods";
  // Pods' cgroups go under <cgroup_root>/<node name>/ (relative to the agent's own cgroup).
  std::string cgroup_root = "kelp";
  bool disable_proxy = false;
  // flannel (src/flannel) runs when the server published kube-system/kube-flannel-cfg (its
  // --flannel-backend is not `none`) unless disabled; then the CNI conf dir is used as is.
  bool disable_flannel = false;
  std::string flannel_iface;  // flannel's uplink; "" = the interface holding the node IP
  bool disable_kubelet_server = false;  // no kubelet API (:10250): no logs/exec/top
  // What `kubectl top node` reports (RuntimeOptions::node_stats_cgroup): "/" the machine, ""
  // the node's pods only.
  std::string node_stats_cgroup = "/";
  // runc runs from one sealed in-memory copy of itself (agent/runtime/sealed_program.h).
  bool sealed_runc = true;
  uint16_t kubelet_port = 10250;
  std::string cluster_cidr;  // for the proxy's masquerading; empty: none
};

class Agent {
 public:
  // Connects, opens the store and the runtime (adopting what a previous agent left), starts
  // the kubelet and the proxy.
  static Result<std::unique_ptr<Agent>> Start(const AgentOptions& options);
  ~Agent();  // Stop(); containers keep running
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;
  void Stop();

  // The seam a kubelet API server plugs into.
  Kubelet& kubelet();
  ContainerRuntime& runtime();

  struct Parts;  // what Start assembles (agent.cc)

 private:
  explicit Agent(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

// `kelp agent` (without --hollow): Agent::Start, then waits for SIGTERM/SIGINT.
Status RunAgent(const AgentOptions& options);

}  // namespace kelp::agent
