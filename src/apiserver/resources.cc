// The served-resource table. Verbs, short names and categories follow Kubernetes 1.32's
// discovery documents, so kubectl's short names (`deploy`, `cm`, `hpa`) and `get all` work.
#include "apiserver/resources.h"

namespace kelp::apiserver {
namespace {

using Verbs = std::vector<std::string>;

const Verbs kAllVerbs = {"create", "delete", "deletecollection", "get",
                         "list",   "patch",  "update",           "watch"};
const Verbs kNamespaceVerbs = {"create", "delete", "get", "list", "patch", "update", "watch"};
const Verbs kReadWriteVerbs = {"get", "patch", "update"};

SubresourceInfo Status() { return {.name = "status", .verbs = kReadWriteVerbs}; }

SubresourceInfo Scale() {
  return {.name = "scale",
          .response_group = "autoscaling",
          .response_version = "v1",
          .response_kind = "Scale",
          .verbs = kReadWriteVerbs};
}

std::vector<ResourceInfo> BuildTable() {
  std::vector<ResourceInfo> table = {
      {.version = "v1", .kind = "Namespace", .plural = "namespaces", .singular = "namespace",
       .namespaced = false, .short_names = {"ns"}, .verbs = kNamespaceVerbs,
       .subresources = {Status(), {.name = "finalize", .verbs = {"update"}}}},
      {.version = "v1", .kind = "Pod", .plural = "pods", .singular = "pod",
       .short_names = {"po"}, .categories = {"all"}, .verbs = kAllVerbs,
       .subresources = {Status(),
                        {.name = "binding", .response_kind = "Binding", .verbs = {"create"}},
                        {.name = "log", .response_kind = "Pod", .verbs = {"get"}},
                        {.name = "exec", .response_kind = "PodExecOptions",
                         .verbs = {"create", "get"}}}},
      {.version = "v1", .kind = "Service", .plural = "services", .singular = "service",
       .short_names = {"svc"}, .categories = {"all"}, .verbs = kAllVerbs,
       .subresources = {Status()}},
      {.version = "v1", .kind = "Endpoints", .plural = "endpoints", .singular = "endpoints",
       .short_names = {"ep"}, .verbs = kAllVerbs},
      {.version = "v1", .kind = "Node", .plural = "nodes", .singular = "node",
       .namespaced = false, .short_names = {"no"}, .verbs = kAllVerbs,
       .subresources = {Status()}},
      {.version = "v1", .kind = "ConfigMap", .plural = "configmaps", .singular = "configmap",
       .short_names = {"cm"}, .verbs = kAllVerbs},
      {.version = "v1", .kind = "Secret", .plural = "secrets", .singular = "secret",
       .verbs = kAllVerbs},
      {.version = "v1", .kind = "Event", .plural = "events", .singular = "event",
       .short_names = {"ev"}, .verbs = kAllVerbs},
      {.version = "v1", .kind = "ServiceAccount", .plural = "serviceaccounts",
       .singular = "serviceaccount", .short_names = {"sa"}, .verbs = kAllVerbs},
      {.group = "apps", .version = "v1", .kind = "Deployment", .plural = "deployments",
       .singular = "deployment", .short_names = {"deploy"}, .categories = {"all"},
       .verbs = kAllVerbs, .subresources = {Scale(), Status()}},
      {.group = "apps", .version = "v1", .kind = "ReplicaSet", .plural = "replicasets",
       .singular = "replicaset", .short_names = {"rs"}, .categories = {"all"},
       .verbs = kAllVerbs, .subresources = {Scale(), Status()}},
      {.group = "apps", .version = "v1", .kind = "DaemonSet", .plural = "daemonsets",
       .singular = "daemonset", .short_names = {"ds"}, .categories = {"all"},
       .verbs = kAllVerbs, .subresources = {Status()}},
  };
  // autoscaling/v2 is the preferred version, so it comes first.
  for (const char* version : {"v2", "v1"}) {
    table.push_back({.group = "autoscaling", .version = version,
                     .kind = "HorizontalPodAutoscaler", .plural = "horizontalpodautoscalers",
                     .singular = "horizontalpodautoscaler", .short_names = {"hpa"},
                     .categories = {"all"}, .verbs = kAllVerbs, .subresources = {Status()}});
  }
  table.push_back({.group = "coordination.k8s.io", .version = "v1", .kind = "Lease",
                   .plural = "leases", .singular = "lease", .verbs = kAllVerbs});
  table.push_back({.group = "discovery.k8s.io", .version = "v1", .kind = "EndpointSlice",
                   .plural = "endpointslices", .singular = "endpointslice",
                   .verbs = kAllVerbs});
  // Served by metrics_api.h from the kubelets, never stored.
  table.push_back({.group = "metrics.k8s.io", .version = "v1beta1", .kind = "NodeMetrics",
                   .plural = "nodes", .singular = "", .namespaced = false,
                   .verbs = {"get", "list"}});
  table.push_back({.group = "metrics.k8s.io", .version = "v1beta1", .kind = "PodMetrics",
                   .plural = "pods", .singular = "", .verbs = {"get", "list"}});
  return table;
}

}  // namespace

std::string ResourceInfo::ApiVersion() const {
  return group.empty() ? version : group + "/" + version;
}

std::string ResourceInfo::QualifiedResource() const {
  return group.empty() ? plural : plural + "." + group;
}

const SubresourceInfo* ResourceInfo::FindSubresource(std::string_view name) const {
  for (const SubresourceInfo& subresource : subresources) {
    if (subresource.name == name) return &subresource;
  }
  return nullptr;
}

const std::vector<ResourceInfo>& ServedResources() {
  static const std::vector<ResourceInfo> table = BuildTable();
  return table;
}

const ResourceInfo* FindResource(std::string_view group, std::string_view version,
                                 std::string_view plural) {
  for (const ResourceInfo& resource : ServedResources()) {
    if (resource.group == group && resource.version == version && resource.plural == plural) {
      return &resource;
    }
  }
  return nullptr;
}

std::vector<GroupVersions> ServedGroups() {
  std::vector<GroupVersions> groups;
  for (const ResourceInfo& resource : ServedResources()) {
    if (groups.empty() || groups.back().group != resource.group) {
      groups.push_back({.group = resource.group});
    }
    std::vector<std::string>& versions = groups.back().versions;
    if (versions.empty() || versions.back() != resource.version) {
      versions.push_back(resource.version);
    }
  }
  return groups;
}

std::string StoragePrefix(const ResourceInfo& resource, std::string_view namespace_name) {
  std::string prefix = "/registry/" + (resource.group.empty() ? std::string("core") : resource.group) +
                       "/" + resource.plural + "/";
  if (resource.namespaced && !namespace_name.empty()) {
    prefix.append(namespace_name).push_back('/');
  }
  return prefix;
}

std::string StorageKey(const ResourceInfo& resource, std::string_view namespace_name,
                       std::string_view name) {
  return StoragePrefix(resource, namespace_name).append(name);
}

}  // namespace kelp::apiserver
