// NamespaceController: delete everything inside a Terminating namespace, then finalize it.
#include "controllers/namespace.h"

#include <boost/json.hpp>

#include "common/json.h"

namespace kelp::controllers {

namespace json = boost::json;

namespace {

// Every namespaced resource kelp serves, in the order their contents are deleted.
const client::Resource* const kNamespacedResources[] = {
    &client::kDeployments,    &client::kDaemonSets,       &client::kReplicaSets,
    &client::kPods,           &client::kServices,         &client::kEndpoints,
    &client::kEndpointSlices, &client::kConfigMaps,       &client::kSecrets,
    &client::kServiceAccounts, &client::kHorizontalPodAutoscalers, &client::kLeases,
    &client::kEvents};

bool HasKubernetesFinalizer(const json::object& ns) {
  const json::value* finalizers = FindPath(ns, "spec.finalizers");
  if (finalizers == nullptr || !finalizers->is_array()) return false;
  for (const json::value& finalizer : finalizers->get_array()) {
    if (finalizer.is_string() && finalizer.get_string() == "kubernetes") return true;
  }
  return false;
}

json::object Condition(std::string_view type, bool true_status, std::string_view reason,
                       std::string message, const std::string& now) {
  return {{"type", type},
          {"status", true_status ? "True" : "False"},
          {"lastTransitionTime", now},
          {"reason", reason},
          {"message", std::move(message)}};
}

}  // namespace

NamespaceController::NamespaceController(ControllerContext& context)
    : context_(context),
      namespaces_(context.informers.For(client::kNamespaces)),
      queue_(context.clock),
      workers_(
          queue_,
          [this](const std::string& key) {
            Status status = Sync(key);
            if (status.code() != StatusCode::kUnavailable) return status;
            queue_.AddAfter(key, kRecheckDelay);
            return Status::Ok();
          },
          "namespace") {
  auto enqueue_terminating = [this](const client::ObjectPtr& ns) {
    if (IsBeingDeleted(*ns)) queue_.Add(client::ObjectKey(*ns));
  };
  namespaces_.AddHandlers(
      {.on_add = enqueue_terminating,
       .on_update = [enqueue_terminating](const client::ObjectPtr&,
                                          const client::ObjectPtr& ns) { enqueue_terminating(ns); }});
}

void NamespaceController::Start() { workers_.Start(context_.options.workers); }
void NamespaceController::Stop() { workers_.Stop(); }

Status NamespaceController::Sync(const std::string& name) {
  Result<json::object> ns = context_.client.Get(client::kNamespaces, "", name);
  if (!ns.ok()) return ns.status().code() == StatusCode::kNotFound ? Status::Ok() : ns.status();
  if (!IsBeingDeleted(*ns) || !HasKubernetesFinalizer(*ns)) return Status::Ok();

  int remaining = 0;
  std::string remaining_resources;
  std::vector<std::string> failures;
  for (const client::Resource* resource : kNamespacedResources) {
    Result<client::ListResult> contents = context_.client.List(*resource, name, {});
    if (!contents.ok()) {
      failures.push_back(std::string(resource->plural) + ": " + contents.status().message());
      continue;
    }
    if (contents->items.empty()) continue;
    remaining += static_cast<int>(contents->items.size());
    remaining_resources += (remaining_resources.empty() ? "" : ", ") +
                           std::string(resource->plural) + " has " +
                           std::to_string(contents->items.size()) + " resource instances";
    for (const json::object& item : contents->items) {
      if (IsBeingDeleted(item)) continue;
      Status deleted = context_.client.Delete(*resource, name, StringAt(item, "metadata.name"),
                                              {.propagation_policy = "Background"});
      if (!deleted.ok() && deleted.code() != StatusCode::kNotFound) {
        failures.push_back(std::string(resource->plural) + ": " + deleted.message());
      }
    }
  }

  const std::string now = FormatRfc3339(context_.clock.WallNow());
  std::string failure_text;
  for (const std::string& failure : failures) {
    failure_text += (failure_text.empty() ? "" : "; ") + failure;
  }
  json::array conditions{
      Condition("NamespaceDeletionDiscoveryFailure", false, "ResourcesDiscovered",
                "All resources successfully discovered", now),
      Condition("NamespaceDeletionGroupVersionParsingFailure", false, "ParsedGroupVersions",
                "All legacy kube types successfully parsed", now),
      failures.empty()
          ? Condition("NamespaceDeletionContentFailure", false, "ContentDeleted",
                      "All content successfully deleted, may be waiting on finalization", now)
          : Condition("NamespaceDeletionContentFailure", true, "ContentDeletionFailed",
                      "Failed to delete all resource types: " + failure_text, now),
      remaining == 0 ? Condition("NamespaceContentRemaining", false, "ContentRemoved",
                                 "All content successfully removed", now)
                     : Condition("NamespaceContentRemaining", true, "SomeResourcesRemain",
                                 "Some resources are remaining: " + remaining_resources, now),
      Condition("NamespaceFinalizersRemaining", false, "ContentHasNoFinalizers",
                "All content-preserving finalizers finished", now)};
  const json::value* old_conditions = FindPath(*ns, "status.conditions");
  bool conditions_changed = old_conditions == nullptr || !old_conditions->is_array() ||
                            old_conditions->get_array().size() != conditions.size();
  for (size_t i = 0; !conditions_changed && i < conditions.size(); ++i) {
    const json::object& old = old_conditions->get_array()[i].as_object();
    conditions_changed = StringAt(old, "status") != StringAt(conditions[i].as_object(), "status") ||
                         StringAt(old, "message") != StringAt(conditions[i].as_object(), "message");
  }
  if (conditions_changed) {
    json::object with_status = *ns;
    json::value& status = with_status["status"];
    if (!status.is_object()) status = json::object();
    status.as_object()["conditions"] = std::move(conditions);
    Result<json::object> written = context_.client.Update(client::kNamespaces, with_status, "status");
    if (!written.ok()) return written.status();
    ns = std::move(*written);
  }
  if (!failures.empty()) return UnavailableError("deleting namespace " + name + ": " + failure_text);
  if (remaining > 0) {
    return UnavailableError("namespace " + name + " still has content: " + remaining_resources);
  }
  json::array finalizers;
  for (const json::value& finalizer : FindPath(*ns, "spec.finalizers")->get_array()) {
    if (!(finalizer.is_string() && finalizer.get_string() == "kubernetes")) {
      finalizers.push_back(finalizer);
    }
  }
  json::object finalized = std::move(*ns);
  finalized["spec"].as_object()["finalizers"] = std::move(finalizers);
  Result<json::object> written = context_.client.Update(client::kNamespaces, finalized, "finalize");
  if (!written.ok() && written.status().code() != StatusCode::kNotFound) return written.status();
  return Status::Ok();
}

}  // namespace kelp::controllers
