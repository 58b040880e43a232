// The horizontal pod autoscaler controller, as Kubernetes' pkg/controller/podautoscaler: every
// sync period (15 s) each HorizontalPodAutoscaler (stored as autoscaling/v2) reads its
// target's replicas and selector (Deployment or ReplicaSet), the target's pods and their
// usage from metrics.k8s.io (PodMetrics, which the apiserver gathers from the node agents),
// computes the replica count its Resource metrics ask for (hpa_replicas.h), bounds it by
// stabilization, rate limits and min/max, scales the target through its scale subresource,
// and writes status (currentReplicas, desiredReplicas, currentMetrics, lastScaleTime, the
// AbleToScale/ScalingActive/ScalingLimited conditions) — what `kubectl get hpa` and
// `kubectl describe hpa` show. Events: SuccessfulRescale, FailedGetScale,
// FailedGetResourceMetric, FailedComputeMetricsReplicas, FailedRescale.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "client/event_recorder.h"
#include "client/work_queue.h"
#include "controllers/controller.h"
#include "controllers/hpa_replicas.h"
#include "controllers/queue_workers.h"

namespace kelp::controllers {

inline constexpr client::Resource kPodMetrics{"metrics.k8s.io", "v1beta1", "pods", true};

class HorizontalPodAutoscalerController final : public Controller {
 public:
  explicit HorizontalPodAutoscalerController(const ControllerContext& context);
  ~HorizontalPodAutoscalerController() override;

  std::string_view name() const override { return "horizontal-pod-autoscaler"; }
  void Start() override;
  void Stop() override;

  // One reconcile of HPA "ns/name"; the key is queued again after the sync period.
  Status Sync(const std::string& key);
  void FlushEvents() { events_.Flush(); }

 private:
  struct Computed;
  // computeReplicasForMetrics over spec.metrics; fills the status' currentMetrics and the
  // ScalingActive condition. An error when no metric gave a count.
  Result<int64_t> ReplicasForMetrics(const boost::json::object& hpa, int64_t current_replicas,
                                     const std::string& selector, boost::json::object& status,
                                     std::string& metric_name, int& invalid, int& total);
  Result<std::map<std::string, PodMetric>> PodMetrics(const std::string& namespace_name,
                                                       const std::string& selector,
                                                       const std::string& resource);

  const ControllerContext& context_;
  client::Informer& hpas_;
  client::Informer& pods_;
  client::EventRecorder events_;
  client::WorkQueue queue_;
  QueueWorkers workers_;
  std::mutex mutex_;  // guards history_
  std::map<std::string, ScaleHistory> history_;
};

}  // namespace kelp::controllers
