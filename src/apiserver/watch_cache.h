// The watch cache: every object of the store held in memory as the JSON the API serves (in its
// kind's storage version, metadata.resourceVersion set), kept current by one store watch over
// /registry/ on a thread of its own. LISTs are answered from it without reading the store or
// decoding objects; a reader first waits until the cache has caught up with the store's latest
// revision, so clients read their own writes. What it cannot answer (a page of an older
// revision of a resource that changed since) the caller reads from the store.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "apiserver/resources.h"
#include "common/status.h"
#include "storage/store.h"

namespace kelp::apiserver {

// One object as the cache holds it; immutable once made, shared with readers.
struct CachedObject {
  std::string key;
  std::string json;  // served form in the storage version, with metadata.resourceVersion
  int64_t mod_revision = 0;
};

class WatchCache {
 public:
  // Lists everything under /registry/ and follows the store's watch from that revision.
  static Result<std::unique_ptr<WatchCache>> Start(storage::Store& store);
  WatchCache(const WatchCache&) = delete;
  WatchCache& operator=(const WatchCache&) = delete;
  ~WatchCache();  // stops following the store

  // Blocks until the cache reflects every write up to `revision`. False when it does not within
  // `timeout`, or when the cache has stopped (the store shut down).
  bool WaitUntilFresh(int64_t revision, std::chrono::milliseconds timeout) const;

  struct Snapshot {
    std::vector<std::shared_ptr<const CachedObject>> objects;  // key order
    int64_t revision = 0;  // the revision the objects reflect
    bool more = false;     // `max_objects` cut the snapshot short
  };
  // The objects with keys under `prefix` and greater than `after_key`, at most `max_objects`
  // (0 = all), as of the cache's current revision.
  Snapshot List(std::string_view prefix, std::string_view after_key, size_t max_objects) const;

  // The revision of the last write to any object of the resource `key` belongs to
  // ("/registry/<group>/<plural>/..."); the revision of the cache's last full list when it has
  // seen none since.
  // A page of a list at revision R can come from the cache when this is <= R.
  int64_t LastChange(std::string_view key) const;
  int64_t Revision() const;

  // The served resource whose version is its kind's storage version, by key; null if none.
  static const ResourceInfo* StorageResourceOf(std::string_view key);

 private:
  explicit WatchCache(storage::Store& store) : store_(store) {}
  // Replaces the contents with a fresh list and opens the watch after it.
  Status Resync();
  void Follow();
  void Apply(const std::vector<storage::Event>& events);

  storage::Store& store_;
  std::mutex watch_mu_;  // guards replacing watch_ (follower) against closing it (destructor)
  std::unique_ptr<storage::WatchStream> watch_;

  mutable std::shared_mutex mu_;
  // Guarded by mu_.
  std::map<std::string, std::shared_ptr<const CachedObject>, std::less<>> objects_;
  std::map<std::string, int64_t, std::less<>> last_change_;  // by resource prefix
  int64_t synced_revision_ = 0;  // of the last full list
  // Written under mu_ (so a snapshot and its revision agree), read anywhere.
  std::atomic<int64_t> revision_{0};
  std::atomic<bool> stopped_{false};

  mutable std::mutex fresh_mu_;  // pairs with fresh_cv_, notified when revision_ or stopped_ change
  mutable std::condition_variable fresh_cv_;
  std::atomic<bool> stopping_{false};
  std::thread follower_;
};

}  // namespace kelp::apiserver
