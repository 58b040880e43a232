// QueueWorkers: the worker threads of one controller. Each takes a key from the WorkQueue,
// runs the controller's Sync(key), forgets the key's backoff on success and requeues it rate
// limited on error (logging the error), as client-go controllers' processNextWorkItem.
#pragma once

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "client/work_queue.h"
#include "common/status.h"

namespace kelp::controllers {

class QueueWorkers {
 public:
  using SyncFunc = std::function<Status(const std::string& key)>;

  // `name` prefixes log lines ("replicaset").
  QueueWorkers(client::WorkQueue& queue, SyncFunc sync, std::string name);
  ~QueueWorkers();  // Stop()
  QueueWorkers(const QueueWorkers&) = delete;
  QueueWorkers& operator=(const QueueWorkers&) = delete;

  void Start(int count);
  // Shuts the queue down and joins the workers.
  void Stop();

 private:
  void Run();

  client::WorkQueue& queue_;
  SyncFunc sync_;
  std::string name_;
  std::vector<std::thread> threads_;
};

}  // namespace kelp::controllers
