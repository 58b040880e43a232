// The node-lifecycle controller, as Kubernetes' pkg/controller/nodelifecycle with its
// taint-eviction part:
//  - health: a node is heard from when its kube-node-lease Lease's renewTime (or its Ready
//    condition's lastHeartbeatTime) changes; heard from no longer than
//    node_monitor_grace_period ago it is healthy. An unhealthy node gets every condition
//    Unknown ("Kubelet stopped posting node status.") and the taint
//    node.kubernetes.io/unreachable with effects NoSchedule and NoExecute; a node reporting
//    Ready=False gets node.kubernetes.io/not-ready:NoSchedule and :NoExecute; a healthy Ready
//    node loses them all.
//  - full disruption: when no node is Ready, no NoExecute taints are kept and nothing is
//    evicted (Kubernetes' FullDisruption state of a zone; kelp has one zone).
//  - eviction: a pod on a node with NoExecute taints is deleted once its toleration of them
//    runs out (tolerationSeconds counted from the taint's timeAdded; a taint it does not
//    tolerate evicts it at once).
// MonitorNodes() does one pass; Start() runs it every options.node_monitor_period. Time comes
// from the Clock, so tests drive it with a FakeClock. Events: RegisteredNode, RemovingNode,
// NodeNotReady, TaintManagerEviction.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "client/event_recorder.h"
#include "controllers/controller.h"

namespace kelp::controllers {

inline constexpr std::string_view kUnreachableTaint = "node.kubernetes.io/unreachable";
inline constexpr std::string_view kNotReadyTaint = "node.kubernetes.io/not-ready";

class NodeLifecycleController final : public Controller {
 public:
  explicit NodeLifecycleController(ControllerContext& context);
  ~NodeLifecycleController() override;
  std::string_view name() const override { return "node-lifecycle-controller"; }
  void Start() override;
  void Stop() override;

  // One pass over every node: health, conditions, taints, evictions. Returns the first error
  // after trying every node.
  Status MonitorNodes();
  void FlushEvents() { events_.Flush(); }

 private:
  struct Health {
    std::string lease_renew_time;
    std::string heartbeat_time;
    std::chrono::steady_clock::time_point heard_at;
  };
  // Whether the node was heard from within the grace period (updates health_).
  bool Healthy(const boost::json::object& node);
  // Each returns the node as stored afterwards.
  Result<boost::json::object> MarkUnknown(const boost::json::object& node);
  // `no_execute`: whether the NoExecute taints belong too (false in full disruption).
  Result<boost::json::object> ReconcileTaints(const boost::json::object& node, bool healthy,
                                              bool no_execute);
  Status EvictPods(const boost::json::object& node);

  ControllerContext& context_;
  client::Informer& nodes_;
  client::Informer& leases_;
  client::Informer& pods_;
  client::EventRecorder events_;
  std::map<std::string, Health> health_;  // only MonitorNodes' thread
  bool full_disruption_ = false;           // only MonitorNodes' thread

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread monitor_;
};

// Whether `toleration` tolerates `taint` (key, operator Exists/Equal and value, effect).
bool Tolerates(const boost::json::object& toleration, const boost::json::object& taint);

}  // namespace kelp::controllers
