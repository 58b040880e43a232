// EventRecorder: Record() only queues; one writer thread creates or bumps the Events. The
// writer remembers, per (object, type, reason, message), the Event it wrote and when, so a
// repeat within kAggregationWindow patches count and lastTimestamp instead of creating another.
#include "client/event_recorder.h"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>

#include <boost/json.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/json.h"

namespace kelp::client {
namespace {

namespace json = boost::json;

constexpr std::chrono::minutes kAggregationWindow{10};

std::string Rfc3339(std::chrono::system_clock::time_point time) {
  return fmt::format("{:%FT%TZ}", std::chrono::floor<std::chrono::seconds>(time));
}

std::string StringAt(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  return value && value->is_string() ? std::string(value->as_string()) : "";
}

struct PendingEvent {
  json::object involved;  // involvedObject
  std::string type;
  std::string reason;
  std::string message;
  std::chrono::steady_clock::time_point at;
  std::chrono::system_clock::time_point wall_at;
};

// What makes two events the same: the object (by uid, else kind/namespace/name) and the text.
using AggregationKey = std::tuple<std::string, std::string, std::string, std::string>;

struct Written {
  std::string namespace_name;
  std::string name;
  int64_t count = 0;
  std::chrono::steady_clock::time_point last;
};

}  // namespace

struct EventRecorder::State {
  State(ApiClient& client, Clock& clock, std::string component, std::string host)
      : client(client), clock(clock), component(std::move(component)), host(std::move(host)) {}

  ApiClient& client;
  Clock& clock;
  const std::string component;
  const std::string host;

  std::mutex mutex;  // guards pending, writing, stopping
  std::condition_variable changed;
  std::deque<PendingEvent> pending;
  bool writing = false;
  bool stopping = false;

  // Only the writer thread touches these two.
  std::map<AggregationKey, Written> written;
  int64_t name_sequence = 0;
  std::thread writer;

  void Run() {
    std::unique_lock lock(mutex);
    while (true) {
      changed.wait(lock, [&] { return stopping || !pending.empty(); });
      if (pending.empty()) return;
      PendingEvent event = std::move(pending.front());
      pending.pop_front();
      writing = true;
      lock.unlock();
      Write(event);
      lock.lock();
      writing = false;
      changed.notify_all();
    }
  }

  void Write(const PendingEvent& event) {
    std::string identity = StringAt(event.involved, "uid");
    if (identity.empty()) {
      identity = StringAt(event.involved, "kind") + "/" + StringAt(event.involved, "namespace") +
                 "/" + StringAt(event.involved, "name");
    }
    AggregationKey key{identity, event.type, event.reason, event.message};
    std::erase_if(written, [&](const auto& entry) {
      return event.at - entry.second.last > kAggregationWindow;
    });
    auto it = written.find(key);
    if (it != written.end()) {
      Status bumped = Bump(it->second, event);
      if (bumped.ok()) return;
      if (bumped.code() != StatusCode::kNotFound) {
        spdlog::warn("event {} {}: {}", event.reason, it->second.name, bumped.ToString());
        return;
      }
      written.erase(it);  // someone deleted it: write a new one
    }
    Result<Written> created = Create(event);
    if (!created.ok()) {
      spdlog::warn("event {} for {}: {}", event.reason, identity, created.status().ToString());
      return;
    }
    written[key] = std::move(*created);
  }

  Status Bump(Written& previous, const PendingEvent& event) {
    json::object patch{{"count", previous.count + 1},
                       {"lastTimestamp", Rfc3339(event.wall_at)}};
    Result<json::object> patched =
        client.Patch(kEvents, previous.namespace_name, previous.name, PatchType::kMerge,
                     json::serialize(patch));
    if (!patched.ok()) return patched.status();
    ++previous.count;
    previous.last = event.at;
    return Status::Ok();
  }

  Result<Written> Create(const PendingEvent& event) {
    std::string namespace_name = StringAt(event.involved, "namespace");
    if (namespace_name.empty()) namespace_name = "default";
    auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     event.wall_at.time_since_epoch())
                     .count();
    // As client-go, "<object>.<unix nanos in hex>"; the counter keeps names unique when the
    // clock has not moved between two events (a coarse or fake clock).
    std::string name =
        fmt::format("{}.{:x}", StringAt(event.involved, "name"), nanos + name_sequence++);
    std::string timestamp = Rfc3339(event.wall_at);
    json::object source{{"component", component}};
    if (!host.empty()) source["host"] = host;
    json::object object{
        {"apiVersion", "v1"},
        {"kind", "Event"},
        {"metadata", json::object{{"name", name}, {"namespace", namespace_name}}},
        {"involvedObject", event.involved},
        {"type", event.type},
        {"reason", event.reason},
        {"message", event.message},
        {"count", 1},
        {"firstTimestamp", timestamp},
        {"lastTimestamp", timestamp},
        {"source", std::move(source)},
        {"reportingComponent", component},
        {"reportingInstance", host},
    };
    KELP_ASSIGN_OR_RETURN(json::object stored, client.Create(kEvents, namespace_name, object));
    return Written{namespace_name, StringAt(stored, "metadata.name"), 1, event.at};
  }
};

EventRecorder::EventRecorder(ApiClient& client, Clock& clock, std::string component,
                             std::string host)
    : state_(std::make_unique<State>(client, clock, std::move(component), std::move(host))) {
  state_->writer = std::thread([state = state_.get()] { state->Run(); });
}

EventRecorder::~EventRecorder() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
    state_->changed.notify_all();
  }
  state_->writer.join();  // the writer drains what is pending before it returns
}

void EventRecorder::Record(const json::object& object, std::string_view type,
                           std::string_view reason, std::string message) {
  json::object involved;
  for (const char* field : {"kind", "apiVersion"}) {
    if (std::string value = StringAt(object, field); !value.empty()) involved[field] = value;
  }
  for (const char* field : {"namespace", "name", "uid", "resourceVersion"}) {
    std::string value = StringAt(object, std::string("metadata.") + field);
    if (!value.empty()) involved[field] = value;
  }
  PendingEvent event{std::move(involved), std::string(type), std::string(reason),
                     std::move(message), state_->clock.Now(), state_->clock.WallNow()};
  std::lock_guard lock(state_->mutex);
  state_->pending.push_back(std::move(event));
  state_->changed.notify_all();
}

void EventRecorder::Flush() {
  std::unique_lock lock(state_->mutex);
  state_->changed.wait(lock, [&] { return state_->pending.empty() && !state_->writing; });
}

}  // namespace kelp::client
