// The body of a watch response: a ResponseStream that turns store events into Kubernetes
// watch events, one JSON document per line ({"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR",
// "object":...}). It starts with synthetic ADDED events when asked, filters by selector
// (an object moving out of the selection is DELETED, into it ADDED, as Kubernetes does),
// sends bookmarks, ends at the deadline, on Cancel(), or with an ERROR 410 when the start
// revision is gone.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "apiserver/resources.h"
#include "apiserver/router.h"
#include "apiserver/selection.h"
#include "common/clock.h"
#include "storage/store.h"

namespace kelp::apiserver {

// Turns an object into what an event carries (the object itself, or a one-row Table).
using EventObjectRenderer = std::function<Result<boost::json::value>(boost::json::object)>;

struct WatchParams {
  const ResourceInfo* resource = nullptr;
  ObjectFilter filter;
  EventObjectRenderer render;
  std::chrono::steady_clock::time_point deadline;  // against clock.Now()
  bool bookmarks = false;
  std::chrono::seconds bookmark_interval{60};
  int64_t start_revision = 0;  // the revision the watch continues from
};

class WatchEventStream final : public ResponseStream {
 public:
  // `initial` holds already-rendered lines (the synthetic ADDED events) sent first.
  WatchEventStream(std::unique_ptr<storage::WatchStream> watch, WatchParams params,
                   std::deque<std::string> initial, const Clock& clock);

  std::optional<std::string> Next() override;
  void Cancel() override;

  // `{"type":...,"object":...}\n`.
  static std::string EventLine(std::string_view type, const boost::json::value& object);
  // The ERROR event for a start revision that is too old.
  static std::string ExpiredLine(std::string_view message);

 private:
  void AppendEvent(const storage::Event& event);
  void AppendObjectEvent(std::string_view type, const storage::KeyValue& kv);
  std::string Drain();

  const std::unique_ptr<storage::WatchStream> watch_;
  const WatchParams params_;
  const Clock& clock_;
  // Only the consumer thread (the one calling Next) touches these.
  std::deque<std::string> pending_;
  int64_t last_revision_;
  std::chrono::steady_clock::time_point next_bookmark_;
  bool ended_ = false;
  std::atomic<bool> cancelled_{false};
};

}  // namespace kelp::apiserver
