// Builds the per-group-version OpenAPI 3.0 documents from the resource table (paths and
// operations) and api/openapi.h (schemas), hashes each (SHA-512, upper-case hex, as
// Kubernetes does) and serves them with Kubernetes' caching headers: a URL carrying the
// current hash is immutable, anything else must be revalidated.
#include "apiserver/openapi_routes.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <openssl/evp.h>

#include "api/openapi.h"
#include "apiserver/resources.h"

namespace kelp::apiserver {
namespace {

namespace json = boost::json;

constexpr std::string_view kOpenApiPrefix = "/openapi/v3/";

struct OpenApiDocument {
  std::string body;
  std::string hash;
};
// Keyed by the path under /openapi/v3/: "api/v1", "apis/apps/v1".
using OpenApiDocuments = std::map<std::string, OpenApiDocument>;

std::string Sha512Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha512(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02X}", digest[i]);
  return hex;
}

std::string GroupVersionPath(std::string_view group, std::string_view version) {
  return group.empty() ? fmt::format("api/{}", version) : fmt::format("apis/{}/{}", group, version);
}

json::object QueryParameter(std::string_view name) {
  return {{"name", name}, {"in", "query"}, {"schema", {{"type", "string"}}}};
}

json::object PathParameter(std::string_view name) {
  return {{"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}};
}

json::object SchemaContent(const std::string& schema_name) {
  return {{"application/json",
           {{"schema", {{"$ref", "#/components/schemas/" + schema_name}}}}}};
}

// One operation. Writes carry the fieldValidation parameter: with it on a PATCH of the kind,
// kubectl sends fieldValidation=Strict and leaves validation to the server.
json::object Operation(const ResourceInfo& resource, std::string_view action, bool write) {
  const std::string schema_name =
      api::OpenApiSchemaName({resource.group, resource.version, resource.kind});
  json::array parameters;
  if (write) {
    for (std::string_view name : {"dryRun", "fieldManager", "fieldValidation"}) {
      parameters.push_back(QueryParameter(name));
    }
  }
  json::object operation{
      {"operationId", fmt::format("{}{}", action, resource.plural)},
      {"x-kubernetes-action", action},
      {"x-kubernetes-group-version-kind",
       {{"group", resource.group}, {"version", resource.version}, {"kind", resource.kind}}},
      {"parameters", std::move(parameters)},
      {"responses", {{"200", {{"description", "OK"}, {"content", SchemaContent(schema_name)}}}}}};
  if (write && action != "patch") {
    operation["requestBody"] = {{"content", SchemaContent(schema_name)}, {"required", true}};
  }
  if (action == "patch") {
    json::object content;
    for (std::string_view type :
         {"application/json-patch+json", "application/merge-patch+json",
          "application/strategic-merge-patch+json", "application/apply-patch+yaml"}) {
      content[type] = {{"schema", {{"type", "object"}}}};
    }
    operation["requestBody"] = {{"content", std::move(content)}, {"required", true}};
  }
  return operation;
}

bool Allows(const ResourceInfo& resource, std::string_view verb) {
  return std::find(resource.verbs.begin(), resource.verbs.end(), verb) != resource.verbs.end();
}

// The collection and item paths of one resource with the operations its verbs allow.
void AddResourcePaths(const ResourceInfo& resource, json::object& paths) {
  const std::string prefix = fmt::format(
      "/{}/{}", GroupVersionPath(resource.group, resource.version),
      resource.namespaced ? "namespaces/{namespace}/" + resource.plural : resource.plural);
  json::array collection_parameters;
  if (resource.namespaced) collection_parameters.push_back(PathParameter("namespace"));
  json::array item_parameters = collection_parameters;
  item_parameters.push_back(PathParameter("name"));

  json::object collection{{"parameters", std::move(collection_parameters)}};
  if (Allows(resource, "list")) collection["get"] = Operation(resource, "list", false);
  if (Allows(resource, "create")) collection["post"] = Operation(resource, "post", true);
  if (Allows(resource, "deletecollection")) {
    collection["delete"] = Operation(resource, "deletecollection", false);
  }
  json::object item{{"parameters", std::move(item_parameters)}};
  if (Allows(resource, "get")) item["get"] = Operation(resource, "get", false);
  if (Allows(resource, "update")) item["put"] = Operation(resource, "put", true);
  if (Allows(resource, "patch")) item["patch"] = Operation(resource, "patch", true);
  if (Allows(resource, "delete")) item["delete"] = Operation(resource, "delete", false);
  paths[prefix] = std::move(collection);
  paths[prefix + "/{name}"] = std::move(item);
}

std::string BuildDocument(std::string_view group, std::string_view version) {
  json::object paths;
  json::object schemas;
  for (const ResourceInfo& resource : ServedResources()) {
    if (resource.group != group || resource.version != version) continue;
    AddResourcePaths(resource, paths);
    api::AddOpenApiSchemas({resource.group, resource.version, resource.kind}, schemas);
  }
  json::object document{
      {"openapi", "3.0.0"},
      {"info", {{"title", "Kubernetes"}, {"version", "v1.32.0-kelp"}}},
      {"paths", std::move(paths)},
      {"components", {{"schemas", std::move(schemas)}}}};
  return json::serialize(document);
}

OpenApiDocuments BuildDocuments() {
  OpenApiDocuments documents;
  for (const GroupVersions& group : ServedGroups()) {
    for (const std::string& version : group.versions) {
      std::string body = BuildDocument(group.group, version);
      std::string hash = Sha512Hex(body);
      documents[GroupVersionPath(group.group, version)] = {std::move(body), std::move(hash)};
    }
  }
  return documents;
}

std::string IndexBody(const OpenApiDocuments& documents) {
  json::object paths;
  for (const auto& [path, document] : documents) {
    paths[path] = {{"serverRelativeURL",
                    fmt::format("{}{}?hash={}", kOpenApiPrefix, path, document.hash)}};
  }
  return json::serialize(json::object{{"paths", std::move(paths)}});
}

// The value of `hash=` in a query string, or empty.
std::string_view HashParameter(std::string_view query) {
  while (!query.empty()) {
    size_t end = query.find('&');
    std::string_view pair = query.substr(0, end);
    if (pair.starts_with("hash=")) return pair.substr(5);
    if (end == std::string_view::npos) break;
    query.remove_prefix(end + 1);
  }
  return {};
}

HttpResponse ServeDocument(const OpenApiDocuments& documents, const HttpRequest& request) {
  if (request.method != "GET") {
    return StatusFailureResponse(405, "MethodNotAllowed",
                                 "the server does not allow this method on the requested resource");
  }
  auto it = documents.find(request.path.substr(kOpenApiPrefix.size()));
  if (it == documents.end()) {
    return StatusFailureResponse(404, "NotFound", "the server could not find the requested resource");
  }
  const OpenApiDocument& document = it->second;
  HttpResponse response = JsonResponse(200, document.body);
  response.extra_headers.emplace_back("ETag", fmt::format("\"{}\"", document.hash));
  response.extra_headers.emplace_back(
      "Cache-Control",
      HashParameter(request.query) == document.hash ? "public, immutable" : "no-cache, private");
  return response;
}

}  // namespace

void AddOpenApiRoutes(Router& router) {
  auto documents = std::make_shared<const OpenApiDocuments>(BuildDocuments());
  router.Add("GET", "/openapi/v3", [index = IndexBody(*documents)](const HttpRequest&) {
    HttpResponse response = JsonResponse(200, index);
    response.extra_headers.emplace_back("Cache-Control", "no-cache, private");
    return response;
  });
  router.AddPrefix(std::string(kOpenApiPrefix), [documents](const HttpRequest& request) {
    return ServeDocument(*documents, request);
  });
}

}  // namespace kelp::apiserver
