// ReplicaSet controller: claim pods, create or delete the difference, report status.
#include "controllers/replicaset.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include <boost/json.hpp>

#include "api/selectors.h"
#include "controllers/controller_ref.h"
#include "controllers/object_meta.h"
#include "controllers/pod_state.h"
#include "controllers/pod_template.h"

namespace kelp::controllers {
namespace {

constexpr int kSlowStartInitialBatchSize = 1;
// Creates of one batch run on at most this many threads.
constexpr int kMaxParallelCreates = 16;

// Runs `create` `count` times in batches of 1, 2, 4, ...; a batch with a failure is the last.
// Returns how many succeeded and the first error.
std::pair<int, Status> SlowStartBatch(int count, const std::function<Status()>& create) {
  int successes = 0;
  int remaining = count;
  for (int batch = std::min(remaining, kSlowStartInitialBatchSize); batch > 0;
       batch = std::min(2 * batch, remaining)) {
    std::atomic<int> next{0};
    std::atomic<int> succeeded{0};
    std::mutex mutex;  // guards first_error
    Status first_error;
    auto run = [&] {
      while (next.fetch_add(1) < batch) {
        Status status = create();
        if (status.ok()) {
          ++succeeded;
          continue;
        }
        std::lock_guard lock(mutex);
        if (first_error.ok()) first_error = std::move(status);
      }
    };
    const int threads = std::min(batch, kMaxParallelCreates);
    std::vector<std::thread> helpers;
    for (int i = 1; i < threads; ++i) helpers.emplace_back(run);
    run();
    for (std::thread& helper : helpers) helper.join();
    successes += succeeded.load();
    if (!first_error.ok()) return {successes, first_error};
    remaining -= batch;
  }
  return {successes, Status::Ok()};
}

bool LabelsEqual(const boost::json::object& a, const boost::json::object& b) {
  const boost::json::object* la = Labels(a);
  const boost::json::object* lb = Labels(b);
  if (la == nullptr || lb == nullptr) {
    return (la == nullptr || la->empty()) && (lb == nullptr || lb->empty());
  }
  return *la == *lb;
}

bool SelectorMatches(const boost::json::object& owner, const boost::json::object& object) {
  const boost::json::object* selector = ObjectAt(owner, "spec.selector");
  if (selector == nullptr) return false;
  Result<api::LabelSelector> parsed = api::LabelSelector::FromJson(*selector);
  return parsed.ok() && !parsed->Empty() && parsed->Matches(Labels(object));
}

void SetOrErase(boost::json::object& status, std::string_view field, int64_t value) {
  if (value != 0) {
    status[field] = value;
  } else {
    status.erase(field);
  }
}

}  // namespace

ReplicaSetController::ReplicaSetController(const ControllerContext& context)
    : context_(context),
      replica_sets_(context.informers.For(client::kReplicaSets)),
      pods_(context.informers.For(client::kPods)),
      queue_(context.clock),
      expectations_(context.clock),
      events_(context.client, context.clock, "replicaset-controller"),
      workers_(queue_, [this](const std::string& key) { return Sync(key); }, "replicaset") {
  replica_sets_.AddHandlers({
      .on_add = [this](const client::ObjectPtr& rs) { queue_.Add(client::ObjectKey(*rs)); },
      .on_update = [this](const client::ObjectPtr&,
                          const client::ObjectPtr& rs) { queue_.Add(client::ObjectKey(*rs)); },
      .on_delete =
          [this](const client::ObjectPtr& rs) {
            const std::string key = client::ObjectKey(*rs);
            expectations_.Delete(key);
            queue_.Add(key);
          },
  });
  pods_.AddHandlers({
      .on_add = [this](const client::ObjectPtr& pod) { OnPodAdded(pod); },
      .on_update = [this](const client::ObjectPtr& old_pod,
                          const client::ObjectPtr& pod) { OnPodUpdated(old_pod, pod); },
      .on_delete = [this](const client::ObjectPtr& pod) { OnPodDeleted(pod); },
  });
}

ReplicaSetController::~ReplicaSetController() { Stop(); }

void ReplicaSetController::Start() { workers_.Start(context_.options.workers); }

void ReplicaSetController::Stop() { workers_.Stop(); }

Status ReplicaSetController::Sync(const std::string& key) {
  client::ObjectPtr replica_set = replica_sets_.Get(key);
  if (!replica_set) {
    expectations_.Delete(key);
    return Status::Ok();
  }
  const bool needs_sync = expectations_.Satisfied(key);
  const boost::json::object* selector_json = ObjectAt(*replica_set, "spec.selector");
  Result<api::LabelSelector> selector =
      api::LabelSelector::FromJson(selector_json ? *selector_json : boost::json::object());
  if (!selector.ok()) {
    // A broken selector will not fix itself by retrying; the user has to edit the object.
    spdlog::warn("replicaset: {} has an invalid selector: {}", key, selector.status().message());
    return Status::Ok();
  }
  std::vector<client::ObjectPtr> active;
  for (client::ObjectPtr& pod : pods_.ListNamespace(Namespace(*replica_set))) {
    if (IsPodActive(*pod)) active.push_back(std::move(pod));
  }
  KELP_ASSIGN_OR_RETURN(
      std::vector<client::ObjectPtr> pods,
      ClaimObjects(context_.client, client::kPods,
                   {*replica_set, client::kReplicaSets, "apps/v1", "ReplicaSet"}, *selector,
                   active));
  Status manage_error;
  if (needs_sync && !IsBeingDeleted(*replica_set)) {
    manage_error = ManageReplicas(pods, *replica_set, key);
  }
  int64_t ready = 0;
  int64_t available = 0;
  KELP_RETURN_IF_ERROR(UpdateStatus(*replica_set, pods, manage_error, &ready, &available));
  const int64_t replicas = IntAt(*replica_set, "spec.replicas", 1);
  const int64_t min_ready_seconds = IntAt(*replica_set, "spec.minReadySeconds");
  if (manage_error.ok() && min_ready_seconds > 0 && ready == replicas && available != replicas) {
    // Pods that are ready but not yet available become so by time alone: look again then.
    queue_.AddAfter(key, std::chrono::seconds(min_ready_seconds));
  }
  return manage_error;
}

Status ReplicaSetController::ManageReplicas(const std::vector<client::ObjectPtr>& pods,
                                            const boost::json::object& replica_set,
                                            const std::string& key) {
  const int64_t diff =
      static_cast<int64_t>(pods.size()) - IntAt(replica_set, "spec.replicas", 1);
  if (diff < 0) {
    return CreatePods(static_cast<int>(std::min<int64_t>(-diff, kBurstReplicas)), replica_set,
                      key);
  }
  if (diff == 0) return Status::Ok();
  const size_t count = static_cast<size_t>(std::min<int64_t>(diff, kBurstReplicas));
  return DeletePods(PodsToDelete(pods, RelatedPods(replica_set), count, context_.clock.WallNow()),
                    replica_set, key);
}

Status ReplicaSetController::CreatePods(int count, const boost::json::object& replica_set,
                                        const std::string& key) {
  expectations_.ExpectCreations(key, count);
  const boost::json::object* pod_template = ObjectAt(replica_set, "spec.template");
  const boost::json::object pod = PodFromTemplate(
      pod_template ? *pod_template : boost::json::object(), Name(replica_set),
      Namespace(replica_set), MakeControllerRef(replica_set, "apps/v1", "ReplicaSet"));
  const std::string namespace_name = Namespace(replica_set);
  auto [successes, error] = SlowStartBatch(count, [&]() -> Status {
    Result<boost::json::object> created = context_.client.Create(client::kPods, namespace_name, pod);
    if (!created.ok()) {
      events_.Record(replica_set, "Warning", "FailedCreate",
                     "Error creating: " + created.status().message());
      return created.status();
    }
    events_.Record(replica_set, "Normal", "SuccessfulCreate", "Created pod: " + Name(*created));
    return Status::Ok();
  });
  // Creations that failed or never ran will not be observed: stop expecting them.
  for (int i = successes; i < count; ++i) expectations_.CreationObserved(key);
  return error;
}

Status ReplicaSetController::DeletePods(const std::vector<client::ObjectPtr>& pods,
                                        const boost::json::object& replica_set,
                                        const std::string& key) {
  std::vector<std::string> pod_keys;
  for (const client::ObjectPtr& pod : pods) pod_keys.push_back(client::ObjectKey(*pod));
  expectations_.ExpectDeletions(key, pod_keys);
  Status first_error;
  for (size_t i = 0; i < pods.size(); ++i) {
    const std::string pod_name = Name(*pods[i]);
    Status deleted =
        context_.client.Delete(client::kPods, Namespace(replica_set), pod_name, {});
    if (deleted.ok()) {
      events_.Record(replica_set, "Normal", "SuccessfulDelete", "Deleted pod: " + pod_name);
      continue;
    }
    expectations_.DeletionObserved(key, pod_keys[i]);
    if (deleted.code() == StatusCode::kNotFound) continue;
    events_.Record(replica_set, "Warning", "FailedDelete", "Error deleting: " + deleted.message());
    if (first_error.ok()) first_error = deleted;
  }
  return first_error;
}

Status ReplicaSetController::UpdateStatus(const boost::json::object& replica_set,
                                          const std::vector<client::ObjectPtr>& pods,
                                          const Status& manage_error, int64_t* ready,
                                          int64_t* available) {
  const boost::json::object* template_labels = ObjectAt(replica_set, "spec.template.metadata.labels");
  const int64_t min_ready_seconds = IntAt(replica_set, "spec.minReadySeconds");
  const auto now = context_.clock.WallNow();
  int64_t fully_labeled = 0;
  for (const client::ObjectPtr& pod : pods) {
    const boost::json::object* labels = Labels(*pod);
    bool all_labels = true;
    if (template_labels != nullptr) {
      for (const auto& [label, value] : *template_labels) {
        const boost::json::value* have = labels ? labels->if_contains(label) : nullptr;
        if (have == nullptr || *have != value) all_labels = false;
      }
    }
    if (all_labels) ++fully_labeled;
    if (IsPodReady(*pod)) {
      ++*ready;
      if (IsPodAvailable(*pod, min_ready_seconds, now)) ++*available;
    }
  }
  const boost::json::object* current = ObjectAt(replica_set, "status");
  boost::json::object status = current ? *current : boost::json::object();
  status["replicas"] = static_cast<int64_t>(pods.size());
  SetOrErase(status, "fullyLabeledReplicas", fully_labeled);
  SetOrErase(status, "readyReplicas", *ready);
  SetOrErase(status, "availableReplicas", *available);
  SetOrErase(status, "observedGeneration", IntAt(replica_set, "metadata.generation"));
  boost::json::array conditions;
  if (const boost::json::value* existing = status.if_contains("conditions");
      existing && existing->is_array()) {
    conditions = existing->get_array();
  }
  const bool has_failure = FindCondition(replica_set, "ReplicaFailure") != nullptr;
  if (!manage_error.ok() && !has_failure) {
    const int64_t diff =
        static_cast<int64_t>(pods.size()) - IntAt(replica_set, "spec.replicas", 1);
    conditions.push_back(boost::json::object{
        {"type", "ReplicaFailure"},
        {"status", "True"},
        {"reason", diff < 0 ? "FailedCreate" : "FailedDelete"},
        {"message", manage_error.message()},
        {"lastTransitionTime", FormatRfc3339(now)}});
  } else if (manage_error.ok() && has_failure) {
    conditions.erase(std::remove_if(conditions.begin(), conditions.end(),
                                    [](const boost::json::value& condition) {
                                      return condition.is_object() &&
                                             StringAt(condition.get_object(), "type") ==
                                                 "ReplicaFailure";
                                    }),
                     conditions.end());
  }
  if (conditions.empty()) {
    status.erase("conditions");
  } else {
    status["conditions"] = std::move(conditions);
  }
  if (current != nullptr && *current == status) return Status::Ok();

  boost::json::object updated = replica_set;
  updated["status"] = status;
  Result<boost::json::object> written =
      context_.client.Update(client::kReplicaSets, updated, "status");
  if (written.ok() || written.status().code() != StatusCode::kConflict) return written.status();
  // The cached copy was stale: write the same status over the latest object once more.
  Result<boost::json::object> fresh =
      context_.client.Get(client::kReplicaSets, Namespace(replica_set), Name(replica_set));
  if (!fresh.ok()) return fresh.status();
  (*fresh)["status"] = std::move(status);
  return context_.client.Update(client::kReplicaSets, *fresh, "status").status();
}

std::vector<client::ObjectPtr> ReplicaSetController::RelatedPods(
    const boost::json::object& replica_set) {
  std::set<std::string> sibling_uids{Uid(replica_set)};
  if (const boost::json::object* owner = ControllerRefOf(replica_set)) {
    const std::string owner_uid = StringAt(*owner, "uid");
    for (const client::ObjectPtr& other : replica_sets_.ListNamespace(Namespace(replica_set))) {
      const boost::json::object* other_owner = ControllerRefOf(*other);
      if (other_owner != nullptr && StringAt(*other_owner, "uid") == owner_uid) {
        sibling_uids.insert(Uid(*other));
      }
    }
  }
  std::vector<client::ObjectPtr> related;
  for (client::ObjectPtr& pod : pods_.ListNamespace(Namespace(replica_set))) {
    const boost::json::object* owner = ControllerRefOf(*pod);
    if (owner != nullptr && sibling_uids.contains(StringAt(*owner, "uid"))) {
      related.push_back(std::move(pod));
    }
  }
  return related;
}

client::ObjectPtr ReplicaSetController::ResolveControllerRef(
    const std::string& namespace_name, const boost::json::object* reference) const {
  if (reference == nullptr || StringAt(*reference, "kind") != "ReplicaSet") return nullptr;
  client::ObjectPtr replica_set =
      replica_sets_.Get(namespace_name + "/" + StringAt(*reference, "name"));
  if (!replica_set || Uid(*replica_set) != StringAt(*reference, "uid")) return nullptr;
  return replica_set;
}

void ReplicaSetController::EnqueueMatchingReplicaSets(const boost::json::object& pod) {
  for (const client::ObjectPtr& replica_set : replica_sets_.ListNamespace(Namespace(pod))) {
    if (SelectorMatches(*replica_set, pod)) queue_.Add(client::ObjectKey(*replica_set));
  }
}

void ReplicaSetController::OnPodAdded(const client::ObjectPtr& pod) {
  if (IsBeingDeleted(*pod)) {
    OnPodDeleted(pod);
    return;
  }
  if (const boost::json::object* reference = ControllerRefOf(*pod)) {
    if (client::ObjectPtr replica_set = ResolveControllerRef(Namespace(*pod), reference)) {
      const std::string key = client::ObjectKey(*replica_set);
      expectations_.CreationObserved(key);
      queue_.Add(key);
    }
    return;
  }
  EnqueueMatchingReplicaSets(*pod);
}

void ReplicaSetController::OnPodUpdated(const client::ObjectPtr& old_pod,
                                        const client::ObjectPtr& pod) {
  if (StringAt(*old_pod, "metadata.resourceVersion") == StringAt(*pod, "metadata.resourceVersion")) {
    return;  // a resync, not a change
  }
  const bool labels_changed = !LabelsEqual(*old_pod, *pod);
  if (IsBeingDeleted(*pod)) {
    OnPodDeleted(pod);
    if (labels_changed) OnPodDeleted(old_pod);
    return;
  }
  const boost::json::object* old_reference = ControllerRefOf(*old_pod);
  const boost::json::object* reference = ControllerRefOf(*pod);
  const bool reference_changed =
      (old_reference ? StringAt(*old_reference, "uid") : "") !=
      (reference ? StringAt(*reference, "uid") : "");
  if (reference_changed && old_reference != nullptr) {
    if (client::ObjectPtr old_owner = ResolveControllerRef(Namespace(*pod), old_reference)) {
      queue_.Add(client::ObjectKey(*old_owner));
    }
  }
  if (reference != nullptr) {
    client::ObjectPtr replica_set = ResolveControllerRef(Namespace(*pod), reference);
    if (!replica_set) return;
    const std::string key = client::ObjectKey(*replica_set);
    queue_.Add(key);
    const int64_t min_ready_seconds = IntAt(*replica_set, "spec.minReadySeconds");
    if (min_ready_seconds > 0 && !IsPodReady(*old_pod) && IsPodReady(*pod)) {
      queue_.AddAfter(key, std::chrono::seconds(min_ready_seconds + 1));
    }
    return;
  }
  if (labels_changed || reference_changed) EnqueueMatchingReplicaSets(*pod);
}

void ReplicaSetController::OnPodDeleted(const client::ObjectPtr& pod) {
  client::ObjectPtr replica_set = ResolveControllerRef(Namespace(*pod), ControllerRefOf(*pod));
  if (!replica_set) return;
  const std::string key = client::ObjectKey(*replica_set);
  expectations_.DeletionObserved(key, client::ObjectKey(*pod));
  queue_.Add(key);
}

}  // namespace kelp::controllers
