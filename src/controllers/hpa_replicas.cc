// The horizontal pod autoscaler's replica arithmetic (see hpa_replicas.h); comments name the
// Kubernetes functions each piece follows.
#include "controllers/hpa_replicas.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "api/duration.h"
#include "api/quantity.h"
#include "controllers/object_meta.h"

namespace kelp::controllers {

namespace json = boost::json;

namespace {

// calculatePodRequests: the summed requests of each pod's containers, in milli-units.
Result<std::map<std::string, int64_t>> PodRequests(const std::vector<json::object>& pods,
                                                   const std::string& resource) {
  std::map<std::string, int64_t> requests;
  for (const json::object& pod : pods) {
    int64_t total = 0;
    const json::value* containers = pod.contains("spec") && pod.at("spec").is_object()
                                        ? pod.at("spec").get_object().if_contains("containers")
                                        : nullptr;
    if (containers != nullptr && containers->is_array()) {
      for (const json::value& entry : containers->get_array()) {
        if (!entry.is_object()) continue;
        const json::object& container = entry.get_object();
        const std::string request = StringAt(container, "resources.requests." + resource);
        Result<long double> value =
            request.empty() ? Result<long double>(NotFoundError("")) : api::ParseQuantity(request);
        if (!value.ok()) {
          return InvalidArgumentError(fmt::format("missing request for {} in container {} of Pod {}",
                                                  resource, StringAt(container, "name"),
                                                  Name(pod)));
        }
        total += static_cast<int64_t>(std::llround(*value * 1000));
      }
    }
    requests[Name(pod)] = total;
  }
  return requests;
}

struct Utilization {
  double usage_ratio = 0;
  int64_t utilization = 0;
  int64_t raw_average = 0;
};

// GetResourceUtilizationRatio: usage over requests of the pods that have both.
Result<Utilization> UtilizationRatio(const std::map<std::string, PodMetric>& metrics,
                                     const std::map<std::string, int64_t>& requests,
                                     int64_t target_utilization) {
  int64_t metrics_total = 0;
  int64_t requests_total = 0;
  int64_t entities = 0;
  for (const auto& [pod, metric] : metrics) {
    auto request = requests.find(pod);
    if (request == requests.end()) continue;
    metrics_total += metric.value_milli;
    requests_total += request->second;
    ++entities;
  }
  if (requests_total == 0) return InvalidArgumentError("no metrics returned matched known pods");
  Utilization result;
  result.utilization = metrics_total * 100 / requests_total;
  result.usage_ratio = static_cast<double>(result.utilization) / static_cast<double>(target_utilization);
  result.raw_average = metrics_total / entities;
  return result;
}

const json::object* ReadyCondition(const json::object& pod) {
  const json::object* status = ObjectAt(pod, "status");
  if (status == nullptr) return nullptr;
  const json::value* conditions = status->if_contains("conditions");
  if (conditions == nullptr || !conditions->is_array()) return nullptr;
  for (const json::value& condition : conditions->get_array()) {
    if (condition.is_object() && StringAt(condition.get_object(), "type") == "Ready") {
      return &condition.get_object();
    }
  }
  return nullptr;
}

std::optional<TimePoint> TimeAt(const json::object& object, std::string_view path) {
  return api::ParseRfc3339(StringAt(object, path));
}

}  // namespace

Result<ResourceReplicasResult> ResourceReplicas(int64_t current_replicas,
                                                int64_t target_utilization,
                                                const std::string& resource,
                                                const std::vector<json::object>& pods,
                                                std::map<std::string, PodMetric> metrics,
                                                TimePoint now,
                                                const ReplicaCalculatorOptions& options) {
  if (pods.empty()) {
    return InvalidArgumentError("no pods returned by selector while calculating replica count");
  }
  if (target_utilization <= 0) {
    return InvalidArgumentError("the target utilization must be a positive percentage");
  }
  // groupPods.
  int64_t ready_pods = 0;
  std::set<std::string> unready, missing, ignored;
  for (const json::object& pod : pods) {
    const std::string name = Name(pod);
    const std::string phase = StringAt(pod, "status.phase");
    if (IsBeingDeleted(pod) || phase == "Failed") {
      ignored.insert(name);
      continue;
    }
    if (phase == "Pending") {
      unready.insert(name);
      continue;
    }
    auto metric = metrics.find(name);
    if (metric == metrics.end()) {
      missing.insert(name);
      continue;
    }
    if (resource == "cpu") {
      const json::object* condition = ReadyCondition(pod);
      std::optional<TimePoint> start = TimeAt(pod, "status.startTime");
      bool is_unready = true;
      if (condition != nullptr && start) {
        const bool ready_false = StringAt(*condition, "status") == "False";
        const TimePoint transition =
            TimeAt(*condition, "lastTransitionTime").value_or(TimePoint{});
        if (*start + options.cpu_initialization_period > now) {
          // Within its initialization: a sample counts once a whole window followed readiness.
          is_unready = ready_false || metric->second.timestamp < transition + metric->second.window;
        } else {
          // Afterwards only a pod that was never ready is left out.
          is_unready = ready_false && *start + options.initial_readiness_delay > transition;
        }
      }
      if (is_unready) {
        unready.insert(name);
        continue;
      }
    }
    ++ready_pods;
  }
  for (const std::set<std::string>* drop : {&ignored, &unready}) {
    for (const std::string& name : *drop) metrics.erase(name);
  }
  if (metrics.empty()) {
    return InvalidArgumentError("did not receive metrics for targeted pods (pods might be unready)");
  }
  KELP_ASSIGN_OR_RETURN(auto requests, PodRequests(pods, resource));
  KELP_ASSIGN_OR_RETURN(Utilization usage, UtilizationRatio(metrics, requests, target_utilization));
  ResourceReplicasResult result{.replicas = current_replicas,
                                .utilization = usage.utilization,
                                .average_value_milli = usage.raw_average};
  const bool scale_up_with_unready = !unready.empty() && usage.usage_ratio > 1.0;
  if (!scale_up_with_unready && missing.empty()) {
    if (std::abs(1.0 - usage.usage_ratio) > options.tolerance) {
      result.replicas =
          static_cast<int64_t>(std::ceil(usage.usage_ratio * static_cast<double>(ready_pods)));
    }
    return result;
  }
  // Fill in the pods without samples pessimistically for the direction of the change.
  if (usage.usage_ratio < 1.0) {
    const int64_t fallback = std::max<int64_t>(100, target_utilization);
    for (const std::string& name : missing) {
      metrics[name] = PodMetric{.value_milli = requests[name] * fallback / 100};
    }
  } else if (usage.usage_ratio > 1.0) {
    for (const std::string& name : missing) metrics[name] = PodMetric{.value_milli = 0};
  }
  if (scale_up_with_unready) {
    for (const std::string& name : unready) metrics[name] = PodMetric{.value_milli = 0};
  }
  KELP_ASSIGN_OR_RETURN(Utilization refilled,
                        UtilizationRatio(metrics, requests, target_utilization));
  const double ratio = refilled.usage_ratio;
  if (std::abs(1.0 - ratio) <= options.tolerance || (usage.usage_ratio < 1.0 && ratio > 1.0) ||
      (usage.usage_ratio > 1.0 && ratio < 1.0)) {
    return result;  // too small a change, or the direction flipped
  }
  const int64_t replicas =
      static_cast<int64_t>(std::ceil(ratio * static_cast<double>(metrics.size())));
  if ((ratio < 1.0 && replicas > current_replicas) || (ratio > 1.0 && replicas < current_replicas)) {
    return result;
  }
  result.replicas = replicas;
  return result;
}

Result<ResourceReplicasResult> RawResourceReplicas(int64_t current_replicas, int64_t target_milli,
                                                   const std::map<std::string, PodMetric>& metrics,
                                                   const ReplicaCalculatorOptions& options) {
  if (metrics.empty()) {
    return InvalidArgumentError("did not receive metrics for targeted pods (pods might be unready)");
  }
  int64_t total = 0;
  for (const auto& [pod, metric] : metrics) total += metric.value_milli;
  ResourceReplicasResult result{.replicas = current_replicas,
                                .average_value_milli = total / static_cast<int64_t>(metrics.size())};
  const double ratio = static_cast<double>(total) /
                       static_cast<double>(target_milli * static_cast<int64_t>(metrics.size()));
  if (std::abs(1.0 - ratio) > options.tolerance) {
    result.replicas = static_cast<int64_t>(
        std::ceil(ratio * static_cast<double>(metrics.size())));
  }
  return result;
}

namespace {

Result<ScalingRules> ParseRules(const json::object* rules, ScalingRules defaults) {
  if (rules == nullptr) return defaults;
  ScalingRules parsed = defaults;
  if (const json::value* window = rules->if_contains("stabilizationWindowSeconds")) {
    if (!window->is_int64() || window->get_int64() < 0 || window->get_int64() > 3600) {
      return InvalidArgumentError("stabilizationWindowSeconds must be between 0 and 3600");
    }
    parsed.stabilization_window = std::chrono::seconds(window->get_int64());
  }
  const std::string select = StringAt(*rules, "selectPolicy");
  if (select == "Min") {
    parsed.select = ScalingRules::Select::kMin;
  } else if (select == "Disabled") {
    parsed.select = ScalingRules::Select::kDisabled;
  } else if (!select.empty() && select != "Max") {
    return InvalidArgumentError("selectPolicy must be Max, Min or Disabled");
  }
  if (const json::value* policies = rules->if_contains("policies")) {
    if (!policies->is_array()) return InvalidArgumentError("policies must be a list");
    parsed.policies.clear();
    for (const json::value& entry : policies->get_array()) {
      if (!entry.is_object()) return InvalidArgumentError("a policy must be an object");
      const json::object& policy = entry.get_object();
      ScalingPolicy rule;
      const std::string type = StringAt(policy, "type");
      if (type == "Pods") {
        rule.type = ScalingPolicy::Type::kPods;
      } else if (type != "Percent") {
        return InvalidArgumentError("a policy's type must be Pods or Percent");
      }
      rule.value = IntAt(policy, "value");
      rule.period = std::chrono::seconds(IntAt(policy, "periodSeconds"));
      if (rule.value <= 0 || rule.period.count() <= 0 || rule.period.count() > 1800) {
        return InvalidArgumentError(
            "a policy needs a positive value and periodSeconds between 1 and 1800");
      }
      parsed.policies.push_back(rule);
    }
  }
  return parsed;
}

}  // namespace

Result<Behavior> ParseBehavior(const json::object* behavior,
                               std::chrono::seconds default_downscale_stabilization) {
  using Type = ScalingPolicy::Type;
  // GenerateHPAScaleUpRules / GenerateHPAScaleDownRules.
  ScalingRules up{.stabilization_window = std::chrono::seconds(0),
                  .select = ScalingRules::Select::kMax,
                  .policies = {{Type::kPods, 4, std::chrono::seconds(15)},
                               {Type::kPercent, 100, std::chrono::seconds(15)}}};
  ScalingRules down{.stabilization_window = default_downscale_stabilization,
                    .select = ScalingRules::Select::kMax,
                    .policies = {{Type::kPercent, 100, std::chrono::seconds(15)}}};
  Behavior parsed;
  KELP_ASSIGN_OR_RETURN(parsed.scale_up,
                        ParseRules(behavior ? ObjectAt(*behavior, "scaleUp") : nullptr, up));
  KELP_ASSIGN_OR_RETURN(parsed.scale_down,
                        ParseRules(behavior ? ObjectAt(*behavior, "scaleDown") : nullptr, down));
  return parsed;
}

void ScaleHistory::RecordInitial(int64_t current, TimePoint now) {
  if (recommendations_.empty()) recommendations_.push_back({current, now});
}

void ScaleHistory::Remember(int64_t desired, TimePoint now, std::chrono::seconds keep) {
  std::erase_if(recommendations_, [&](const Recommendation& r) { return r.time < now - keep; });
  recommendations_.push_back({desired, now});
}

NormalizedReplicas ScaleHistory::Normalize(int64_t current, int64_t desired, int64_t min_replicas,
                                           int64_t max_replicas,
                                           std::chrono::seconds downscale_stabilization,
                                           TimePoint now) {
  // stabilizeRecommendation: the highest recommendation of the window.
  int64_t stabilized = desired;
  for (const Recommendation& r : recommendations_) {
    if (r.time >= now - downscale_stabilization) stabilized = std::max(stabilized, r.replicas);
  }
  Remember(desired, now, downscale_stabilization);
  NormalizedReplicas result;
  if (stabilized != desired) {
    result.able_to_scale_reason = "ScaleDownStabilized";
    result.able_to_scale_message =
        "recent recommendations were higher than current one, applying the highest recent "
        "recommendation";
  } else {
    result.able_to_scale_reason = "ReadyForNewScale";
    result.able_to_scale_message = "recommended size matches current size";
  }
  // convertDesiredReplicasWithRules.
  const int64_t scale_up_limit = std::max<int64_t>(2 * current, 4);
  int64_t maximum = max_replicas;
  std::string reason = "TooManyReplicas";
  std::string message = "the desired replica count is more than the maximum replica count";
  if (max_replicas > scale_up_limit) {
    maximum = scale_up_limit;
    reason = "ScaleUpLimit";
    message = "the desired replica count is increasing faster than the maximum scale rate";
  }
  result.replicas = stabilized;
  if (stabilized < min_replicas) {
    result.replicas = min_replicas;
    reason = "TooFewReplicas";
    message = "the desired replica count is less than the minimum replica count";
  } else if (stabilized <= maximum) {
    reason = "DesiredWithinRange";
    message = "the desired count is within the acceptable range";
  } else {
    result.replicas = maximum;
  }
  result.limited = result.replicas != stabilized;
  result.limited_reason = reason;
  result.limited_message = message;
  return result;
}

int64_t ScaleHistory::ChangeWithin(const std::vector<ScaleEvent>& events,
                                   std::chrono::seconds period, TimePoint now) {
  int64_t change = 0;
  for (const ScaleEvent& event : events) {
    if (event.time > now - period) change += event.change;
  }
  return change;
}

NormalizedReplicas ScaleHistory::NormalizeWithBehavior(int64_t current, int64_t desired,
                                                       int64_t min_replicas, int64_t max_replicas,
                                                       const Behavior& behavior, TimePoint now) {
  // stabilizeRecommendationWithBehaviors.
  const TimePoint up_cutoff = now - behavior.scale_up.stabilization_window;
  const TimePoint down_cutoff = now - behavior.scale_down.stabilization_window;
  int64_t up = desired;
  int64_t down = desired;
  for (const Recommendation& r : recommendations_) {
    if (r.time > up_cutoff) up = std::min(up, r.replicas);
    if (r.time > down_cutoff) down = std::max(down, r.replicas);
  }
  int64_t stabilized = std::min(std::max(current, up), down);
  Remember(desired, now,
           std::max(behavior.scale_up.stabilization_window,
                    behavior.scale_down.stabilization_window));
  NormalizedReplicas result;
  if (stabilized != desired) {
    if (desired >= current) {
      result.able_to_scale_reason = "ScaleUpStabilized";
      result.able_to_scale_message =
          "recent recommendations were lower than current one, applying the lowest recent "
          "recommendation";
    } else {
      result.able_to_scale_reason = "ScaleDownStabilized";
      result.able_to_scale_message =
          "recent recommendations were higher than current one, applying the highest recent "
          "recommendation";
    }
  } else {
    result.able_to_scale_reason = "ReadyForNewScale";
    result.able_to_scale_message = "recommended size matches current size";
  }
  // convertDesiredReplicasWithBehaviorRate.
  result.replicas = stabilized;
  result.limited_reason = "DesiredWithinRange";
  result.limited_message = "the desired count is within the acceptable range";
  if (stabilized > current) {
    const ScalingRules& rules = behavior.scale_up;
    int64_t limit = current;
    if (rules.select != ScalingRules::Select::kDisabled) {
      limit = rules.select == ScalingRules::Select::kMin ? std::numeric_limits<int64_t>::max()
                                                         : std::numeric_limits<int64_t>::min();
      for (const ScalingPolicy& policy : rules.policies) {
        const int64_t start = current - ChangeWithin(scale_up_events_, policy.period, now) +
                              ChangeWithin(scale_down_events_, policy.period, now);
        const int64_t proposed =
            policy.type == ScalingPolicy::Type::kPods
                ? start + policy.value
                : static_cast<int64_t>(std::ceil(static_cast<double>(start) *
                                                 (1.0 + static_cast<double>(policy.value) / 100)));
        limit = rules.select == ScalingRules::Select::kMin ? std::min(limit, proposed)
                                                           : std::max(limit, proposed);
      }
    }
    limit = std::max(limit, current);
    int64_t maximum = max_replicas;
    std::string reason = "TooManyReplicas";
    std::string message = "the desired replica count is more than the maximum replica count";
    if (maximum > limit) {
      maximum = limit;
      reason = "ScaleUpLimit";
      message = "the desired replica count is increasing faster than the maximum scale rate";
    }
    if (stabilized > maximum) {
      result.replicas = maximum;
      result.limited_reason = reason;
      result.limited_message = message;
    }
  } else if (stabilized < current) {
    const ScalingRules& rules = behavior.scale_down;
    int64_t limit = current;
    if (rules.select != ScalingRules::Select::kDisabled) {
      limit = rules.select == ScalingRules::Select::kMin ? std::numeric_limits<int64_t>::min()
                                                         : std::numeric_limits<int64_t>::max();
      for (const ScalingPolicy& policy : rules.policies) {
        const int64_t start = current - ChangeWithin(scale_up_events_, policy.period, now) +
                              ChangeWithin(scale_down_events_, policy.period, now);
        const int64_t proposed =
            policy.type == ScalingPolicy::Type::kPods
                ? start - policy.value
                : static_cast<int64_t>(static_cast<double>(start) *
                                       (1.0 - static_cast<double>(policy.value) / 100));
        limit = rules.select == ScalingRules::Select::kMin ? std::max(limit, proposed)
                                                           : std::min(limit, proposed);
      }
    }
    limit = std::min(limit, current);
    int64_t minimum = min_replicas;
    std::string reason = "TooFewReplicas";
    std::string message = "the desired replica count is less than the minimum replica count";
    if (minimum < limit) {
      minimum = limit;
      reason = "ScaleDownLimit";
      message = "the desired replica count is decreasing faster than the maximum scale rate";
    }
    if (stabilized < minimum) {
      result.replicas = minimum;
      result.limited_reason = reason;
      result.limited_message = message;
    }
  }
  result.limited = result.replicas != stabilized;
  return result;
}

void ScaleHistory::RecordScale(int64_t from, int64_t to, const Behavior* behavior, TimePoint now) {
  if (behavior == nullptr || from == to) return;  // only rate limits read the events
  auto longest = [](const ScalingRules& rules) {
    std::chrono::seconds longest{0};
    for (const ScalingPolicy& policy : rules.policies) longest = std::max(longest, policy.period);
    return longest;
  };
  if (to > from) {
    const auto keep = longest(behavior->scale_up);
    std::erase_if(scale_up_events_, [&](const ScaleEvent& e) { return e.time <= now - keep; });
    scale_up_events_.push_back({to - from, now});
  } else {
    const auto keep = longest(behavior->scale_down);
    std::erase_if(scale_down_events_, [&](const ScaleEvent& e) { return e.time <= now - keep; });
    scale_down_events_.push_back({from - to, now});
  }
}

}  // namespace kelp::controllers
