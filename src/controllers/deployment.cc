// Deployment controller: claim replica sets, find or create the new one, roll out, report.
#include "controllers/deployment.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <set>
#include <utility>

#include <boost/json.hpp>

#include "api/selectors.h"
#include "common/json.h"
#include "controllers/controller_ref.h"
#include "controllers/object_meta.h"
#include "controllers/pod_template.h"

namespace kelp::controllers {
namespace {

using client::ObjectPtr;

ObjectPtr Share(boost::json::object object) {
  return std::make_shared<const boost::json::object>(std::move(object));
}

boost::json::object StatusOf(const boost::json::object& object) {
  const boost::json::object* status = ObjectAt(object, "status");
  return status ? *status : boost::json::object();
}

void SetOrErase(boost::json::object& status, std::string_view field, int64_t value) {
  if (value != 0) {
    status[field] = value;
  } else {
    status.erase(field);
  }
}

bool SelectorMatches(const boost::json::object& owner, const boost::json::object& object) {
  const boost::json::object* selector = ObjectAt(owner, "spec.selector");
  if (selector == nullptr) return false;
  Result<api::LabelSelector> parsed = api::LabelSelector::FromJson(*selector);
  return parsed.ok() && !parsed->Empty() && parsed->Matches(Labels(object));
}

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

}  // namespace

struct DeploymentController::Rollout {
  std::string key;
  boost::json::object deployment;  // the latest state this sync wrote or read
  ReplicaSets all;
  ObjectPtr new_rs;
  ReplicaSets old;

  // Swaps an updated replica set in wherever the old copy was referenced.
  void Replace(const ObjectPtr& updated) {
    const std::string uid = Uid(*updated);
    for (ReplicaSets* list : {&all, &old}) {
      for (ObjectPtr& rs : *list) {
        if (Uid(*rs) == uid) rs = updated;
      }
    }
    if (new_rs && Uid(*new_rs) == uid) new_rs = updated;
  }
};

DeploymentController::DeploymentController(const ControllerContext& context)
    : context_(context),
      deployments_(context.informers.For(client::kDeployments)),
      replica_sets_(context.informers.For(client::kReplicaSets)),
      pods_(context.informers.For(client::kPods)),
      queue_(context.clock),
      events_(context.client, context.clock, "deployment-controller"),
      workers_(queue_, [this](const std::string& key) { return Sync(key); }, "deployment") {
  auto enqueue = [this](const ObjectPtr& deployment) { queue_.Add(client::ObjectKey(*deployment)); };
  deployments_.AddHandlers({
      .on_add = enqueue,
      .on_update = [enqueue](const ObjectPtr&, const ObjectPtr& deployment) { enqueue(deployment); },
      .on_delete = enqueue,
  });
  replica_sets_.AddHandlers({
      .on_add = [this](const ObjectPtr& rs) { OnReplicaSetEvent(rs); },
      .on_update =
          [this](const ObjectPtr& old_rs, const ObjectPtr& rs) {
            OnReplicaSetEvent(old_rs);
            OnReplicaSetEvent(rs);
          },
      .on_delete = [this](const ObjectPtr& rs) { OnReplicaSetEvent(rs); },
  });
  pods_.AddHandlers({.on_add = nullptr,
                     .on_update = nullptr,
                     .on_delete = [this](const ObjectPtr& pod) { OnPodDeleted(pod); }});
}

DeploymentController::~DeploymentController() { Stop(); }

void DeploymentController::Start() { workers_.Start(context_.options.workers); }

void DeploymentController::Stop() { workers_.Stop(); }

Status DeploymentController::Sync(const std::string& key) {
  ObjectPtr cached = deployments_.Get(key);
  if (!cached) return Status::Ok();
  Rollout rollout{.key = key, .deployment = *cached, .all = {}, .new_rs = nullptr, .old = {}};
  const boost::json::object* selector = ObjectAt(rollout.deployment, "spec.selector");
  if (selector == nullptr || selector->empty() ||
      api::LabelSelector::FromJson(*selector).value_or(api::LabelSelector()).Empty()) {
    events_.Record(rollout.deployment, "Warning", "SelectingAll",
                   "This deployment is selecting all pods. A non-empty selector is required.");
    boost::json::object status = StatusOf(rollout.deployment);
    status["observedGeneration"] = IntAt(rollout.deployment, "metadata.generation");
    return WriteStatus(rollout, std::move(status));
  }
  KELP_ASSIGN_OR_RETURN(rollout.all, ClaimReplicaSets(rollout.deployment));
  if (IsBeingDeleted(rollout.deployment)) {
    KELP_RETURN_IF_ERROR(SyncRevision(rollout, false));
    return WriteStatus(rollout, CalculateStatus(rollout));
  }
  KELP_RETURN_IF_ERROR(CheckPausedConditions(rollout));
  KELP_RETURN_IF_ERROR(SyncRevision(rollout, false));
  if (BoolAt(rollout.deployment, "spec.paused") || IsScalingEvent(rollout)) {
    return ScaleOnly(rollout);
  }
  if (StringAt(rollout.deployment, "spec.strategy.type") == "Recreate") {
    return RolloutRecreate(rollout);
  }
  return RolloutRolling(rollout);
}

Result<ReplicaSets> DeploymentController::ClaimReplicaSets(const boost::json::object& deployment) {
  const boost::json::object* selector_json = ObjectAt(deployment, "spec.selector");
  KELP_ASSIGN_OR_RETURN(api::LabelSelector selector,
                        api::LabelSelector::FromJson(*selector_json));
  return ClaimObjects(context_.client, client::kReplicaSets,
                      {deployment, client::kDeployments, "apps/v1", "Deployment"}, selector,
                      replica_sets_.ListNamespace(Namespace(deployment)));
}

Status DeploymentController::CheckPausedConditions(Rollout& rollout) {
  if (!HasProgressDeadline(rollout.deployment)) return Status::Ok();
  boost::json::object status = StatusOf(rollout.deployment);
  const boost::json::object* condition = StatusCondition(status, "Progressing");
  const std::string reason = condition ? StringAt(*condition, "reason") : "";
  if (reason == "ProgressDeadlineExceeded") return Status::Ok();
  const bool paused = BoolAt(rollout.deployment, "spec.paused");
  const auto now = context_.clock.WallNow();
  if (paused && reason != "DeploymentPaused") {
    SetCondition(status, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now);
  } else if (!paused && reason == "DeploymentPaused") {
    SetCondition(status, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed",
                 now);
  } else {
    return Status::Ok();
  }
  return WriteStatus(rollout, std::move(status));
}

Status DeploymentController::SyncRevision(Rollout& rollout, bool create_if_missing) {
  rollout.new_rs = FindNewReplicaSet(rollout.deployment, rollout.all);
  rollout.old = OldReplicaSets(rollout.all, rollout.new_rs);
  if (!rollout.new_rs) return create_if_missing ? CreateNewReplicaSet(rollout) : Status::Ok();

  const int64_t new_revision = MaxRevision(rollout.old) + 1;
  boost::json::object rs = *rollout.new_rs;
  bool changed = SetNewReplicaSetAnnotations(rollout.deployment, rs, new_revision, true);
  const int64_t min_ready_seconds = IntAt(rollout.deployment, "spec.minReadySeconds");
  if (IntAt(rs, "spec.minReadySeconds") != min_ready_seconds) {
    MutableObjectAt(rs, "spec")["minReadySeconds"] = min_ready_seconds;
    changed = true;
  }
  if (changed) {
    KELP_ASSIGN_OR_RETURN(boost::json::object written,
                          context_.client.Update(client::kReplicaSets, rs));
    rollout.Replace(Share(std::move(written)));
    return Status::Ok();
  }
  const std::string revision = std::to_string(Revision(rs));
  if (Annotation(rollout.deployment, kRevisionAnnotation) != revision) {
    boost::json::object updated = rollout.deployment;
    MutableObjectAt(updated, "metadata.annotations")[kRevisionAnnotation] = revision;
    KELP_ASSIGN_OR_RETURN(rollout.deployment,
                          context_.client.Update(client::kDeployments, updated));
  }
  boost::json::object status = StatusOf(rollout.deployment);
  if (HasProgressDeadline(rollout.deployment) && !StatusCondition(status, "Progressing")) {
    SetCondition(status, "Progressing", "True", "FoundNewReplicaSet",
                 "Found new replica set " + Quoted(Name(rs)), context_.clock.WallNow());
    return WriteStatus(rollout, std::move(status));
  }
  return Status::Ok();
}

Status DeploymentController::CreateNewReplicaSet(Rollout& rollout) {
  const boost::json::object& deployment = rollout.deployment;
  const boost::json::object* pod_template = ObjectAt(deployment, "spec.template");
  if (pod_template == nullptr) return InvalidArgumentError("deployment has no spec.template");
  const boost::json::value* collisions = FindPath(deployment, "status.collisionCount");
  std::optional<int64_t> collision_count;
  if (collisions != nullptr && collisions->is_number()) {
    collision_count = IntAt(deployment, "status.collisionCount");
  }
  const std::string hash = ComputeTemplateHash(*pod_template, collision_count);
  const std::string name = Name(deployment) + "-" + hash;

  boost::json::object rs_template = *pod_template;
  MutableObjectAt(rs_template, "metadata.labels")[kPodTemplateHashLabel] = hash;
  boost::json::object selector = *ObjectAt(deployment, "spec.selector");
  MutableObjectAt(selector, "matchLabels")[kPodTemplateHashLabel] = hash;
  boost::json::object rs{
      {"apiVersion", "apps/v1"},
      {"kind", "ReplicaSet"},
      {"metadata",
       {{"name", name},
        {"namespace", Namespace(deployment)},
        {"labels", *ObjectAt(rs_template, "metadata.labels")},
        {"ownerReferences",
         boost::json::array{MakeControllerRef(deployment, "apps/v1", "Deployment")}}}},
      {"spec",
       {{"replicas", 0},
        {"minReadySeconds", IntAt(deployment, "spec.minReadySeconds")},
        {"selector", std::move(selector)},
        {"template", std::move(rs_template)}}}};
  ReplicaSets with_new = rollout.old;
  with_new.push_back(Share(rs));
  const int64_t replicas = NewReplicaSetReplicas(deployment, with_new, rs);
  rs["spec"].get_object()["replicas"] = replicas;
  const int64_t new_revision = MaxRevision(rollout.old) + 1;
  SetNewReplicaSetAnnotations(deployment, rs, new_revision, false);

  const auto now = context_.clock.WallNow();
  Result<boost::json::object> created =
      context_.client.Create(client::kReplicaSets, Namespace(deployment), rs);
  bool already_existed = false;
  if (!created.ok() && created.status().code() == StatusCode::kAlreadyExists) {
    ObjectPtr existing = replica_sets_.Get(Namespace(deployment) + "/" + name);
    if (!existing) return created.status();
    const boost::json::object* owner = ControllerRefOf(*existing);
    const boost::json::object* existing_template = ObjectAt(*existing, "spec.template");
    if (owner != nullptr && StringAt(*owner, "uid") == Uid(deployment) &&
        existing_template != nullptr &&
        TemplatesEqualIgnoringHash(*pod_template, *existing_template)) {
      created = *existing;
      already_existed = true;
    } else {
      // A different replica set holds the name: hash again with a bumped collision count.
      boost::json::object status = StatusOf(deployment);
      status["collisionCount"] = collision_count.value_or(0) + 1;
      KELP_RETURN_IF_ERROR(WriteStatus(rollout, std::move(status)));
      return ConflictError("replica set " + name + " exists with another template: hash collision");
    }
  } else if (!created.ok()) {
    std::string message =
        "Failed to create new replica set " + Quoted(name) + ": " + created.status().message();
    if (HasProgressDeadline(deployment)) {
      boost::json::object status = StatusOf(deployment);
      SetCondition(status, "Progressing", "False", "ReplicaSetCreateError", message, now);
      KELP_RETURN_IF_ERROR(WriteStatus(rollout, std::move(status)));
    }
    events_.Record(rollout.deployment, "Warning", "ReplicaSetCreateError", message);
    return created.status();
  }
  if (!already_existed && replicas > 0) {
    events_.Record(rollout.deployment, "Normal", "ScalingReplicaSet",
                   "Scaled up replica set " + name + " from 0 to " + std::to_string(replicas));
  }
  rollout.new_rs = Share(std::move(*created));
  rollout.all.push_back(rollout.new_rs);

  const std::string revision = std::to_string(new_revision);
  if (Annotation(rollout.deployment, kRevisionAnnotation) != revision) {
    boost::json::object updated = rollout.deployment;
    MutableObjectAt(updated, "metadata.annotations")[kRevisionAnnotation] = revision;
    KELP_ASSIGN_OR_RETURN(rollout.deployment, context_.client.Update(client::kDeployments, updated));
  }
  if (!already_existed && HasProgressDeadline(rollout.deployment)) {
    boost::json::object status = StatusOf(rollout.deployment);
    SetCondition(status, "Progressing", "True", "NewReplicaSetCreated",
                 "Created new replica set " + Quoted(name), now);
    return WriteStatus(rollout, std::move(status));
  }
  return Status::Ok();
}

Result<bool> DeploymentController::ScaleTo(Rollout& rollout, const ObjectPtr& rs,
                                           int64_t replicas) {
  const int64_t current = SpecReplicas(*rs);
  boost::json::object copy = *rs;
  const int64_t desired = SpecReplicas(rollout.deployment);
  const bool annotations_changed =
      SetReplicasAnnotations(copy, desired, desired + MaxSurge(rollout.deployment));
  if (current == replicas && !annotations_changed) return false;
  copy["spec"].get_object()["replicas"] = replicas;
  KELP_ASSIGN_OR_RETURN(boost::json::object written,
                        context_.client.Update(client::kReplicaSets, copy));
  rollout.Replace(Share(std::move(written)));
  if (current == replicas) return false;
  events_.Record(rollout.deployment, "Normal", "ScalingReplicaSet",
                 "Scaled " + std::string(replicas > current ? "up" : "down") + " replica set " +
                     Name(*rs) + " from " + std::to_string(current) + " to " +
                     std::to_string(replicas));
  return true;
}

Status DeploymentController::Scale(Rollout& rollout) {
  const boost::json::object& deployment = rollout.deployment;
  const int64_t replicas = SpecReplicas(deployment);
  if (ObjectPtr only = FindActiveOrLatest(rollout.new_rs, rollout.old)) {
    if (SpecReplicas(*only) == replicas) return Status::Ok();
    return ScaleTo(rollout, only, replicas).status();
  }
  if (IsSaturated(deployment, rollout.new_rs)) {
    for (const ObjectPtr& old : FilterActive(rollout.old)) {
      KELP_RETURN_IF_ERROR(ScaleTo(rollout, old, 0).status());
    }
    return Status::Ok();
  }
  if (!IsRollingUpdate(deployment)) return Status::Ok();
  ReplicaSets all = rollout.old;
  if (rollout.new_rs) all.push_back(rollout.new_rs);
  ReplicaSets active = FilterActive(all);
  const int64_t allowed = replicas > 0 ? replicas + MaxSurge(deployment) : 0;
  const int64_t to_add = allowed - SumSpecReplicas(active);
  // Growing: the biggest (then newest) set takes the leftover; shrinking: the biggest, oldest.
  std::stable_sort(active.begin(), active.end(), [to_add](const ObjectPtr& a, const ObjectPtr& b) {
    if (SpecReplicas(*a) != SpecReplicas(*b)) return SpecReplicas(*a) > SpecReplicas(*b);
    const std::string ta = StringAt(*a, "metadata.creationTimestamp");
    const std::string tb = StringAt(*b, "metadata.creationTimestamp");
    return to_add > 0 ? ta > tb : ta < tb;
  });
  std::vector<int64_t> sizes;
  int64_t added = 0;
  for (const ObjectPtr& rs : active) {
    const int64_t proportion = ScalingProportion(*rs, deployment, to_add, added);
    sizes.push_back(SpecReplicas(*rs) + proportion);
    added += proportion;
  }
  for (size_t i = 0; i < active.size(); ++i) {
    if (i == 0 && to_add != 0) sizes[0] = std::max<int64_t>(0, sizes[0] + to_add - added);
    KELP_RETURN_IF_ERROR(ScaleTo(rollout, active[i], sizes[i]).status());
  }
  return Status::Ok();
}

Status DeploymentController::ScaleOnly(Rollout& rollout) {
  KELP_RETURN_IF_ERROR(Scale(rollout));
  if (BoolAt(rollout.deployment, "spec.paused")) KELP_RETURN_IF_ERROR(CleanupOldReplicaSets(rollout));
  return WriteStatus(rollout, CalculateStatus(rollout));
}

Status DeploymentController::RolloutRolling(Rollout& rollout) {
  KELP_RETURN_IF_ERROR(SyncRevision(rollout, true));
  KELP_ASSIGN_OR_RETURN(bool scaled_up, ReconcileNewReplicaSet(rollout));
  if (scaled_up) return SyncRolloutStatus(rollout);
  KELP_ASSIGN_OR_RETURN(bool scaled_down, ReconcileOldReplicaSets(rollout));
  if (scaled_down) return SyncRolloutStatus(rollout);
  if (DeploymentComplete(rollout.deployment, StatusOf(rollout.deployment))) {
    KELP_RETURN_IF_ERROR(CleanupOldReplicaSets(rollout));
  }
  return SyncRolloutStatus(rollout);
}

Result<bool> DeploymentController::ReconcileNewReplicaSet(Rollout& rollout) {
  const int64_t replicas = SpecReplicas(rollout.deployment);
  const int64_t current = SpecReplicas(*rollout.new_rs);
  if (current == replicas) return false;
  if (current > replicas) return ScaleTo(rollout, rollout.new_rs, replicas);
  ReplicaSets all = rollout.old;
  all.push_back(rollout.new_rs);
  return ScaleTo(rollout, rollout.new_rs,
                 NewReplicaSetReplicas(rollout.deployment, all, *rollout.new_rs));
}

Result<bool> DeploymentController::ReconcileOldReplicaSets(Rollout& rollout) {
  const boost::json::object& deployment = rollout.deployment;
  if (SumSpecReplicas(rollout.old) == 0) return false;
  ReplicaSets all = rollout.old;
  all.push_back(rollout.new_rs);
  const int64_t min_available = SpecReplicas(deployment) - MaxUnavailable(deployment);
  const int64_t new_unavailable =
      SpecReplicas(*rollout.new_rs) - IntAt(*rollout.new_rs, "status.availableReplicas");
  const int64_t max_scaled_down = SumSpecReplicas(all) - min_available - new_unavailable;
  if (max_scaled_down <= 0) return false;

  auto by_creation = [](ReplicaSets sets) {
    std::stable_sort(sets.begin(), sets.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
      return StringAt(*a, "metadata.creationTimestamp") < StringAt(*b, "metadata.creationTimestamp");
    });
    return sets;
  };
  // First drop old replicas that are not available anyway: that costs no availability.
  int64_t cleaned = 0;
  for (const ObjectPtr& rs : by_creation(FilterActive(rollout.old))) {
    if (cleaned >= max_scaled_down) break;
    const int64_t unavailable = SpecReplicas(*rs) - IntAt(*rs, "status.availableReplicas");
    if (unavailable <= 0) continue;
    const int64_t count = std::min(max_scaled_down - cleaned, unavailable);
    KELP_RETURN_IF_ERROR(ScaleTo(rollout, rs, SpecReplicas(*rs) - count).status());
    cleaned += count;
  }
  // Then scale old sets down as far as maxUnavailable allows.
  all = rollout.old;
  all.push_back(rollout.new_rs);
  const int64_t available = SumStatusField(all, "availableReplicas");
  int64_t scaled = 0;
  if (available > min_available) {
    const int64_t total = available - min_available;
    for (const ObjectPtr& rs : by_creation(rollout.old)) {
      if (scaled >= total) break;
      if (SpecReplicas(*rs) == 0) continue;
      const int64_t count = std::min(SpecReplicas(*rs), total - scaled);
      KELP_RETURN_IF_ERROR(ScaleTo(rollout, rs, SpecReplicas(*rs) - count).status());
      scaled += count;
    }
  }
  return cleaned + scaled > 0;
}

Status DeploymentController::RolloutRecreate(Rollout& rollout) {
  bool scaled_down = false;
  for (const ObjectPtr& rs : FilterActive(rollout.old)) {
    KELP_ASSIGN_OR_RETURN(bool scaled, ScaleTo(rollout, rs, 0));
    scaled_down = scaled_down || scaled;
  }
  if (scaled_down || OldPodsRunning(rollout)) return SyncRolloutStatus(rollout);
  if (!rollout.new_rs) KELP_RETURN_IF_ERROR(SyncRevision(rollout, true));
  KELP_RETURN_IF_ERROR(
      ScaleTo(rollout, rollout.new_rs, SpecReplicas(rollout.deployment)).status());
  if (DeploymentComplete(rollout.deployment, StatusOf(rollout.deployment))) {
    KELP_RETURN_IF_ERROR(CleanupOldReplicaSets(rollout));
  }
  return SyncRolloutStatus(rollout);
}

bool DeploymentController::OldPodsRunning(const Rollout& rollout) const {
  if (SumStatusField(rollout.old, "replicas") > 0) return true;
  std::set<std::string> old_uids;
  for (const ObjectPtr& rs : rollout.old) old_uids.insert(Uid(*rs));
  for (const ObjectPtr& pod : pods_.ListNamespace(Namespace(rollout.deployment))) {
    const boost::json::object* owner = ControllerRefOf(*pod);
    if (owner == nullptr || !old_uids.contains(StringAt(*owner, "uid"))) continue;
    const std::string phase = StringAt(*pod, "status.phase");
    if (phase != "Failed" && phase != "Succeeded") return true;
  }
  return false;
}

Status DeploymentController::CleanupOldReplicaSets(Rollout& rollout) {
  std::optional<int64_t> limit = RevisionHistoryLimit(rollout.deployment);
  if (!limit) return Status::Ok();
  ReplicaSets cleanable;
  for (const ObjectPtr& rs : rollout.old) {
    if (!IsBeingDeleted(*rs)) cleanable.push_back(rs);
  }
  const int64_t excess = static_cast<int64_t>(cleanable.size()) - *limit;
  if (excess <= 0) return Status::Ok();
  std::stable_sort(cleanable.begin(), cleanable.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    if (Revision(*a) != Revision(*b)) return Revision(*a) < Revision(*b);
    return StringAt(*a, "metadata.creationTimestamp") < StringAt(*b, "metadata.creationTimestamp");
  });
  for (int64_t i = 0; i < excess; ++i) {
    const boost::json::object& rs = *cleanable[i];
    if (IntAt(rs, "status.replicas") != 0 || SpecReplicas(rs) != 0 ||
        IntAt(rs, "metadata.generation") > IntAt(rs, "status.observedGeneration")) {
      continue;
    }
    client::DeleteOptions options;
    options.propagation_policy = "Background";
    Status deleted = context_.client.Delete(client::kReplicaSets, Namespace(rs), Name(rs), options);
    if (!deleted.ok() && deleted.code() != StatusCode::kNotFound) return deleted;
  }
  return Status::Ok();
}

bool DeploymentController::IsScalingEvent(const Rollout& rollout) const {
  ReplicaSets all = rollout.old;
  if (rollout.new_rs) all.push_back(rollout.new_rs);
  for (const ObjectPtr& rs : FilterActive(all)) {
    std::optional<std::string> desired = Annotation(*rs, kDesiredReplicasAnnotation);
    if (desired && *desired != std::to_string(SpecReplicas(rollout.deployment))) return true;
  }
  return false;
}

boost::json::object DeploymentController::CalculateStatus(const Rollout& rollout) const {
  const boost::json::object& deployment = rollout.deployment;
  ReplicaSets all = rollout.old;
  if (rollout.new_rs) all.push_back(rollout.new_rs);
  const int64_t available = SumStatusField(all, "availableReplicas");
  const int64_t unavailable = std::max<int64_t>(0, SumSpecReplicas(all) - available);
  boost::json::object status = StatusOf(deployment);
  SetOrErase(status, "observedGeneration", IntAt(deployment, "metadata.generation"));
  SetOrErase(status, "replicas", SumStatusField(all, "replicas"));
  SetOrErase(status, "updatedReplicas",
             rollout.new_rs ? SumStatusField({rollout.new_rs}, "replicas") : 0);
  SetOrErase(status, "readyReplicas", SumStatusField(all, "readyReplicas"));
  SetOrErase(status, "availableReplicas", available);
  SetOrErase(status, "unavailableReplicas", unavailable);
  const auto now = context_.clock.WallNow();
  if (available >= SpecReplicas(deployment) - MaxUnavailable(deployment)) {
    SetCondition(status, "Available", "True", "MinimumReplicasAvailable",
                 "Deployment has minimum availability.", now);
  } else {
    SetCondition(status, "Available", "False", "MinimumReplicasUnavailable",
                 "Deployment does not have minimum availability.", now);
  }
  return status;
}

Status DeploymentController::SyncRolloutStatus(Rollout& rollout) {
  const boost::json::object& deployment = rollout.deployment;
  boost::json::object status = CalculateStatus(rollout);
  const boost::json::object old_status = StatusOf(deployment);
  const boost::json::object* current = StatusCondition(old_status, "Progressing");
  const auto now = context_.clock.WallNow();
  const std::string new_rs_name = rollout.new_rs ? Name(*rollout.new_rs) : "";
  const bool already_complete =
      IntAt(status, "replicas") == IntAt(status, "updatedReplicas") && current != nullptr &&
      StringAt(*current, "reason") == "NewReplicaSetAvailable";
  if (!HasProgressDeadline(deployment)) {
    RemoveCondition(status, "Progressing");
  } else if (!already_complete) {
    if (DeploymentComplete(deployment, status)) {
      SetCondition(status, "Progressing", "True", "NewReplicaSetAvailable",
                   "ReplicaSet " + Quoted(new_rs_name) + " has successfully progressed.", now);
    } else if (DeploymentProgressing(deployment, status)) {
      const std::string since = current && StringAt(*current, "status") == "True"
                                    ? StringAt(*current, "lastTransitionTime")
                                    : FormatRfc3339(now);
      RemoveCondition(status, "Progressing");
      SetCondition(status, "Progressing", "True", "ReplicaSetUpdated",
                   rollout.new_rs ? "ReplicaSet " + Quoted(new_rs_name) + " is progressing."
                                  : "Deployment " + Quoted(Name(deployment)) + " is progressing.",
                   now);
      for (boost::json::value& entry : status["conditions"].get_array()) {
        if (StringAt(entry.get_object(), "type") == "Progressing") {
          entry.get_object()["lastTransitionTime"] = since;
        }
      }
    } else if (DeploymentTimedOut(deployment, status, now)) {
      SetCondition(status, "Progressing", "False", "ProgressDeadlineExceeded",
                   "ReplicaSet " + Quoted(new_rs_name) + " has timed out progressing.", now);
    }
  }
  if (status == old_status) {
    // Nothing moved: look again when the progress deadline would pass.
    const boost::json::object* progressing = StatusCondition(status, "Progressing");
    if (progressing != nullptr && HasProgressDeadline(deployment) &&
        StringAt(*progressing, "reason") != "NewReplicaSetAvailable" &&
        StringAt(*progressing, "reason") != "ProgressDeadlineExceeded" &&
        !DeploymentComplete(deployment, status)) {
      queue_.AddAfter(rollout.key,
                      std::chrono::seconds(IntAt(deployment, "spec.progressDeadlineSeconds") + 1));
    }
    return Status::Ok();
  }
  return WriteStatus(rollout, std::move(status));
}

Status DeploymentController::WriteStatus(Rollout& rollout, boost::json::object status) {
  if (StatusOf(rollout.deployment) == status) return Status::Ok();
  boost::json::object updated = rollout.deployment;
  updated["status"] = std::move(status);
  KELP_ASSIGN_OR_RETURN(rollout.deployment,
                        context_.client.Update(client::kDeployments, updated, "status"));
  return Status::Ok();
}

void DeploymentController::EnqueueOwner(const boost::json::object& replica_set) {
  const boost::json::object* owner = ControllerRefOf(replica_set);
  if (owner != nullptr) {
    if (StringAt(*owner, "kind") != "Deployment") return;
    ObjectPtr deployment =
        deployments_.Get(Namespace(replica_set) + "/" + StringAt(*owner, "name"));
    if (deployment && Uid(*deployment) == StringAt(*owner, "uid")) {
      queue_.Add(client::ObjectKey(*deployment));
    }
    return;
  }
  for (const ObjectPtr& deployment : deployments_.ListNamespace(Namespace(replica_set))) {
    if (SelectorMatches(*deployment, replica_set)) queue_.Add(client::ObjectKey(*deployment));
  }
}

void DeploymentController::OnReplicaSetEvent(const ObjectPtr& replica_set) {
  EnqueueOwner(*replica_set);
}

void DeploymentController::OnPodDeleted(const ObjectPtr& pod) {
  const boost::json::object* owner = ControllerRefOf(*pod);
  if (owner == nullptr || StringAt(*owner, "kind") != "ReplicaSet") return;
  ObjectPtr replica_set = replica_sets_.Get(Namespace(*pod) + "/" + StringAt(*owner, "name"));
  if (!replica_set) return;
  const boost::json::object* rs_owner = ControllerRefOf(*replica_set);
  if (rs_owner == nullptr) return;
  ObjectPtr deployment =
      deployments_.Get(Namespace(*pod) + "/" + StringAt(*rs_owner, "name"));
  // Only Recreate waits for old pods to be gone.
  if (deployment && StringAt(*deployment, "spec.strategy.type") == "Recreate") {
    queue_.Add(client::ObjectKey(*deployment));
  }
}

}  // namespace kelp::controllers
