// YAML → JSON for applied configurations, then the strategic merge of patch.h. yaml-cpp
// reports errors by throwing; every call into it is wrapped so no exception leaves this file.
#include "api/apply.h"

#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <string>

#include "common/json.h"

namespace kelp::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kStringTag = "tag:yaml.org,2002:str";

bool IsOneOf(const std::string& text, std::initializer_list<std::string_view> options) {
  for (std::string_view option : options) {
    if (text == option) return true;
  }
  return false;
}

// A plain (unquoted, untagged) scalar typed by YAML 1.2's core schema.
json::value PlainScalar(const std::string& text) {
  if (IsOneOf(text, {"", "~", "null", "Null", "NULL"})) return nullptr;
  if (IsOneOf(text, {"true", "True", "TRUE"})) return true;
  if (IsOneOf(text, {"false", "False", "FALSE"})) return false;
  const char* begin = text.data() + (text.front() == '+' ? 1 : 0);
  const char* end = text.data() + text.size();
  int64_t integer = 0;
  auto [int_end, int_error] = std::from_chars(begin, end, integer);
  if (int_error == std::errc() && int_end == end) return integer;
  double real = 0;
  auto [real_end, real_error] = std::from_chars(begin, end, real);
  if (real_error == std::errc() && real_end == end && std::isfinite(real)) return real;
  return json::string(text);
}

class YamlToJson {
 public:
  Result<json::value> Convert(const YAML::Node& node, std::size_t depth) {
    if (++nodes_ > kMaxApplyNodes) return InvalidArgumentError("the applied configuration is too large");
    if (depth > kMaxPatchDepth) return InvalidArgumentError("the applied configuration is nested too deeply");
    switch (node.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return json::value(nullptr);
      case YAML::NodeType::Scalar:
        if (node.Tag() == "!" || node.Tag() == kStringTag) return json::value(node.Scalar());
        return PlainScalar(node.Scalar());
      case YAML::NodeType::Sequence: {
        json::array array;
        for (const YAML::Node& item : node) {
          KELP_ASSIGN_OR_RETURN(json::value value, Convert(item, depth + 1));
          array.push_back(std::move(value));
        }
        return json::value(std::move(array));
      }
      case YAML::NodeType::Map: {
        json::object object;
        for (const auto& entry : node) {
          if (!entry.first.IsScalar()) return InvalidArgumentError("map keys must be strings");
          KELP_ASSIGN_OR_RETURN(json::value value, Convert(entry.second, depth + 1));
          object[entry.first.Scalar()] = std::move(value);
        }
        return json::value(std::move(object));
      }
    }
    return InvalidArgumentError("unsupported YAML node");
  }

 private:
  std::size_t nodes_ = 0;
};

Result<json::value> ParseYaml(std::string_view body) {
  try {
    YAML::Node root = YAML::Load(std::string(body));
    return YamlToJson().Convert(root, 0);
  } catch (const YAML::Exception& error) {
    return InvalidArgumentError(std::string("error converting YAML to JSON: ") + error.what());
  }
}

}  // namespace

Result<json::object> ParseApplyConfiguration(std::string_view body) {
  if (body.size() > kMaxPatchBytes) {
    return InvalidArgumentError("the applied configuration is larger than 1 MiB");
  }
  // JSON is YAML, but the JSON parser is exact and fast for what kubectl sends.
  Result<json::object> as_json = ParseJsonObject(body);
  if (as_json.ok()) return as_json;
  KELP_ASSIGN_OR_RETURN(json::value value, ParseYaml(body));
  if (!value.is_object()) {
    return InvalidArgumentError("the applied configuration must be a YAML or JSON map");
  }
  return std::move(value.as_object());
}

Result<json::object> MergeApplyConfiguration(const json::object& live, const json::object& applied,
                                             const PatchSchema& schema) {
  KELP_ASSIGN_OR_RETURN(json::value merged,
                        ApplyStrategicMergePatch(live, SerializeJson(applied), schema));
  if (!merged.is_object()) return InvalidArgumentError("the applied configuration must be a map");
  return std::move(merged.as_object());
}

}  // namespace kelp::api
