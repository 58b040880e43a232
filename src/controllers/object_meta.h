// Read-only accessors for the parts of API objects the workload controllers look at (metadata,
// replica counts, pod conditions), over the Boost.JSON form the ApiClient returns. Missing or
// mistyped fields read as their Go zero value, as they would after Kubernetes' decoding.
// Also RFC 3339 formatting for the timestamps controllers write into status conditions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

namespace kelp::controllers {

// The string at `path` (dotted, as common/json.h's FindPath), or "" when absent.
std::string StringAt(const boost::json::object& object, std::string_view path);
// The integer at `path`, or `fallback` when absent or not an integer.
int64_t IntAt(const boost::json::object& object, std::string_view path, int64_t fallback = 0);
bool BoolAt(const boost::json::object& object, std::string_view path);
// The object at `path`, or null.
const boost::json::object* ObjectAt(const boost::json::object& object, std::string_view path);
// The object at `path`, created (with every missing parent) when absent or not an object.
boost::json::object& MutableObjectAt(boost::json::object& object, std::string_view path);

std::string Name(const boost::json::object& object);
std::string Namespace(const boost::json::object& object);
std::string Uid(const boost::json::object& object);
bool IsBeingDeleted(const boost::json::object& object);
// metadata.labels / metadata.annotations, or null.
const boost::json::object* Labels(const boost::json::object& object);
const boost::json::object* Annotations(const boost::json::object& object);
// An annotation's value, or nullopt.
std::optional<std::string> Annotation(const boost::json::object& object, std::string_view key);
std::optional<std::chrono::system_clock::time_point> CreationTime(
    const boost::json::object& object);

// "2024-01-01T00:00:05Z": Kubernetes' metav1.Time form (whole seconds, UTC).
std::string FormatRfc3339(std::chrono::system_clock::time_point time);

// The status condition of `type` in status.conditions, or null.
const boost::json::object* FindCondition(const boost::json::object& object,
                                         std::string_view type);

}  // namespace kelp::controllers
