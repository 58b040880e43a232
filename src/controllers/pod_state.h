// What the workload controllers read from a pod's status, as Kubernetes' podutil and
// controller_utils do: active (counted toward replicas), ready, available (ready for
// minReadySeconds), and the order in which a ReplicaSet picks pods to delete when it scales
// down (ActivePodsWithRanks with LogarithmicScaleDown and PodDeletionCost, both on by default).
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "client/api_client.h"

namespace kelp::controllers {

// Not Succeeded, not Failed, and not being deleted.
bool IsPodActive(const boost::json::object& pod);
// The Ready condition is "True".
bool IsPodReady(const boost::json::object& pod);
// Ready, and (when min_ready_seconds > 0) Ready since more than min_ready_seconds before `now`.
bool IsPodAvailable(const boost::json::object& pod, int64_t min_ready_seconds,
                    std::chrono::system_clock::time_point now);

// `count` pods of `pods` in deletion order (the first is deleted first): unscheduled before
// scheduled; Pending < Unknown < Running; not ready < ready; lower
// controller.kubernetes.io/pod-deletion-cost first; pods on nodes crowded with `related_pods`
// (pods of the same owner family) first; more recently ready first and more recently created
// first (on a logarithmic time scale, ties broken by uid); more container restarts first.
std::vector<client::ObjectPtr> PodsToDelete(std::vector<client::ObjectPtr> pods,
                                            const std::vector<client::ObjectPtr>& related_pods,
                                            size_t count,
                                            std::chrono::system_clock::time_point now);

}  // namespace kelp::controllers
