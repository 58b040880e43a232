// The conversion table: per (kind, from apiVersion, to apiVersion) one function over the JSON
// object. HPA v1 ↔ v2 follows Kubernetes: v1's CPU utilization target is v2's Resource metric
// {cpu, Utilization}; what v1 cannot express travels in kHpa*Annotation annotations, other
// metrics first and the CPU metric last, as Kubernetes orders them on the way back.
#include "api/conversion.h"

#include <array>
#include <boost/json.hpp>
#include <optional>

#include "common/json.h"

namespace kelp::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kHpaV1 = "autoscaling/v1";
constexpr std::string_view kHpaV2 = "autoscaling/v2";

struct Conversion {
  std::string_view kind;
  std::string_view from;
  std::string_view to;
  json::object (*convert)(json::object);
};

struct StorageVersion {
  std::string_view group;
  std::string_view kind;
  std::string_view api_version;
};

// autoscaling/v2 is the only HPA version that holds every field of the others.
constexpr std::array kStorageVersions{
    StorageVersion{"autoscaling", "HorizontalPodAutoscaler", kHpaV2},
};

json::object* ObjectMember(json::object& parent, std::string_view key) {
  json::value* value = parent.if_contains(key);
  return value ? value->if_object() : nullptr;
}

json::object* Annotations(json::object& object) {
  json::object* metadata = ObjectMember(object, "metadata");
  return metadata ? ObjectMember(*metadata, "annotations") : nullptr;
}

void SetAnnotation(json::object& object, std::string_view key, const json::value& value) {
  json::value& metadata = object["metadata"];
  if (!metadata.is_object()) metadata = json::object();
  json::value& annotations = metadata.as_object()["annotations"];
  if (!annotations.is_object()) annotations = json::object();
  annotations.as_object()[key] = SerializeJson(value);
}

// Removes the annotation and returns its JSON value; nullopt when absent or not JSON.
std::optional<json::value> TakeAnnotation(json::object& object, std::string_view key) {
  json::object* annotations = Annotations(object);
  if (annotations == nullptr) return std::nullopt;
  json::value* text = annotations->if_contains(key);
  std::optional<json::value> value;
  if (text != nullptr && text->is_string()) {
    Result<json::value> parsed = ParseJson(text->as_string());
    if (parsed.ok()) value = std::move(*parsed);
  }
  annotations->erase(key);
  if (annotations->empty()) ObjectMember(object, "metadata")->erase("annotations");
  return value;
}

json::array TakeAnnotationArray(json::object& object, std::string_view key) {
  std::optional<json::value> value = TakeAnnotation(object, key);
  return value && value->is_array() ? std::move(value->as_array()) : json::array();
}

json::object CpuMetric(std::string_view value_field, const json::value& utilization) {
  return {{"type", "Resource"},
          {"resource", json::object{{"name", "cpu"},
                                    {value_field, json::object{
                                        value_field == "target"
                                            ? json::object{{"type", "Utilization"},
                                                           {"averageUtilization", utilization}}
                                            : json::object{{"averageUtilization", utilization}}}}}}};
}

// The averageUtilization of a cpu Resource metric whose `value_field` ("target" or
// "current") holds it, or null; a target must also be of type Utilization.
const json::value* CpuUtilization(const json::value& metric, std::string_view value_field) {
  const json::object* object = metric.if_object();
  if (object == nullptr || FindPath(*object, "type") == nullptr ||
      *FindPath(*object, "type") != "Resource") {
    return nullptr;
  }
  const json::value* name = FindPath(*object, "resource.name");
  if (name == nullptr || *name != "cpu") return nullptr;
  const std::string prefix = "resource." + std::string(value_field);
  if (value_field == "target") {
    const json::value* type = FindPath(*object, prefix + ".type");
    if (type == nullptr || *type != "Utilization") return nullptr;
  }
  const json::value* utilization = FindPath(*object, prefix + ".averageUtilization");
  return utilization != nullptr && utilization->is_number() ? utilization : nullptr;
}

// v1 `scalar_field` plus the annotation's metrics → v2 `list_field` (other metrics first).
// The annotation goes even when `part` (spec or status) is missing or not a map.
void MergeIntoMetricList(json::object& object, json::object* part, std::string_view scalar_field,
                         std::string_view list_field, std::string_view annotation,
                         std::string_view value_field) {
  json::array metrics = TakeAnnotationArray(object, annotation);
  if (part == nullptr) return;
  if (json::value* scalar = part->if_contains(scalar_field)) {
    if (!scalar->is_null()) metrics.push_back(CpuMetric(value_field, *scalar));
    part->erase(scalar_field);
  }
  if (!metrics.empty()) (*part)[list_field] = std::move(metrics);
}

// v2 `list_field` → the first cpu utilization metric as v1 `scalar_field`, the rest into the
// annotation. `part` lives in `object`: it is not touched after SetAnnotation.
void SplitMetricList(json::object& object, json::object& part, std::string_view list_field,
                     std::string_view scalar_field, std::string_view annotation,
                     std::string_view value_field) {
  json::value* list = part.if_contains(list_field);
  if (list == nullptr) return;
  json::array others;
  if (const json::array* metrics = list->if_array()) {
    for (const json::value& metric : *metrics) {
      const json::value* cpu = CpuUtilization(metric, value_field);
      if (cpu != nullptr && !part.contains(scalar_field)) {
        part[scalar_field] = *cpu;
      } else {
        others.push_back(metric);
      }
    }
  }
  part.erase(list_field);
  if (!others.empty()) SetAnnotation(object, annotation, others);
}

// Moves part[field] into the annotation (v2 → v1) when it holds something.
void FieldToAnnotation(json::object& object, json::object& part, std::string_view field,
                       std::string_view annotation) {
  json::value* found = part.if_contains(field);
  if (found == nullptr) return;
  // Taken out before SetAnnotation, which may insert metadata and move `part`.
  json::value value = std::move(*found);
  part.erase(field);
  bool empty = value.is_null() || (value.is_array() && value.as_array().empty());
  if (!empty) SetAnnotation(object, annotation, value);
}

void AnnotationToField(json::object& object, json::object* part, std::string_view annotation,
                       std::string_view field) {
  std::optional<json::value> value = TakeAnnotation(object, annotation);
  if (value && part != nullptr) (*part)[field] = std::move(*value);
}

json::object HpaV1ToV2(json::object hpa) {
  MergeIntoMetricList(hpa, ObjectMember(hpa, "spec"), "targetCPUUtilizationPercentage",
                      "metrics", kHpaMetricsAnnotation, "target");
  AnnotationToField(hpa, ObjectMember(hpa, "spec"), kHpaBehaviorAnnotation, "behavior");
  MergeIntoMetricList(hpa, ObjectMember(hpa, "status"), "currentCPUUtilizationPercentage",
                      "currentMetrics", kHpaCurrentMetricsAnnotation, "current");
  AnnotationToField(hpa, ObjectMember(hpa, "status"), kHpaConditionsAnnotation, "conditions");
  hpa["apiVersion"] = kHpaV2;
  return hpa;
}

json::object HpaV2ToV1(json::object hpa) {
  if (json::object* spec = ObjectMember(hpa, "spec")) {
    SplitMetricList(hpa, *spec, "metrics", "targetCPUUtilizationPercentage",
                    kHpaMetricsAnnotation, "target");
    FieldToAnnotation(hpa, *ObjectMember(hpa, "spec"), "behavior", kHpaBehaviorAnnotation);
  }
  if (json::object* status = ObjectMember(hpa, "status")) {
    SplitMetricList(hpa, *status, "currentMetrics", "currentCPUUtilizationPercentage",
                    kHpaCurrentMetricsAnnotation, "current");
    FieldToAnnotation(hpa, *ObjectMember(hpa, "status"), "conditions", kHpaConditionsAnnotation);
  }
  hpa["apiVersion"] = kHpaV1;
  return hpa;
}

constexpr std::array kConversions{
    Conversion{"HorizontalPodAutoscaler", kHpaV1, kHpaV2, HpaV1ToV2},
    Conversion{"HorizontalPodAutoscaler", kHpaV2, kHpaV1, HpaV2ToV1},
};

std::string_view StringMember(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string_view(value->as_string()) : "";
}

}  // namespace

std::string StorageApiVersion(std::string_view group, std::string_view kind,
                              std::string_view served_api_version) {
  for (const StorageVersion& entry : kStorageVersions) {
    if (entry.group == group && entry.kind == kind) return std::string(entry.api_version);
  }
  return std::string(served_api_version);
}

json::object ConvertToVersion(json::object object, std::string_view target_api_version) {
  const std::string_view kind = StringMember(object, "kind");
  const std::string_view from = StringMember(object, "apiVersion");
  for (const Conversion& conversion : kConversions) {
    if (conversion.kind == kind && conversion.from == from && conversion.to == target_api_version) {
      return conversion.convert(std::move(object));
    }
  }
  object["apiVersion"] = target_api_version;
  return object;
}

}  // namespace kelp::api
