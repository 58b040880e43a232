// WatchHub fans committed events out to watchers. It keeps a bounded in-memory ring of the
// most recent events so new watchers catch up from memory; a watcher starting before the ring
// replays the older part from the store's log through an EventLogReader, page by page, inside
// its own Next(). Store-agnostic: any Store that publishes its events in revision order can
// use it.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "storage/store.h"

namespace kelp::storage {

// Reads committed history from durable storage.
class EventLogReader {
 public:
  virtual ~EventLogReader() = default;
  // Events under `prefix` with after < revision <= until, in revision order, at most `limit`.
  // kExpired if history after `after` has been compacted.
  virtual Result<std::vector<Event>> ReadEvents(const std::string& prefix, int64_t after,
                                                int64_t until, size_t limit) = 0;
};

struct WatchHubOptions {
  size_t ring_capacity = 4096;  // most recent events kept in memory for catch-up
  // A watcher whose undelivered events exceed this is ended with kExpired rather than
  // buffering without bound; its consumer re-lists and watches again (as Kubernetes does).
  size_t max_pending_events = 10000;
  size_t disk_page_events = 1000;  // events read from the log per Next() during catch-up
};

struct WatcherState;

class WatchHub {
 public:
  WatchHub(int64_t current_revision, int64_t compact_revision,
           std::shared_ptr<EventLogReader> log, WatchHubOptions options);
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  Result<std::unique_ptr<WatchStream>> Watch(const std::string& prefix, int64_t after_revision);
  // Publishes the events of one commit (strictly increasing revisions, all newer than any
  // published before) and advances the revision to `revision`.
  void Publish(std::vector<Event> events, int64_t revision);
  void SetCompactRevision(int64_t revision);
  // Ends every watcher with kUnavailable; later Watch() calls fail the same way.
  void Shutdown();

  int64_t revision() const;
  int64_t compact_revision() const;

 private:
  const WatchHubOptions options_;
  const std::shared_ptr<EventLogReader> log_;

  mutable std::mutex mu_;  // guards everything below
  std::deque<Event> ring_;
  int64_t ring_floor_;  // the ring holds every event with revision > ring_floor_
  int64_t revision_;    // the last published revision
  int64_t compact_revision_;
  bool shut_down_ = false;
  std::vector<std::shared_ptr<WatcherState>> watchers_;
};

}  // namespace kelp::storage
