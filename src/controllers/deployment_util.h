// The arithmetic of Deployments, as Kubernetes' pkg/controller/deployment/util: maxSurge and
// maxUnavailable resolved against spec.replicas (surge rounds up, unavailable down, never both
// zero), the replica sets' revision and replica-count annotations, which ReplicaSet is the
// "new" one, how many replicas the new one may have during a rolling update, proportional
// scaling shares, and the Available/Progressing condition rules. Pure functions over JSON.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/api_client.h"
#include "common/status.h"

namespace kelp::controllers {

inline constexpr std::string_view kRevisionAnnotation = "deployment.kubernetes.io/revision";
inline constexpr std::string_view kRevisionHistoryAnnotation =
    "deployment.kubernetes.io/revision-history";
inline constexpr std::string_view kDesiredReplicasAnnotation =
    "deployment.kubernetes.io/desired-replicas";
inline constexpr std::string_view kMaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas";
// revision-history is trimmed (oldest first) to stay within this many characters.
inline constexpr size_t kMaxRevisionHistoryLength = 2000;

using ReplicaSets = std::vector<client::ObjectPtr>;

// An intstr value ("25%" or 3) scaled against `total`; percentages round up or down.
Result<int64_t> ScaledValue(const boost::json::value& int_or_percent, int64_t total,
                            bool round_up);

// spec.replicas with its default of 1.
int64_t SpecReplicas(const boost::json::object& object);
bool IsRollingUpdate(const boost::json::object& deployment);
// Resolved maxSurge / maxUnavailable (0 for Recreate; maxUnavailable capped at spec.replicas).
int64_t MaxSurge(const boost::json::object& deployment);
int64_t MaxUnavailable(const boost::json::object& deployment);

// deployment.kubernetes.io/revision as a number; 0 when absent or malformed.
int64_t Revision(const boost::json::object& replica_set);
int64_t MaxRevision(const ReplicaSets& replica_sets);

int64_t SumSpecReplicas(const ReplicaSets& replica_sets);
int64_t SumStatusField(const ReplicaSets& replica_sets, std::string_view field);
// Replica sets with spec.replicas > 0.
ReplicaSets FilterActive(const ReplicaSets& replica_sets);

// The oldest replica set whose template equals the deployment's (ignoring pod-template-hash).
client::ObjectPtr FindNewReplicaSet(const boost::json::object& deployment,
                                    const ReplicaSets& replica_sets);
// Every replica set except `new_replica_set`.
ReplicaSets OldReplicaSets(const ReplicaSets& replica_sets, const client::ObjectPtr& new_rs);
// The only active replica set; with none active, the new one or else the newest old one;
// null when several are active.
client::ObjectPtr FindActiveOrLatest(const client::ObjectPtr& new_rs, const ReplicaSets& old_rss);
// The new replica set runs all of spec.replicas, all available, and its desired annotation agrees.
bool IsSaturated(const boost::json::object& deployment, const client::ObjectPtr& new_rs);

// spec.replicas the new replica set should have now: all of them for Recreate; for a rolling
// update as many as fit under replicas + maxSurge.
int64_t NewReplicaSetReplicas(const boost::json::object& deployment,
                              const ReplicaSets& all_rss, const boost::json::object& new_rs);

// Sets desired-replicas and max-replicas; true when something changed.
bool SetReplicasAnnotations(boost::json::object& replica_set, int64_t desired, int64_t max);
// Copies the deployment's own annotations (e.g. kubernetes.io/change-cause), raises the revision
// to `new_revision` (pushing the old one onto revision-history) and, for a replica set not yet
// created, sets the replica annotations. True when something changed.
bool SetNewReplicaSetAnnotations(const boost::json::object& deployment,
                                 boost::json::object& replica_set, int64_t new_revision,
                                 bool exists);
// Proportional scaling: how many of `to_add` (negative to remove) replicas this replica set
// takes, given `added` were handed out already.
int64_t ScalingProportion(const boost::json::object& replica_set,
                          const boost::json::object& deployment, int64_t to_add, int64_t added);

// Sets condition `type` in `status.conditions`: unchanged when status and reason agree;
// lastTransitionTime kept when only the reason changes.
void SetCondition(boost::json::object& status, std::string_view type, std::string_view value,
                  std::string_view reason, std::string message,
                  std::chrono::system_clock::time_point now);
void RemoveCondition(boost::json::object& status, std::string_view type);
const boost::json::object* StatusCondition(const boost::json::object& status,
                                           std::string_view type);

// progressDeadlineSeconds / revisionHistoryLimit are set and not "unlimited" (MaxInt32).
bool HasProgressDeadline(const boost::json::object& deployment);
std::optional<int64_t> RevisionHistoryLimit(const boost::json::object& deployment);
// Every replica updated and available, and the status observed the current generation.
bool DeploymentComplete(const boost::json::object& deployment, const boost::json::object& status);
// The new status shows more updated/ready/available or fewer old replicas than the last one.
bool DeploymentProgressing(const boost::json::object& deployment,
                           const boost::json::object& new_status);
bool DeploymentTimedOut(const boost::json::object& deployment, const boost::json::object& status,
                        std::chrono::system_clock::time_point now);

}  // namespace kelp::controllers
