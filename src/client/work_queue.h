// WorkQueue: the keys ("ns/name") a controller still has to sync, as client-go's rate-limited
// work queue. A key is queued at most once; a key added while a worker processes it is queued
// again when the worker calls Done(), so two workers never sync one key at once.
// AddRateLimited() requeues with per-key exponential backoff (5 ms doubling to 1000 s) until
// Forget(); AddAfter() delays a key. Time comes from the Clock seam.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"

namespace kelp::client {

class WorkQueue {
 public:
  explicit WorkQueue(Clock& clock);
  ~WorkQueue();  // ShutDown()
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Add(const std::string& key);
  void AddAfter(const std::string& key, std::chrono::steady_clock::duration delay);
  void AddRateLimited(const std::string& key);
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key) const;

  // Blocks until a key is ready; nullopt once ShutDown() was called.
  std::optional<std::string> Get();
  void Done(const std::string& key);
  void ShutDown();
  size_t Len() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace kelp::client
