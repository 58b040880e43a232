// WatchHub: the event ring, watcher registration and fan-out, and the WatchStream that
// replays history from the log before switching to live events.
#include "storage/watch_hub.h"

#include <algorithm>
#include <condition_variable>
#include <utility>

namespace kelp::storage {

// Shared by the hub (which pushes live events) and the stream (which consumes them): either
// may outlive the other.
struct WatcherState {
  WatcherState(std::string watched_prefix, std::shared_ptr<EventLogReader> log_reader,
               size_t page_events)
      : prefix(std::move(watched_prefix)), log(std::move(log_reader)), disk_page(page_events) {}

  const std::string prefix;
  const std::shared_ptr<EventLogReader> log;
  const size_t disk_page;

  std::mutex mu;  // guards everything below
  std::condition_variable wake;
  std::deque<Event> pending;  // live events not yet returned by Next()
  Status end;                 // non-OK once the stream has ended
  bool closed = false;
  // History still to replay from the log: revisions in (disk_after, disk_until].
  int64_t disk_after = 0;
  int64_t disk_until = 0;
  // Live events at or below this are skipped (a watch may start above the current revision).
  int64_t deliver_after = 0;

  bool Ended() const { return closed || !end.ok(); }
};

namespace {

class HubWatchStream final : public WatchStream {
 public:
  explicit HubWatchStream(std::shared_ptr<WatcherState> state) : state_(std::move(state)) {}
  ~HubWatchStream() override { Close(); }

  Result<std::vector<Event>> Next(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(state_->mu);
    if (state_->closed) return CancelledError("watch closed");
    if (state_->end.ok() && state_->disk_after < state_->disk_until) {
      std::vector<Event> replayed;
      KELP_RETURN_IF_ERROR(ReplayPage(lock, replayed));
      if (!replayed.empty()) return replayed;
    }
    state_->wake.wait_for(lock, timeout, [&] { return !state_->pending.empty() || state_->Ended(); });
    if (state_->closed) return CancelledError("watch closed");
    if (state_->pending.empty() && !state_->end.ok()) return state_->end;
    std::vector<Event> events(std::make_move_iterator(state_->pending.begin()),
                              std::make_move_iterator(state_->pending.end()));
    state_->pending.clear();
    return events;
  }

  void Close() override {
    std::lock_guard lock(state_->mu);
    state_->closed = true;
    state_->pending.clear();
    state_->wake.notify_all();
  }

 private:
  // Reads the next page of history without holding the lock (live events keep arriving).
  Status ReplayPage(std::unique_lock<std::mutex>& lock, std::vector<Event>& out) {
    const int64_t after = state_->disk_after;
    const int64_t until = state_->disk_until;
    lock.unlock();
    Result<std::vector<Event>> page =
        state_->log->ReadEvents(state_->prefix, after, until, state_->disk_page);
    lock.lock();
    if (state_->closed) return CancelledError("watch closed");
    if (!page.ok()) {
      state_->end = page.status();
      state_->pending.clear();
      return state_->end;
    }
    state_->disk_after = page->size() < state_->disk_page ? until : page->back().revision();
    out = std::move(page).value();
    return Status::Ok();
  }

  std::shared_ptr<WatcherState> state_;
};

}  // namespace

WatchHub::WatchHub(int64_t current_revision, int64_t compact_revision,
                   std::shared_ptr<EventLogReader> log, WatchHubOptions options)
    : options_(options),
      log_(std::move(log)),
      ring_floor_(current_revision),
      revision_(current_revision),
      compact_revision_(compact_revision) {}

WatchHub::~WatchHub() { Shutdown(); }

Result<std::unique_ptr<WatchStream>> WatchHub::Watch(const std::string& prefix,
                                                     int64_t after_revision) {
  if (after_revision < 0) return InvalidArgumentError("negative watch revision");
  std::lock_guard lock(mu_);
  if (shut_down_) return UnavailableError("store is shutting down");
  const int64_t after = after_revision == 0 ? revision_ : after_revision;
  if (after < compact_revision_) {
    return ExpiredError("watch from revision " + std::to_string(after) +
                        " is older than the compacted revision " +
                        std::to_string(compact_revision_));
  }
  auto state = std::make_shared<WatcherState>(prefix, log_, options_.disk_page_events);
  state->deliver_after = after;
  if (after < ring_floor_) {
    state->disk_after = after;
    state->disk_until = ring_floor_;
  }
  for (const Event& event : ring_) {
    if (event.revision() > after && event.kv.key.starts_with(prefix)) {
      state->pending.push_back(event);
    }
  }
  watchers_.push_back(state);
  return std::unique_ptr<WatchStream>(std::make_unique<HubWatchStream>(std::move(state)));
}

void WatchHub::Publish(std::vector<Event> events, int64_t revision) {
  std::lock_guard lock(mu_);
  revision_ = std::max(revision_, revision);
  std::erase_if(watchers_, [&](const std::shared_ptr<WatcherState>& watcher) {
    std::lock_guard watcher_lock(watcher->mu);
    if (watcher->Ended()) return true;
    bool added = false;
    for (const Event& event : events) {
      if (event.revision() > watcher->deliver_after && event.kv.key.starts_with(watcher->prefix)) {
        watcher->pending.push_back(event);
        added = true;
      }
    }
    if (watcher->pending.size() > options_.max_pending_events) {
      watcher->end = ExpiredError("watcher fell more than " +
                                  std::to_string(options_.max_pending_events) +
                                  " events behind; list and watch again");
      watcher->pending.clear();
      watcher->wake.notify_all();
      return true;
    }
    if (added) watcher->wake.notify_all();
    return false;
  });
  for (Event& event : events) {
    ring_.push_back(std::move(event));
    if (ring_.size() > options_.ring_capacity) {
      ring_floor_ = ring_.front().revision();
      ring_.pop_front();
    }
  }
  if (ring_.empty()) ring_floor_ = revision_;
}

void WatchHub::SetCompactRevision(int64_t revision) {
  std::lock_guard lock(mu_);
  compact_revision_ = std::max(compact_revision_, revision);
}

void WatchHub::Shutdown() {
  std::lock_guard lock(mu_);
  shut_down_ = true;
  for (const auto& watcher : watchers_) {
    std::lock_guard watcher_lock(watcher->mu);
    if (watcher->end.ok()) watcher->end = UnavailableError("store shut down");
    watcher->wake.notify_all();
  }
  watchers_.clear();
}

int64_t WatchHub::revision() const {
  std::lock_guard lock(mu_);
  return revision_;
}

int64_t WatchHub::compact_revision() const {
  std::lock_guard lock(mu_);
  return compact_revision_;
}

}  // namespace kelp::storage
