// WorkQueue as client-go's: a FIFO of keys with a dirty set (queued or to be re-queued) and a
// processing set (handed to a worker), a delay set ordered by due time for AddAfter, and
// per-key failure counts for AddRateLimited. Delayed keys become ready when a Get() or Len()
// sees the Clock past their due time; Get() re-checks the Clock at least every
// kDelayPollInterval so a FakeClock advanced by a test is noticed without a wake-up call.
#include "client/work_queue.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <unordered_set>

namespace kelp::client {
namespace {

constexpr std::chrono::milliseconds kBaseRetryDelay{5};
constexpr std::chrono::seconds kMaxRetryDelay{1000};
constexpr std::chrono::milliseconds kDelayPollInterval{20};

using TimePoint = std::chrono::steady_clock::time_point;

}  // namespace

struct WorkQueue::State {
  explicit State(Clock& clock) : clock(clock) {}

  Clock& clock;
  mutable std::mutex mutex;  // guards everything below
  std::condition_variable ready;
  std::deque<std::string> queue;
  std::unordered_set<std::string> dirty;
  std::unordered_set<std::string> processing;
  std::set<std::pair<TimePoint, std::string>> delayed;  // by due time
  std::map<std::string, TimePoint> delayed_due;         // key → its entry in `delayed`
  std::map<std::string, int> failures;
  bool shutting_down = false;

  void AddLocked(const std::string& key) {
    if (shutting_down || dirty.contains(key)) return;
    dirty.insert(key);
    if (processing.contains(key)) return;
    queue.push_back(key);
    ready.notify_one();
  }

  void AddAfterLocked(const std::string& key, std::chrono::steady_clock::duration delay) {
    if (shutting_down) return;
    if (delay <= std::chrono::steady_clock::duration::zero()) {
      AddLocked(key);
      return;
    }
    TimePoint due = clock.Now() + delay;
    auto it = delayed_due.find(key);
    if (it != delayed_due.end()) {
      if (it->second <= due) return;  // an earlier wake-up is already pending
      delayed.erase({it->second, key});
      it->second = due;
    } else {
      delayed_due.emplace(key, due);
    }
    delayed.emplace(due, key);
    ready.notify_all();  // a waiting Get() may need to wake earlier
  }

  // Moves every delayed key whose time has come into the queue.
  void PromoteDueLocked() {
    TimePoint now = clock.Now();
    while (!delayed.empty() && delayed.begin()->first <= now) {
      std::string key = delayed.begin()->second;
      delayed.erase(delayed.begin());
      delayed_due.erase(key);
      AddLocked(key);
    }
  }
};

WorkQueue::WorkQueue(Clock& clock) : state_(std::make_unique<State>(clock)) {}

WorkQueue::~WorkQueue() { ShutDown(); }

void WorkQueue::Add(const std::string& key) {
  std::lock_guard lock(state_->mutex);
  state_->AddLocked(key);
}

void WorkQueue::AddAfter(const std::string& key, std::chrono::steady_clock::duration delay) {
  std::lock_guard lock(state_->mutex);
  state_->AddAfterLocked(key, delay);
}

void WorkQueue::AddRateLimited(const std::string& key) {
  std::lock_guard lock(state_->mutex);
  int failures = state_->failures[key]++;
  std::chrono::steady_clock::duration delay = kMaxRetryDelay;
  // 5 ms · 2^failures, capped; beyond 2^18 the cap has long been reached.
  if (failures < 18) delay = std::min<std::chrono::steady_clock::duration>(
                         kBaseRetryDelay * (int64_t{1} << failures), kMaxRetryDelay);
  state_->AddAfterLocked(key, delay);
}

void WorkQueue::Forget(const std::string& key) {
  std::lock_guard lock(state_->mutex);
  state_->failures.erase(key);
}

int WorkQueue::NumRequeues(const std::string& key) const {
  std::lock_guard lock(state_->mutex);
  auto it = state_->failures.find(key);
  return it == state_->failures.end() ? 0 : it->second;
}

std::optional<std::string> WorkQueue::Get() {
  std::unique_lock lock(state_->mutex);
  while (true) {
    if (state_->shutting_down) return std::nullopt;
    state_->PromoteDueLocked();
    if (!state_->queue.empty()) break;
    if (state_->delayed.empty()) {
      state_->ready.wait(lock);
    } else {
      auto until_due = state_->delayed.begin()->first - state_->clock.Now();
      state_->ready.wait_for(
          lock, std::clamp<std::chrono::steady_clock::duration>(
                    until_due, std::chrono::milliseconds(1), kDelayPollInterval));
    }
  }
  std::string key = std::move(state_->queue.front());
  state_->queue.pop_front();
  state_->dirty.erase(key);
  state_->processing.insert(key);
  return key;
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard lock(state_->mutex);
  state_->processing.erase(key);
  if (state_->dirty.contains(key) && !state_->shutting_down) {
    state_->queue.push_back(key);
    state_->ready.notify_one();
  }
}

void WorkQueue::ShutDown() {
  std::lock_guard lock(state_->mutex);
  state_->shutting_down = true;
  state_->ready.notify_all();
}

size_t WorkQueue::Len() const {
  std::lock_guard lock(state_->mutex);
  state_->PromoteDueLocked();
  return state_->queue.size();
}

}  // namespace kelp::client
