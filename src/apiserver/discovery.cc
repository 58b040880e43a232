// Discovery documents as Kubernetes 1.32 writes them. Aggregated discovery is chosen only
// when the Accept header names it; every other Accept gets the legacy document, which works
// for every kubectl command too.
#include "apiserver/discovery.h"

#include <boost/json.hpp>

#include "apiserver/resources.h"

namespace kelp::apiserver {
namespace {

namespace json = boost::json;

json::array Strings(const std::vector<std::string>& values) {
  return json::array(values.begin(), values.end());
}

bool WantsAggregatedDiscovery(const HttpRequest& request) {
  std::optional<std::string_view> accept = request.Header("Accept");
  return accept && accept->find("as=APIGroupDiscoveryList") != std::string_view::npos &&
         accept->find("v=v2") != std::string_view::npos;
}

json::object GroupVersionKind(std::string_view group, std::string_view version,
                              std::string_view kind) {
  return {{"group", group}, {"version", version}, {"kind", kind}};
}

json::object AggregatedResource(const ResourceInfo& resource) {
  json::array subresources;
  for (const SubresourceInfo& sub : resource.subresources) {
    subresources.push_back(json::object{
        {"subresource", sub.name},
        {"responseKind",
         GroupVersionKind(sub.response_version.empty() ? resource.group : sub.response_group,
                          sub.response_version.empty() ? resource.version : sub.response_version,
                          sub.response_kind.empty() ? resource.kind : sub.response_kind)},
        {"verbs", Strings(sub.verbs)}});
  }
  json::object entry{{"resource", resource.plural},
                     {"responseKind", GroupVersionKind(resource.group, resource.version, resource.kind)},
                     {"scope", resource.namespaced ? "Namespaced" : "Cluster"},
                     {"singularResource", resource.singular},
                     {"verbs", Strings(resource.verbs)}};
  if (!resource.short_names.empty()) entry["shortNames"] = Strings(resource.short_names);
  if (!resource.categories.empty()) entry["categories"] = Strings(resource.categories);
  if (!subresources.empty()) entry["subresources"] = std::move(subresources);
  return entry;
}

json::object AggregatedGroup(const GroupVersions& group) {
  json::array versions;
  for (const std::string& version : group.versions) {
    json::array resources;
    for (const ResourceInfo& resource : ServedResources()) {
      if (resource.group == group.group && resource.version == version) {
        resources.push_back(AggregatedResource(resource));
      }
    }
    versions.push_back(json::object{
        {"version", version}, {"resources", std::move(resources)}, {"freshness", "Current"}});
  }
  json::object metadata;
  metadata["name"] = group.group;
  return {{"metadata", std::move(metadata)}, {"versions", std::move(versions)}};
}

// /api (core group only) or /apis (every named group).
HttpResponse AggregatedDiscovery(bool core) {
  json::array items;
  for (const GroupVersions& group : ServedGroups()) {
    if (group.group.empty() == core) items.push_back(AggregatedGroup(group));
  }
  json::object list{{"kind", "APIGroupDiscoveryList"},
                    {"apiVersion", "apidiscovery.k8s.io/v2"},
                    {"metadata", json::object()},
                    {"items", std::move(items)}};
  HttpResponse response = JsonResponse(200, json::serialize(list));
  response.content_type = kAggregatedDiscoveryContentType;
  return response;
}

json::object GroupDocument(const GroupVersions& group) {
  json::array versions;
  for (const std::string& version : group.versions) {
    versions.push_back(json::object{{"groupVersion", group.group + "/" + version},
                                    {"version", version}});
  }
  json::value preferred = versions.front();
  return {{"name", group.group}, {"versions", std::move(versions)},
          {"preferredVersion", std::move(preferred)}};
}

HttpResponse ApiVersions(const HttpRequest& request) {
  if (WantsAggregatedDiscovery(request)) return AggregatedDiscovery(/*core=*/true);
  json::object body{{"kind", "APIVersions"},
                    {"versions", json::array{"v1"}},
                    {"serverAddressByClientCIDRs", json::array{}}};
  return JsonResponse(200, json::serialize(body));
}

HttpResponse ApiGroupList(const HttpRequest& request) {
  if (WantsAggregatedDiscovery(request)) return AggregatedDiscovery(/*core=*/false);
  json::array groups;
  for (const GroupVersions& group : ServedGroups()) {
    if (!group.group.empty()) groups.push_back(GroupDocument(group));
  }
  json::object body{{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", std::move(groups)}};
  return JsonResponse(200, json::serialize(body));
}

json::object LegacyResource(const ResourceInfo& resource, const SubresourceInfo* sub) {
  std::string kind = resource.kind;
  if (sub && !sub->response_kind.empty()) kind = sub->response_kind;
  json::object entry{{"name", sub ? resource.plural + "/" + sub->name : resource.plural},
                     {"singularName", sub ? "" : resource.singular},
                     {"namespaced", resource.namespaced},
                     {"kind", kind},
                     {"verbs", Strings(sub ? sub->verbs : resource.verbs)}};
  if (sub && !sub->response_version.empty()) {
    entry["group"] = sub->response_group;
    entry["version"] = sub->response_version;
  }
  if (!sub && !resource.short_names.empty()) entry["shortNames"] = Strings(resource.short_names);
  if (!sub && !resource.categories.empty()) entry["categories"] = Strings(resource.categories);
  return entry;
}

HttpResponse ResourceList(std::string_view group, std::string_view version) {
  json::array resources;
  for (const ResourceInfo& resource : ServedResources()) {
    if (resource.group != group || resource.version != version) continue;
    resources.push_back(LegacyResource(resource, nullptr));
    for (const SubresourceInfo& sub : resource.subresources) {
      resources.push_back(LegacyResource(resource, &sub));
    }
  }
  std::string group_version = group.empty() ? std::string(version)
                                            : std::string(group) + "/" + std::string(version);
  json::object body{{"kind", "APIResourceList"},
                    {"apiVersion", "v1"},
                    {"groupVersion", group_version},
                    {"resources", std::move(resources)}};
  return JsonResponse(200, json::serialize(body));
}

}  // namespace

void AddDiscoveryRoutes(Router& router) {
  router.Add("GET", "/api", ApiVersions);
  router.Add("GET", "/apis", ApiGroupList);
  for (const GroupVersions& group : ServedGroups()) {
    for (const std::string& version : group.versions) {
      std::string path = group.group.empty() ? "/api/" + version
                                             : "/apis/" + group.group + "/" + version;
      router.Add("GET", path, [group = group.group, version](const HttpRequest&) {
        return ResourceList(group, version);
      });
    }
    if (group.group.empty()) continue;
    json::object document = GroupDocument(group);
    document["kind"] = "APIGroup";
    document["apiVersion"] = "v1";
    router.Add("GET", "/apis/" + group.group,
               [body = json::serialize(document)](const HttpRequest&) {
                 return JsonResponse(200, body);
               });
  }
}

}  // namespace kelp::apiserver
