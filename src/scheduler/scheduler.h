// Scheduler: binds pending pods to nodes, as kube-scheduler's default profile does. Pod and
// node informers keep a ClusterView up to date; unbound pods (schedulerName default-scheduler
// or unset) go on a work queue; a worker decides under the view's lock and assumes the pod on
// the chosen node before binding (POST pods/binding), so parallel decisions never overcommit.
// A pod that fits nowhere gets PodScheduled=False/Unschedulable and a FailedScheduling event,
// and is retried when a node or a bound pod changes.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "client/event_recorder.h"
#include "client/work_queue.h"
#include "controllers/controller.h"
#include "scheduler/cluster_view.h"

namespace kelp::scheduler {

inline constexpr std::string_view kSchedulerName = "default-scheduler";

class Scheduler final : public controllers::Controller {
 public:
  // Registers handlers on the pod and node informers of `context.informers`. Decisions are
  // serialized under the view's lock; the workers exist so that bindings (one POST each, a
  // durable write on the server) overlap and share the store's group commits, as
  // kube-scheduler binds asynchronously.
  explicit Scheduler(const controllers::ControllerContext& context, int workers = 16);
  ~Scheduler() override;  // Stop()

  std::string_view name() const override { return "scheduler"; }
  void Start() override;
  void Stop() override;

  // Pods bound by this scheduler so far (for benchmarks and logs).
  int64_t bound_count() const;

 private:
  void OnPod(const client::ObjectPtr& old_pod, const client::ObjectPtr& pod);
  void OnPodDeleted(const client::ObjectPtr& pod);
  void OnNode(const client::ObjectPtr& node);
  void OnNodeDeleted(const client::ObjectPtr& node);
  // Moves every pod waiting for a cluster change back onto the queue.
  void RetryUnschedulable();
  void Worker();
  Status Sync(const std::string& key);
  void ReportUnschedulable(const boost::json::object& pod, const std::string& message);

  client::ApiClient& client_;
  Clock& clock_;
  client::Informer& pods_;
  client::Informer& nodes_;
  client::WorkQueue queue_;
  client::EventRecorder recorder_;
  const int worker_count_;

  mutable std::mutex mutex_;  // guards view_, unschedulable_, bound_
  ClusterView view_;
  std::set<std::string> unschedulable_;  // keys waiting for a node or pod change
  int64_t bound_ = 0;

  std::vector<std::thread> workers_;
};

}  // namespace kelp::scheduler
