// The Store seam: an etcd-like revisioned key-value store. Every write gets the next global
// revision; reads and watches are expressed in revisions. The Kubernetes API server maps
// resourceVersion to the store revision, 409 to kAlreadyExists/kConflict and 410 Gone to
// kExpired. Implementations: sqlite/ (embedded default); an etcd one later.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace kelp::storage {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;  // revision of the create that started this key's life
  int64_t mod_revision = 0;     // revision of the last write (the delete, for a delete event)

  friend bool operator==(const KeyValue&, const KeyValue&) = default;
};

struct ListOptions {
  int64_t revision = 0;  // 0 = latest; otherwise the list reflects the store at this revision
  int64_t limit = 0;     // 0 = no limit
  // Pagination: only keys strictly greater than this. A continued list must pass the
  // revision returned with the first page so every page reflects the same revision.
  std::string continue_after_key;
};

struct ListResult {
  std::vector<KeyValue> items;  // sorted by key
  int64_t revision = 0;         // the revision this list reflects
  bool more = false;            // true when limit cut the list short
};

enum class EventType { kCreate, kUpdate, kDelete };  // Kubernetes ADDED, MODIFIED, DELETED

struct Event {
  EventType type = EventType::kCreate;
  // For a delete: the deleted key, its last value, and the delete's revision as mod_revision.
  KeyValue kv;
  // The key's value before this event, when it is still known (not for creates; possibly
  // missing for events replayed from history whose previous version was compacted).
  std::optional<KeyValue> prev;

  int64_t revision() const { return kv.mod_revision; }
};

// A watch: events in strictly increasing revision order, no gaps, no duplicates.
// One consumer thread calls Next(); Close() may be called from any thread.
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // Blocks until events are available or `timeout` passes (then returns an empty vector).
  // Errors end the stream: kExpired (start revision compacted, or the consumer fell too far
  // behind), kCancelled (after Close()), kUnavailable (the store shut down).
  virtual Result<std::vector<Event>> Next(std::chrono::milliseconds timeout) = 0;
  // Ends the stream and wakes a blocked Next().
  virtual void Close() = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // kNotFound if absent.
  virtual Result<KeyValue> Get(const std::string& key) = 0;
  // Keys starting with `prefix`, sorted. kExpired if options.revision is compacted,
  // kInvalidArgument if it is in the future.
  virtual Result<ListResult> List(const std::string& prefix, const ListOptions& options) = 0;
  // Returns the new revision; kAlreadyExists if the key exists.
  virtual Result<int64_t> Create(const std::string& key, const std::string& value) = 0;
  // expected_mod_revision 0 = unconditional. kNotFound if absent, kConflict if the key's
  // mod revision differs from expected_mod_revision.
  virtual Result<int64_t> Update(const std::string& key, const std::string& value,
                                 int64_t expected_mod_revision) = 0;
  // Returns the revision of the delete. expected_mod_revision 0 = any.
  virtual Result<int64_t> Delete(const std::string& key, int64_t expected_mod_revision) = 0;
  // Every event with revision > after_revision under `prefix` (after_revision 0 = from now).
  // kExpired if after_revision is older than the compacted revision.
  virtual Result<std::unique_ptr<WatchStream>> Watch(const std::string& prefix,
                                                     int64_t after_revision) = 0;
  virtual int64_t CurrentRevision() = 0;
  // Drops history at or below `revision`, keeping each key's latest live version then.
  // Later lists at, and watches from, revisions older than it fail with kExpired.
  virtual Status Compact(int64_t revision) = 0;
};

}  // namespace kelp::storage
