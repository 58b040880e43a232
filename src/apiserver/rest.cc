// Request flow: parse the path into (resource, namespace, name, subresource) against the
// resource table, check the verb, then one handler per verb. Objects are JSON in the store;
// server-owned metadata (uid, creationTimestamp, generation, deletionTimestamp) is set here
// and never taken from clients. Store errors map to Status responses in api_errors.cc.
#include "apiserver/rest.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <map>
#include <optional>

#include "api/apply.h"
#include "api/conversion.h"
#include "api/openapi.h"
#include "api/protobuf_decode.h"
#include "api/patch.h"
#include "apiserver/allocator.h"
#include "apiserver/kubelet_proxy.h"
#include "apiserver/list_body.h"
#include "apiserver/objects.h"
#include "apiserver/selection.h"
#include "apiserver/watch.h"
#include "apiserver/watch_cache.h"
#include "common/json.h"

namespace kelp::apiserver {

namespace json = boost::json;

namespace {

constexpr std::string_view kProtobufMediaType = "application/vnd.kubernetes.protobuf";
constexpr std::string_view kMergePatchMediaType = "application/merge-patch+json";
constexpr std::string_view kJsonPatchMediaType = "application/json-patch+json";
constexpr std::string_view kStrategicMergePatchMediaType = "application/strategic-merge-patch+json";
constexpr std::string_view kApplyPatchMediaType = "application/apply-patch+yaml";
constexpr std::string_view kUnknownBodyFormat =
    "the body of the request was in an unknown format - accepted media types include: "
    "application/json, application/yaml, application/vnd.kubernetes.protobuf";
constexpr std::string_view kExpiredContinue =
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter.";
constexpr int64_t kDefaultPodGraceSeconds = 30;
// How long a read waits for the watch cache to catch up with the store before reading the
// store itself (Kubernetes answers 504 after 3 s; kelp falls back instead).
constexpr std::chrono::milliseconds kCacheCatchUpTimeout{3000};
// A Table LIST of more rows than this is printed while it is written (CachedListBody).
constexpr size_t kInlineTableRows = 256;
const char* const kDefaultNamespaces[] = {"default", "kube-system", "kube-public",
                                          "kube-node-lease"};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string UrlDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
               HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> params;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    params[UrlDecode(pair.substr(0, eq))] =
        eq == std::string_view::npos ? "" : UrlDecode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return params;
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> segments;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view segment = path.substr(0, slash);
    if (!segment.empty()) segments.emplace_back(segment);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

// Kubernetes' path-segment rule: names end up in store keys and URLs.
bool IsValidPathSegment(std::string_view name) {
  return name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('%') == std::string_view::npos;
}

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string MediaType(const HttpRequest& request) {
  std::string media(request.Header("Content-Type").value_or(""));
  media = media.substr(0, media.find(';'));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  std::transform(media.begin(), media.end(), media.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return media;
}

Result<json::object> DecodeBody(const HttpRequest& request) {
  std::string media = MediaType(request);
  if (media == kProtobufMediaType) return api::DecodeKubernetesProtobuf(request.body);
  if (media.empty() || media == "application/json") return ParseJsonObject(request.body);
  return UnimplementedError(std::string(kUnknownBodyFormat));
}

bool WantsTable(const HttpRequest& request) {
  std::optional<std::string_view> accept = request.Header("Accept");
  return accept && accept->find("as=Table") != std::string_view::npos;
}

bool HasStatusSubresource(const ResourceInfo& resource) {
  return resource.FindSubresource("status") != nullptr;
}

bool IsResource(const ResourceInfo& resource, std::string_view group, std::string_view plural) {
  return resource.group == group && resource.plural == plural;
}

std::string Serialize(const json::object& object) { return json::serialize(object); }

const json::value* FindMember(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value && !value->is_null() ? value : nullptr;
}

bool BeingDeleted(const json::object& object) {
  return !MetadataString(object, "deletionTimestamp").empty();
}

bool HasFinalizers(const json::object& object) {
  const json::value* metadata = object.if_contains("metadata");
  if (!metadata || !metadata->is_object()) return false;
  const json::value* finalizers = metadata->as_object().if_contains("finalizers");
  return finalizers && finalizers->is_array() && !finalizers->as_array().empty();
}

// What the server owns on a new object: identity, timestamps, generation, initial status.
void PrepareForCreate(const ResourceInfo& resource, json::object& object, const Clock& clock) {
  object["apiVersion"] = resource.ApiVersion();
  object["kind"] = resource.kind;
  json::object& metadata = Metadata(object);
  for (const char* field : {"resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                            "managedFields", "selfLink"}) {
    metadata.erase(field);
  }
  metadata["uid"] = NewUid();
  metadata["creationTimestamp"] = Rfc3339(clock.WallNow());
  if (object.contains("spec")) metadata["generation"] = 1;
  if (IsResource(resource, "", "namespaces")) {
    json::value& spec = object["spec"];
    if (!spec.is_object()) spec = json::object();
    if (!spec.as_object().contains("finalizers")) {
      spec.as_object()["finalizers"] = json::array{"kubernetes"};
    }
    object["status"] = json::object{{"phase", "Active"}};
  } else if (IsResource(resource, "", "pods")) {
    object["status"] = json::object{{"phase", "Pending"}};
  } else if (HasStatusSubresource(resource) && !IsResource(resource, "", "nodes")) {
    // Status belongs to controllers; a client cannot create it (nodes register their own).
    object["status"] = json::object();
  }
}

// `updated` as it may be stored over `old`: server-owned metadata kept, and the part a
// subresource does not own taken from `old`.
json::object PrepareForUpdate(const ResourceInfo& resource, const json::object& old,
                              json::object updated, std::string_view subresource) {
  if (subresource == "status") {
    json::object result = old;
    const json::value* status = FindMember(updated, "status");
    if (status) {
      result["status"] = *status;
    } else {
      result.erase("status");
    }
    return result;
  }
  updated["apiVersion"] = resource.ApiVersion();
  updated["kind"] = resource.kind;
  json::object& metadata = Metadata(updated);
  const json::value* old_metadata = FindMember(old, "metadata");
  for (const char* field : {"name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                            "deletionGracePeriodSeconds", "generation"}) {
    const json::value* value =
        old_metadata && old_metadata->is_object() ? old_metadata->as_object().if_contains(field)
                                                  : nullptr;
    if (value) {
      metadata[field] = *value;
    } else {
      metadata.erase(field);
    }
  }
  if (HasStatusSubresource(resource)) {
    const json::value* status = FindMember(old, "status");
    if (status) {
      updated["status"] = *status;
    } else {
      updated.erase("status");
    }
  }
  const json::value* old_spec = FindMember(old, "spec");
  const json::value* new_spec = FindMember(updated, "spec");
  bool spec_changed = (old_spec == nullptr) != (new_spec == nullptr) ||
                      (old_spec && new_spec && *old_spec != *new_spec);
  if (spec_changed && metadata.contains("generation")) {
    Result<int64_t> generation = GetInt64(metadata, "generation");
    metadata["generation"] = (generation.ok() ? *generation : 0) + 1;
  }
  return updated;
}

// Scale's status.selector: matchLabels as "k=v,..." in key order.
std::string ScaleSelector(const json::object& object) {
  Result<const json::object*> labels = FindObject(object, "spec.selector.matchLabels");
  if (!labels.ok() || *labels == nullptr) return "";
  std::vector<std::string> terms;
  for (const auto& [key, value] : **labels) {
    if (value.is_string()) terms.push_back(std::string(key) + "=" + std::string(value.as_string()));
  }
  std::sort(terms.begin(), terms.end());
  std::string selector;
  for (const std::string& term : terms) selector += (selector.empty() ? "" : ",") + term;
  return selector;
}

json::object ScaleOf(const json::object& object) {
  json::object metadata;
  for (const char* field : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
    std::string value = MetadataString(object, field);
    if (!value.empty()) metadata[field] = value;
  }
  Result<std::optional<int64_t>> replicas = FindInt64(object, "spec.replicas");
  Result<std::optional<int64_t>> current = FindInt64(object, "status.replicas");
  json::object status{{"replicas", current.ok() ? current->value_or(0) : 0}};
  std::string selector = ScaleSelector(object);
  if (!selector.empty()) status["selector"] = selector;
  return {{"kind", "Scale"},
          {"apiVersion", "autoscaling/v1"},
          {"metadata", std::move(metadata)},
          {"spec", json::object{{"replicas", replicas.ok() ? replicas->value_or(1) : 1}}},
          {"status", std::move(status)}};
}

HttpResponse ServiceUnavailableResponse(std::string_view message) {
  json::object body{{"kind", "Status"},     {"apiVersion", "v1"}, {"metadata", json::object()},
                    {"status", "Failure"}, {"message", message}, {"reason", "ServiceUnavailable"},
                    {"code", 503}};
  return JsonResponse(503, Serialize(body));
}

// The verb Kubernetes' RBAC and discovery name for this request shape.
std::string_view VerbOf(std::string_view method, bool has_name, bool watch) {
  if (method == "GET") return has_name ? "get" : (watch ? "watch" : "list");
  if (method == "POST") return "create";
  if (method == "PUT") return "update";
  if (method == "PATCH") return "patch";
  if (method == "DELETE") return has_name ? "delete" : "deletecollection";
  return "";
}

bool Allows(const std::vector<std::string>& verbs, std::string_view verb) {
  return std::find(verbs.begin(), verbs.end(), verb) != verbs.end();
}

// A namespace's spec.finalizers ("kubernetes"): the namespace controller removes it through
// the finalize subresource once the namespace is empty.
bool HasNamespaceFinalizers(const ResourceInfo& resource, const json::object& object) {
  if (!IsResource(resource, "", "namespaces")) return false;
  Result<const json::array*> finalizers = FindArray(object, "spec.finalizers");
  return finalizers.ok() && *finalizers != nullptr && !(*finalizers)->empty();
}

// Storing `object` ends its life: it is being deleted, its last finalizer is gone and no grace
// period runs (a pod on a node waits for its kubelet's final delete).
bool CompletesDeletion(const ResourceInfo& resource, const json::object& object) {
  if (!BeingDeleted(object) || HasFinalizers(object) || HasNamespaceFinalizers(resource, object)) {
    return false;
  }
  Result<std::optional<int64_t>> grace = FindInt64(object, "metadata.deletionGracePeriodSeconds");
  return grace.ok() && grace->value_or(0) == 0;
}

// The finalizer the garbage collector acts on for a delete with this propagationPolicy.
std::string_view PropagationFinalizer(std::string_view policy) {
  if (policy == "Foreground") return "foregroundDeletion";
  if (policy == "Orphan") return "orphan";
  return "";
}

// Adds `finalizer` to metadata.finalizers; false when it was there already.
bool AddFinalizer(json::object& object, std::string_view finalizer) {
  json::value& finalizers = Metadata(object)["finalizers"];
  if (!finalizers.is_array()) finalizers = json::array();
  for (const json::value& present : finalizers.as_array()) {
    if (present.is_string() && present.as_string() == finalizer) return false;
  }
  finalizers.as_array().push_back(json::string(finalizer));
  return true;
}

bool AllocatesFor(const ServiceAllocator* allocator, const ResourceInfo& resource) {
  return allocator != nullptr && IsResource(resource, "", "services");
}

// A refused Service admission as Kubernetes answers it: 422 Invalid, or 500 for a full range.
HttpResponse AdmissionFailureResponse(const ServiceAdmission& admission,
                                      const ResourceInfo& resource, std::string_view name) {
  if (!admission.invalid.empty()) return InvalidResponse(resource, name, admission.invalid);
  return StoreErrorResponse(admission.failure, resource, name);
}

// Frees the ClusterIP and NodePorts of a Service that was just deleted from the store.
void ReleaseIfService(ServiceAllocator* allocator, const ResourceInfo& resource,
                      const json::object& object) {
  if (AllocatesFor(allocator, resource)) allocator->Release(object);
}

// An applied configuration must describe the object of the URL: its kind, apiVersion and name
// (each may be left out). Kubernetes answers a mismatch with 400 BadRequest.
std::optional<HttpResponse> CheckAppliedIdentity(const ResourceInfo& resource,
                                                 std::string_view url_name,
                                                 const json::object& applied) {
  Result<std::optional<std::string>> kind = FindString(applied, "kind");
  Result<std::optional<std::string>> api_version = FindString(applied, "apiVersion");
  if (!kind.ok() || !api_version.ok() || (*kind && **kind != resource.kind) ||
      (*api_version && **api_version != resource.ApiVersion())) {
    return BadRequestResponse("the object provided is unrecognized (must be of type " +
                              resource.kind + " " + resource.ApiVersion() + ")");
  }
  std::string name = MetadataString(applied, "name");
  if (!name.empty() && name != url_name) {
    return BadRequestResponse("the name of the object (" + name +
                              ") does not match the name on the URL (" + std::string(url_name) +
                              ")");
  }
  return std::nullopt;
}

// The unknown fields of a written object that its stored version (if any) does not already
// have: kelp stores what a client sent without strict validation as is, and a later strict
// edit of that object must not fail on fields it did not touch.
std::vector<std::string> NewUnknownFields(const ResourceInfo& resource, const json::object& object,
                                          const json::object* old) {
  const api::GroupVersionKind gvk{resource.group, resource.version, resource.kind};
  std::vector<std::string> unknown = api::UnknownFields(object, gvk);
  if (old == nullptr || unknown.empty()) return unknown;
  const std::vector<std::string> stored = api::UnknownFields(*old, gvk);
  std::erase_if(unknown, [&stored](const std::string& field) {
    return std::find(stored.begin(), stored.end(), field) != stored.end();
  });
  return unknown;
}

std::string UnknownFieldMessage(std::string_view field) {
  return "unknown field \"" + std::string(field) + "\"";
}

// A Warning header value (RFC 7234: 299 - "<text>"); the field names come from the client,
// so quotes are escaped and control characters replaced.
std::string WarningHeaderValue(std::string_view text) {
  std::string quoted = "299 - \"";
  for (char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  return quoted + "\"";
}

// Kubernetes' prefix of a decoding error on create and update.
std::string CannotBeHandledPrefix(const ResourceInfo& resource) {
  return resource.kind + " in version \"" + resource.version + "\" cannot be handled as a " +
         resource.kind + ": ";
}

// fieldValidation on a write: Strict refuses unknown fields with Kubernetes' 400, Warn collects
// them into `warnings` (sent as Warning headers), Ignore or no parameter checks nothing.
std::optional<HttpResponse> CheckFieldValidation(std::string_view mode,
                                                 const ResourceInfo& resource,
                                                 const json::object& object,
                                                 const json::object* old,
                                                 std::string_view message_prefix,
                                                 std::vector<std::string>& warnings) {
  if (mode != "Strict" && mode != "Warn") return std::nullopt;
  std::vector<std::string> unknown = NewUnknownFields(resource, object, old);
  if (unknown.empty()) return std::nullopt;
  if (mode == "Warn") {
    warnings = std::move(unknown);
    return std::nullopt;
  }
  std::string message = std::string(message_prefix) + "strict decoding error: ";
  for (size_t i = 0; i < unknown.size(); ++i) {
    message += (i == 0 ? "" : ", ") + UnknownFieldMessage(unknown[i]);
  }
  return BadRequestResponse(message);
}

}  // namespace

Result<json::object> ApplyPatch(std::string_view content_type, const json::object& original,
                                std::string_view patch) {
  Result<json::value> result = UnimplementedError(
      "the server does not support patch type " + std::string(content_type) + " yet");
  if (content_type == kJsonPatchMediaType) {
    result = api::ApplyJsonPatch(original, patch);
  } else if (content_type == kMergePatchMediaType) {
    result = api::ApplyMergePatch(original, patch);
  } else if (content_type == kStrategicMergePatchMediaType) {
    result = api::ApplyStrategicMergePatch(original, patch, api::KubernetesPatchSchema());
  } else if (content_type == kApplyPatchMediaType) {
    Result<json::object> applied = api::ParseApplyConfiguration(patch);
    if (!applied.ok()) return applied.status();
    return api::MergeApplyConfiguration(original, *applied, api::KubernetesPatchSchema());
  }
  if (!result.ok()) return result.status();
  if (!result->is_object()) return InvalidArgumentError("the patch must be a JSON object");
  return std::move(result->as_object());
}

struct RestApi::Call {
  const HttpRequest& request;
  const ResourceInfo& resource;
  std::string namespace_name;
  std::string name;
  std::string subresource;
  std::map<std::string, std::string> query;
  // Unknown fields written with fieldValidation=Warn, answered as Warning headers.
  mutable std::vector<std::string> unknown_field_warnings;

  std::string Key() const { return StorageKey(resource, namespace_name, name); }
  std::string Param(const std::string& key) const {
    auto it = query.find(key);
    return it == query.end() ? "" : it->second;
  }
  bool DryRun() const { return query.contains("dryRun"); }
};

RestApi::RestApi(storage::Store& store, const Clock& clock, RestOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

void RestApi::AddRoutes(Router& router) const {
  RequestHandler handler = [this](const HttpRequest& request) { return Handle(request); };
  router.AddPrefix("/api/", handler);
  router.AddPrefix("/apis/", handler);
}

ResourceHooks RestApi::HooksFor(const ResourceInfo& resource) const {
  return options_.hooks ? options_.hooks(resource) : ResourceHooks{};
}

HttpResponse RestApi::Handle(const HttpRequest& request) const {
  const HttpResponse not_found =
      StatusFailureResponse(404, "NotFound", "the server could not find the requested resource");
  std::vector<std::string> segments = SplitPath(request.path);
  std::string group;
  size_t next = 0;
  if (segments.size() >= 2 && segments[0] == "api") {
    next = 1;
  } else if (segments.size() >= 3 && segments[0] == "apis") {
    group = segments[1];
    next = 2;
  } else {
    return not_found;
  }
  const std::string& version = segments[next++];
  std::string namespace_name;
  if (segments.size() >= next + 3 && segments[next] == "namespaces") {
    const ResourceInfo* inner = FindResource(group, version, segments[next + 2]);
    if (inner && inner->namespaced) {
      namespace_name = segments[next + 1];
      next += 2;
    }
  }
  if (next >= segments.size() || segments.size() - next > 3) return not_found;
  const ResourceInfo* resource = FindResource(group, version, segments[next]);
  if (!resource) return not_found;
  Call call{.request = request, .resource = *resource, .namespace_name = namespace_name,
            .query = ParseQuery(request.query)};
  if (segments.size() > next + 1) call.name = segments[next + 1];
  if (segments.size() > next + 2) call.subresource = segments[next + 2];
  if (!IsValidPathSegment(call.name) || !IsValidPathSegment(call.namespace_name)) {
    return BadRequestResponse("invalid name in the request path");
  }
  if (!call.subresource.empty() && !resource->FindSubresource(call.subresource)) return not_found;
  HttpResponse response = Dispatch(call);
  for (const std::string& field : call.unknown_field_warnings) {
    response.extra_headers.emplace_back("Warning", WarningHeaderValue(UnknownFieldMessage(field)));
  }
  return response;
}



HttpResponse RestApi::Dispatch(const Call& call) const {
  const std::string& method = call.request.method;
  const bool watch = call.Param("watch") == "true" || call.Param("watch") == "1";
  if (!call.subresource.empty()) {
    const SubresourceInfo& sub = *call.resource.FindSubresource(call.subresource);
    if (!Allows(sub.verbs, VerbOf(method, true, false))) return MethodNotAllowedResponse(method);
    if (sub.name == "log" || sub.name == "exec") return ProxyToKubelet(call);
    if (sub.name == "binding") return Bind(call);
    if (sub.name == "finalize") return Finalize(call);
    if (sub.name == "scale") return method == "GET" ? GetScale(call) : WriteScale(call);
    if (sub.name == "status") {
      if (method == "GET") return Get(call);
      return method == "PUT" ? Update(call) : Patch(call);
    }
    return MethodNotAllowedResponse(method);
  }
  if (!Allows(call.resource.verbs, VerbOf(method, !call.name.empty(), watch))) {
    return MethodNotAllowedResponse(method);
  }
  if (call.resource.namespaced && call.namespace_name.empty() &&
      (method != "GET" || !call.name.empty())) {
    return StatusFailureResponse(404, "NotFound", "the server could not find the requested resource");
  }
  if (call.name.empty()) {
    if (method == "GET") return watch ? Watch(call) : List(call);
    if (method == "POST") return Create(call);
    return DeleteCollection(call);
  }
  if (method == "GET") return Get(call);
  if (method == "PUT") return Update(call);
  if (method == "PATCH") return Patch(call);
  return Delete(call);
}

HttpResponse RestApi::Respond(const Call& call, int status, json::object object) const {
  ResourceHooks hooks = HooksFor(call.resource);
  if (call.request.method == "GET" && WantsTable(call.request) && hooks.print_table) {
    Result<json::object> table = hooks.print_table(
        {&object}, TableRequest{.include_object = call.Param("includeObject")});
    if (!table.ok()) return StoreErrorResponse(table.status(), call.resource, call.name);
    return JsonResponse(status, Serialize(*table));
  }
  return JsonResponse(status, Serialize(object));
}

HttpResponse RestApi::Get(const Call& call) const {
  Result<storage::KeyValue> kv = store_.Get(call.Key());
  if (!kv.ok()) return StoreErrorResponse(kv.status(), call.resource, call.name);
  Result<json::object> object = DecodeStoredObject(*kv, call.resource);
  if (!object.ok()) return StoreErrorResponse(InternalError(object.status().message()), call.resource, call.name);
  return Respond(call, 200, std::move(*object));
}

HttpResponse RestApi::List(const Call& call) const {
  Result<ObjectFilter> filter = ObjectFilter::Parse(
      call.Param("labelSelector"), call.Param("fieldSelector"), call.resource.plural);
  if (!filter.ok()) return BadRequestResponse(filter.status().message());
  std::optional<int64_t> limit = ParseInt(call.Param("limit").empty() ? "0" : call.Param("limit"));
  if (!limit || *limit < 0) return BadRequestResponse("limit must be a non-negative integer");
  const std::string prefix = StoragePrefix(call.resource, call.namespace_name);
  storage::ListOptions options;
  if (std::optional<HttpResponse> cached = ListFromCache(call, *filter, *limit)) {
    return std::move(*cached);
  }
  if (!call.Param("continue").empty()) {
    Result<ContinueToken> token = DecodeContinueToken(call.Param("continue"));
    if (!token.ok() || !token->last_key.starts_with(prefix)) {
      return BadRequestResponse("continue key is not valid");
    }
    options.revision = token->revision;
    options.continue_after_key = token->last_key;
  }
  // Every object of the list lives in one arena freed in one go when the response is built:
  // thousands of small allocations and frees (and the heap growth they leave) were most of the
  // cost of a large LIST.
  json::monotonic_resource arena;
  json::storage_ptr storage(&arena);
  json::array items(storage);
  std::vector<json::object> objects;
  bool more = false;
  std::string last_key;
  for (;;) {
    options.limit = *limit;
    Result<storage::ListResult> page = store_.List(prefix, options);
    if (!page.ok()) {
      if (page.status().code() == StatusCode::kExpired) {
        return StoreErrorResponse(ExpiredError(std::string(kExpiredContinue)), call.resource, "");
      }
      return StoreErrorResponse(page.status(), call.resource, "");
    }
    options.revision = page->revision;
    for (size_t i = 0; i < page->items.size(); ++i) {
      const storage::KeyValue& kv = page->items[i];
      options.continue_after_key = kv.key;
      Result<json::object> object = DecodeStoredObject(kv, call.resource, storage);
      if (!object.ok() || !filter->Matches(*object)) continue;
      objects.push_back(std::move(*object));
      if (*limit > 0 && static_cast<int64_t>(objects.size()) == *limit) {
        more = i + 1 < page->items.size() || page->more;
        break;
      }
    }
    if (more || !page->more || (*limit > 0 && static_cast<int64_t>(objects.size()) == *limit)) {
      break;
    }
  }
  json::object metadata{{"resourceVersion", std::to_string(options.revision)}};
  std::string continue_token;
  if (more) {
    continue_token = EncodeContinueToken({.revision = options.revision,
                                          .last_key = options.continue_after_key});
    metadata["continue"] = continue_token;
  }
  ResourceHooks hooks = HooksFor(call.resource);
  if (WantsTable(call.request) && hooks.print_table) {
    std::vector<const json::object*> pointers;
    for (const json::object& object : objects) pointers.push_back(&object);
    Result<json::object> table = hooks.print_table(
        pointers, TableRequest{.include_object = call.Param("includeObject"),
                               .resource_version = std::to_string(options.revision),
                               .continue_token = continue_token});
    if (!table.ok()) return StoreErrorResponse(table.status(), call.resource, "");
    return JsonResponse(200, Serialize(*table));
  }
  for (json::object& object : objects) items.push_back(std::move(object));
  json::object list(storage);
  list["kind"] = call.resource.kind + "List";
  list["apiVersion"] = call.resource.ApiVersion();
  list["metadata"] = std::move(metadata);
  list["items"] = std::move(items);
  return JsonResponse(200, Serialize(list));
}

std::optional<HttpResponse> RestApi::ListFromCache(const Call& call, const ObjectFilter& filter,
                                                   int64_t limit) const {
  const WatchCache* cache = options_.watch_cache;
  const std::string api_version = call.resource.ApiVersion();
  // An exact older revision, and kinds served in another version than stored, read the store.
  if (cache == nullptr || call.Param("resourceVersionMatch") == "Exact" ||
      api::StorageApiVersion(call.resource.group, call.resource.kind, api_version) !=
          api_version) {
    return std::nullopt;
  }
  const std::string prefix = StoragePrefix(call.resource, call.namespace_name);
  ContinueToken token;
  if (!call.Param("continue").empty()) {
    Result<ContinueToken> decoded = DecodeContinueToken(call.Param("continue"));
    if (!decoded.ok() || !decoded->last_key.starts_with(prefix)) return std::nullopt;  // 400 there
    token = std::move(*decoded);
  }
  if (!cache->WaitUntilFresh(store_.CurrentRevision(), kCacheCatchUpTimeout)) return std::nullopt;
  const bool filtered = !filter.Empty();
  // Objects of the snapshot are JSON text; only a filtered page parses them here.
  WatchCache::Snapshot snapshot =
      cache->List(prefix, token.last_key, filtered ? 0 : static_cast<size_t>(limit));
  // A later page reflects the first page's revision: the cache holds only the present, which is
  // that revision as long as nothing of the resource changed since.
  if (token.revision != 0 &&
      (token.revision > snapshot.revision || cache->LastChange(prefix) > token.revision)) {
    return std::nullopt;
  }
  const int64_t revision = token.revision != 0 ? token.revision : snapshot.revision;
  ResourceHooks hooks = HooksFor(call.resource);
  const bool table = WantsTable(call.request) && (hooks.table_writer || hooks.print_table);
  // A page of a filtered list is selected first: its continue token (in the head) names the
  // last object it holds. Otherwise the snapshot is the selection, filtered as it is written.
  std::vector<std::shared_ptr<const CachedObject>> selected;
  ObjectFilter body_filter = filter;
  bool more = snapshot.more;
  if (filtered && limit > 0) {
    std::vector<unsigned char> scratch_buffer(64 * 1024);
    json::monotonic_resource scratch(scratch_buffer.data(), scratch_buffer.size());
    for (size_t i = 0; i < snapshot.objects.size(); ++i) {
      scratch.release();
      Result<json::object> object =
          ParseJsonObject(snapshot.objects[i]->json, json::storage_ptr(&scratch));
      if (!object.ok() || !filter.Matches(*object)) continue;
      selected.push_back(std::move(snapshot.objects[i]));
      if (static_cast<int64_t>(selected.size()) == limit) {
        more = more || i + 1 < snapshot.objects.size();
        break;
      }
    }
    body_filter = ObjectFilter();
  } else {
    selected = std::move(snapshot.objects);
  }
  std::string continue_token;
  if (more && !selected.empty()) {
    continue_token = EncodeContinueToken({.revision = revision, .last_key = selected.back()->key});
  }
  if (table && !hooks.table_writer) {
    // A printer that only builds whole Tables: every object decoded at once.
    json::monotonic_resource arena;
    std::vector<json::object> objects;
    for (const std::shared_ptr<const CachedObject>& cached : selected) {
      Result<json::object> object = ParseJsonObject(cached->json, json::storage_ptr(&arena));
      if (object.ok() && body_filter.Matches(*object)) objects.push_back(std::move(*object));
    }
    std::vector<const json::object*> pointers;
    pointers.reserve(objects.size());
    for (const json::object& object : objects) pointers.push_back(&object);
    Result<json::object> printed = hooks.print_table(
        pointers, TableRequest{.include_object = call.Param("includeObject"),
                               .resource_version = std::to_string(revision),
                               .continue_token = continue_token});
    if (!printed.ok()) return StoreErrorResponse(printed.status(), call.resource, "");
    return JsonResponse(200, Serialize(*printed));
  }
  std::unique_ptr<api::TableTextWriter> table_writer;
  std::string head;
  std::string tail;
  if (table) {
    Result<std::unique_ptr<api::TableTextWriter>> writer =
        hooks.table_writer(TableRequest{.include_object = call.Param("includeObject"),
                                        .resource_version = std::to_string(revision),
                                        .continue_token = continue_token});
    if (!writer.ok()) return StoreErrorResponse(writer.status(), call.resource, "");
    table_writer = std::move(*writer);
    head = table_writer->Head();
    tail = api::TableTextWriter::Tail();
  } else {
    // The list document around the cached JSON of its items, joined as they are.
    head.append(R"({"kind":")").append(call.resource.kind).append(R"(List","apiVersion":")");
    head.append(api_version).append(R"(","metadata":{"resourceVersion":")");
    head.append(std::to_string(revision)).append("\"");
    if (!continue_token.empty()) head.append(R"(,"continue":")").append(continue_token).append("\"");
    head.append(R"(},"items":[)");
    tail = "]}";
  }
  // A body of more than a chunk or two is written while it is made, on the transport's
  // helper thread; a small one is made here and sent with its length.
  const bool streamed = table ? selected.size() > kInlineTableRows
                              : CachedListBody::JsonBytes(selected) > CachedListBody::kChunkBytes;
  auto body = std::make_shared<CachedListBody>(std::move(head), std::move(selected),
                                               std::move(body_filter), std::move(table_writer),
                                               std::move(tail));
  HttpResponse response = JsonResponse(200, "");
  response.stream = std::move(body);
  if (!streamed) response.body = CollectBody(response);
  return response;
}

HttpResponse RestApi::Watch(const Call& call) const {
  Result<ObjectFilter> filter = ObjectFilter::Parse(
      call.Param("labelSelector"), call.Param("fieldSelector"), call.resource.plural);
  if (!filter.ok()) return BadRequestResponse(filter.status().message());
  std::chrono::seconds timeout = options_.default_watch_timeout;
  if (!call.Param("timeoutSeconds").empty()) {
    std::optional<int64_t> seconds = ParseInt(call.Param("timeoutSeconds"));
    if (!seconds || *seconds < 0) return BadRequestResponse("timeoutSeconds must be a non-negative integer");
    timeout = std::chrono::seconds(*seconds);
  }
  ResourceHooks hooks = HooksFor(call.resource);
  EventObjectRenderer render = [](json::object object) -> Result<json::value> {
    return json::value(std::move(object));
  };
  if (WantsTable(call.request) && hooks.print_table) {
    render = [print = hooks.print_table,
              include = call.Param("includeObject")](json::object object) -> Result<json::value> {
      KELP_ASSIGN_OR_RETURN(json::object table,
                            print({&object}, TableRequest{.include_object = include}));
      return json::value(std::move(table));
    };
  }
  const std::string prefix = StoragePrefix(call.resource, call.namespace_name);
  const std::string requested = call.Param("resourceVersion");
  std::deque<std::string> initial;
  int64_t start = 0;
  const WatchCache* cache = options_.watch_cache;
  const std::string api_version = call.resource.ApiVersion();
  const bool plain_events = filter->Empty() && !(WantsTable(call.request) && hooks.print_table) &&
                            api::StorageApiVersion(call.resource.group, call.resource.kind,
                                                   api_version) == api_version;
  if ((requested.empty() || requested == "0") && cache != nullptr &&
      cache->WaitUntilFresh(store_.CurrentRevision(), kCacheCatchUpTimeout)) {
    // The current state from memory; the cached JSON goes out as it is when nothing is
    // filtered, printed or converted.
    WatchCache::Snapshot snapshot = cache->List(prefix, "", 0);
    for (const std::shared_ptr<const CachedObject>& cached : snapshot.objects) {
      if (plain_events) {
        initial.push_back(R"({"type":"ADDED","object":)" + cached->json + "}\n");
        continue;
      }
      const storage::KeyValue kv{.key = cached->key, .value = cached->json,
                                 .mod_revision = cached->mod_revision};
      Result<json::object> object = DecodeStoredObject(kv, call.resource);
      if (!object.ok() || !filter->Matches(*object)) continue;
      Result<json::value> rendered = render(std::move(*object));
      if (rendered.ok()) initial.push_back(WatchEventStream::EventLine("ADDED", *rendered));
    }
    start = snapshot.revision;
  } else if (requested.empty() || requested == "0") {
    // As Kubernetes does: the current state as ADDED events, then the changes after it.
    Result<storage::ListResult> current = store_.List(prefix, {});
    if (!current.ok()) return StoreErrorResponse(current.status(), call.resource, "");
    for (const storage::KeyValue& kv : current->items) {
      Result<json::object> object = DecodeStoredObject(kv, call.resource);
      if (!object.ok() || !filter->Matches(*object)) continue;
      Result<json::value> rendered = render(std::move(*object));
      if (rendered.ok()) initial.push_back(WatchEventStream::EventLine("ADDED", *rendered));
    }
    start = current->revision;
  } else {
    std::optional<int64_t> revision = ParseInt(requested);
    if (!revision || *revision < 0) return BadRequestResponse("invalid resourceVersion: " + requested);
    start = *revision;
  }
  Result<std::unique_ptr<storage::WatchStream>> stream = store_.Watch(prefix, start);
  if (!stream.ok() && stream.status().code() == StatusCode::kExpired) {
    // Kubernetes answers 200 and reports the expiry as the stream's only event.
    return JsonResponse(200, WatchEventStream::ExpiredLine("too old resource version: " + requested));
  }
  if (!stream.ok()) return StoreErrorResponse(stream.status(), call.resource, "");
  WatchParams params{.resource = &call.resource,
                     .filter = std::move(*filter),
                     .render = std::move(render),
                     .deadline = clock_.Now() + timeout,
                     .bookmarks = call.Param("allowWatchBookmarks") == "true",
                     .bookmark_interval = options_.bookmark_interval,
                     .start_revision = start};
  HttpResponse response = JsonResponse(200, "");
  response.stream = std::make_shared<WatchEventStream>(std::move(*stream), std::move(params),
                                                       std::move(initial), clock_);
  return response;
}

std::optional<HttpResponse> RestApi::CheckNamespaceAcceptsCreate(const Call& call,
                                                                 std::string_view name) const {
  const ResourceInfo& namespaces = *FindResource("", "v1", "namespaces");
  Result<storage::KeyValue> kv = store_.Get(StorageKey(namespaces, "", call.namespace_name));
  if (!kv.ok()) return StoreErrorResponse(kv.status(), namespaces, call.namespace_name);
  Result<json::object> object = DecodeStoredObject(*kv, namespaces);
  if (object.ok() && BeingDeleted(*object)) {
    return NamespaceTerminatingResponse(call.resource, name, call.namespace_name);
  }
  return std::nullopt;
}

HttpResponse RestApi::Create(const Call& call) const {
  Result<json::object> body = DecodeBody(call.request);
  if (!body.ok()) return StoreErrorResponse(body.status(), call.resource, "");
  json::object& object = *body;
  Result<std::optional<std::string>> kind = FindString(object, "kind");
  if (!kind.ok() || (*kind && !(*kind)->empty() && **kind != call.resource.kind)) {
    return BadRequestResponse("the object provided is unrecognized (must be of type " +
                              call.resource.kind + ")");
  }
  if (std::optional<HttpResponse> refused =
          CheckFieldValidation(call.Param("fieldValidation"), call.resource, object, nullptr,
                               CannotBeHandledPrefix(call.resource), call.unknown_field_warnings)) {
    return *refused;
  }
  json::object& metadata = Metadata(object);
  if (call.resource.namespaced) {
    std::string body_namespace = MetadataString(object, "namespace");
    if (!body_namespace.empty() && body_namespace != call.namespace_name) {
      return BadRequestResponse(
          "the namespace of the provided object does not match the namespace sent on the request");
    }
    metadata["namespace"] = call.namespace_name;
  } else {
    metadata.erase("namespace");
  }
  std::string name = MetadataString(object, "name");
  std::string generate_name = MetadataString(object, "generateName");
  if (name.empty() && !generate_name.empty()) {
    name = generate_name + RandomNameSuffix();
    metadata["name"] = name;
  }
  if (name.empty()) {
    return InvalidResponse(call.resource, "",
                           {{.reason = "FieldValueRequired",
                             .message = "Required value: name or generateName is required",
                             .field = "metadata.name"}});
  }
  if (!IsValidPathSegment(name)) {
    return InvalidResponse(call.resource, name,
                           {{.reason = "FieldValueInvalid",
                             .message = "Invalid value: \"" + name +
                                        "\": may not contain '/' or '%' and may not be '.' or '..'",
                             .field = "metadata.name"}});
  }
  if (call.resource.namespaced) {
    if (std::optional<HttpResponse> refused = CheckNamespaceAcceptsCreate(call, name)) {
      return *refused;
    }
  }
  PrepareForCreate(call.resource, object, clock_);
  ResourceHooks hooks = HooksFor(call.resource);
  if (hooks.defaulting) hooks.defaulting(object);
  if (hooks.validate_create) {
    std::vector<api::FieldCause> errors = hooks.validate_create(object);
    if (!errors.empty()) return InvalidResponse(call.resource, name, errors);
  }
  ServiceAllocation allocation;  // given back by its destructor unless committed
  if (AllocatesFor(options_.service_allocator, call.resource)) {
    ServiceAdmission admission = options_.service_allocator->Admit(object, nullptr);
    if (!admission.ok()) return AdmissionFailureResponse(admission, call.resource, name);
    allocation = std::move(admission.allocation);
  }
  if (call.DryRun()) return JsonResponse(201, Serialize(object));
  Result<int64_t> revision =
      store_.Create(StorageKey(call.resource, call.namespace_name, name), EncodeForStore(object));
  if (!revision.ok()) return StoreErrorResponse(revision.status(), call.resource, name);
  allocation.Commit();
  Metadata(object)["resourceVersion"] = std::to_string(*revision);
  return JsonResponse(201, Serialize(object));
}

HttpResponse RestApi::Persist(const Call& call, json::object updated, int64_t mod_revision) const {
  if (call.DryRun()) return JsonResponse(200, Serialize(updated));
  Result<int64_t> revision = 0;
  if (CompletesDeletion(call.resource, updated)) {
    // The last finalizer is gone: the deletion the client asked for earlier completes now.
    revision = store_.Delete(call.Key(), mod_revision);
  } else {
    revision = store_.Update(call.Key(), EncodeForStore(updated), mod_revision);
  }
  if (!revision.ok()) return StoreErrorResponse(revision.status(), call.resource, call.name);
  Metadata(updated)["resourceVersion"] = std::to_string(*revision);
  return JsonResponse(200, Serialize(updated));
}

HttpResponse RestApi::AdmitAndPersist(const Call& call, const json::object& old,
                                      json::object updated, int64_t mod_revision) const {
  ServiceAllocator* allocator = options_.service_allocator;
  if (!AllocatesFor(allocator, call.resource) || !call.subresource.empty()) {
    return Persist(call, std::move(updated), mod_revision);
  }
  if (CompletesDeletion(call.resource, updated)) {
    HttpResponse response = Persist(call, std::move(updated), mod_revision);
    if (response.status == 200 && !call.DryRun()) allocator->Release(old);
    return response;
  }
  ServiceAdmission admission = allocator->Admit(updated, &old);
  if (!admission.ok()) return AdmissionFailureResponse(admission, call.resource, call.name);
  HttpResponse response = Persist(call, std::move(updated), mod_revision);
  if (response.status == 200 && !call.DryRun()) admission.allocation.Commit();
  return response;
}

HttpResponse RestApi::Update(const Call& call) const {
  Result<storage::KeyValue> kv = store_.Get(call.Key());
  if (!kv.ok()) return StoreErrorResponse(kv.status(), call.resource, call.name);
  Result<json::object> old = DecodeStoredObject(*kv, call.resource);
  if (!old.ok()) return StoreErrorResponse(InternalError(old.status().message()), call.resource, call.name);
  Result<json::object> body = DecodeBody(call.request);
  if (!body.ok()) return StoreErrorResponse(body.status(), call.resource, call.name);
  std::string body_name = MetadataString(*body, "name");
  if (!body_name.empty() && body_name != call.name) {
    return BadRequestResponse("the name of the object (" + body_name +
                              ") does not match the name on the URL (" + call.name + ")");
  }
  std::string body_version = MetadataString(*body, "resourceVersion");
  if (!body_version.empty() && body_version != std::to_string(kv->mod_revision)) {
    return ModifiedConflictResponse(call.resource, call.name);
  }
  if (std::optional<HttpResponse> refused =
          CheckFieldValidation(call.Param("fieldValidation"), call.resource, *body, &*old,
                               CannotBeHandledPrefix(call.resource), call.unknown_field_warnings)) {
    return *refused;
  }
  json::object updated = PrepareForUpdate(call.resource, *old, std::move(*body), call.subresource);
  return DefaultValidateAndPersist(call, *old, std::move(updated), kv->mod_revision);
}

HttpResponse RestApi::DefaultValidateAndPersist(const Call& call, const json::object& old,
                                                json::object updated,
                                                int64_t mod_revision) const {
  if (call.subresource.empty()) {
    ResourceHooks hooks = HooksFor(call.resource);
    if (hooks.defaulting) hooks.defaulting(updated);
    if (hooks.validate_update) {
      std::vector<api::FieldCause> errors = hooks.validate_update(old, updated);
      if (!errors.empty()) return InvalidResponse(call.resource, call.name, errors);
    }
  }
  return AdmitAndPersist(call, old, std::move(updated), mod_revision);
}

HttpResponse RestApi::Patch(const Call& call) const {
  const bool apply = MediaType(call.request) == kApplyPatchMediaType;
  if (apply) {
    Result<json::object> applied = api::ParseApplyConfiguration(call.request.body);
    if (!applied.ok()) return StoreErrorResponse(applied.status(), call.resource, call.name);
    if (std::optional<HttpResponse> refused = CheckAppliedIdentity(call.resource, call.name, *applied)) {
      return *refused;
    }
  }
  Result<storage::KeyValue> kv = store_.Get(call.Key());
  if (!kv.ok() && apply && kv.status().code() == StatusCode::kNotFound && call.subresource.empty()) {
    return CreateByApply(call);
  }
  if (!kv.ok()) return StoreErrorResponse(kv.status(), call.resource, call.name);
  Result<json::object> old = DecodeStoredObject(*kv, call.resource);
  if (!old.ok()) return StoreErrorResponse(InternalError(old.status().message()), call.resource, call.name);
  Result<json::object> patched = options_.apply_patch(MediaType(call.request), *old, call.request.body);
  if (!patched.ok()) return StoreErrorResponse(patched.status(), call.resource, call.name);
  std::string patched_version = MetadataString(*patched, "resourceVersion");
  if (!patched_version.empty() && patched_version != std::to_string(kv->mod_revision)) {
    return ModifiedConflictResponse(call.resource, call.name);
  }
  if (std::optional<HttpResponse> refused =
          CheckFieldValidation(call.Param("fieldValidation"), call.resource, *patched, &*old, "",
                               call.unknown_field_warnings)) {
    return *refused;
  }
  json::object updated = PrepareForUpdate(call.resource, *old, std::move(*patched), call.subresource);
  return DefaultValidateAndPersist(call, *old, std::move(updated), kv->mod_revision);
}

HttpResponse RestApi::CreateByApply(const Call& call) const {
  Result<json::object> applied = api::ParseApplyConfiguration(call.request.body);
  if (!applied.ok()) return StoreErrorResponse(applied.status(), call.resource, call.name);
  Metadata(*applied)["name"] = call.name;
  // Through Create as a JSON body, so an applied object is admitted like a POSTed one.
  HttpRequest create = call.request;
  create.method = "POST";
  create.headers["content-type"] = "application/json";
  create.body = Serialize(*applied);
  Call create_call{.request = create, .resource = call.resource,
                   .namespace_name = call.namespace_name, .name = call.name, .query = call.query};
  return Create(create_call);
}

HttpResponse RestApi::ProxyToKubelet(const Call& call) const {
  if (options_.kubelets == nullptr) {
    return ServiceUnavailableResponse("this server has no client for node agents");
  }
  Result<storage::KeyValue> kv = store_.Get(call.Key());
  if (!kv.ok()) return StoreErrorResponse(kv.status(), call.resource, call.name);
  Result<json::object> pod = DecodeStoredObject(*kv, call.resource);
  if (!pod.ok()) {
    return StoreErrorResponse(InternalError(pod.status().message()), call.resource, call.name);
  }
  std::optional<json::object> node;
  const json::value* node_name = FindPath(*pod, "spec.nodeName");
  if (node_name != nullptr && node_name->is_string() && !node_name->get_string().empty()) {
    const ResourceInfo& nodes = *FindResource("", "v1", "nodes");
    Result<storage::KeyValue> node_kv =
        store_.Get(StorageKey(nodes, "", std::string(node_name->get_string())));
    if (node_kv.ok()) {
      Result<json::object> decoded = DecodeStoredObject(*node_kv, nodes);
      if (decoded.ok()) node = std::move(*decoded);
    }
  }
  const json::object* node_object = node ? &*node : nullptr;
  return call.subresource == "log" ? options_.kubelets->PodLog(call.request, *pod, node_object)
                                   : options_.kubelets->PodExec(call.request, *pod, node_object);
}

HttpResponse RestApi::GetScale(const Call& call) const {
  Result<storage::KeyValue> kv = store_.Get(call.Key());
  if (!kv.ok()) return StoreErrorResponse(kv.status(), call.resource, call.name);
  Result<json::object> object = DecodeStoredObject(*kv, call.resource);
  if (!object.ok()) return StoreErrorResponse(InternalError(object.status().message()), call.resource, call.name);
  return JsonResponse(200, Serialize(ScaleOf(*object)));
}

HttpResponse RestApi::WriteScale(const Call& call) const {
  Result<storage::KeyValue> kv = store_.Get(call.Key());
  if (!kv.ok()) return StoreErrorResponse(kv.status(), call.resource, call.name);
  Result<json::object> object = DecodeStoredObject(*kv, call.resource);
  if (!object.ok()) return StoreErrorResponse(InternalError(object.status().message()), call.resource, call.name);
  json::object scale = ScaleOf(*object);
  Result<json::object> requested =
      call.request.method == "PUT"
          ? DecodeBody(call.request)
          : options_.apply_patch(MediaType(call.request), scale, call.request.body);
  if (!requested.ok()) return StoreErrorResponse(requested.status(), call.resource, call.name);
  std::string version = MetadataString(*requested, "resourceVersion");
  if (!version.empty() && version != std::to_string(kv->mod_revision)) {
    return ModifiedConflictResponse(call.resource, call.name);
  }
  Result<int64_t> replicas = GetInt64(*requested, "spec.replicas");
  if (!replicas.ok() || *replicas < 0) {
    return InvalidResponse(call.resource, call.name,
                           {{.reason = "FieldValueInvalid",
                             .message = "Invalid value: must be greater than or equal to 0",
                             .field = "spec.replicas"}});
  }
  json::object updated = *object;
  json::value& spec = updated["spec"];
  if (!spec.is_object()) spec = json::object();
  spec.as_object()["replicas"] = *replicas;
  updated = PrepareForUpdate(call.resource, *object, std::move(updated), "");
  HttpResponse stored = Persist(call, std::move(updated), kv->mod_revision);
  if (stored.status != 200) return stored;
  Result<json::object> result = ParseJsonObject(stored.body);
  if (!result.ok()) return stored;
  return JsonResponse(200, Serialize(ScaleOf(*result)));
}

namespace {

// As Kubernetes' binding REST: a bound pod's PodScheduled condition turns True (the
// scheduler may have set it False while the pod fit nowhere).
std::string_view FieldOr(const json::object& object, std::string_view key) {
  const json::value* field = object.if_contains(key);
  return field && field->is_string() ? std::string_view(field->get_string()) : "";
}

void SetPodScheduled(json::object& pod, const std::string& now) {
  json::value& status = pod["status"];
  if (!status.is_object()) status = json::object();
  json::value& conditions = status.as_object()["conditions"];
  if (!conditions.is_array()) conditions = json::array();
  for (json::value& entry : conditions.as_array()) {
    json::object* condition = entry.if_object();
    if (condition == nullptr || FieldOr(*condition, "type") != "PodScheduled") continue;
    if (FieldOr(*condition, "status") != "True") {
      (*condition)["status"] = "True";
      (*condition)["lastTransitionTime"] = now;
    }
    condition->erase("reason");
    condition->erase("message");
    (*condition)["lastProbeTime"] = nullptr;
    return;
  }
  conditions.as_array().push_back(json::object{{"type", "PodScheduled"},
                                               {"status", "True"},
                                               {"lastProbeTime", nullptr},
                                               {"lastTransitionTime", now}});
}

}  // namespace

HttpResponse RestApi::Bind(const Call& call) const {
  Result<json::object> binding = DecodeBody(call.request);
  if (!binding.ok()) return StoreErrorResponse(binding.status(), call.resource, call.name);
  Result<std::string> node = GetString(*binding, "target.name");
  if (!node.ok() || node->empty()) return BadRequestResponse("binding target.name is required");
  Result<storage::KeyValue> kv = store_.Get(call.Key());
  if (!kv.ok()) return StoreErrorResponse(kv.status(), call.resource, call.name);
  Result<json::object> pod = DecodeStoredObject(*kv, call.resource);
  if (!pod.ok()) {
    return StoreErrorResponse(InternalError(pod.status().message()), call.resource, call.name);
  }
  Result<std::optional<std::string>> assigned = FindString(*pod, "spec.nodeName");
  if (assigned.ok() && *assigned && !(*assigned)->empty()) {
    return ConflictResponse(call.resource, call.name,
                            "pod " + call.name + " is already assigned to node \"" + **assigned + "\"");
  }
  json::value& spec = (*pod)["spec"];
  if (!spec.is_object()) spec = json::object();
  spec.as_object()["nodeName"] = *node;
  SetPodScheduled(*pod, Rfc3339(clock_.WallNow()));
  Result<int64_t> revision = store_.Update(call.Key(), EncodeForStore(*pod), kv->mod_revision);
  if (!revision.ok()) return StoreErrorResponse(revision.status(), call.resource, call.name);
  json::object success{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()},
                       {"status", "Success"}, {"code", 201}};
  return JsonResponse(201, Serialize(success));
}

HttpResponse RestApi::Delete(const Call& call) const {
  Result<storage::KeyValue> kv = store_.Get(call.Key());
  if (!kv.ok()) return StoreErrorResponse(kv.status(), call.resource, call.name);
  json::object options;
  if (!call.request.body.empty()) {
    Result<json::object> parsed = ParseJsonObject(call.request.body);
    if (!parsed.ok()) return BadRequestResponse(parsed.status().message());
    options = std::move(*parsed);
  }
  Result<std::optional<std::string>> policy = FindString(options, "propagationPolicy");
  if (!call.Param("propagationPolicy").empty()) {
    policy = std::optional<std::string>(call.Param("propagationPolicy"));
  }
  if (!policy.ok() || (*policy && **policy != "Orphan" && **policy != "Background" &&
                       **policy != "Foreground")) {
    return BadRequestResponse("propagationPolicy must be Orphan, Background or Foreground");
  }
  Result<std::optional<bool>> orphan_dependents = FindBool(options, "orphanDependents");
  std::string propagation = policy->value_or("");
  if (propagation.empty() && orphan_dependents.ok() && orphan_dependents->value_or(false)) {
    propagation = "Orphan";
  }
  Result<std::optional<int64_t>> grace = FindInt64(options, "gracePeriodSeconds");
  if (!grace.ok()) return BadRequestResponse(grace.status().message());
  int64_t grace_seconds = grace->value_or(-1);
  if (!call.Param("gracePeriodSeconds").empty()) {
    std::optional<int64_t> from_query = ParseInt(call.Param("gracePeriodSeconds"));
    if (!from_query) return BadRequestResponse("gracePeriodSeconds must be an integer");
    grace_seconds = *from_query;
  }
  Result<std::optional<std::string>> uid = FindString(options, "preconditions.uid");
  Result<std::optional<std::string>> version = FindString(options, "preconditions.resourceVersion");
  Result<json::object> current = DecodeStoredObject(*kv, call.resource);
  if (!current.ok()) return StoreErrorResponse(InternalError(current.status().message()), call.resource, call.name);
  if ((uid.ok() && *uid && **uid != MetadataString(*current, "uid")) ||
      (version.ok() && *version && **version != std::to_string(kv->mod_revision))) {
    return ConflictResponse(call.resource, call.name, "the precondition for the delete does not hold");
  }
  if (call.DryRun()) return JsonResponse(200, Serialize(*current));
  Result<json::object> deleted = DeleteObject(call, *kv, grace_seconds, propagation);
  if (!deleted.ok()) return StoreErrorResponse(deleted.status(), call.resource, call.name);
  return JsonResponse(200, Serialize(*deleted));
}

Result<json::object> RestApi::DeleteObject(const Call& call, const storage::KeyValue& kv,
                                           int64_t grace_seconds,
                                           std::string_view propagation) const {
  KELP_ASSIGN_OR_RETURN(json::object object, DecodeStoredObject(kv, call.resource));
  const std::string key = kv.key;
  const bool is_namespace = IsResource(call.resource, "", "namespaces");
  const bool is_pod = IsResource(call.resource, "", "pods");
  Result<std::optional<std::string>> node = FindString(object, "spec.nodeName");
  const bool pod_on_node = is_pod && node.ok() && *node && !(*node)->empty();
  if (pod_on_node && grace_seconds < 0) {
    Result<std::optional<int64_t>> spec_grace =
        FindInt64(object, "spec.terminationGracePeriodSeconds");
    grace_seconds = spec_grace.ok() ? spec_grace->value_or(kDefaultPodGraceSeconds)
                                    : kDefaultPodGraceSeconds;
  }
  const bool graceful = pod_on_node && grace_seconds > 0;
  // Foreground and Orphan leave the object to the garbage collector behind a finalizer.
  const std::string_view finalizer = is_namespace ? "" : PropagationFinalizer(propagation);
  const bool finalizer_added = !finalizer.empty() && AddFinalizer(object, finalizer);
  const bool waits =
      HasFinalizers(object) || HasNamespaceFinalizers(call.resource, object) || graceful;
  if (waits) {
    json::object& metadata = Metadata(object);
    const bool shortens = BeingDeleted(object) && grace_seconds == 0 &&
                          GetInt64(metadata, "deletionGracePeriodSeconds").value_or(0) > 0;
    if (BeingDeleted(object) && !finalizer_added && !shortens) return object;
    if (!BeingDeleted(object) || shortens) {
      int64_t wait = graceful ? grace_seconds : 0;
      metadata["deletionTimestamp"] = Rfc3339(clock_.WallNow() + std::chrono::seconds(wait));
      metadata["deletionGracePeriodSeconds"] = wait;
    }
    if (is_namespace) object["status"] = json::object{{"phase", "Terminating"}};
    KELP_ASSIGN_OR_RETURN(int64_t revision,
                          store_.Update(key, EncodeForStore(object), kv.mod_revision));
    Metadata(object)["resourceVersion"] = std::to_string(revision);
    return object;
  }
  KELP_ASSIGN_OR_RETURN(int64_t revision, store_.Delete(key, kv.mod_revision));
  ReleaseIfService(options_.service_allocator, call.resource, object);
  Metadata(object)["resourceVersion"] = std::to_string(revision);
  return object;
}

HttpResponse RestApi::Finalize(const Call& call) const {
  Result<storage::KeyValue> kv = store_.Get(call.Key());
  if (!kv.ok()) return StoreErrorResponse(kv.status(), call.resource, call.name);
  Result<json::object> old = DecodeStoredObject(*kv, call.resource);
  if (!old.ok()) return StoreErrorResponse(InternalError(old.status().message()), call.resource, call.name);
  Result<json::object> body = DecodeBody(call.request);
  if (!body.ok()) return StoreErrorResponse(body.status(), call.resource, call.name);
  std::string body_name = MetadataString(*body, "name");
  if (!body_name.empty() && body_name != call.name) {
    return BadRequestResponse("the name of the object (" + body_name +
                              ") does not match the name on the URL (" + call.name + ")");
  }
  std::string body_version = MetadataString(*body, "resourceVersion");
  if (!body_version.empty() && body_version != std::to_string(kv->mod_revision)) {
    return ModifiedConflictResponse(call.resource, call.name);
  }
  // Only spec.finalizers changes through finalize, as in Kubernetes.
  Result<const json::array*> finalizers = FindArray(*body, "spec.finalizers");
  if (!finalizers.ok()) return BadRequestResponse(finalizers.status().message());
  json::object updated = *old;
  json::value& spec = updated["spec"];
  if (!spec.is_object()) spec = json::object();
  if (*finalizers == nullptr) {
    spec.as_object().erase("finalizers");
  } else {
    spec.as_object()["finalizers"] = **finalizers;
  }
  return Persist(call, std::move(updated), kv->mod_revision);
}

HttpResponse RestApi::DeleteCollection(const Call& call) const {
  Result<ObjectFilter> filter = ObjectFilter::Parse(
      call.Param("labelSelector"), call.Param("fieldSelector"), call.resource.plural);
  if (!filter.ok()) return BadRequestResponse(filter.status().message());
  Result<storage::ListResult> current =
      store_.List(StoragePrefix(call.resource, call.namespace_name), {});
  if (!current.ok()) return StoreErrorResponse(current.status(), call.resource, "");
  json::array items;
  for (const storage::KeyValue& kv : current->items) {
    Result<json::object> object = DecodeStoredObject(kv, call.resource);
    if (!object.ok() || !filter->Matches(*object)) continue;
    if (call.DryRun()) {
      items.push_back(std::move(*object));
      continue;
    }
    Call one = call;
    one.name = MetadataString(*object, "name");
    one.namespace_name = MetadataString(*object, "namespace");
    Result<json::object> deleted = DeleteObject(one, kv, -1, "");
    if (deleted.ok()) items.push_back(std::move(*deleted));
    else if (deleted.status().code() != StatusCode::kNotFound &&
             deleted.status().code() != StatusCode::kConflict) {
      return StoreErrorResponse(deleted.status(), call.resource, one.name);
    }
  }
  json::object list{{"kind", call.resource.kind + "List"},
                    {"apiVersion", call.resource.ApiVersion()},
                    {"metadata", json::object{{"resourceVersion",
                                               std::to_string(store_.CurrentRevision())}}},
                    {"items", std::move(items)}};
  return JsonResponse(200, Serialize(list));
}

Status RestApi::EnsureDefaultNamespaces() const {
  const ResourceInfo& namespaces = *FindResource("", "v1", "namespaces");
  for (const char* name : kDefaultNamespaces) {
    json::object object{{"metadata", json::object{{"name", name}}}};
    PrepareForCreate(namespaces, object, clock_);
    Result<int64_t> created = store_.Create(StorageKey(namespaces, "", name), EncodeForStore(object));
    if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists) {
      return created.status().WithContext("create namespace " + std::string(name));
    }
  }
  return Status::Ok();
}

}  // namespace kelp::apiserver
