// Status answers and watch lines decoded with Boost.JSON (see api_wire.h).
#include "client/api_wire.h"

#include <boost/json.hpp>
#include <string>

#include "common/json.h"

namespace kelp::client {
namespace {

namespace json = boost::json;

std::string StringField(const json::object& object, std::string_view field) {
  const json::value* value = object.if_contains(field);
  return value && value->is_string() ? std::string(value->as_string()) : "";
}

}  // namespace

Status StatusFromResponse(int http_code, std::string_view body) {
  std::string message;
  std::string reason;
  if (Result<json::object> status = ParseJsonObject(body); status.ok()) {
    message = StringField(*status, "message");
    reason = StringField(*status, "reason");
  }
  if (message.empty()) {
    message = body.empty() ? "HTTP " + std::to_string(http_code) : std::string(body);
  }
  switch (http_code) {
    case 400:
    case 422:
      return InvalidArgumentError(message);
    case 401:
    case 403:
      return PermissionDeniedError(message);
    case 404:
      return NotFoundError(message);
    case 409:
      return reason == "AlreadyExists" ? AlreadyExistsError(message) : ConflictError(message);
    case 410:
      return ExpiredError(message);
    case 429:
      return UnavailableError(message);
    default:
      break;
  }
  if (http_code >= 500) return UnavailableError(message);
  return InvalidArgumentError("HTTP " + std::to_string(http_code) + ": " + message);
}

Result<WatchEvent> ParseWatchEvent(std::string_view line) {
  KELP_ASSIGN_OR_RETURN(json::object event, ParseJsonObject(line));
  std::string type = StringField(event, "type");
  json::value* object = event.if_contains("object");
  if (type.empty() || object == nullptr || !object->is_object()) {
    return InvalidArgumentError("watch event without type or object: " + std::string(line));
  }
  WatchEvent out;
  if (type == "ADDED") {
    out.type = WatchEvent::Type::kAdded;
  } else if (type == "MODIFIED") {
    out.type = WatchEvent::Type::kModified;
  } else if (type == "DELETED") {
    out.type = WatchEvent::Type::kDeleted;
  } else if (type == "BOOKMARK") {
    out.type = WatchEvent::Type::kBookmark;
  } else if (type == "ERROR") {
    const json::value* code = object->as_object().if_contains("code");
    int status = code && code->is_int64() ? static_cast<int>(code->as_int64()) : 500;
    if (status >= 200 && status < 300) status = 500;  // an ERROR event is never a success
    return StatusFromResponse(status, json::serialize(*object));
  } else {
    return InvalidArgumentError("unknown watch event type \"" + type + "\"");
  }
  out.object = std::move(object->as_object());
  return out;
}

}  // namespace kelp::client
