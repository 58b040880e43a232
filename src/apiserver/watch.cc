// WatchEventStream::Next polls the store's watch in slices of at most kPollSlice so that the
// deadline and bookmarks are honoured while no events arrive; Cancel() closes the store watch,
// which wakes a blocked Next at once.
#include "apiserver/watch.h"

#include <boost/json.hpp>

#include "apiserver/objects.h"

namespace kelp::apiserver {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kPollSlice = 1000ms;

}  // namespace

WatchEventStream::WatchEventStream(std::unique_ptr<storage::WatchStream> watch,
                                   WatchParams params, std::deque<std::string> initial,
                                   const Clock& clock)
    : watch_(std::move(watch)),
      params_(std::move(params)),
      clock_(clock),
      pending_(std::move(initial)),
      last_revision_(params_.start_revision),
      next_bookmark_(clock.Now() + params_.bookmark_interval) {}

std::string WatchEventStream::EventLine(std::string_view type, const json::value& object) {
  // Written around the object rather than as a document holding a copy of it: every watcher
  // of a resource renders each event.
  std::string line = R"({"type":)";
  line += json::serialize(json::string(type));
  line += R"(,"object":)";
  line += json::serialize(object);
  line += "}\n";
  return line;
}

std::string WatchEventStream::ExpiredLine(std::string_view message) {
  json::object status{{"kind", "Status"},    {"apiVersion", "v1"},   {"metadata", json::object()},
                      {"status", "Failure"}, {"message", message},   {"reason", "Expired"},
                      {"code", 410}};
  return EventLine("ERROR", status);
}

std::optional<std::string> WatchEventStream::Next() {
  while (pending_.empty()) {
    if (ended_ || cancelled_) return std::nullopt;
    const auto now = clock_.Now();
    if (now >= params_.deadline) return std::nullopt;
    auto wait = std::min({params_.deadline - now, next_bookmark_ - now,
                          std::chrono::steady_clock::duration(kPollSlice)});
    Result<std::vector<storage::Event>> events =
        watch_->Next(std::chrono::duration_cast<std::chrono::milliseconds>(wait));
    if (!events.ok()) {
      ended_ = true;
      if (events.status().code() == StatusCode::kExpired) {
        pending_.push_back(ExpiredLine("too old resource version: " +
                                       std::to_string(last_revision_) + " (" +
                                       events.status().message() + ")"));
      }
      break;
    }
    for (const storage::Event& event : *events) AppendEvent(event);
    if (params_.bookmarks && clock_.Now() >= next_bookmark_) {
      json::object marker{{"kind", params_.resource->kind},
                          {"apiVersion", params_.resource->ApiVersion()},
                          {"metadata", json::object{
                                           {"resourceVersion", std::to_string(last_revision_)}}}};
      pending_.push_back(EventLine("BOOKMARK", marker));
      next_bookmark_ = clock_.Now() + params_.bookmark_interval;
    }
  }
  if (pending_.empty()) return std::nullopt;
  return Drain();
}

void WatchEventStream::Cancel() {
  cancelled_ = true;
  watch_->Close();
}

void WatchEventStream::AppendEvent(const storage::Event& event) {
  last_revision_ = event.revision();
  switch (event.type) {
    case storage::EventType::kCreate:
      AppendObjectEvent("ADDED", event.kv);
      return;
    case storage::EventType::kDelete:
      AppendObjectEvent("DELETED", event.kv);
      return;
    case storage::EventType::kUpdate:
      break;
  }
  if (params_.filter.Empty() || !event.prev) {
    AppendObjectEvent("MODIFIED", event.kv);
    return;
  }
  // An update can move the object into or out of the selection.
  Result<json::object> before = DecodeStoredObject(*event.prev, *params_.resource);
  Result<json::object> after = DecodeStoredObject(event.kv, *params_.resource);
  if (!before.ok() || !after.ok()) return;
  bool was_selected = params_.filter.Matches(*before);
  bool is_selected = params_.filter.Matches(*after);
  if (was_selected && is_selected) AppendObjectEvent("MODIFIED", event.kv);
  if (!was_selected && is_selected) AppendObjectEvent("ADDED", event.kv);
  if (was_selected && !is_selected) {
    storage::KeyValue last = *event.prev;
    last.mod_revision = event.kv.mod_revision;
    AppendObjectEvent("DELETED", last);
  }
}

void WatchEventStream::AppendObjectEvent(std::string_view type, const storage::KeyValue& kv) {
  Result<json::object> object = DecodeStoredObject(kv, *params_.resource);
  if (!object.ok()) return;  // a value kelp did not write; nothing a client could use
  // Callers pass the selected version of a transition, so one check covers every type.
  if (!params_.filter.Matches(*object)) return;
  Result<json::value> rendered = params_.render(std::move(*object));
  if (rendered.ok()) pending_.push_back(EventLine(type, *rendered));
}

std::string WatchEventStream::Drain() {
  std::string chunk;
  while (!pending_.empty()) {
    chunk += pending_.front();
    pending_.pop_front();
  }
  return chunk;
}

}  // namespace kelp::apiserver
