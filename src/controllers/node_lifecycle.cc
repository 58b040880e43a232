// NodeLifecycleController: each pass compares what the node last said (lease, heartbeat)
// with the Clock, writes conditions and taints only when they change, and deletes the pods
// whose tolerations of the node's NoExecute taints ran out.
#include "controllers/node_lifecycle.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <algorithm>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "api/duration.h"
#include "common/json.h"
#include "controllers/object_meta.h"
#include "controllers/pod_state.h"

namespace kelp::controllers {

namespace json = boost::json;

namespace {

constexpr std::string_view kNodeLeaseNamespace = "kube-node-lease";
constexpr std::string_view kPodsByNodeIndex = "node-lifecycle/spec.nodeName";
const char* const kNodeConditions[] = {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"};

json::object* MutableCondition(json::array& conditions, std::string_view type) {
  for (json::value& entry : conditions) {
    if (entry.is_object() && StringAt(entry.get_object(), "type") == type) {
      return &entry.get_object();
    }
  }
  return nullptr;
}

std::string NodeConditionStatus(const json::object& node, std::string_view type) {
  const json::value* conditions = FindPath(node, "status.conditions");
  if (conditions == nullptr || !conditions->is_array()) return "";
  for (const json::value& entry : conditions->get_array()) {
    if (entry.is_object() && StringAt(entry.get_object(), "type") == type) {
      return StringAt(entry.get_object(), "status");
    }
  }
  return "";
}

std::string ConditionField(const json::object& node, std::string_view type,
                           std::string_view field) {
  const json::value* conditions = FindPath(node, "status.conditions");
  if (conditions == nullptr || !conditions->is_array()) return "";
  for (const json::value& entry : conditions->get_array()) {
    if (entry.is_object() && StringAt(entry.get_object(), "type") == type) {
      return StringAt(entry.get_object(), field);
    }
  }
  return "";
}

json::array Taints(const json::object& node) {
  const json::value* taints = FindPath(node, "spec.taints");
  return taints && taints->is_array() ? taints->get_array() : json::array();
}

}  // namespace

bool Tolerates(const json::object& toleration, const json::object& taint) {
  const std::string effect = StringAt(toleration, "effect");
  if (!effect.empty() && effect != StringAt(taint, "effect")) return false;
  const std::string key = StringAt(toleration, "key");
  const std::string op = StringAt(toleration, "operator");
  if (key.empty()) return op == "Exists";
  if (key != StringAt(taint, "key")) return false;
  if (op == "Exists") return true;
  return StringAt(toleration, "value") == StringAt(taint, "value");
}

NodeLifecycleController::NodeLifecycleController(ControllerContext& context)
    : context_(context),
      nodes_(context.informers.For(client::kNodes)),
      leases_(context.informers.For(client::kLeases)),
      pods_(context.informers.For(client::kPods)),
      events_(context.client, context.clock, "node-controller") {
  pods_.AddIndex(std::string(kPodsByNodeIndex), [](const json::object& pod) {
    std::string node = StringAt(pod, "spec.nodeName");
    return node.empty() ? std::vector<std::string>{} : std::vector<std::string>{node};
  });
  nodes_.AddHandlers({.on_add =
                          [this](const client::ObjectPtr& node) {
                            const std::string name = StringAt(*node, "metadata.name");
                            events_.Record(*node, "Normal", "RegisteredNode",
                                           "Node " + name + " event: Registered Node " + name +
                                               " in Controller");
                          },
                      .on_delete = [this](const client::ObjectPtr& node) {
                        const std::string name = StringAt(*node, "metadata.name");
                        events_.Record(*node, "Normal", "RemovingNode",
                                       "Node " + name + " event: Removing Node " + name +
                                           " from Controller");
                      }});
}

NodeLifecycleController::~NodeLifecycleController() { Stop(); }

void NodeLifecycleController::Start() {
  monitor_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      Status status = MonitorNodes();
      if (!status.ok()) spdlog::warn("node-lifecycle-controller: {}", status.ToString());
      lock.lock();
      wake_.wait_for(lock, context_.options.node_monitor_period, [this] { return stopping_; });
    }
  });
}

void NodeLifecycleController::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (monitor_.joinable()) monitor_.join();
}

bool NodeLifecycleController::Healthy(const json::object& node) {
  const std::string name = StringAt(node, "metadata.name");
  client::ObjectPtr lease = leases_.Get(std::string(kNodeLeaseNamespace) + "/" + name);
  const std::string renew_time = lease ? StringAt(*lease, "spec.renewTime") : "";
  const std::string heartbeat = ConditionField(node, "Ready", "lastHeartbeatTime");
  const auto now = context_.clock.Now();
  auto [entry, first] = health_.try_emplace(name, Health{renew_time, heartbeat, now});
  Health& health = entry->second;
  if (!first && (health.lease_renew_time != renew_time || health.heartbeat_time != heartbeat)) {
    health = {renew_time, heartbeat, now};
  }
  return now - health.heard_at <= context_.options.node_monitor_grace_period;
}

Result<json::object> NodeLifecycleController::MarkUnknown(const json::object& node) {
  const std::string now = FormatRfc3339(context_.clock.WallNow());
  json::object updated = node;
  json::value& status = updated["status"];
  if (!status.is_object()) status = json::object();
  json::value& conditions = status.as_object()["conditions"];
  if (!conditions.is_array()) conditions = json::array();
  for (const char* type : kNodeConditions) {
    json::object* condition = MutableCondition(conditions.as_array(), type);
    if (condition == nullptr) {
      conditions.as_array().push_back(
          json::object{{"type", type},
                       {"status", "Unknown"},
                       {"lastHeartbeatTime", StringAt(node, "metadata.creationTimestamp")},
                       {"lastTransitionTime", now},
                       {"reason", "NodeStatusNeverUpdated"},
                       {"message", "Kubelet never posted node status."}});
      continue;
    }
    if (StringAt(*condition, "status") == "Unknown") continue;
    (*condition)["status"] = "Unknown";
    (*condition)["reason"] = "NodeStatusUnknown";
    (*condition)["message"] = "Kubelet stopped posting node status.";
    (*condition)["lastTransitionTime"] = now;
  }
  KELP_ASSIGN_OR_RETURN(json::object stored, context_.client.Update(client::kNodes, updated, "status"));
  const std::string name = StringAt(node, "metadata.name");
  events_.Record(node, "Normal", "NodeNotReady", "Node " + name + " status is now: NodeNotReady");
  // As Kubernetes' MarkPodsNotReady: the node's pods leave the Services' ready endpoints.
  Status first_error = Status::Ok();
  for (const client::ObjectPtr& pod : pods_.ByIndex(kPodsByNodeIndex, name)) {
    if (!IsPodReady(*pod)) continue;
    json::object pod_status = *pod;
    json::array& pod_conditions = pod_status["status"].as_object()["conditions"].as_array();
    json::object* ready = MutableCondition(pod_conditions, "Ready");
    (*ready)["status"] = "False";
    (*ready)["lastTransitionTime"] = now;
    Status written = context_.client.Update(client::kPods, pod_status, "status").status();
    if (!written.ok() && first_error.ok()) first_error = written;
  }
  KELP_RETURN_IF_ERROR(first_error);
  return stored;
}

Result<json::object> NodeLifecycleController::ReconcileTaints(const json::object& node, bool healthy,
                                                              bool no_execute) {
  const std::string ready = NodeConditionStatus(node, "Ready");
  const bool unreachable = !healthy || ready == "Unknown";
  const bool not_ready = !unreachable && ready == "False";
  // As Kubernetes: NoSchedule taints by condition (TaintNodesByCondition) keep new pods away,
  // NoExecute taints evict — but not while the whole cluster is disrupted.
  const std::pair<std::string_view, std::string_view> wanted[] = {
      {kUnreachableTaint, unreachable ? "NoSchedule" : ""},
      {kUnreachableTaint, unreachable && no_execute ? "NoExecute" : ""},
      {kNotReadyTaint, not_ready ? "NoSchedule" : ""},
      {kNotReadyTaint, not_ready && no_execute ? "NoExecute" : ""}};
  auto is_wanted = [&wanted](std::string_view key, std::string_view effect) {
    for (const auto& [wanted_key, wanted_effect] : wanted) {
      if (wanted_key == key && wanted_effect == effect) return true;
    }
    return false;
  };
  json::array taints;
  std::set<std::pair<std::string, std::string>> present;
  bool changed = false;
  for (const json::value& taint : Taints(node)) {
    const std::string key = taint.is_object() ? StringAt(taint.get_object(), "key") : "";
    const std::string effect = taint.is_object() ? StringAt(taint.get_object(), "effect") : "";
    if ((key == kUnreachableTaint || key == kNotReadyTaint) && !is_wanted(key, effect)) {
      changed = true;
      continue;
    }
    present.emplace(key, effect);
    taints.push_back(taint);
  }
  const std::string now = FormatRfc3339(context_.clock.WallNow());
  for (const auto& [key, effect] : wanted) {
    if (effect.empty() || present.contains({std::string(key), std::string(effect)})) continue;
    json::object taint{{"key", key}, {"effect", effect}};
    if (effect == "NoExecute") taint["timeAdded"] = now;
    taints.push_back(std::move(taint));
    changed = true;
  }
  if (!changed) return node;
  json::object updated = node;
  json::value& spec = updated["spec"];
  if (!spec.is_object()) spec = json::object();
  if (taints.empty()) {
    spec.as_object().erase("taints");
  } else {
    spec.as_object()["taints"] = std::move(taints);
  }
  return context_.client.Update(client::kNodes, updated);
}

Status NodeLifecycleController::EvictPods(const json::object& node) {
  std::vector<json::object> no_execute;
  for (const json::value& taint : Taints(node)) {
    if (taint.is_object() && StringAt(taint.get_object(), "effect") == "NoExecute") {
      no_execute.push_back(taint.get_object());
    }
  }
  if (no_execute.empty()) return Status::Ok();
  const auto now = context_.clock.WallNow();
  Status first_error = Status::Ok();
  for (const client::ObjectPtr& pod :
       pods_.ByIndex(kPodsByNodeIndex, StringAt(node, "metadata.name"))) {
    if (IsBeingDeleted(*pod)) continue;
    const json::value* tolerations = FindPath(*pod, "spec.tolerations");
    std::optional<std::chrono::system_clock::time_point> evict_at;
    bool tolerated_forever = true;
    for (const json::object& taint : no_execute) {
      const json::object* match = nullptr;
      if (tolerations && tolerations->is_array()) {
        for (const json::value& toleration : tolerations->get_array()) {
          if (toleration.is_object() && Tolerates(toleration.get_object(), taint)) {
            match = &toleration.get_object();
            break;
          }
        }
      }
      const json::value* seconds = match ? match->if_contains("tolerationSeconds") : nullptr;
      if (match != nullptr && (seconds == nullptr || !seconds->is_int64())) continue;
      tolerated_forever = false;
      auto added = api::ParseRfc3339(StringAt(taint, "timeAdded")).value_or(now);
      auto deadline = match == nullptr ? added : added + std::chrono::seconds(seconds->get_int64());
      if (!evict_at || deadline < *evict_at) evict_at = deadline;
    }
    if (tolerated_forever || now < *evict_at) continue;
    const std::string namespace_name = StringAt(*pod, "metadata.namespace");
    const std::string name = StringAt(*pod, "metadata.name");
    events_.Record(*pod, "Normal", "TaintManagerEviction",
                   "Marking for deletion Pod " + namespace_name + "/" + name);
    Status deleted = context_.client.Delete(
        client::kPods, namespace_name, name,
        {.precondition_uid = StringAt(*pod, "metadata.uid")});
    if (!deleted.ok() && deleted.code() != StatusCode::kNotFound && first_error.ok()) {
      first_error = deleted;
    }
  }
  return first_error;
}

Status NodeLifecycleController::MonitorNodes() {
  Status first_error = Status::Ok();
  auto keep = [&first_error](Status status) {
    if (!status.ok() && first_error.ok()) first_error = std::move(status);
  };
  std::map<std::string, Health> seen;
  std::vector<std::pair<json::object, bool>> nodes;  // node, healthy
  for (const client::ObjectPtr& cached : nodes_.List()) {
    json::object node = *cached;
    const std::string name = StringAt(node, "metadata.name");
    const bool healthy = Healthy(node);
    seen.insert(*health_.find(name));
    if (!healthy && NodeConditionStatus(node, "Ready") != "Unknown") {
      Result<json::object> marked = MarkUnknown(node);
      keep(marked.status());
      if (!marked.ok()) continue;
      node = std::move(*marked);
    }
    nodes.emplace_back(std::move(node), healthy);
  }
  health_ = std::move(seen);  // forgets deleted nodes

  // Kubernetes' full disruption: when no node is Ready the cause is more likely the control
  // plane's network than every node at once, so nothing is evicted and the NoExecute taints
  // are lifted until a node is Ready again.
  const bool full_disruption =
      !nodes.empty() && std::none_of(nodes.begin(), nodes.end(), [](const auto& entry) {
        return entry.second && NodeConditionStatus(entry.first, "Ready") == "True";
      });
  if (full_disruption != full_disruption_) {
    full_disruption_ = full_disruption;
    if (full_disruption) {
      spdlog::warn("node-lifecycle-controller: no node is Ready: full disruption, evictions stop");
    } else {
      spdlog::info("node-lifecycle-controller: a node is Ready again: evictions resume");
    }
  }
  for (const auto& [node, healthy] : nodes) {
    Result<json::object> tainted = ReconcileTaints(node, healthy, !full_disruption);
    keep(tainted.status());
    if (tainted.ok() && !full_disruption) keep(EvictPods(*tainted));
  }
  return first_error;
}

}  // namespace kelp::controllers
