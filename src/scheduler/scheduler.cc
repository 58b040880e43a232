// The Scheduler's informer handlers, queue workers and API writes (binding, the
// PodScheduled condition, events); the decision itself is ClusterView::Schedule.
#include "scheduler/scheduler.h"

#include <chrono>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/json.h"

namespace kelp::scheduler {
namespace {

namespace json = boost::json;

std::string StringAt(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

bool IsTerminated(const json::object& pod) {
  std::string phase = StringAt(pod, "status.phase");
  return phase == "Succeeded" || phase == "Failed";
}

// A pod this scheduler must place: unbound, not being deleted, ours.
bool NeedsScheduling(const json::object& pod) {
  if (!StringAt(pod, "spec.nodeName").empty()) return false;
  if (FindPath(pod, "metadata.deletionTimestamp")) return false;
  std::string scheduler = StringAt(pod, "spec.schedulerName");
  return scheduler.empty() || scheduler == kSchedulerName;
}

std::string Rfc3339(std::chrono::system_clock::time_point time) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z",
                     std::chrono::time_point_cast<std::chrono::seconds>(time));
}

}  // namespace

Scheduler::Scheduler(const controllers::ControllerContext& context, int workers)
    : client_(context.client),
      clock_(context.clock),
      pods_(context.informers.For(client::kPods)),
      nodes_(context.informers.For(client::kNodes)),
      queue_(context.clock),
      recorder_(context.client, context.clock, std::string(kSchedulerName)),
      worker_count_(workers) {
  pods_.AddHandlers({
      .on_add = [this](const client::ObjectPtr& pod) { OnPod(nullptr, pod); },
      .on_update = [this](const client::ObjectPtr& old_pod,
                          const client::ObjectPtr& pod) { OnPod(old_pod, pod); },
      .on_delete = [this](const client::ObjectPtr& pod) { OnPodDeleted(pod); },
  });
  nodes_.AddHandlers({
      .on_add = [this](const client::ObjectPtr& node) { OnNode(node); },
      .on_update = [this](const client::ObjectPtr&,
                          const client::ObjectPtr& node) { OnNode(node); },
      .on_delete = [this](const client::ObjectPtr& node) { OnNodeDeleted(node); },
  });
}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  for (int i = 0; i < worker_count_; ++i) workers_.emplace_back([this] { Worker(); });
}

void Scheduler::Stop() {
  queue_.ShutDown();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  recorder_.Flush();
}

int64_t Scheduler::bound_count() const {
  std::lock_guard lock(mutex_);
  return bound_;
}

void Scheduler::OnPod(const client::ObjectPtr& old_pod, const client::ObjectPtr& pod) {
  const std::string key = client::ObjectKey(*pod);
  std::string node = StringAt(*pod, "spec.nodeName");
  if (!node.empty()) {
    std::lock_guard lock(mutex_);
    unschedulable_.erase(key);
    if (IsTerminated(*pod)) {
      view_.RemovePod(key);
    } else {
      view_.AddPod(key, node, PodRequest::FromPod(*pod));
    }
    return;
  }
  if (!NeedsScheduling(*pod)) return;
  {
    std::lock_guard lock(mutex_);
    // Our own status write on a pod that waits for the cluster to change is no reason to
    // try again; a change of its spec is.
    if (unschedulable_.contains(key)) {
      const json::value* old_spec = old_pod ? old_pod->if_contains("spec") : nullptr;
      const json::value* spec = pod->if_contains("spec");
      if (old_spec && spec && *old_spec == *spec) return;
      unschedulable_.erase(key);
    }
  }
  queue_.Add(key);
}

void Scheduler::OnPodDeleted(const client::ObjectPtr& pod) {
  const std::string key = client::ObjectKey(*pod);
  {
    std::lock_guard lock(mutex_);
    unschedulable_.erase(key);
    view_.RemovePod(key);
  }
  RetryUnschedulable();
}

void Scheduler::OnNode(const client::ObjectPtr& node) {
  {
    std::lock_guard lock(mutex_);
    view_.UpsertNode(*node);
  }
  RetryUnschedulable();
}

void Scheduler::OnNodeDeleted(const client::ObjectPtr& node) {
  std::lock_guard lock(mutex_);
  view_.RemoveNode(StringAt(*node, "metadata.name"));
}

void Scheduler::RetryUnschedulable() {
  std::set<std::string> retry;
  {
    std::lock_guard lock(mutex_);
    retry.swap(unschedulable_);
  }
  for (const std::string& key : retry) queue_.Add(key);
}

void Scheduler::Worker() {
  while (std::optional<std::string> key = queue_.Get()) {
    Status status = Sync(*key);
    if (status.ok()) {
      queue_.Forget(*key);
    } else {
      spdlog::warn("scheduler: {}: {}", *key, status.ToString());
      queue_.AddRateLimited(*key);
    }
    queue_.Done(*key);
  }
}

Status Scheduler::Sync(const std::string& key) {
  client::ObjectPtr pod = pods_.Get(key);
  if (!pod || !NeedsScheduling(*pod)) return Status::Ok();
  ScheduleDecision decision;
  {
    std::lock_guard lock(mutex_);
    if (view_.HasPod(key)) return Status::Ok();  // assumed; the binding is under way
    decision = view_.Schedule(*pod);
    if (!decision.node) {
      unschedulable_.insert(key);
    } else {
      view_.AddPod(key, *decision.node, PodRequest::FromPod(*pod));
    }
  }
  if (!decision.node) {
    ReportUnschedulable(*pod, decision.failure_message);
    return Status::Ok();
  }

  auto [namespace_name, pod_name] = client::SplitKey(key);
  json::object binding{
      {"apiVersion", "v1"},
      {"kind", "Binding"},
      {"metadata", {{"name", pod_name}, {"namespace", namespace_name}}},
      {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", *decision.node}}}};
  Result<json::object> bound =
      client_.CreateSubresource(client::kPods, namespace_name, pod_name, "binding", binding);
  if (!bound.ok()) {
    {
      std::lock_guard lock(mutex_);
      view_.RemovePod(key);
    }
    // Gone, or bound by someone else: the informer tells the rest.
    StatusCode code = bound.status().code();
    if (code == StatusCode::kNotFound || code == StatusCode::kConflict) return Status::Ok();
    return bound.status().WithContext("bind to " + *decision.node);
  }
  {
    std::lock_guard lock(mutex_);
    ++bound_;
  }
  recorder_.Record(*pod, "Normal", "Scheduled",
                   "Successfully assigned " + key + " to " + *decision.node);
  return Status::Ok();
}

void Scheduler::ReportUnschedulable(const json::object& pod, const std::string& message) {
  recorder_.Record(pod, "Warning", "FailedScheduling", message);
  json::array conditions;
  if (const json::value* existing = FindPath(pod, "status.conditions");
      existing && existing->is_array()) {
    for (const json::value& condition : existing->as_array()) {
      if (!condition.is_object()) continue;
      const json::object& c = condition.as_object();
      if (StringAt(c, "type") != "PodScheduled") {
        conditions.push_back(condition);
      } else if (StringAt(c, "status") == "False" && StringAt(c, "message") == message) {
        return;  // already says so
      }
    }
  }
  conditions.push_back(json::object{{"type", "PodScheduled"},
                                    {"status", "False"},
                                    {"reason", "Unschedulable"},
                                    {"message", message},
                                    {"lastProbeTime", nullptr},
                                    {"lastTransitionTime", Rfc3339(clock_.WallNow())}});
  json::object patch{{"status", {{"phase", "Pending"}, {"conditions", std::move(conditions)}}}};
  auto [namespace_name, pod_name] = client::SplitKey(client::ObjectKey(pod));
  Result<json::object> patched = client_.Patch(client::kPods, namespace_name, pod_name,
                                               client::PatchType::kMerge,
                                               SerializeJson(patch), "status");
  if (!patched.ok() && patched.status().code() != StatusCode::kNotFound) {
    spdlog::warn("scheduler: set PodScheduled=False on {}/{}: {}", namespace_name, pod_name,
                 patched.status().ToString());
  }
}

}  // namespace kelp::scheduler
