// GarbageCollector: informer handlers keep uid → item and queue the items an event affects;
// Sync reads the object from the cache and acts on its finalizers or its ownerReferences.
#include "controllers/garbage_collector.h"

#include <boost/json.hpp>

#include "common/json.h"

namespace kelp::controllers {

namespace json = boost::json;

namespace {

constexpr std::string_view kOwnerUidIndex = "owner-uid";
constexpr std::string_view kForegroundFinalizer = "foregroundDeletion";
constexpr std::string_view kOrphanFinalizer = "orphan";

const client::Resource* const kMonitoredResources[] = {
    &client::kPods,        &client::kReplicaSets, &client::kDeployments,
    &client::kDaemonSets,  &client::kServices,    &client::kEndpoints,
    &client::kEndpointSlices};

struct KindOf {
  std::string_view plural;
  std::string_view kind;
};
const KindOf kKinds[] = {{"pods", "Pod"},
                         {"replicasets", "ReplicaSet"},
                         {"deployments", "Deployment"},
                         {"daemonsets", "DaemonSet"},
                         {"services", "Service"},
                         {"endpoints", "Endpoints"},
                         {"endpointslices", "EndpointSlice"}};

const json::array* OwnerReferences(const json::object& object) {
  const json::value* references = FindPath(object, "metadata.ownerReferences");
  return references ? references->if_array() : nullptr;
}

bool HasFinalizer(const json::object& object, std::string_view finalizer) {
  const json::value* finalizers = FindPath(object, "metadata.finalizers");
  if (finalizers == nullptr || !finalizers->is_array()) return false;
  for (const json::value& present : finalizers->get_array()) {
    if (present.is_string() && present.get_string() == finalizer) return true;
  }
  return false;
}

std::vector<std::string> OwnerUids(const json::object& object) {
  std::vector<std::string> uids;
  if (const json::array* references = OwnerReferences(object)) {
    for (const json::value& reference : *references) {
      if (reference.is_object()) uids.push_back(StringAt(reference.get_object(), "uid"));
    }
  }
  return uids;
}

}  // namespace

GarbageCollector::GarbageCollector(ControllerContext& context)
    : context_(context),
      queue_(context.clock),
      workers_(queue_, [this](const std::string& item) { return Sync(item); }, "garbagecollector") {
  for (const client::Resource* resource : kMonitoredResources) {
    monitors_.push_back({resource, &context.informers.For(*resource)});
  }
  for (const Monitor& monitor : monitors_) {
    monitor.informer->AddIndex(std::string(kOwnerUidIndex), OwnerUids);
    monitor.informer->AddHandlers(
        {.on_add = [this, &monitor](const client::ObjectPtr& object) {
           Observe(monitor, object, false);
         },
         .on_update =
             [this, &monitor](const client::ObjectPtr&, const client::ObjectPtr& object) {
               Observe(monitor, object, false);
             },
         .on_delete = [this, &monitor](const client::ObjectPtr& object) {
           Observe(monitor, object, true);
         }});
  }
}

void GarbageCollector::Start() { workers_.Start(context_.options.workers); }
void GarbageCollector::Stop() { workers_.Stop(); }

std::string GarbageCollector::ItemKey(const client::Resource& resource, const json::object& object) {
  return std::string(resource.plural) + "|" + client::ObjectKey(object);
}

void GarbageCollector::Observe(const Monitor& monitor, const client::ObjectPtr& object,
                               bool deleted) {
  const std::string uid = StringAt(*object, "metadata.uid");
  const std::string item = ItemKey(*monitor.resource, *object);
  std::vector<std::string> owners;
  {
    std::lock_guard lock(mutex_);
    if (deleted) {
      items_by_uid_.erase(uid);
    } else {
      items_by_uid_[uid] = item;
    }
    if (deleted) {
      for (const std::string& owner_uid : OwnerUids(*object)) {
        auto owner = items_by_uid_.find(owner_uid);
        if (owner != items_by_uid_.end()) owners.push_back(owner->second);
      }
    }
  }
  // A waiting foreground owner checks again when a dependent goes.
  for (const std::string& owner : owners) queue_.Add(owner);
  if (deleted) {
    for (const auto& [dependent_monitor, dependent] : Dependents(uid)) {
      queue_.Add(ItemKey(*dependent_monitor->resource, *dependent));
    }
    return;
  }
  if (OwnerReferences(*object) != nullptr || HasFinalizer(*object, kForegroundFinalizer) ||
      HasFinalizer(*object, kOrphanFinalizer)) {
    queue_.Add(item);
  }
}

const GarbageCollector::Monitor* GarbageCollector::MonitorFor(std::string_view plural) const {
  for (const Monitor& monitor : monitors_) {
    if (monitor.resource->plural == plural) return &monitor;
  }
  return nullptr;
}

const GarbageCollector::Monitor* GarbageCollector::MonitorForKind(std::string_view api_version,
                                                                  std::string_view kind) const {
  for (const KindOf& known : kKinds) {
    if (known.kind != kind) continue;
    const Monitor* monitor = MonitorFor(known.plural);
    if (monitor && monitor->resource->ApiVersion() == api_version) return monitor;
  }
  return nullptr;
}

std::vector<std::pair<const GarbageCollector::Monitor*, client::ObjectPtr>>
GarbageCollector::Dependents(std::string_view uid) const {
  std::vector<std::pair<const Monitor*, client::ObjectPtr>> dependents;
  for (const Monitor& monitor : monitors_) {
    for (const client::ObjectPtr& object : monitor.informer->ByIndex(kOwnerUidIndex, uid)) {
      dependents.emplace_back(&monitor, object);
    }
  }
  return dependents;
}

Status GarbageCollector::Sync(const std::string& item) {
  const size_t bar = item.find('|');
  const Monitor* monitor = bar == std::string::npos ? nullptr : MonitorFor(item.substr(0, bar));
  if (monitor == nullptr) return InvalidArgumentError("bad garbage collector item " + item);
  client::ObjectPtr object = monitor->informer->Get(item.substr(bar + 1));
  if (object == nullptr) return Status::Ok();
  if (IsBeingDeleted(*object)) {
    if (HasFinalizer(*object, kOrphanFinalizer)) return ProcessOrphan(*monitor, *object);
    if (HasFinalizer(*object, kForegroundFinalizer)) return ProcessForeground(*monitor, *object);
    return Status::Ok();
  }
  return CollectIfOrphaned(*monitor, *object);
}

Result<bool> GarbageCollector::OwnerExists(std::string_view namespace_name,
                                           const json::object& reference) {
  const std::string uid = StringAt(reference, "uid");
  {
    std::lock_guard lock(mutex_);
    if (items_by_uid_.contains(uid)) return true;
  }
  const Monitor* owner_monitor =
      MonitorForKind(StringAt(reference, "apiVersion"), StringAt(reference, "kind"));
  // Owners of kinds this collector does not watch are assumed to exist.
  if (owner_monitor == nullptr) return true;
  Result<json::object> owner =
      context_.client.Get(*owner_monitor->resource, namespace_name, StringAt(reference, "name"));
  if (!owner.ok()) {
    if (owner.status().code() == StatusCode::kNotFound) return false;
    return owner.status();
  }
  return StringAt(*owner, "metadata.uid") == uid;
}

Status GarbageCollector::CollectIfOrphaned(const Monitor& monitor, const json::object& object) {
  const json::array* references = OwnerReferences(object);
  if (references == nullptr || references->empty()) return Status::Ok();
  const std::string namespace_name = StringAt(object, "metadata.namespace");
  json::array remaining;
  for (const json::value& reference : *references) {
    if (!reference.is_object()) continue;
    KELP_ASSIGN_OR_RETURN(bool exists, OwnerExists(namespace_name, reference.get_object()));
    if (exists) remaining.push_back(reference);
  }
  if (remaining.size() == references->size()) return Status::Ok();
  const std::string name = StringAt(object, "metadata.name");
  if (remaining.empty()) {
    const bool has_dependents = !Dependents(StringAt(object, "metadata.uid")).empty();
    Status deleted = context_.client.Delete(
        *monitor.resource, namespace_name, name,
        {.propagation_policy = has_dependents ? "Foreground" : "Background",
         .precondition_uid = StringAt(object, "metadata.uid")});
    return deleted.code() == StatusCode::kNotFound ? Status::Ok() : deleted;
  }
  json::object patch{{"metadata", json::object{{"ownerReferences", std::move(remaining)}}}};
  Result<json::object> patched =
      context_.client.Patch(*monitor.resource, namespace_name, name, client::PatchType::kMerge,
                            json::serialize(patch));
  return patched.ok() || patched.status().code() == StatusCode::kNotFound ? Status::Ok()
                                                                         : patched.status();
}

Status GarbageCollector::RemoveFinalizer(const Monitor& monitor, const json::object& object,
                                         std::string_view finalizer) {
  json::array finalizers;
  for (const json::value& present : FindPath(object, "metadata.finalizers")->get_array()) {
    if (!(present.is_string() && present.get_string() == finalizer)) finalizers.push_back(present);
  }
  json::object patch{
      {"metadata", json::object{{"finalizers", std::move(finalizers)},
                                {"resourceVersion", StringAt(object, "metadata.resourceVersion")}}}};
  Result<json::object> patched = context_.client.Patch(
      *monitor.resource, StringAt(object, "metadata.namespace"), StringAt(object, "metadata.name"),
      client::PatchType::kMerge, json::serialize(patch));
  return patched.ok() || patched.status().code() == StatusCode::kNotFound ? Status::Ok()
                                                                         : patched.status();
}

Status GarbageCollector::ProcessForeground(const Monitor& monitor, const json::object& owner) {
  auto dependents = Dependents(StringAt(owner, "metadata.uid"));
  for (const auto& [dependent_monitor, dependent] : dependents) {
    if (IsBeingDeleted(*dependent)) continue;
    const bool has_dependents = !Dependents(StringAt(*dependent, "metadata.uid")).empty();
    Status deleted = context_.client.Delete(
        *dependent_monitor->resource, StringAt(*dependent, "metadata.namespace"),
        StringAt(*dependent, "metadata.name"),
        {.propagation_policy = has_dependents ? "Foreground" : "Background",
         .precondition_uid = StringAt(*dependent, "metadata.uid")});
    if (!deleted.ok() && deleted.code() != StatusCode::kNotFound &&
        deleted.code() != StatusCode::kConflict) {
      return deleted;
    }
  }
  // Waits for every dependent to go; their deletions queue this owner again.
  if (!dependents.empty()) return Status::Ok();
  return RemoveFinalizer(monitor, owner, kForegroundFinalizer);
}

Status GarbageCollector::ProcessOrphan(const Monitor& monitor, const json::object& owner) {
  const std::string uid = StringAt(owner, "metadata.uid");
  for (const auto& [dependent_monitor, dependent] : Dependents(uid)) {
    json::array remaining;
    for (const json::value& reference : *OwnerReferences(*dependent)) {
      if (!(reference.is_object() && StringAt(reference.get_object(), "uid") == uid)) {
        remaining.push_back(reference);
      }
    }
    json::object patch{
        {"metadata", json::object{{"ownerReferences", remaining.empty() ? json::value(nullptr)
                                                                        : json::value(remaining)}}}};
    Result<json::object> patched = context_.client.Patch(
        *dependent_monitor->resource, StringAt(*dependent, "metadata.namespace"),
        StringAt(*dependent, "metadata.name"), client::PatchType::kMerge, json::serialize(patch));
    if (!patched.ok() && patched.status().code() != StatusCode::kNotFound) return patched.status();
  }
  return RemoveFinalizer(monitor, owner, kOrphanFinalizer);
}

}  // namespace kelp::controllers
