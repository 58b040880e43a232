// The arithmetic of the horizontal pod autoscaler, as Kubernetes' pkg/controller/podautoscaler
// (replica_calculator.go and the normalization in horizontal.go), kept free of I/O so it is
// tested on its own:
// - ResourceReplicas: pods + their metrics + a target utilization → the replica count the
//   metric asks for (tolerance, unready and missing pods treated as Kubernetes does);
// - ScaleHistory: stabilization windows and the scale-rate limits of spec.behavior (or the
//   defaults of an HPA without one), which turn that count into the one the controller sets.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "common/status.h"

namespace kelp::controllers {

using TimePoint = std::chrono::system_clock::time_point;

struct PodMetric {
  int64_t value_milli = 0;  // usage summed over the pod's containers (millicores or milli-bytes)
  TimePoint timestamp;
  std::chrono::seconds window{15};
};

struct ReplicaCalculatorOptions {
  double tolerance = 0.1;  // --horizontal-pod-autoscaler-tolerance
  // CPU samples of a pod are trusted only once it has been Ready for one metric window within
  // this period after start (--horizontal-pod-autoscaler-cpu-initialization-period).
  std::chrono::seconds cpu_initialization_period{300};
  // A pod that turned unready within this delay after start was never ready
  // (--horizontal-pod-autoscaler-initial-readiness-delay).
  std::chrono::seconds initial_readiness_delay{30};
};

struct ResourceReplicasResult {
  int64_t replicas = 0;
  int64_t utilization = 0;       // percent of the requests, over the pods with samples
  int64_t average_value_milli = 0;  // raw average usage per sampled pod
};

// GetResourceReplicas for resource `resource` ("cpu" or "memory") with a target of
// `target_utilization` percent. `pods` are the pods the target's selector picks; `metrics` is
// keyed by pod name. Errors carry Kubernetes' messages ("missing request for cpu in container
// c of Pod p", "did not receive metrics for targeted pods (pods might be unready)", ...).
Result<ResourceReplicasResult> ResourceReplicas(
    int64_t current_replicas, int64_t target_utilization, const std::string& resource,
    const std::vector<boost::json::object>& pods, std::map<std::string, PodMetric> metrics,
    TimePoint now, const ReplicaCalculatorOptions& options = {});

// GetRawResourceReplicas: the replicas for an absolute average usage per pod
// (target.type AverageValue), `target_milli` in milli-units.
Result<ResourceReplicasResult> RawResourceReplicas(int64_t current_replicas, int64_t target_milli,
                                                   const std::map<std::string, PodMetric>& metrics,
                                                   const ReplicaCalculatorOptions& options = {});

// One scaling policy of spec.behavior.scaleUp/scaleDown.
struct ScalingPolicy {
  enum class Type { kPods, kPercent } type = Type::kPercent;
  int64_t value = 100;
  std::chrono::seconds period{15};
};

struct ScalingRules {
  std::chrono::seconds stabilization_window{0};
  enum class Select { kMax, kMin, kDisabled } select = Select::kMax;
  std::vector<ScalingPolicy> policies;
};

struct Behavior {
  ScalingRules scale_up;
  ScalingRules scale_down;
};

// spec.behavior with Kubernetes' defaults for what is unset (scale up: no stabilization, the
// larger of +100% and +4 pods per 15 s; scale down: a `default_downscale_stabilization`
// window, -100% per 15 s). InvalidArgument for a malformed behavior.
Result<Behavior> ParseBehavior(const boost::json::object* behavior,
                               std::chrono::seconds default_downscale_stabilization);

// A replica count bounded by stabilization, rate and min/max, with the reasons the HPA
// conditions report.
struct NormalizedReplicas {
  int64_t replicas = 0;
  std::string able_to_scale_reason;   // ReadyForNewScale | ScaleUpStabilized | ScaleDownStabilized
  std::string able_to_scale_message;
  bool limited = false;               // ScalingLimited status
  std::string limited_reason;         // DesiredWithinRange | TooManyReplicas | TooFewReplicas | ScaleUpLimit | ScaleDownLimit
  std::string limited_message;
};

// The per-HPA memory of the controller: recent recommendations and scale events.
class ScaleHistory {
 public:
  // For an HPA without spec.behavior: the highest recommendation of the last
  // `downscale_stabilization`, then min/max and a scale-up limit of max(2 × current, 4).
  NormalizedReplicas Normalize(int64_t current, int64_t desired, int64_t min_replicas,
                               int64_t max_replicas, std::chrono::seconds downscale_stabilization,
                               TimePoint now);
  // For an HPA with spec.behavior: stabilization windows and policies.
  NormalizedReplicas NormalizeWithBehavior(int64_t current, int64_t desired, int64_t min_replicas,
                                           int64_t max_replicas, const Behavior& behavior,
                                           TimePoint now);
  // Records a rescale from `from` to `to` (the rate limits count it).
  void RecordScale(int64_t from, int64_t to, const Behavior* behavior, TimePoint now);
  // The first recommendation of an HPA is the current size.
  void RecordInitial(int64_t current, TimePoint now);

 private:
  struct Recommendation {
    int64_t replicas;
    TimePoint time;
  };
  struct ScaleEvent {
    int64_t change;
    TimePoint time;
  };
  void Remember(int64_t desired, TimePoint now, std::chrono::seconds keep);
  static int64_t ChangeWithin(const std::vector<ScaleEvent>& events, std::chrono::seconds period,
                              TimePoint now);

  std::vector<Recommendation> recommendations_;
  std::vector<ScaleEvent> scale_up_events_;
  std::vector<ScaleEvent> scale_down_events_;
};

}  // namespace kelp::controllers
