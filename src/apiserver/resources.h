// The constant table of every resource kelp serves: group, version, kind, names, scope, verbs
// and subresources. Discovery documents and the REST handlers both read it, so a resource
// exists for kubectl exactly when it has a row here. Also maps resources to store keys:
// /registry/<group or "core">/<plural>/[<namespace>/]<name>.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kelp::apiserver {

struct SubresourceInfo {
  std::string name;  // "status", "scale", ...
  // The kind the subresource answers with; empty group/version mean the parent's.
  std::string response_group;
  std::string response_version;
  std::string response_kind;
  std::vector<std::string> verbs;
};

struct ResourceInfo {
  std::string group;  // "" for the core group
  std::string version;
  std::string kind;
  std::string plural;
  std::string singular;
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  std::vector<std::string> verbs;
  std::vector<SubresourceInfo> subresources;

  // "v1" or "apps/v1": the apiVersion of objects of this resource.
  std::string ApiVersion() const;
  // "deployments.apps" or "pods": how Kubernetes names the resource in error messages.
  std::string QualifiedResource() const;
  const SubresourceInfo* FindSubresource(std::string_view name) const;
};

// Every served resource, grouped by group and version in discovery order (preferred version
// of a group first).
const std::vector<ResourceInfo>& ServedResources();

// The row for group/version/plural, or null.
const ResourceInfo* FindResource(std::string_view group, std::string_view version,
                                 std::string_view plural);

// The served groups in discovery order, each with its versions (preferred first).
struct GroupVersions {
  std::string group;
  std::vector<std::string> versions;
};
std::vector<GroupVersions> ServedGroups();

// Store key of one object; `namespace_name` is ignored for cluster-scoped resources.
std::string StorageKey(const ResourceInfo& resource, std::string_view namespace_name,
                       std::string_view name);
// Prefix of every object of the resource, or of those in one namespace when it is non-empty.
// Ends with '/', so namespace "ab" never matches "abc".
std::string StoragePrefix(const ResourceInfo& resource, std::string_view namespace_name);

}  // namespace kelp::apiserver
