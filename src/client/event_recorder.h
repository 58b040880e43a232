// EventRecorder: writes core/v1 Events about an object (what `kubectl describe` lists at the
// bottom), as client-go's recorder: involvedObject from the object, source.component, a
// repeated event (same object, type, reason, message) within 10 minutes bumps count and
// lastTimestamp instead of creating another. Writes are asynchronous and best-effort: a
// failed write is logged, never blocks or fails the caller.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "client/api_client.h"
#include "common/clock.h"

namespace kelp::client {

class EventRecorder {
 public:
  // `component` is source.component and reportingController, e.g. "deployment-controller".
  EventRecorder(ApiClient& client, Clock& clock, std::string component, std::string host = "");
  ~EventRecorder();  // flushes pending events
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // `type` is "Normal" or "Warning"; `reason` is CamelCase, e.g. "ScalingReplicaSet".
  void Record(const boost::json::object& object, std::string_view type, std::string_view reason,
              std::string message);
  // Blocks until every recorded event was written (or failed); for tests and shutdown.
  void Flush();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace kelp::client
