// Generates OpenAPI v3 component schemas by walking the protobuf schema tables: every message
// gets a component named after its Kubernetes package (the package of the first kind that
// reaches it, meta/v1 for object metadata and selectors), list fields carry the merge rules of
// KubernetesPatchSchema(), and strict field validation walks the same tables.
#include "api/openapi.h"

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <span>
#include <utility>

#include <fmt/format.h>

#include "api/patch.h"
#include "api/protobuf_schema.h"

namespace kelp::api {
namespace json = boost::json;
namespace {

constexpr std::string_view kMetaPackage = "io.k8s.apimachinery.pkg.apis.meta.v1";
constexpr std::string_view kRefPrefix = "#/components/schemas/";

// Messages of k8s.io/apimachinery's meta/v1 package, wherever they are reached from.
constexpr std::array<std::string_view, 4> kMetaMessages = {
    "ObjectMeta", "OwnerReference", "LabelSelector", "LabelSelectorRequirement"};

// Kubernetes fields the protobuf tables leave out (the decoder skips them). They are known to
// strict validation and described as free-form, so valid manifests using them are accepted.
using ExtraFieldTable = std::map<std::string_view, std::vector<std::string_view>>;
std::span<const std::string_view> ExtraFieldsOf(std::string_view message) {
  static const ExtraFieldTable kTable = {
      {"ObjectMeta", {"managedFields"}},
      {"PodSpec",
       {"affinity", "dnsConfig", "ephemeralContainers", "hostAliases", "os", "overhead",
        "readinessGates", "resourceClaims", "resources", "schedulingGates",
        "topologySpreadConstraints"}},
      {"Container", {"resizePolicy", "volumeDevices"}},
      {"SecurityContext", {"appArmorProfile", "seLinuxOptions", "windowsOptions"}},
      {"PodSecurityContext",
       {"appArmorProfile", "seLinuxChangePolicy", "seLinuxOptions", "supplementalGroups",
        "supplementalGroupsPolicy", "sysctls", "windowsOptions"}},
      {"LifecycleHandler", {"sleep"}},
      {"VolumeSource",
       {"awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi",
        "downwardAPI", "ephemeral", "fc", "flexVolume", "flocker", "gcePersistentDisk", "gitRepo",
        "glusterfs", "image", "iscsi", "nfs", "photonPersistentDisk", "portworxVolume",
        "projected", "quobyte", "rbd", "scaleIO", "storageos", "vsphereVolume"}},
      {"PodStatus",
       {"conditions", "containerStatuses", "ephemeralContainerStatuses", "hostIPs",
        "initContainerStatuses", "podIPs", "resize", "resourceClaimStatuses"}},
      {"ServiceSpec", {"sessionAffinityConfig"}},
      {"ServiceStatus", {"conditions"}},
      {"HorizontalPodAutoscalerStatus", {"currentMetrics"}},
  };
  auto it = kTable.find(message);
  if (it == kTable.end()) return {};
  return it->second;
}

// Short descriptions kubectl explain prints for a kind.
std::string_view KindDescription(std::string_view kind) {
  static const std::map<std::string_view, std::string_view> kDescriptions = {
      {"Namespace", "Namespace groups names: most objects live in exactly one namespace."},
      {"Pod", "Pod is a group of containers scheduled together onto one node."},
      {"Service", "Service gives a set of pods (chosen by a label selector) one stable address."},
      {"ConfigMap", "ConfigMap holds configuration data as string or binary values for pods."},
      {"Secret", "Secret holds sensitive data (tokens, keys) for pods, base64 encoded."},
      {"Deployment", "Deployment keeps a number of replicas of a pod template running and "
                     "rolls out template changes through ReplicaSets."},
      {"ReplicaSet", "ReplicaSet keeps a number of pods matching its selector running."},
      {"DaemonSet", "DaemonSet runs one copy of a pod template on each eligible node."},
      {"HorizontalPodAutoscaler",
       "HorizontalPodAutoscaler scales a workload's replicas from observed metrics."},
      {"Node", "Node is a machine that runs pods."},
      {"Event", "Event reports something that happened to an object."},
      {"Endpoints", "Endpoints lists the addresses and ports behind a Service."},
      {"EndpointSlice", "EndpointSlice holds a subset of the endpoints behind a Service."},
      {"ServiceAccount", "ServiceAccount is an identity for processes running in pods."},
      {"Lease", "Lease is a lightweight lock used for leader election and node heartbeats."},
  };
  auto it = kDescriptions.find(kind);
  return it == kDescriptions.end() ? std::string_view() : it->second;
}

// Descriptions of the fields users look up most, by (message, field).
std::string_view FieldDescription(std::string_view message, std::string_view field) {
  static const std::map<std::pair<std::string_view, std::string_view>, std::string_view>
      kDescriptions = {
          {{"DeploymentSpec", "replicas"}, "Number of desired pods. Defaults to 1."},
          {{"ReplicaSetSpec", "replicas"}, "Number of desired pods. Defaults to 1."},
          {{"ObjectMeta", "name"}, "Name of the object, unique within its namespace."},
          {{"ObjectMeta", "namespace"}, "Namespace the object lives in."},
          {{"ObjectMeta", "labels"}, "Key/value pairs used to select and organize objects."},
          {{"ObjectMeta", "annotations"}, "Key/value pairs holding non-identifying metadata."},
          {{"Container", "name"}, "Name of the container, unique within the pod."},
          {{"Container", "image"}, "Container image name."},
          {{"PodSpec", "containers"}, "Containers of the pod; at least one."},
      };
  auto it = kDescriptions.find({message, field});
  return it == kDescriptions.end() ? std::string_view() : it->second;
}

// Calls `visit` for each field of `message` as it appears in JSON: the fields of Go's inline
// structs (kInlineMessage) appear as fields of the parent.
void ForEachJsonField(const MessageSchema& message,
                      const std::function<void(const FieldSpec&)>& visit) {
  for (const FieldSpec& field : message.fields) {
    if (field.kind == FieldKind::kInlineMessage) {
      ForEachJsonField(*field.message, visit);
    } else {
      visit(field);
    }
  }
}

const FieldSpec* FindJsonField(const MessageSchema& message, std::string_view json_name) {
  for (const FieldSpec& field : message.fields) {
    if (field.kind == FieldKind::kInlineMessage) {
      if (const FieldSpec* inner = FindJsonField(*field.message, json_name)) return inner;
    } else if (field.json_name == json_name) {
      return &field;
    }
  }
  return nullptr;
}

std::string JoinPath(std::string_view prefix, std::string_view field) {
  return prefix.empty() ? std::string(field) : fmt::format("{}.{}", prefix, field);
}

std::string PackageOf(std::string_view group, std::string_view version) {
  std::string_view package = group.empty() ? "core" : group;
  if (package.ends_with(".k8s.io")) package.remove_suffix(std::string_view(".k8s.io").size());
  return fmt::format("io.k8s.api.{}.{}", package, version);
}

std::pair<std::string_view, std::string_view> SplitApiVersion(std::string_view api_version) {
  size_t slash = api_version.find('/');
  if (slash == std::string_view::npos) return {"", api_version};
  return {api_version.substr(0, slash), api_version.substr(slash + 1)};
}

// Where a message was first reached: its component name, and the kind and field path
// (list items add no segment, as in patch.h) under which KubernetesPatchSchema() is asked
// about its lists. Kubernetes' merge rules agree for every kind sharing a message.
struct MessageContext {
  std::string name;
  std::string kind;
  std::string path;
};
using Catalog = std::map<const MessageSchema*, MessageContext>;

void Catalogue(const MessageSchema& message, std::string_view package, std::string_view kind,
               const std::string& path, Catalog& catalog) {
  if (catalog.contains(&message)) return;
  const bool meta = std::ranges::find(kMetaMessages, message.name) != kMetaMessages.end();
  catalog.emplace(&message, MessageContext{fmt::format("{}.{}", meta ? kMetaPackage : package,
                                                       message.name),
                                           std::string(kind), path});
  ForEachJsonField(message, [&](const FieldSpec& field) {
    if (field.message != nullptr) {
      Catalogue(*field.message, package, kind, JoinPath(path, field.json_name), catalog);
    }
  });
}

// Every message of every known object, in KnownObjectSchemas() order (core kinds first, so
// pod specs belong to core/v1 as in Kubernetes).
const Catalog& SchemaCatalog() {
  static const Catalog kCatalog = [] {
    Catalog catalog;
    for (const ObjectSchema& object : KnownObjectSchemas()) {
      auto [group, version] = SplitApiVersion(object.api_version);
      Catalogue(*object.schema, PackageOf(group, version), object.kind, "", catalog);
    }
    return catalog;
  }();
  return kCatalog;
}

const MessageSchema* FindSchema(const GroupVersionKind& gvk) {
  std::string api_version =
      gvk.group.empty() ? std::string(gvk.version) : fmt::format("{}/{}", gvk.group, gvk.version);
  return FindObjectSchema(api_version, gvk.kind);
}

json::object Ref(const std::string& name) {
  return {{"$ref", fmt::format("{}{}", kRefPrefix, name)}};
}

json::object FreeFormSchema() { return {{"x-kubernetes-preserve-unknown-fields", true}}; }

json::object ScalarSchema(std::string_view type, std::string_view format = {}) {
  json::object schema{{"type", type}};
  if (!format.empty()) schema["format"] = format;
  return schema;
}

json::object QuantitySchema() { return ScalarSchema("string", "quantity"); }

// x-kubernetes-* list extensions for the list at `path` of `kind`, from the patch rules.
void AddListExtensions(std::string_view kind, const std::string& path, json::object& schema) {
  const ListMergeRule* rule = KubernetesPatchSchema().FindListRule(kind, path);
  if (rule == nullptr) return;
  schema["x-kubernetes-patch-strategy"] = "merge";
  if (rule->merge_key.empty()) {
    schema["x-kubernetes-list-type"] = "set";
    return;
  }
  schema["x-kubernetes-patch-merge-key"] = rule->merge_key;
  schema["x-kubernetes-list-type"] = "map";
  schema["x-kubernetes-list-map-keys"] = json::array{json::string(rule->merge_key)};
}

json::object FieldSchema(const FieldSpec& field, const MessageContext& context,
                         const Catalog& catalog) {
  switch (field.kind) {
    case FieldKind::kString: return ScalarSchema("string");
    case FieldKind::kBool: return ScalarSchema("boolean");
    case FieldKind::kInt32: return ScalarSchema("integer", "int32");
    case FieldKind::kInt64: return ScalarSchema("integer", "int64");
    case FieldKind::kTime: return ScalarSchema("string", "date-time");
    case FieldKind::kQuantity: return QuantitySchema();
    case FieldKind::kIntOrString: {
      json::object schema = ScalarSchema("string", "int-or-string");
      schema["x-kubernetes-int-or-string"] = true;
      return schema;
    }
    case FieldKind::kStringMap:
      return {{"type", "object"}, {"additionalProperties", ScalarSchema("string")}};
    case FieldKind::kBytesMap:
      return {{"type", "object"}, {"additionalProperties", ScalarSchema("string", "byte")}};
    case FieldKind::kQuantityMap:
      return {{"type", "object"}, {"additionalProperties", QuantitySchema()}};
    case FieldKind::kMessage:
    case FieldKind::kInlineMessage: return Ref(catalog.at(field.message).name);
    case FieldKind::kStringList:
    case FieldKind::kMessageList: {
      json::object schema{{"type", "array"},
                          {"items", field.kind == FieldKind::kStringList
                                        ? ScalarSchema("string")
                                        : Ref(catalog.at(field.message).name)}};
      AddListExtensions(context.kind, JoinPath(context.path, field.json_name), schema);
      return schema;
    }
  }
  return FreeFormSchema();
}

json::object MessageSchemaJson(const MessageSchema& message, const Catalog& catalog) {
  const MessageContext& context = catalog.at(&message);
  json::object properties;
  ForEachJsonField(message, [&](const FieldSpec& field) {
    json::object schema = FieldSchema(field, context, catalog);
    std::string_view description = FieldDescription(message.name, field.json_name);
    if (!description.empty() && !schema.contains("$ref")) schema["description"] = description;
    properties[field.json_name] = std::move(schema);
  });
  for (std::string_view extra : ExtraFieldsOf(message.name)) properties[extra] = FreeFormSchema();
  return {{"type", "object"}, {"properties", std::move(properties)}};
}

// Adds the schema of `message` and of everything it reaches, unless already there.
void AddReachable(const MessageSchema& message, const Catalog& catalog, json::object& schemas) {
  const std::string& name = catalog.at(&message).name;
  if (schemas.contains(name)) return;
  schemas[name] = MessageSchemaJson(message, catalog);
  ForEachJsonField(message, [&](const FieldSpec& field) {
    if (field.message != nullptr) AddReachable(*field.message, catalog, schemas);
  });
}

const MessageSchema& ObjectMetaSchema() {
  return *FindJsonField(*FindObjectSchema("v1", "Namespace"), "metadata")->message;
}

// A kind kelp has no table for: apiVersion, kind and metadata are described, anything else
// is accepted as is.
json::object PermissiveKindSchema(const Catalog& catalog) {
  json::object properties{{"apiVersion", ScalarSchema("string")},
                          {"kind", ScalarSchema("string")},
                          {"metadata", Ref(catalog.at(&ObjectMetaSchema()).name)}};
  return {{"type", "object"},
          {"properties", std::move(properties)},
          {"x-kubernetes-preserve-unknown-fields", true}};
}

void CollectUnknownFields(const json::object& object, const MessageSchema& message,
                          const std::string& path, std::vector<std::string>& unknown) {
  std::span<const std::string_view> extras = ExtraFieldsOf(message.name);
  for (const auto& [key, value] : object) {
    // Type metadata of the object itself; every nested path is non-empty.
    if (path.empty() && (key == "apiVersion" || key == "kind")) continue;
    std::string field_path = JoinPath(path, key);
    const FieldSpec* field = FindJsonField(message, key);
    if (field == nullptr) {
      if (std::ranges::find(extras, std::string_view(key)) == extras.end()) {
        unknown.push_back(std::move(field_path));
      }
      continue;
    }
    if (field->kind == FieldKind::kMessage && value.is_object()) {
      CollectUnknownFields(value.get_object(), *field->message, field_path, unknown);
    } else if (field->kind == FieldKind::kMessageList && value.is_array()) {
      const json::array& items = value.get_array();
      for (size_t i = 0; i < items.size(); ++i) {
        if (!items[i].is_object()) continue;
        CollectUnknownFields(items[i].get_object(), *field->message,
                             fmt::format("{}[{}]", field_path, i), unknown);
      }
    }
  }
}

}  // namespace

std::string OpenApiSchemaName(const GroupVersionKind& gvk) {
  return fmt::format("{}.{}", PackageOf(gvk.group, gvk.version), gvk.kind);
}

void AddOpenApiSchemas(const GroupVersionKind& gvk, json::object& schemas) {
  const std::string name = OpenApiSchemaName(gvk);
  if (schemas.contains(name)) return;
  const Catalog& catalog = SchemaCatalog();
  const MessageSchema* message = FindSchema(gvk);
  json::object schema;
  if (message == nullptr) {
    schema = PermissiveKindSchema(catalog);
    AddReachable(ObjectMetaSchema(), catalog, schemas);
  } else {
    schema = MessageSchemaJson(*message, catalog);
    json::object& properties = schema["properties"].as_object();
    properties["apiVersion"] = ScalarSchema("string");
    properties["kind"] = ScalarSchema("string");
    ForEachJsonField(*message, [&](const FieldSpec& field) {
      if (field.message != nullptr) AddReachable(*field.message, catalog, schemas);
    });
  }
  if (std::string_view description = KindDescription(gvk.kind); !description.empty()) {
    schema["description"] = description;
  }
  schema["x-kubernetes-group-version-kind"] = json::array{
      json::object{{"group", gvk.group}, {"kind", gvk.kind}, {"version", gvk.version}}};
  schemas[name] = std::move(schema);
}

std::vector<std::string> UnknownFields(const json::object& object, const GroupVersionKind& gvk) {
  std::vector<std::string> unknown;
  const MessageSchema* message = FindSchema(gvk);
  if (message != nullptr) CollectUnknownFields(object, *message, "", unknown);
  return unknown;
}

}  // namespace kelp::api
