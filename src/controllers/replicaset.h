// The ReplicaSet controller, as Kubernetes' pkg/controller/replicaset: keeps spec.replicas
// active pods for each ReplicaSet. It claims pods by selector (adopting orphans, releasing
// pods that stopped matching), creates missing pods in slow-start batches (1, 2, 4, ...) so a
// failing create stops early, deletes surplus pods in Kubernetes' order (pod_state.h), and
// never acts again before its informer has seen its own writes (ControllerExpectations).
// Status: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas, observedGeneration
// and the ReplicaFailure condition. Events: SuccessfulCreate/Delete, FailedCreate/Delete.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client/event_recorder.h"
#include "client/work_queue.h"
#include "controllers/controller.h"
#include "controllers/expectations.h"
#include "controllers/queue_workers.h"

namespace kelp::controllers {

class ReplicaSetController final : public Controller {
 public:
  // At most this many pods are created or deleted by one sync.
  static constexpr int kBurstReplicas = 500;

  // Registers handlers on the ReplicaSet and Pod informers of `context.informers`.
  explicit ReplicaSetController(const ControllerContext& context);
  ~ReplicaSetController() override;

  std::string_view name() const override { return "replicaset"; }
  void Start() override;
  void Stop() override;

  // One reconcile of the ReplicaSet `key` ("ns/name"), what the workers run; an error means
  // "retry with backoff".
  Status Sync(const std::string& key);

  client::WorkQueue& queue() { return queue_; }
  // Blocks until every event recorded so far was written.
  void FlushEvents() { events_.Flush(); }

 private:
  Status ManageReplicas(const std::vector<client::ObjectPtr>& pods,
                        const boost::json::object& replica_set, const std::string& key);
  Status CreatePods(int count, const boost::json::object& replica_set, const std::string& key);
  Status DeletePods(const std::vector<client::ObjectPtr>& pods,
                    const boost::json::object& replica_set, const std::string& key);
  Status UpdateStatus(const boost::json::object& replica_set,
                      const std::vector<client::ObjectPtr>& pods, const Status& manage_error,
                      int64_t* ready, int64_t* available);
  // Active pods of the replica sets that share `replica_set`'s controller (for ranking).
  std::vector<client::ObjectPtr> RelatedPods(const boost::json::object& replica_set);

  // Informer handlers.
  void OnPodAdded(const client::ObjectPtr& pod);
  void OnPodUpdated(const client::ObjectPtr& old_pod, const client::ObjectPtr& pod);
  void OnPodDeleted(const client::ObjectPtr& pod);
  // The ReplicaSet a controller reference points to, if it is in the cache with that uid.
  client::ObjectPtr ResolveControllerRef(const std::string& namespace_name,
                                         const boost::json::object* reference) const;
  void EnqueueMatchingReplicaSets(const boost::json::object& pod);

  ControllerContext context_;
  client::Informer& replica_sets_;
  client::Informer& pods_;
  client::WorkQueue queue_;
  ControllerExpectations expectations_;
  client::EventRecorder events_;
  QueueWorkers workers_;
};

}  // namespace kelp::controllers
