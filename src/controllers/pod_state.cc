// Pod status predicates and Kubernetes' scale-down ranking of pods.
#include "controllers/pod_state.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string>

#include <boost/json.hpp>

#include "api/duration.h"
#include "controllers/object_meta.h"

namespace kelp::controllers {
namespace {

using TimePoint = std::chrono::system_clock::time_point;

std::optional<TimePoint> ReadyTime(const boost::json::object& pod) {
  const boost::json::object* ready = FindCondition(pod, "Ready");
  if (ready == nullptr) return std::nullopt;
  return api::ParseRfc3339(StringAt(*ready, "lastTransitionTime"));
}

int PhaseOrdinal(const boost::json::object& pod) {
  const std::string phase = StringAt(pod, "status.phase");
  if (phase == "Pending" || phase.empty()) return 0;
  if (phase == "Unknown") return 1;
  return 2;  // Running
}

int64_t DeletionCost(const boost::json::object& pod) {
  std::optional<std::string> cost = Annotation(pod, "controller.kubernetes.io/pod-deletion-cost");
  if (!cost) return 0;
  char* end = nullptr;
  const long long value = std::strtoll(cost->c_str(), &end, 10);
  return end != nullptr && *end == '\0' ? value : 0;
}

int64_t MaxContainerRestarts(const boost::json::object& pod) {
  int64_t max_restarts = 0;
  const boost::json::object* status = ObjectAt(pod, "status");
  const boost::json::value* statuses = status ? status->if_contains("containerStatuses") : nullptr;
  if (statuses == nullptr || !statuses->is_array()) return 0;
  for (const boost::json::value& entry : statuses->get_array()) {
    if (const boost::json::object* container = entry.if_object()) {
      max_restarts = std::max(max_restarts, IntAt(*container, "restartCount"));
    }
  }
  return max_restarts;
}

// floor(log2(now - t)) in nanoseconds, -1 for t not in the past: pods within one power of two
// of age rank alike, so scale-down does not always pick the very newest pod.
int64_t LogarithmicRank(TimePoint t, TimePoint now) {
  const int64_t age = std::chrono::duration_cast<std::chrono::nanoseconds>(now - t).count();
  return age > 0 ? static_cast<int64_t>(std::log2(static_cast<double>(age))) : -1;
}

struct RankedPod {
  client::ObjectPtr pod;
  int64_t pods_on_same_node = 0;
};

// Less = deleted earlier. A missing time counts as "empty", which sorts first.
std::optional<bool> CompareByTime(const std::optional<TimePoint>& a,
                                  const std::optional<TimePoint>& b, const RankedPod& left,
                                  const RankedPod& right, TimePoint now) {
  if (a == b) return std::nullopt;
  if (!a || !b) return !a;
  const int64_t rank_diff = LogarithmicRank(*a, now) - LogarithmicRank(*b, now);
  if (rank_diff == 0) return Uid(*left.pod) < Uid(*right.pod);
  return rank_diff < 0;
}

bool DeleteEarlier(const RankedPod& left, const RankedPod& right, TimePoint now) {
  const boost::json::object& a = *left.pod;
  const boost::json::object& b = *right.pod;
  const std::string node_a = StringAt(a, "spec.nodeName");
  const std::string node_b = StringAt(b, "spec.nodeName");
  if (node_a != node_b && (node_a.empty() || node_b.empty())) return node_a.empty();
  if (PhaseOrdinal(a) != PhaseOrdinal(b)) return PhaseOrdinal(a) < PhaseOrdinal(b);
  const bool ready_a = IsPodReady(a);
  const bool ready_b = IsPodReady(b);
  if (ready_a != ready_b) return !ready_a;
  if (DeletionCost(a) != DeletionCost(b)) return DeletionCost(a) < DeletionCost(b);
  if (left.pods_on_same_node != right.pods_on_same_node) {
    return left.pods_on_same_node > right.pods_on_same_node;
  }
  if (ready_a && ready_b) {
    if (auto order = CompareByTime(ReadyTime(a), ReadyTime(b), left, right, now)) return *order;
  }
  if (MaxContainerRestarts(a) != MaxContainerRestarts(b)) {
    return MaxContainerRestarts(a) > MaxContainerRestarts(b);
  }
  if (auto order = CompareByTime(CreationTime(a), CreationTime(b), left, right, now)) {
    return *order;
  }
  return false;
}

}  // namespace

bool IsPodActive(const boost::json::object& pod) {
  const std::string phase = StringAt(pod, "status.phase");
  return phase != "Succeeded" && phase != "Failed" && !IsBeingDeleted(pod);
}

bool IsPodReady(const boost::json::object& pod) {
  const boost::json::object* ready = FindCondition(pod, "Ready");
  return ready != nullptr && StringAt(*ready, "status") == "True";
}

bool IsPodAvailable(const boost::json::object& pod, int64_t min_ready_seconds, TimePoint now) {
  if (!IsPodReady(pod)) return false;
  if (min_ready_seconds == 0) return true;
  std::optional<TimePoint> ready_since = ReadyTime(pod);
  return ready_since && *ready_since + std::chrono::seconds(min_ready_seconds) < now;
}

std::vector<client::ObjectPtr> PodsToDelete(std::vector<client::ObjectPtr> pods,
                                            const std::vector<client::ObjectPtr>& related_pods,
                                            size_t count, TimePoint now) {
  if (count >= pods.size()) return pods;
  std::map<std::string, int64_t> active_pods_per_node;
  for (const client::ObjectPtr& pod : related_pods) {
    if (IsPodActive(*pod)) ++active_pods_per_node[StringAt(*pod, "spec.nodeName")];
  }
  std::vector<RankedPod> ranked;
  ranked.reserve(pods.size());
  for (client::ObjectPtr& pod : pods) {
    const int64_t on_node = active_pods_per_node[StringAt(*pod, "spec.nodeName")];
    ranked.push_back({std::move(pod), on_node});
  }
  std::stable_sort(ranked.begin(), ranked.end(), [now](const RankedPod& a, const RankedPod& b) {
    return DeleteEarlier(a, b, now);
  });
  std::vector<client::ObjectPtr> chosen;
  for (size_t i = 0; i < count; ++i) chosen.push_back(std::move(ranked[i].pod));
  return chosen;
}

}  // namespace kelp::controllers
