// Accessors for metadata and status fields of API objects, defaulting like Go's decoding.
#include "controllers/object_meta.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <boost/json.hpp>

#include "api/duration.h"
#include "common/json.h"

namespace kelp::controllers {

std::string StringAt(const boost::json::object& object, std::string_view path) {
  const boost::json::value* value = FindPath(object, path);
  if (value == nullptr || !value->is_string()) return "";
  return std::string(value->get_string());
}

int64_t IntAt(const boost::json::object& object, std::string_view path, int64_t fallback) {
  const boost::json::value* value = FindPath(object, path);
  if (value == nullptr) return fallback;
  if (value->is_int64()) return value->get_int64();
  if (value->is_uint64()) return static_cast<int64_t>(value->get_uint64());
  if (value->is_double()) return static_cast<int64_t>(value->get_double());
  return fallback;
}

bool BoolAt(const boost::json::object& object, std::string_view path) {
  const boost::json::value* value = FindPath(object, path);
  return value != nullptr && value->is_bool() && value->get_bool();
}

const boost::json::object* ObjectAt(const boost::json::object& object, std::string_view path) {
  const boost::json::value* value = FindPath(object, path);
  return value != nullptr ? value->if_object() : nullptr;
}

boost::json::object& MutableObjectAt(boost::json::object& object, std::string_view path) {
  boost::json::object* current = &object;
  while (!path.empty()) {
    const size_t dot = path.find('.');
    const std::string_view segment = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    boost::json::value& child = (*current)[segment];
    if (!child.is_object()) child = boost::json::object();
    current = &child.get_object();
  }
  return *current;
}

std::string Name(const boost::json::object& object) { return StringAt(object, "metadata.name"); }

std::string Namespace(const boost::json::object& object) {
  return StringAt(object, "metadata.namespace");
}

std::string Uid(const boost::json::object& object) { return StringAt(object, "metadata.uid"); }

bool IsBeingDeleted(const boost::json::object& object) {
  const boost::json::value* value = FindPath(object, "metadata.deletionTimestamp");
  return value != nullptr && !value->is_null();
}

const boost::json::object* Labels(const boost::json::object& object) {
  return ObjectAt(object, "metadata.labels");
}

const boost::json::object* Annotations(const boost::json::object& object) {
  return ObjectAt(object, "metadata.annotations");
}

std::optional<std::string> Annotation(const boost::json::object& object, std::string_view key) {
  const boost::json::object* annotations = Annotations(object);
  if (annotations == nullptr) return std::nullopt;
  const boost::json::value* value = annotations->if_contains(key);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return std::string(value->get_string());
}

std::optional<std::chrono::system_clock::time_point> CreationTime(
    const boost::json::object& object) {
  return api::ParseRfc3339(StringAt(object, "metadata.creationTimestamp"));
}

std::string FormatRfc3339(std::chrono::system_clock::time_point time) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                     std::chrono::floor<std::chrono::seconds>(time));
}

const boost::json::object* FindCondition(const boost::json::object& object,
                                         std::string_view type) {
  const boost::json::value* conditions = FindPath(object, "status.conditions");
  if (conditions == nullptr || !conditions->is_array()) return nullptr;
  for (const boost::json::value& entry : conditions->get_array()) {
    const boost::json::object* condition = entry.if_object();
    if (condition != nullptr && StringAt(*condition, "type") == type) return condition;
  }
  return nullptr;
}

}  // namespace kelp::controllers
