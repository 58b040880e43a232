// ParseJson with positioned errors, dotted-path lookup and the typed field accessors.
#include "common/json.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <exception>
#include <system_error>

namespace kelp {
namespace {

namespace json = boost::json;

// Kubernetes objects rarely nest beyond 20 levels, but CRD schemas (openAPIV3Schema) do go
// past Boost's default of 32; the limit still bounds what a hostile client can make us build.
constexpr std::size_t kMaxJsonDepth = 128;

std::string DescribeOffset(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  std::string_view before = text.substr(0, offset);
  std::size_t line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
  std::size_t line_start = before.rfind('\n');
  std::size_t column = line_start == std::string_view::npos ? offset + 1 : offset - line_start;
  return fmt::format("line {}, column {}", line, column);
}

std::string_view KindName(const json::value& value) {
  switch (value.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
  }
  return "unknown";
}

Status TypeError(std::string_view path, std::string_view expected, const json::value& value) {
  // A number of the wrong sort ("expected integer, got 2.5") is clearer shown than named.
  std::string got = value.is_number() ? SerializeJson(value) : std::string(KindName(value));
  return InvalidArgumentError(fmt::format("{}: expected {}, got {}", path, expected, got));
}

Status MissingError(std::string_view path) {
  return InvalidArgumentError(fmt::format("{}: required field is missing", path));
}

const json::value* Step(const json::value& current, std::string_view segment) {
  if (const json::object* object = current.if_object()) return object->if_contains(segment);
  if (const json::array* array = current.if_array()) {
    std::size_t index = 0;
    auto [end, ec] = std::from_chars(segment.data(), segment.data() + segment.size(), index);
    if (ec != std::errc() || end != segment.data() + segment.size()) return nullptr;
    return array->if_contains(index);
  }
  return nullptr;
}

// The field at `path`, or null when it is absent or JSON null.
const json::value* FindPresent(const json::object& root, std::string_view path) {
  const json::value* value = FindPath(root, path);
  return value == nullptr || value->is_null() ? nullptr : value;
}

// Converts a present value to T or fails with a TypeError; shared by Get* and Find*.
Result<std::string> AsString(const json::value& value, std::string_view path) {
  if (const json::string* string = value.if_string()) return std::string(*string);
  return TypeError(path, "string", value);
}

Result<std::int64_t> AsInt64(const json::value& value, std::string_view path) {
  std::error_code ec;
  std::int64_t number = value.to_number<std::int64_t>(ec);
  if (ec) return TypeError(path, "integer", value);
  return number;
}

Result<bool> AsBool(const json::value& value, std::string_view path) {
  if (const bool* flag = value.if_bool()) return *flag;
  return TypeError(path, "boolean", value);
}

Result<const json::object*> AsObject(const json::value& value, std::string_view path) {
  if (const json::object* object = value.if_object()) return object;
  return TypeError(path, "object", value);
}

Result<const json::array*> AsArray(const json::value& value, std::string_view path) {
  if (const json::array* array = value.if_array()) return array;
  return TypeError(path, "array", value);
}

template <typename T>
Result<T> GetAs(const json::object& root, std::string_view path,
                Result<T> (*convert)(const json::value&, std::string_view)) {
  const json::value* value = FindPresent(root, path);
  if (value == nullptr) return MissingError(path);
  return convert(*value, path);
}

template <typename T>
Result<std::optional<T>> FindAs(const json::object& root, std::string_view path,
                                Result<T> (*convert)(const json::value&, std::string_view)) {
  const json::value* value = FindPresent(root, path);
  if (value == nullptr) return std::optional<T>();
  Result<T> converted = convert(*value, path);
  if (!converted.ok()) return converted.status();
  return std::optional<T>(std::move(converted).value());
}

template <typename T>
Result<const T*> FindPointerAs(const json::object& root, std::string_view path,
                               Result<const T*> (*convert)(const json::value&, std::string_view)) {
  const json::value* value = FindPresent(root, path);
  if (value == nullptr) return static_cast<const T*>(nullptr);
  return convert(*value, path);
}

}  // namespace

Result<json::value> ParseJson(std::string_view text, json::storage_ptr storage) {
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  json::parser parser(json::storage_ptr(), options);
  parser.reset(std::move(storage));
  std::error_code ec;
  std::size_t consumed = 0;
  try {
    // write() rejects trailing data and incomplete documents as well as syntax errors; the
    // consumed count is where it stopped.
    consumed = parser.write(text.data(), text.size(), ec);
    if (!ec) return parser.release();
  } catch (const std::exception& e) {  // allocation failure on a huge document
    return InvalidArgumentError(fmt::format("invalid JSON: {}", e.what()));
  }
  return InvalidArgumentError(
      fmt::format("invalid JSON at {}: {}", DescribeOffset(text, consumed), ec.message()));
}

Result<json::object> ParseJsonObject(std::string_view text, json::storage_ptr storage) {
  KELP_ASSIGN_OR_RETURN(json::value value, ParseJson(text, std::move(storage)));
  if (json::object* object = value.if_object()) return std::move(*object);
  return InvalidArgumentError(fmt::format("expected a JSON object, got {}", KindName(value)));
}

std::string SerializeJson(const json::value& value) { return json::serialize(value); }

const json::value* FindPath(const json::value& root, std::string_view path) {
  const json::value* current = &root;
  while (current != nullptr && !path.empty()) {
    std::size_t dot = path.find('.');
    current = Step(*current, path.substr(0, dot));
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return current;
}

const json::value* FindPath(const json::object& root, std::string_view path) {
  if (path.empty()) return nullptr;
  std::size_t dot = path.find('.');
  const json::value* first = root.if_contains(path.substr(0, dot));
  if (first == nullptr || dot == std::string_view::npos) return first;
  return FindPath(*first, path.substr(dot + 1));
}

Result<std::string> GetString(const json::object& root, std::string_view path) {
  return GetAs(root, path, AsString);
}
Result<std::int64_t> GetInt64(const json::object& root, std::string_view path) {
  return GetAs(root, path, AsInt64);
}
Result<bool> GetBool(const json::object& root, std::string_view path) {
  return GetAs(root, path, AsBool);
}
Result<const json::object*> GetObject(const json::object& root, std::string_view path) {
  return GetAs(root, path, AsObject);
}
Result<const json::array*> GetArray(const json::object& root, std::string_view path) {
  return GetAs(root, path, AsArray);
}

Result<std::optional<std::string>> FindString(const json::object& root, std::string_view path) {
  return FindAs(root, path, AsString);
}
Result<std::optional<std::int64_t>> FindInt64(const json::object& root, std::string_view path) {
  return FindAs(root, path, AsInt64);
}
Result<std::optional<bool>> FindBool(const json::object& root, std::string_view path) {
  return FindAs(root, path, AsBool);
}
Result<const json::object*> FindObject(const json::object& root, std::string_view path) {
  return FindPointerAs(root, path, AsObject);
}
Result<const json::array*> FindArray(const json::object& root, std::string_view path) {
  return FindPointerAs(root, path, AsArray);
}

}  // namespace kelp
