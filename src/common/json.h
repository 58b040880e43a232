// Helpers over Boost.JSON for Kubernetes objects and CNI configs: parsing that reports where
// the input is broken instead of throwing, dotted-path lookup, and typed field accessors whose
// errors name the field ("spec.replicas: expected integer, got string").
//
// Paths are dot-separated object keys; a segment that is a decimal number indexes an array
// ("spec.containers.0.image"). Keys that themselves contain dots (label and annotation keys
// such as "app.kubernetes.io/name") cannot be reached by path: look them up on the object.
// A JSON null counts as absent, as it does for Kubernetes' own decoding.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kelp {

// Parses exactly one JSON document (whitespace around it is allowed). Errors are
// InvalidArgument: "invalid JSON at line 3, column 7: syntax error".
// `storage` is where the result's memory comes from (e.g. a request's monotonic arena); the
// default is the global heap.
Result<boost::json::value> ParseJson(std::string_view text, boost::json::storage_ptr storage = {});

// ParseJson, then requires the document to be an object (every API object and CNI config is).
Result<boost::json::object> ParseJsonObject(std::string_view text,
                                            boost::json::storage_ptr storage = {});

// Compact serialization, the wire form of API objects.
std::string SerializeJson(const boost::json::value& value);

// The value at `path` below `root`, or null if any segment is missing (or traverses a
// non-container). An empty path is `root` itself for a value and finds nothing in an object.
const boost::json::value* FindPath(const boost::json::value& root, std::string_view path);
const boost::json::value* FindPath(const boost::json::object& root, std::string_view path);

// Get*: the field at `path` must be present and of the type; the error (InvalidArgument)
// names the path. They take an object, not a value, so that passing a sub-object never copies.
// Integers accept any JSON number that is exactly representable as int64 (3 and 3.0, not 3.5).
Result<std::string> GetString(const boost::json::object& root, std::string_view path);
Result<std::int64_t> GetInt64(const boost::json::object& root, std::string_view path);
Result<bool> GetBool(const boost::json::object& root, std::string_view path);
// The returned pointers are never null and point into `root`.
Result<const boost::json::object*> GetObject(const boost::json::object& root,
                                             std::string_view path);
Result<const boost::json::array*> GetArray(const boost::json::object& root, std::string_view path);

// Find*: like Get*, but a missing (or null) field is not an error: nullopt / nullptr.
Result<std::optional<std::string>> FindString(const boost::json::object& root,
                                              std::string_view path);
Result<std::optional<std::int64_t>> FindInt64(const boost::json::object& root,
                                              std::string_view path);
Result<std::optional<bool>> FindBool(const boost::json::object& root, std::string_view path);
Result<const boost::json::object*> FindObject(const boost::json::object& root,
                                              std::string_view path);
Result<const boost::json::array*> FindArray(const boost::json::object& root, std::string_view path);

}  // namespace kelp
