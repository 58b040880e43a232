// Per-controller counts of creations and deletions not yet seen through the informer.
#include "controllers/expectations.h"

namespace kelp::controllers {

bool ControllerExpectations::Satisfied(const std::string& controller_key) const {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(controller_key);
  if (it == pending_.end()) return true;
  const Pending& pending = it->second;
  if (pending.adds <= 0 && pending.deletes.empty()) return true;
  return clock_.Now() - pending.set_at > kExpectationsTimeout;
}

void ControllerExpectations::ExpectCreations(const std::string& controller_key, int count) {
  std::lock_guard lock(mutex_);
  pending_[controller_key] = Pending{.adds = count, .deletes = {}, .set_at = clock_.Now()};
}

void ControllerExpectations::ExpectDeletions(const std::string& controller_key,
                                             const std::vector<std::string>& pod_keys) {
  std::lock_guard lock(mutex_);
  pending_[controller_key] = Pending{
      .adds = 0, .deletes = {pod_keys.begin(), pod_keys.end()}, .set_at = clock_.Now()};
}

void ControllerExpectations::CreationObserved(const std::string& controller_key) {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(controller_key);
  if (it != pending_.end() && it->second.adds > 0) --it->second.adds;
}

void ControllerExpectations::DeletionObserved(const std::string& controller_key,
                                              const std::string& pod_key) {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(controller_key);
  if (it != pending_.end()) it->second.deletes.erase(pod_key);
}

void ControllerExpectations::Delete(const std::string& controller_key) {
  std::lock_guard lock(mutex_);
  pending_.erase(controller_key);
}

}  // namespace kelp::controllers
