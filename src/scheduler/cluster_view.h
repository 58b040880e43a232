// ClusterView: the scheduler's in-memory picture of the cluster — every node with what is
// allocatable and what the pods bound (or assumed bound) to it already take — and the
// scheduling decision itself: filters (Ready, schedulable, taints/tolerations, nodeSelector,
// hostPorts, cpu/memory/pods) then scores (least allocated + spread of one owner's pods).
// A failed decision carries Kubernetes' FailedScheduling text. Not thread-safe: the Scheduler
// serializes access, so an assumed pod is accounted before the next decision is made.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

namespace kelp::scheduler {

// What a pod asks of a node.
struct PodRequest {
  int64_t milli_cpu = 0;
  int64_t memory = 0;  // bytes
  std::set<std::pair<std::string, int64_t>> host_ports;  // (protocol, port)
  std::string owner_uid;  // the controller ownerReference's uid, "" when none

  static PodRequest FromPod(const boost::json::object& pod);
};

struct ScheduleDecision {
  std::optional<std::string> node;  // set on success
  // On failure: "0/3 nodes are available: ... preemption: ...", as Kubernetes words it.
  std::string failure_message;
};

class ClusterView {
 public:
  // Adds or replaces a node (from its Node object).
  void UpsertNode(const boost::json::object& node);
  void RemoveNode(const std::string& name);

  // Accounts a pod bound (or assumed) to `node_name` under `pod_key`; replacing an earlier
  // entry of the same key (e.g. the assumed pod when the informer shows it bound).
  void AddPod(const std::string& pod_key, const std::string& node_name,
              const PodRequest& request);
  void RemovePod(const std::string& pod_key);
  bool HasPod(const std::string& pod_key) const { return pods_.contains(pod_key); }

  // Chooses a node for `pod` (a Pod object) or says why none fits.
  ScheduleDecision Schedule(const boost::json::object& pod) const;

  size_t node_count() const { return nodes_.size(); }

 private:
  struct Taint {
    std::string key, value, effect;
  };
  struct NodeState {
    std::string name;
    bool ready = false;
    bool unschedulable = false;
    std::map<std::string, std::string> labels;
    std::vector<Taint> taints;
    int64_t allocatable_milli_cpu = 0;
    int64_t allocatable_memory = 0;
    int64_t allocatable_pods = 0;
    // Sums over the pods accounted to this node.
    int64_t requested_milli_cpu = 0;
    int64_t requested_memory = 0;
    int64_t nonzero_milli_cpu = 0;  // with Kubernetes' defaults for pods without requests
    int64_t nonzero_memory = 0;
    int64_t pod_count = 0;
    std::multiset<std::pair<std::string, int64_t>> host_ports;
    std::map<std::string, int> pods_by_owner;
  };
  struct AccountedPod {
    std::string node;
    PodRequest request;
  };

  // The reasons `node` cannot take the pod (empty when it fits), each counted once in the
  // failure message; `preemption_helps` tells whether evicting pods could make room.
  std::vector<std::string> FilterReasons(const NodeState& node, const boost::json::object& pod,
                                         const PodRequest& request,
                                         bool& preemption_helps) const;
  int64_t Score(const NodeState& node, const PodRequest& request, int max_owner_pods) const;
  void Account(NodeState& node, const PodRequest& request, int sign);

  std::map<std::string, NodeState> nodes_;
  std::map<std::string, AccountedPod> pods_;
};

}  // namespace kelp::scheduler
