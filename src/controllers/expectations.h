// ControllerExpectations, as Kubernetes' UIDTrackingControllerExpectations: what a controller
// still expects to see in its informer after its own writes. A ReplicaSet that created 3 pods
// does not sync again until its informer has observed those 3 creations (or 5 minutes pass,
// in case a watch event was lost), so a stale cache never makes it create the pods twice.
// Deletions are tracked by pod key, so a pod seen as deleting and then deleted counts once.
// Thread-safe: informer handlers lower expectations while workers raise them.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"

namespace kelp::controllers {

class ControllerExpectations {
 public:
  // After this long, unmet expectations are treated as met (a missed event must not wedge a
  // controller forever).
  static constexpr std::chrono::minutes kExpectationsTimeout{5};

  explicit ControllerExpectations(Clock& clock) : clock_(clock) {}

  // True when `controller_key` has no pending creations or deletions, has none recorded, or
  // its expectations expired.
  bool Satisfied(const std::string& controller_key) const;
  // Replaces the expectations of `controller_key`.
  void ExpectCreations(const std::string& controller_key, int count);
  void ExpectDeletions(const std::string& controller_key, const std::vector<std::string>& pod_keys);
  void CreationObserved(const std::string& controller_key);
  void DeletionObserved(const std::string& controller_key, const std::string& pod_key);
  // The controller's object is gone.
  void Delete(const std::string& controller_key);

 private:
  struct Pending {
    int adds = 0;
    std::set<std::string> deletes;
    std::chrono::steady_clock::time_point set_at;
  };

  Clock& clock_;
  mutable std::mutex mutex_;  // guards pending_
  std::map<std::string, Pending> pending_;
};

}  // namespace kelp::controllers
