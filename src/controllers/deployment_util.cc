// Deployment arithmetic: fenceposts, annotations, new-replica-set choice, proportions, conditions.
#include "controllers/deployment_util.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include <boost/json.hpp>

#include "api/duration.h"
#include "common/json.h"
#include "controllers/object_meta.h"
#include "controllers/pod_template.h"

namespace kelp::controllers {
namespace {

constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<int64_t> IntAnnotation(const boost::json::object& object, std::string_view key) {
  std::optional<std::string> text = Annotation(object, key);
  return text ? ParseInt(*text) : std::nullopt;
}

struct Fenceposts {
  int64_t surge = 0;
  int64_t unavailable = 0;
};

Fenceposts ResolveFenceposts(const boost::json::object& deployment) {
  if (!IsRollingUpdate(deployment)) return {};
  const int64_t desired = SpecReplicas(deployment);
  const boost::json::object* rolling = ObjectAt(deployment, "spec.strategy.rollingUpdate");
  auto resolve = [&](std::string_view field, bool round_up) -> int64_t {
    const boost::json::value* value = rolling ? rolling->if_contains(field) : nullptr;
    const boost::json::value fallback("25%");
    Result<int64_t> scaled =
        ScaledValue(value && !value->is_null() ? *value : fallback, desired, round_up);
    return scaled.ok() ? *scaled : 0;
  };
  Fenceposts fenceposts{resolve("maxSurge", true), resolve("maxUnavailable", false)};
  // Both zero would deadlock the rollout; Kubernetes then lets one pod be unavailable.
  if (fenceposts.surge == 0 && fenceposts.unavailable == 0) fenceposts.unavailable = 1;
  return fenceposts;
}

boost::json::array& Conditions(boost::json::object& status) {
  boost::json::value& conditions = status["conditions"];
  if (!conditions.is_array()) conditions = boost::json::array();
  return conditions.get_array();
}

int64_t StatusInt(const boost::json::object& status, std::string_view field) {
  return IntAt(status, field);
}

}  // namespace

Result<int64_t> ScaledValue(const boost::json::value& int_or_percent, int64_t total,
                            bool round_up) {
  if (int_or_percent.is_int64()) return int_or_percent.get_int64();
  if (int_or_percent.is_uint64()) return static_cast<int64_t>(int_or_percent.get_uint64());
  if (!int_or_percent.is_string()) return InvalidArgumentError("invalid type: neither int nor percentage");
  std::string_view text = int_or_percent.get_string();
  if (text.empty() || text.back() != '%') {
    return InvalidArgumentError("invalid value for IntOrString: invalid type: string is not a percentage");
  }
  std::optional<int64_t> percent = ParseInt(text.substr(0, text.size() - 1));
  if (!percent) return InvalidArgumentError("invalid value \"" + std::string(text) + "\": not a percentage");
  const double scaled = static_cast<double>(*percent) * static_cast<double>(total) / 100.0;
  return static_cast<int64_t>(round_up ? std::ceil(scaled) : std::floor(scaled));
}

int64_t SpecReplicas(const boost::json::object& object) { return IntAt(object, "spec.replicas", 1); }

bool IsRollingUpdate(const boost::json::object& deployment) {
  const std::string type = StringAt(deployment, "spec.strategy.type");
  return type.empty() || type == "RollingUpdate";
}

int64_t MaxSurge(const boost::json::object& deployment) {
  return ResolveFenceposts(deployment).surge;
}

int64_t MaxUnavailable(const boost::json::object& deployment) {
  const int64_t replicas = SpecReplicas(deployment);
  if (!IsRollingUpdate(deployment) || replicas == 0) return 0;
  return std::min(ResolveFenceposts(deployment).unavailable, replicas);
}

int64_t Revision(const boost::json::object& replica_set) {
  return IntAnnotation(replica_set, kRevisionAnnotation).value_or(0);
}

int64_t MaxRevision(const ReplicaSets& replica_sets) {
  int64_t max_revision = 0;
  for (const client::ObjectPtr& rs : replica_sets) max_revision = std::max(max_revision, Revision(*rs));
  return max_revision;
}

int64_t SumSpecReplicas(const ReplicaSets& replica_sets) {
  int64_t sum = 0;
  for (const client::ObjectPtr& rs : replica_sets) {
    if (rs) sum += SpecReplicas(*rs);
  }
  return sum;
}

int64_t SumStatusField(const ReplicaSets& replica_sets, std::string_view field) {
  int64_t sum = 0;
  for (const client::ObjectPtr& rs : replica_sets) {
    if (const boost::json::object* status = rs ? ObjectAt(*rs, "status") : nullptr) {
      sum += StatusInt(*status, field);
    }
  }
  return sum;
}

ReplicaSets FilterActive(const ReplicaSets& replica_sets) {
  ReplicaSets active;
  for (const client::ObjectPtr& rs : replica_sets) {
    if (rs && SpecReplicas(*rs) > 0) active.push_back(rs);
  }
  return active;
}

client::ObjectPtr FindNewReplicaSet(const boost::json::object& deployment,
                                    const ReplicaSets& replica_sets) {
  const boost::json::object* pod_template = ObjectAt(deployment, "spec.template");
  if (pod_template == nullptr) return nullptr;
  ReplicaSets sorted = replica_sets;
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    const std::string ta = StringAt(*a, "metadata.creationTimestamp");
    const std::string tb = StringAt(*b, "metadata.creationTimestamp");
    return ta != tb ? ta < tb : Name(*a) < Name(*b);
  });
  for (const client::ObjectPtr& rs : sorted) {
    const boost::json::object* rs_template = ObjectAt(*rs, "spec.template");
    if (rs_template != nullptr && TemplatesEqualIgnoringHash(*pod_template, *rs_template)) return rs;
  }
  return nullptr;
}

ReplicaSets OldReplicaSets(const ReplicaSets& replica_sets, const client::ObjectPtr& new_rs) {
  ReplicaSets old;
  for (const client::ObjectPtr& rs : replica_sets) {
    if (!new_rs || Uid(*rs) != Uid(*new_rs)) old.push_back(rs);
  }
  return old;
}

client::ObjectPtr FindActiveOrLatest(const client::ObjectPtr& new_rs, const ReplicaSets& old_rss) {
  if (!new_rs && old_rss.empty()) return nullptr;
  ReplicaSets all = old_rss;
  if (new_rs) all.push_back(new_rs);
  ReplicaSets active = FilterActive(all);
  if (active.size() == 1) return active.front();
  if (!active.empty()) return nullptr;
  if (new_rs) return new_rs;
  ReplicaSets sorted = old_rss;
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return StringAt(*a, "metadata.creationTimestamp") < StringAt(*b, "metadata.creationTimestamp");
  });
  return sorted.back();
}

bool IsSaturated(const boost::json::object& deployment, const client::ObjectPtr& new_rs) {
  if (!new_rs) return false;
  const int64_t replicas = SpecReplicas(deployment);
  std::optional<int64_t> desired = IntAnnotation(*new_rs, kDesiredReplicasAnnotation);
  return desired && *desired == replicas && SpecReplicas(*new_rs) == replicas &&
         IntAt(*new_rs, "status.availableReplicas") == replicas;
}

int64_t NewReplicaSetReplicas(const boost::json::object& deployment, const ReplicaSets& all_rss,
                              const boost::json::object& new_rs) {
  const int64_t replicas = SpecReplicas(deployment);
  if (!IsRollingUpdate(deployment)) return replicas;
  const int64_t current = SumSpecReplicas(all_rss);
  const int64_t max_total = replicas + MaxSurge(deployment);
  const int64_t new_replicas = SpecReplicas(new_rs);
  if (current >= max_total) return new_replicas;
  const int64_t scale_up = std::min(max_total - current, replicas - new_replicas);
  return new_replicas + scale_up;
}

bool SetReplicasAnnotations(boost::json::object& replica_set, int64_t desired, int64_t max) {
  boost::json::object& annotations = MutableObjectAt(replica_set, "metadata.annotations");
  bool changed = false;
  for (auto [key, value] : {std::pair{kDesiredReplicasAnnotation, desired},
                            std::pair{kMaxReplicasAnnotation, max}}) {
    const std::string text = std::to_string(value);
    const boost::json::value* existing = annotations.if_contains(key);
    if (existing != nullptr && existing->is_string() && existing->get_string() == text) continue;
    annotations[key] = text;
    changed = true;
  }
  return changed;
}

bool SetNewReplicaSetAnnotations(const boost::json::object& deployment,
                                 boost::json::object& replica_set, int64_t new_revision,
                                 bool exists) {
  bool changed = false;
  boost::json::object& annotations = MutableObjectAt(replica_set, "metadata.annotations");
  if (const boost::json::object* own = Annotations(deployment)) {
    for (const auto& [key, value] : *own) {
      if (key == kRevisionAnnotation || key == kRevisionHistoryAnnotation ||
          key == kDesiredReplicasAnnotation || key == kMaxReplicasAnnotation ||
          key == "kubectl.kubernetes.io/last-applied-configuration" ||
          key == "deprecated.deployment.rollback.to") {
        continue;
      }
      const boost::json::value* existing = annotations.if_contains(key);
      if (existing != nullptr && *existing == value) continue;
      annotations[key] = value;
      changed = true;
    }
  }
  const boost::json::value* old_value = annotations.if_contains(kRevisionAnnotation);
  const std::string old_revision =
      old_value && old_value->is_string() ? std::string(old_value->get_string()) : "";
  std::optional<int64_t> old_number = old_revision.empty() ? 0 : ParseInt(old_revision);
  if (!old_number) return changed;  // a malformed revision is left for a human to fix
  if (*old_number < new_revision) {
    annotations[kRevisionAnnotation] = std::to_string(new_revision);
    changed = true;
    if (!old_revision.empty()) {
      const boost::json::value* history_value = annotations.if_contains(kRevisionHistoryAnnotation);
      std::string history =
          history_value && history_value->is_string() ? std::string(history_value->get_string()) : "";
      history = history.empty() ? old_revision : history + "," + old_revision;
      while (history.size() > kMaxRevisionHistoryLength) {
        const size_t comma = history.find(',');
        if (comma == std::string::npos) break;
        history.erase(0, comma + 1);
      }
      if (history.size() <= kMaxRevisionHistoryLength) annotations[kRevisionHistoryAnnotation] = history;
    }
  }
  if (!exists) {
    const int64_t replicas = SpecReplicas(deployment);
    if (SetReplicasAnnotations(replica_set, replicas, replicas + MaxSurge(deployment))) {
      changed = true;
    }
  }
  return changed;
}

int64_t ScalingProportion(const boost::json::object& replica_set,
                          const boost::json::object& deployment, int64_t to_add, int64_t added) {
  const int64_t rs_replicas = SpecReplicas(replica_set);
  if (rs_replicas == 0 || to_add == 0 || to_add == added) return 0;
  int64_t fraction = 0;
  const int64_t replicas = SpecReplicas(deployment);
  if (replicas == 0) {
    fraction = -rs_replicas;
  } else {
    const int64_t deployment_replicas = replicas + MaxSurge(deployment);
    const int64_t annotated = IntAnnotation(replica_set, kMaxReplicasAnnotation)
                                  .value_or(IntAt(deployment, "status.replicas"));
    if (annotated == 0) return 0;
    const double size = static_cast<double>(rs_replicas * deployment_replicas) /
                        static_cast<double>(annotated);
    fraction = static_cast<int64_t>(std::round(size)) - rs_replicas;
  }
  const int64_t allowed = to_add - added;
  return to_add > 0 ? std::min(fraction, allowed) : std::max(fraction, allowed);
}

const boost::json::object* StatusCondition(const boost::json::object& status,
                                           std::string_view type) {
  const boost::json::value* conditions = status.if_contains("conditions");
  if (conditions == nullptr || !conditions->is_array()) return nullptr;
  for (const boost::json::value& entry : conditions->get_array()) {
    const boost::json::object* condition = entry.if_object();
    if (condition != nullptr && StringAt(*condition, "type") == type) return condition;
  }
  return nullptr;
}

void SetCondition(boost::json::object& status, std::string_view type, std::string_view value,
                  std::string_view reason, std::string message,
                  std::chrono::system_clock::time_point now) {
  const std::string timestamp = FormatRfc3339(now);
  boost::json::object condition{{"type", type},         {"status", value},
                                {"lastUpdateTime", timestamp}, {"lastTransitionTime", timestamp},
                                {"reason", reason},     {"message", std::move(message)}};
  if (const boost::json::object* current = StatusCondition(status, type)) {
    if (StringAt(*current, "status") == value && StringAt(*current, "reason") == reason) return;
    if (StringAt(*current, "status") == value) {
      condition["lastTransitionTime"] = StringAt(*current, "lastTransitionTime");
    }
  }
  RemoveCondition(status, type);
  Conditions(status).push_back(std::move(condition));
}

void RemoveCondition(boost::json::object& status, std::string_view type) {
  if (!status.contains("conditions")) return;
  boost::json::array& conditions = Conditions(status);
  conditions.erase(std::remove_if(conditions.begin(), conditions.end(),
                                  [type](const boost::json::value& entry) {
                                    return entry.is_object() &&
                                           StringAt(entry.get_object(), "type") == type;
                                  }),
                   conditions.end());
}

bool HasProgressDeadline(const boost::json::object& deployment) {
  const boost::json::value* value = FindPath(deployment, "spec.progressDeadlineSeconds");
  return value != nullptr && value->is_number() && IntAt(deployment, "spec.progressDeadlineSeconds") != kMaxInt32;
}

std::optional<int64_t> RevisionHistoryLimit(const boost::json::object& deployment) {
  const boost::json::value* value = FindPath(deployment, "spec.revisionHistoryLimit");
  if (value == nullptr || !value->is_number()) return std::nullopt;
  const int64_t limit = IntAt(deployment, "spec.revisionHistoryLimit");
  if (limit == kMaxInt32) return std::nullopt;
  return limit;
}

bool DeploymentComplete(const boost::json::object& deployment, const boost::json::object& status) {
  const int64_t replicas = SpecReplicas(deployment);
  return StatusInt(status, "updatedReplicas") == replicas &&
         StatusInt(status, "replicas") == replicas &&
         StatusInt(status, "availableReplicas") == replicas &&
         StatusInt(status, "observedGeneration") >= IntAt(deployment, "metadata.generation");
}

bool DeploymentProgressing(const boost::json::object& deployment,
                           const boost::json::object& new_status) {
  const boost::json::object* old_pointer = ObjectAt(deployment, "status");
  const boost::json::object old_status = old_pointer ? *old_pointer : boost::json::object();
  const int64_t old_old = StatusInt(old_status, "replicas") - StatusInt(old_status, "updatedReplicas");
  const int64_t new_old = StatusInt(new_status, "replicas") - StatusInt(new_status, "updatedReplicas");
  return StatusInt(new_status, "updatedReplicas") > StatusInt(old_status, "updatedReplicas") ||
         new_old < old_old ||
         StatusInt(new_status, "readyReplicas") > StatusInt(old_status, "readyReplicas") ||
         StatusInt(new_status, "availableReplicas") > StatusInt(old_status, "availableReplicas");
}

bool DeploymentTimedOut(const boost::json::object& deployment, const boost::json::object& status,
                        std::chrono::system_clock::time_point now) {
  if (!HasProgressDeadline(deployment)) return false;
  const boost::json::object* condition = StatusCondition(status, "Progressing");
  if (condition == nullptr) return false;
  const std::string reason = StringAt(*condition, "reason");
  if (reason == "NewReplicaSetAvailable") return false;
  if (reason == "ProgressDeadlineExceeded") return true;
  std::optional<std::chrono::system_clock::time_point> from =
      api::ParseRfc3339(StringAt(*condition, "lastUpdateTime"));
  if (!from) return false;
  return *from + std::chrono::seconds(IntAt(deployment, "spec.progressDeadlineSeconds")) < now;
}

}  // namespace kelp::controllers
