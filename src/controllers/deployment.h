// The Deployment controller, as Kubernetes' pkg/controller/deployment: one ReplicaSet per pod
// template (<deployment>-<pod-template-hash>), rolled out by the RollingUpdate strategy
// (maxSurge / maxUnavailable) or Recreate; revisions in the replica sets' annotations (what
// `kubectl rollout history|undo` read), old replica sets pruned to revisionHistoryLimit;
// paused deployments only scale; a resize during a rollout is shared out proportionally.
// Status: counts, observedGeneration, conditions Available and Progressing (what `kubectl
// rollout status` reads). Events: ScalingReplicaSet.
#pragma once

#include <string>
#include <string_view>

#include "client/event_recorder.h"
#include "client/work_queue.h"
#include "controllers/controller.h"
#include "controllers/deployment_util.h"
#include "controllers/queue_workers.h"

namespace kelp::controllers {

class DeploymentController final : public Controller {
 public:
  // Registers handlers on the Deployment, ReplicaSet and Pod informers.
  explicit DeploymentController(const ControllerContext& context);
  ~DeploymentController() override;

  std::string_view name() const override { return "deployment"; }
  void Start() override;
  void Stop() override;

  // One reconcile of the Deployment `key` ("ns/name"); an error means "retry with backoff".
  Status Sync(const std::string& key);

  client::WorkQueue& queue() { return queue_; }
  void FlushEvents() { events_.Flush(); }

 private:
  struct Rollout;  // one sync's view: the deployment being written and its replica sets

  Result<ReplicaSets> ClaimReplicaSets(const boost::json::object& deployment);
  Status CheckPausedConditions(Rollout& rollout);
  // Finds (and, if asked, creates) the new replica set; syncs revision annotations.
  Status SyncRevision(Rollout& rollout, bool create_if_missing);
  Status CreateNewReplicaSet(Rollout& rollout);
  Status ScaleOnly(Rollout& rollout);
  Status RolloutRolling(Rollout& rollout);
  Status RolloutRecreate(Rollout& rollout);
  Result<bool> ReconcileNewReplicaSet(Rollout& rollout);
  Result<bool> ReconcileOldReplicaSets(Rollout& rollout);
  Result<bool> ScaleTo(Rollout& rollout, const client::ObjectPtr& rs, int64_t replicas);
  Status Scale(Rollout& rollout);
  Status CleanupOldReplicaSets(Rollout& rollout);
  bool IsScalingEvent(const Rollout& rollout) const;
  bool OldPodsRunning(const Rollout& rollout) const;
  boost::json::object CalculateStatus(const Rollout& rollout) const;
  Status SyncRolloutStatus(Rollout& rollout);
  Status WriteStatus(Rollout& rollout, boost::json::object status);

  void EnqueueOwner(const boost::json::object& replica_set);
  void OnReplicaSetEvent(const client::ObjectPtr& replica_set);
  void OnPodDeleted(const client::ObjectPtr& pod);

  ControllerContext context_;
  client::Informer& deployments_;
  client::Informer& replica_sets_;
  client::Informer& pods_;
  client::WorkQueue queue_;
  client::EventRecorder events_;
  QueueWorkers workers_;
};

}  // namespace kelp::controllers
