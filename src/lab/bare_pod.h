// Bare pods in a lab: a network namespace inside a lab node attached by the node's own CNI
// configuration (the first conflist in the node's /etc/cni/net.d, its plugins from the
// node's /opt/cni/bin, exactly what the node's flannel installed), with no container in it —
// what the network e2e tests and bench/net_bench use to measure pod-to-pod traffic without a
// kubelet. Everything runs through `kelp lab exec`, so it sees the node's /run, /etc/cni,
// /opt/cni and /var/lib/cni; `kelp lab down` removes whatever is left (the namespaces live in
// the node's mount namespace, their links in the node's network namespace).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/process.h"
#include "common/status.h"
#include "lab/topology.h"

namespace kelp::lab {

class BarePods {
 public:
  // `kelp` is the kelp binary; `options` name the lab (prefix, dir).
  BarePods(ProcessRunner& runner, std::filesystem::path kelp, LabOptions options)
      : runner_(runner), kelp_(std::move(kelp)), options_(std::move(options)) {}

  // argv run inside `node`, or inside pod `pod` of `node`.
  std::vector<std::string> InNode(const std::string& node, std::vector<std::string> argv) const;
  std::vector<std::string> InPod(const std::string& node, const std::string& pod,
                                 std::vector<std::string> argv) const;

  // `ip netns add <pod>` in the node, then CNI ADD with the node's conflist (waiting up to
  // `timeout` for the conflist to appear). Returns the pod's IPv4 address (no prefix length).
  // A failed ADD removes the namespace again.
  Result<std::string> Add(const std::string& node, const std::string& pod,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // CNI DEL, then `ip netns del`; tolerates what is already gone.
  Status Delete(const std::string& node, const std::string& pod);

 private:
  // The conflist of `node` as seen from the host (under the node's root directory).
  Result<std::string> Conflist(const std::string& node) const;
  Result<ProcessResult> Cni(const std::string& node, const std::string& pod,
                            const std::string& command);

  ProcessRunner& runner_;
  std::filesystem::path kelp_;
  LabOptions options_;
};

}  // namespace kelp::lab
