// The worker loop shared by the workload controllers.
#include "controllers/queue_workers.h"

#include <spdlog/spdlog.h>

#include <optional>
#include <utility>

namespace kelp::controllers {

QueueWorkers::QueueWorkers(client::WorkQueue& queue, SyncFunc sync, std::string name)
    : queue_(queue), sync_(std::move(sync)), name_(std::move(name)) {}

QueueWorkers::~QueueWorkers() { Stop(); }

void QueueWorkers::Start(int count) {
  for (int i = 0; i < count; ++i) threads_.emplace_back([this] { Run(); });
}

void QueueWorkers::Stop() {
  queue_.ShutDown();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

void QueueWorkers::Run() {
  while (std::optional<std::string> key = queue_.Get()) {
    Status status = sync_(*key);
    if (status.ok()) {
      queue_.Forget(*key);
    } else {
      spdlog::warn("{}: syncing {} failed (retry {}): {}", name_, *key,
                   queue_.NumRequeues(*key) + 1, status.ToString());
      queue_.AddRateLimited(*key);
    }
    queue_.Done(*key);
  }
}

}  // namespace kelp::controllers
