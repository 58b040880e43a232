// FakeApiClient: the in-memory apiserver stand-in. One mutex guards the objects, the event log
// and the list of open watches; each watch has its own queue so a blocked Next() never holds
// the fake's lock. Selectors and patches reuse kelp_api, so they behave as the real server's.
#include "client/testing/fake_api_client.h"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>

#include <boost/json.hpp>
#include <fmt/chrono.h>

#include "api/apply.h"
#include "api/patch.h"
#include "api/selectors.h"
#include "common/json.h"

namespace kelp::client::testing {
namespace {

namespace json = boost::json;

std::string ResourceId(const Resource& resource) {
  return std::string(resource.group) + "/" + std::string(resource.plural);
}

std::string KindOf(const Resource& resource) {
  static const std::map<std::string, std::string, std::less<>> kKinds = {
      {"namespaces", "Namespace"},   {"nodes", "Node"},
      {"pods", "Pod"},               {"services", "Service"},
      {"endpoints", "Endpoints"},    {"configmaps", "ConfigMap"},
      {"secrets", "Secret"},         {"events", "Event"},
      {"serviceaccounts", "ServiceAccount"}, {"deployments", "Deployment"},
      {"replicasets", "ReplicaSet"}, {"daemonsets", "DaemonSet"},
      {"horizontalpodautoscalers", "HorizontalPodAutoscaler"},
      {"leases", "Lease"},           {"endpointslices", "EndpointSlice"},
  };
  auto it = kKinds.find(resource.plural);
  return it == kKinds.end() ? "" : it->second;
}

json::object& Metadata(json::object& object) {
  json::value& metadata = object["metadata"];
  if (!metadata.is_object()) metadata = json::object();
  return metadata.as_object();
}

std::string MetadataString(const json::object& object, std::string_view field) {
  const json::value* value = FindPath(object, "metadata." + std::string(field));
  return value && value->is_string() ? std::string(value->as_string()) : "";
}

bool HasNonEmptyArray(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  return value && value->is_array() && !value->as_array().empty();
}

std::string Rfc3339(std::chrono::system_clock::time_point time) {
  return fmt::format("{:%FT%TZ}", std::chrono::floor<std::chrono::seconds>(time));
}

std::string RandomSuffix(std::mt19937& random) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string suffix;
  for (int i = 0; i < 5; ++i) suffix += kAlphabet[random() % kAlphabet.size()];
  return suffix;
}

std::string NewUid(std::mt19937& random) {
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string uid;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) uid += '-';
    uid += kHex[random() % 16];
  }
  return uid;
}

struct Filter {
  std::string namespace_name;
  api::LabelSelector labels;
  api::FieldSelector fields;

  bool Matches(const json::object& object) const {
    if (!namespace_name.empty() && MetadataString(object, "namespace") != namespace_name) {
      return false;
    }
    const json::value* object_labels = FindPath(object, "metadata.labels");
    if (!labels.Matches(object_labels && object_labels->is_object() ? &object_labels->as_object()
                                                                    : nullptr)) {
      return false;
    }
    return fields.Matches(object);
  }
};

Result<Filter> MakeFilter(const Resource& resource, std::string_view namespace_name,
                          const ListOptions& options) {
  Filter filter;
  if (resource.namespaced) filter.namespace_name = std::string(namespace_name);
  KELP_ASSIGN_OR_RETURN(filter.labels, api::LabelSelector::Parse(options.label_selector));
  KELP_ASSIGN_OR_RETURN(filter.fields,
                        api::FieldSelector::Parse(options.field_selector, resource.plural));
  return filter;
}

// The queue behind one open watch, shared by the fake (producer) and the stream (consumer).
struct WatchChannel {
  std::string resource_id;
  Filter filter;
  std::mutex mutex;  // guards events, ended, cancelled, expired
  std::condition_variable changed;
  std::deque<WatchEvent> events;
  bool ended = false;
  bool cancelled = false;
  bool expired = false;
};

class FakeWatchStream final : public WatchStream {
 public:
  explicit FakeWatchStream(std::shared_ptr<WatchChannel> channel) : channel_(std::move(channel)) {}
  ~FakeWatchStream() override { Cancel(); }

  Result<std::optional<WatchEvent>> Next() override {
    std::unique_lock lock(channel_->mutex);
    channel_->changed.wait(lock, [&] {
      return channel_->cancelled || channel_->expired || !channel_->events.empty() ||
             channel_->ended;
    });
    if (channel_->cancelled) return CancelledError("watch cancelled");
    if (channel_->expired) return ExpiredError("too old resource version");
    if (!channel_->events.empty()) {
      WatchEvent event = std::move(channel_->events.front());
      channel_->events.pop_front();
      return std::optional<WatchEvent>(std::move(event));
    }
    return std::optional<WatchEvent>();
  }

  void Cancel() override {
    std::lock_guard lock(channel_->mutex);
    channel_->cancelled = true;
    channel_->changed.notify_all();
  }

 private:
  std::shared_ptr<WatchChannel> channel_;
};

struct LoggedEvent {
  int64_t revision = 0;
  std::string resource_id;
  WatchEvent::Type type = WatchEvent::Type::kAdded;
  std::optional<json::object> before;  // the previous state of a modification
  json::object after;
};

}  // namespace

struct FakeApiClient::State {
  explicit State(Clock& clock) : clock(clock) {}

  Clock& clock;
  mutable std::mutex mutex;  // guards everything below
  int64_t revision = 1;
  int64_t compacted_revision = 0;
  std::mt19937 random{42};
  // resource id → key → object
  std::map<std::string, std::map<std::string, json::object>> objects;
  std::vector<LoggedEvent> log;
  std::vector<std::weak_ptr<WatchChannel>> watches;
  std::vector<Action> actions;
  int fail_count = 0;
  Status fail_status;

  // Record a write; returns the injected failure, if any. Holds `mutex`.
  Status Record(std::string verb, const Resource& resource, std::string_view namespace_name,
                std::string_view name, const json::object& body) {
    actions.push_back({std::move(verb), std::string(resource.plural),
                       resource.namespaced ? std::string(namespace_name) : "", std::string(name),
                       body});
    if (fail_count > 0) {
      --fail_count;
      return fail_status;
    }
    return Status::Ok();
  }

  // Delivers one change to the log and every matching watch. Holds `mutex`.
  void Publish(const std::string& resource_id, WatchEvent::Type type,
               std::optional<json::object> before, const json::object& after) {
    log.push_back({revision, resource_id, type, before, after});
    std::erase_if(watches, [](const std::weak_ptr<WatchChannel>& w) { return w.expired(); });
    for (const std::weak_ptr<WatchChannel>& weak : watches) {
      std::shared_ptr<WatchChannel> channel = weak.lock();
      if (channel && channel->resource_id == resource_id) Deliver(*channel, log.back());
    }
  }

  static void Deliver(WatchChannel& channel, const LoggedEvent& event) {
    std::optional<WatchEvent> out = Translate(channel.filter, event);
    if (!out) return;
    std::lock_guard lock(channel.mutex);
    channel.events.push_back(std::move(*out));
    channel.changed.notify_all();
  }

  // As the apiserver: a modification that moves an object into or out of the selection is an
  // ADDED or DELETED for that watch.
  static std::optional<WatchEvent> Translate(const Filter& filter, const LoggedEvent& event) {
    bool now_selected = filter.Matches(event.after);
    if (event.type != WatchEvent::Type::kModified || !event.before) {
      if (!now_selected) return std::nullopt;
      return WatchEvent{event.type, event.after};
    }
    bool was_selected = filter.Matches(*event.before);
    if (was_selected && now_selected) return WatchEvent{WatchEvent::Type::kModified, event.after};
    if (now_selected) return WatchEvent{WatchEvent::Type::kAdded, event.after};
    if (was_selected) {
      json::object last = *event.before;
      Metadata(last)["resourceVersion"] = std::to_string(event.revision);
      return WatchEvent{WatchEvent::Type::kDeleted, std::move(last)};
    }
    return std::nullopt;
  }

  // Stores `object` (already prepared) under a new revision. Holds `mutex`.
  json::object Store(const Resource& resource, const std::string& key, json::object object,
                     WatchEvent::Type type, std::optional<json::object> before) {
    ++revision;
    Metadata(object)["resourceVersion"] = std::to_string(revision);
    const std::string id = ResourceId(resource);
    if (type == WatchEvent::Type::kDeleted) {
      objects[id].erase(key);
    } else {
      objects[id][key] = object;
    }
    Publish(id, type, std::move(before), object);
    return object;
  }

  json::object* Find(const Resource& resource, const std::string& key) {
    auto by_resource = objects.find(ResourceId(resource));
    if (by_resource == objects.end()) return nullptr;
    auto it = by_resource->second.find(key);
    return it == by_resource->second.end() ? nullptr : &it->second;
  }

  // Fills what the server owns on a new object. Holds `mutex`.
  Status PrepareCreate(const Resource& resource, std::string_view namespace_name,
                       json::object& object) {
    object["apiVersion"] = resource.ApiVersion();
    if (std::string kind = KindOf(resource); !kind.empty()) object["kind"] = kind;
    json::object& metadata = Metadata(object);
    if (resource.namespaced) {
      std::string body_namespace = MetadataString(object, "namespace");
      if (!namespace_name.empty()) {
        if (!body_namespace.empty() && body_namespace != namespace_name) {
          return InvalidArgumentError(
              "the namespace of the provided object does not match the namespace sent on the "
              "request");
        }
        metadata["namespace"] = std::string(namespace_name);
      } else if (body_namespace.empty()) {
        return InvalidArgumentError("a namespace is required for " +
                                    std::string(resource.plural));
      }
    } else {
      metadata.erase("namespace");
    }
    std::string name = MetadataString(object, "name");
    std::string generate_name = MetadataString(object, "generateName");
    if (name.empty() && !generate_name.empty()) {
      name = generate_name + RandomSuffix(random);
      metadata["name"] = name;
    }
    if (name.empty()) {
      return InvalidArgumentError("metadata.name: Required value: name or generateName is required");
    }
    for (const char* field : {"resourceVersion", "deletionTimestamp",
                              "deletionGracePeriodSeconds"}) {
      metadata.erase(field);
    }
    metadata["uid"] = NewUid(random);
    metadata["creationTimestamp"] = Rfc3339(clock.WallNow());
    if (object.contains("spec")) metadata["generation"] = 1;
    if (resource == kNamespaces) {
      json::value& spec = object["spec"];
      if (!spec.is_object()) spec = json::object();
      if (!spec.as_object().contains("finalizers")) {
        spec.as_object()["finalizers"] = json::array{"kubernetes"};
      }
      object["status"] = json::object{{"phase", "Active"}};
    } else if (resource == kPods && !object.contains("status")) {
      object["status"] = json::object{{"phase", "Pending"}};
    }
    return Status::Ok();
  }

  Result<json::object> CreateLocked(const Resource& resource, std::string_view namespace_name,
                                    json::object object) {
    KELP_RETURN_IF_ERROR(PrepareCreate(resource, namespace_name, object));
    const std::string key = ObjectKey(object);
    if (Find(resource, key) != nullptr) {
      return AlreadyExistsError(std::string(resource.plural) + " \"" +
                                MetadataString(object, "name") + "\" already exists");
    }
    if (resource.namespaced && !objects[ResourceId(kNamespaces)].empty()) {
      json::object* ns = Find(kNamespaces, MetadataString(object, "namespace"));
      if (ns != nullptr && !MetadataString(*ns, "deletionTimestamp").empty()) {
        return PermissionDeniedError(std::string(resource.plural) + " \"" +
                                     MetadataString(object, "name") +
                                     "\" is forbidden: unable to create new content in namespace " +
                                     MetadataString(object, "namespace") +
                                     " because it is being terminated");
      }
    }
    return Store(resource, key, std::move(object), WatchEvent::Type::kAdded, std::nullopt);
  }

  // The last finalizer of an object being deleted went: the deletion completes (pods wait for
  // their node to delete them with grace 0; namespaces also wait for spec.finalizers).
  static bool CompletesDeletion(const Resource& resource, const json::object& object) {
    if (MetadataString(object, "deletionTimestamp").empty()) return false;
    if (HasNonEmptyArray(object, "metadata.finalizers")) return false;
    if (resource == kNamespaces) return !HasNonEmptyArray(object, "spec.finalizers");
    return resource != kPods;
  }

  // Stores the new state of an existing object, completing a pending deletion when the last
  // finalizer went. Holds `mutex`.
  json::object Replace(const Resource& resource, const std::string& key, const json::object& old,
                       json::object updated) {
    if (CompletesDeletion(resource, updated)) {
      return Store(resource, key, std::move(updated), WatchEvent::Type::kDeleted, std::nullopt);
    }
    return Store(resource, key, std::move(updated), WatchEvent::Type::kModified, old);
  }

  // `updated` as stored over `old`, as the apiserver's PrepareForUpdate.
  static json::object PrepareUpdate(const Resource& resource, const json::object& old,
                                    json::object updated, std::string_view subresource) {
    if (subresource == "status") {
      json::object result = old;
      if (const json::value* status = updated.if_contains("status")) {
        result["status"] = *status;
      } else {
        result.erase("status");
      }
      return result;
    }
    if (subresource == "finalize") {
      json::object result = old;
      const json::value* finalizers = FindPath(updated, "spec.finalizers");
      json::value& spec = result["spec"];
      if (!spec.is_object()) spec = json::object();
      spec.as_object()["finalizers"] = finalizers ? *finalizers : json::value(json::array());
      return result;
    }
    updated["apiVersion"] = old.contains("apiVersion") ? old.at("apiVersion") : json::value();
    if (old.contains("kind")) updated["kind"] = old.at("kind");
    json::object& metadata = Metadata(updated);
    const json::value* old_metadata = old.if_contains("metadata");
    for (const char* field : {"name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                              "deletionGracePeriodSeconds", "generation"}) {
      const json::value* value = old_metadata && old_metadata->is_object()
                                     ? old_metadata->as_object().if_contains(field)
                                     : nullptr;
      if (value) {
        metadata[field] = *value;
      } else {
        metadata.erase(field);
      }
    }
    if (resource != kNamespaces && resource != kConfigMaps && resource != kSecrets &&
        resource != kEndpoints && resource != kEvents && resource != kServiceAccounts &&
        resource != kLeases && resource != kEndpointSlices) {
      // Resources with a status subresource keep their status on a main-resource update.
      if (const json::value* status = old.if_contains("status")) {
        updated["status"] = *status;
      } else {
        updated.erase("status");
      }
    }
    const json::value* old_spec = old.if_contains("spec");
    const json::value* new_spec = updated.if_contains("spec");
    bool spec_changed = (old_spec == nullptr) != (new_spec == nullptr) ||
                        (old_spec && new_spec && *old_spec != *new_spec);
    if (spec_changed && metadata.contains("generation")) {
      Result<int64_t> generation = GetInt64(metadata, "generation");
      metadata["generation"] = (generation.ok() ? *generation : 0) + 1;
    }
    return updated;
  }
};

FakeApiClient::FakeApiClient(Clock& clock) : state_(std::make_unique<State>(clock)) {}

FakeApiClient::~FakeApiClient() = default;

json::object FakeApiClient::Seed(const Resource& resource, json::object object) {
  std::lock_guard lock(state_->mutex);
  std::string namespace_name = MetadataString(object, "namespace");
  if (resource.namespaced && namespace_name.empty()) namespace_name = "default";
  Result<json::object> created = state_->CreateLocked(resource, namespace_name, std::move(object));
  return created.ok() ? std::move(*created) : json::object();
}

std::vector<Action> FakeApiClient::Actions() const {
  std::lock_guard lock(state_->mutex);
  return state_->actions;
}

void FakeApiClient::ClearActions() {
  std::lock_guard lock(state_->mutex);
  state_->actions.clear();
}

void FakeApiClient::FailNext(int count, Status status) {
  std::lock_guard lock(state_->mutex);
  state_->fail_count = count;
  state_->fail_status = std::move(status);
}

void FakeApiClient::CompactHistory() {
  std::lock_guard lock(state_->mutex);
  state_->compacted_revision = state_->revision;
  state_->log.clear();
}

void FakeApiClient::EndWatches() {
  std::lock_guard lock(state_->mutex);
  for (const std::weak_ptr<WatchChannel>& weak : state_->watches) {
    if (std::shared_ptr<WatchChannel> channel = weak.lock()) {
      std::lock_guard channel_lock(channel->mutex);
      channel->ended = true;
      channel->changed.notify_all();
    }
  }
  state_->watches.clear();
}

size_t FakeApiClient::OpenWatches() const {
  std::lock_guard lock(state_->mutex);
  size_t open = 0;
  for (const std::weak_ptr<WatchChannel>& weak : state_->watches) {
    std::shared_ptr<WatchChannel> channel = weak.lock();
    if (!channel) continue;
    std::lock_guard channel_lock(channel->mutex);
    if (!channel->cancelled) ++open;
  }
  return open;
}

Result<json::object> FakeApiClient::Get(const Resource& resource, std::string_view namespace_name,
                                        std::string_view name) {
  std::lock_guard lock(state_->mutex);
  std::string key = resource.namespaced ? std::string(namespace_name) + "/" + std::string(name)
                                        : std::string(name);
  const json::object* object = state_->Find(resource, key);
  if (object == nullptr) {
    return NotFoundError(std::string(resource.plural) + " \"" + std::string(name) +
                         "\" not found");
  }
  return *object;
}

Result<ListResult> FakeApiClient::List(const Resource& resource, std::string_view namespace_name,
                                       const ListOptions& options) {
  KELP_ASSIGN_OR_RETURN(Filter filter, MakeFilter(resource, namespace_name, options));
  std::lock_guard lock(state_->mutex);
  ListResult result;
  result.resource_version = std::to_string(state_->revision);
  const auto& objects = state_->objects[ResourceId(resource)];
  auto it = options.continue_token.empty() ? objects.begin()
                                           : objects.upper_bound(options.continue_token);
  for (; it != objects.end(); ++it) {
    if (!filter.Matches(it->second)) continue;
    if (options.limit > 0 && static_cast<int64_t>(result.items.size()) == options.limit) {
      result.continue_token = std::prev(it)->first;
      break;
    }
    result.items.push_back(it->second);
  }
  return result;
}

Result<json::object> FakeApiClient::Create(const Resource& resource,
                                           std::string_view namespace_name,
                                           const json::object& object) {
  std::lock_guard lock(state_->mutex);
  KELP_RETURN_IF_ERROR(
      state_->Record("create", resource, namespace_name, MetadataString(object, "name"), object));
  return state_->CreateLocked(resource, namespace_name, object);
}

Result<json::object> FakeApiClient::CreateSubresource(const Resource& resource,
                                                      std::string_view namespace_name,
                                                      std::string_view name,
                                                      std::string_view subresource,
                                                      const json::object& object) {
  std::lock_guard lock(state_->mutex);
  KELP_RETURN_IF_ERROR(state_->Record("create/" + std::string(subresource), resource,
                                      namespace_name, name, object));
  if (resource != kPods || subresource != "binding") {
    return NotFoundError("the server could not find the requested resource (" +
                         std::string(resource.plural) + "/" + std::string(subresource) + ")");
  }
  std::string key = std::string(namespace_name) + "/" + std::string(name);
  json::object* pod = state_->Find(resource, key);
  if (pod == nullptr) return NotFoundError("pods \"" + std::string(name) + "\" not found");
  Result<std::string> node = GetString(object, "target.name");
  if (!node.ok() || node->empty()) return InvalidArgumentError("binding target.name is required");
  const json::value* assigned = FindPath(*pod, "spec.nodeName");
  if (assigned && assigned->is_string() && !assigned->as_string().empty()) {
    return ConflictError("pod " + std::string(name) + " is already assigned to node \"" +
                         std::string(assigned->as_string()) + "\"");
  }
  json::object old = *pod;
  json::object updated = old;
  json::value& spec = updated["spec"];
  if (!spec.is_object()) spec = json::object();
  spec.as_object()["nodeName"] = *node;
  state_->Replace(resource, key, old, std::move(updated));
  return json::object{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()},
                      {"status", "Success"}, {"code", 201}};
}

Result<json::object> FakeApiClient::Update(const Resource& resource, const json::object& object,
                                           std::string_view subresource) {
  std::lock_guard lock(state_->mutex);
  std::string verb = subresource.empty() ? "update" : "update/" + std::string(subresource);
  std::string namespace_name = resource.namespaced ? MetadataString(object, "namespace") : "";
  std::string name = MetadataString(object, "name");
  KELP_RETURN_IF_ERROR(state_->Record(verb, resource, namespace_name, name, object));
  std::string key = resource.namespaced ? namespace_name + "/" + name : name;
  json::object* current = state_->Find(resource, key);
  if (current == nullptr) {
    return NotFoundError(std::string(resource.plural) + " \"" + name + "\" not found");
  }
  std::string expected = MetadataString(object, "resourceVersion");
  if (!expected.empty() && expected != MetadataString(*current, "resourceVersion")) {
    return ConflictError("Operation cannot be fulfilled on " + std::string(resource.plural) +
                         " \"" + name +
                         "\": the object has been modified; please apply your changes to the "
                         "latest version and try again");
  }
  json::object old = *current;
  json::object updated = State::PrepareUpdate(resource, old, object, subresource);
  return state_->Replace(resource, key, old, std::move(updated));
}

Result<json::object> FakeApiClient::Patch(const Resource& resource,
                                          std::string_view namespace_name, std::string_view name,
                                          PatchType type, std::string_view body,
                                          std::string_view subresource) {
  std::lock_guard lock(state_->mutex);
  std::string verb = subresource.empty() ? "patch" : "patch/" + std::string(subresource);
  json::object recorded;
  if (Result<json::value> parsed = ParseJson(body); parsed.ok() && parsed->is_object()) {
    recorded = std::move(parsed->as_object());
  }
  KELP_RETURN_IF_ERROR(state_->Record(verb, resource, namespace_name, name, recorded));
  std::string key = resource.namespaced ? std::string(namespace_name) + "/" + std::string(name)
                                        : std::string(name);
  json::object* current = state_->Find(resource, key);
  if (current == nullptr) {
    if (type == PatchType::kApply && subresource.empty()) {
      KELP_ASSIGN_OR_RETURN(json::object applied, api::ParseApplyConfiguration(body));
      Metadata(applied)["name"] = std::string(name);
      return state_->CreateLocked(resource, namespace_name, std::move(applied));
    }
    return NotFoundError(std::string(resource.plural) + " \"" + std::string(name) +
                         "\" not found");
  }
  json::object old = *current;
  json::value patched;
  switch (type) {
    case PatchType::kJson: {
      KELP_ASSIGN_OR_RETURN(patched, api::ApplyJsonPatch(old, body));
      break;
    }
    case PatchType::kMerge: {
      KELP_ASSIGN_OR_RETURN(patched, api::ApplyMergePatch(old, body));
      break;
    }
    case PatchType::kStrategicMerge: {
      KELP_ASSIGN_OR_RETURN(patched,
                            api::ApplyStrategicMergePatch(old, body, api::KubernetesPatchSchema()));
      break;
    }
    case PatchType::kApply: {
      KELP_ASSIGN_OR_RETURN(json::object applied, api::ParseApplyConfiguration(body));
      KELP_ASSIGN_OR_RETURN(json::object merged, api::MergeApplyConfiguration(
                                                     old, applied, api::KubernetesPatchSchema()));
      patched = std::move(merged);
      break;
    }
  }
  if (!patched.is_object()) return InvalidArgumentError("the patch does not leave an object");
  std::string expected = MetadataString(patched.as_object(), "resourceVersion");
  if (!expected.empty() && expected != MetadataString(old, "resourceVersion")) {
    return ConflictError("Operation cannot be fulfilled on " + std::string(resource.plural) +
                         " \"" + std::string(name) + "\": the object has been modified");
  }
  json::object updated =
      State::PrepareUpdate(resource, old, std::move(patched.as_object()), subresource);
  return state_->Replace(resource, key, old, std::move(updated));
}

Status FakeApiClient::Delete(const Resource& resource, std::string_view namespace_name,
                             std::string_view name, const DeleteOptions& options) {
  std::lock_guard lock(state_->mutex);
  KELP_RETURN_IF_ERROR(state_->Record("delete", resource, namespace_name, name, {}));
  std::string key = resource.namespaced ? std::string(namespace_name) + "/" + std::string(name)
                                        : std::string(name);
  json::object* current = state_->Find(resource, key);
  if (current == nullptr) {
    return NotFoundError(std::string(resource.plural) + " \"" + std::string(name) +
                         "\" not found");
  }
  if ((!options.precondition_uid.empty() &&
       options.precondition_uid != MetadataString(*current, "uid")) ||
      (!options.precondition_resource_version.empty() &&
       options.precondition_resource_version != MetadataString(*current, "resourceVersion"))) {
    return ConflictError("the precondition for the delete does not hold");
  }
  json::object old = *current;
  int64_t grace = options.grace_period_seconds.value_or(-1);
  const json::value* node = FindPath(old, "spec.nodeName");
  bool on_node = resource == kPods && node && node->is_string() && !node->as_string().empty();
  if (on_node && grace < 0) {
    const json::value* spec_grace = FindPath(old, "spec.terminationGracePeriodSeconds");
    grace = spec_grace && spec_grace->is_int64() ? spec_grace->as_int64() : 30;
  }
  bool graceful = on_node && grace > 0;
  bool is_namespace = resource == kNamespaces;
  if (is_namespace || HasNonEmptyArray(old, "metadata.finalizers") || graceful) {
    if (!MetadataString(old, "deletionTimestamp").empty()) return Status::Ok();
    json::object marked = old;
    int64_t wait = graceful ? grace : 0;
    Metadata(marked)["deletionTimestamp"] =
        Rfc3339(state_->clock.WallNow() + std::chrono::seconds(wait));
    Metadata(marked)["deletionGracePeriodSeconds"] = wait;
    if (is_namespace) marked["status"] = json::object{{"phase", "Terminating"}};
    if (State::CompletesDeletion(resource, marked)) {
      state_->Store(resource, key, std::move(marked), WatchEvent::Type::kDeleted, std::nullopt);
    } else {
      state_->Store(resource, key, std::move(marked), WatchEvent::Type::kModified, old);
    }
    return Status::Ok();
  }
  state_->Store(resource, key, std::move(old), WatchEvent::Type::kDeleted, std::nullopt);
  return Status::Ok();
}

Result<std::unique_ptr<WatchStream>> FakeApiClient::Watch(const Resource& resource,
                                                          std::string_view namespace_name,
                                                          const ListOptions& options) {
  KELP_ASSIGN_OR_RETURN(Filter filter, MakeFilter(resource, namespace_name, options));
  auto channel = std::make_shared<WatchChannel>();
  channel->resource_id = ResourceId(resource);
  channel->filter = std::move(filter);
  std::lock_guard lock(state_->mutex);
  const std::string& from = options.resource_version;
  if (from.empty() || from == "0") {
    for (const auto& [key, object] : state_->objects[channel->resource_id]) {
      if (channel->filter.Matches(object)) {
        channel->events.push_back({WatchEvent::Type::kAdded, object});
      }
    }
  } else {
    int64_t revision = 0;
    auto [end, error] = std::from_chars(from.data(), from.data() + from.size(), revision);
    if (error != std::errc() || end != from.data() + from.size()) {
      return InvalidArgumentError("invalid resourceVersion: " + from);
    }
    if (revision < state_->compacted_revision) {
      channel->expired = true;
    } else {
      for (const LoggedEvent& event : state_->log) {
        if (event.revision > revision && event.resource_id == channel->resource_id) {
          if (std::optional<WatchEvent> out = State::Translate(channel->filter, event)) {
            channel->events.push_back(std::move(*out));
          }
        }
      }
    }
  }
  state_->watches.push_back(channel);
  return std::unique_ptr<WatchStream>(std::make_unique<FakeWatchStream>(channel));
}

}  // namespace kelp::client::testing
