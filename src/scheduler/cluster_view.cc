// Filters, scores and the node/pod accounting of ClusterView (see cluster_view.h). The filter
// order and reason texts follow kube-scheduler's plugins: NodeUnschedulable, TaintToleration,
// NodeAffinity (nodeSelector), NodePorts, NodeResourcesFit.
#include "scheduler/cluster_view.h"

#include <algorithm>
#include <cmath>

#include "api/quantity.h"
#include "common/json.h"

namespace kelp::scheduler {
namespace {

namespace json = boost::json;

// Kubernetes' scoring defaults for containers without requests (non-zero requests).
constexpr int64_t kDefaultMilliCpuRequest = 100;
constexpr int64_t kDefaultMemoryRequest = 200 * 1024 * 1024;

std::string StringAt(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

int64_t QuantityOr(const json::object* resources, std::string_view name, double scale,
                   int64_t fallback) {
  if (!resources) return fallback;
  const json::value* value = resources->if_contains(name);
  if (!value || !value->is_string()) return fallback;
  Result<long double> parsed = api::ParseQuantity(value->as_string());
  if (!parsed.ok()) return fallback;
  return static_cast<int64_t>(std::ceil(*parsed * scale));
}

const json::object* ObjectAt(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  return value ? value->if_object() : nullptr;
}

const json::array* ArrayAt(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  return value ? value->if_array() : nullptr;
}

struct Requests {
  int64_t milli_cpu = 0;
  int64_t memory = 0;
};

Requests ContainerRequests(const json::object& container) {
  const json::object* requests = ObjectAt(container, "resources.requests");
  return {QuantityOr(requests, "cpu", 1000, 0), QuantityOr(requests, "memory", 1, 0)};
}

bool Tolerates(const json::object& toleration, std::string_view key, std::string_view value,
               std::string_view effect) {
  std::string t_effect = StringAt(toleration, "effect");
  if (!t_effect.empty() && t_effect != effect) return false;
  std::string t_key = StringAt(toleration, "key");
  std::string op = StringAt(toleration, "operator");
  if (op.empty()) op = "Equal";
  if (t_key.empty()) return op == "Exists";
  if (t_key != key) return false;
  if (op == "Exists") return true;
  return op == "Equal" && StringAt(toleration, "value") == value;
}

bool PodTolerates(const json::object& pod, std::string_view key, std::string_view value,
                  std::string_view effect) {
  const json::array* tolerations = ArrayAt(pod, "spec.tolerations");
  if (!tolerations) return false;
  return std::any_of(tolerations->begin(), tolerations->end(), [&](const json::value& t) {
    return t.is_object() && Tolerates(t.as_object(), key, value, effect);
  });
}

}  // namespace

PodRequest PodRequest::FromPod(const json::object& pod) {
  PodRequest request;
  if (const json::array* containers = ArrayAt(pod, "spec.containers")) {
    for (const json::value& container : *containers) {
      if (!container.is_object()) continue;
      Requests r = ContainerRequests(container.as_object());
      request.milli_cpu += r.milli_cpu;
      request.memory += r.memory;
      if (const json::array* ports = ArrayAt(container.as_object(), "ports")) {
        for (const json::value& port : *ports) {
          if (!port.is_object()) continue;
          const json::value* host_port = port.as_object().if_contains("hostPort");
          if (!host_port || !host_port->is_int64() || host_port->as_int64() <= 0) continue;
          std::string protocol = StringAt(port.as_object(), "protocol");
          request.host_ports.emplace(protocol.empty() ? "TCP" : protocol,
                                     host_port->as_int64());
        }
      }
    }
  }
  // Init containers run one at a time before the others: the pod needs the larger of the two.
  if (const json::array* init = ArrayAt(pod, "spec.initContainers")) {
    for (const json::value& container : *init) {
      if (!container.is_object()) continue;
      Requests r = ContainerRequests(container.as_object());
      request.milli_cpu = std::max(request.milli_cpu, r.milli_cpu);
      request.memory = std::max(request.memory, r.memory);
    }
  }
  if (const json::array* owners = ArrayAt(pod, "metadata.ownerReferences")) {
    for (const json::value& owner : *owners) {
      if (!owner.is_object()) continue;
      const json::value* controller = owner.as_object().if_contains("controller");
      if (controller && controller->is_bool() && controller->as_bool()) {
        request.owner_uid = StringAt(owner.as_object(), "uid");
      }
    }
  }
  return request;
}

void ClusterView::UpsertNode(const json::object& node) {
  std::string name = StringAt(node, "metadata.name");
  if (name.empty()) return;
  auto [it, inserted] = nodes_.try_emplace(name);
  NodeState& state = it->second;
  state.name = name;
  state.labels.clear();
  if (const json::object* labels = ObjectAt(node, "metadata.labels")) {
    for (const auto& [key, value] : *labels) {
      if (value.is_string()) state.labels[std::string(key)] = std::string(value.as_string());
    }
  }
  state.taints.clear();
  if (const json::array* taints = ArrayAt(node, "spec.taints")) {
    for (const json::value& taint : *taints) {
      if (!taint.is_object()) continue;
      state.taints.push_back({StringAt(taint.as_object(), "key"),
                              StringAt(taint.as_object(), "value"),
                              StringAt(taint.as_object(), "effect")});
    }
  }
  const json::value* unschedulable = FindPath(node, "spec.unschedulable");
  state.unschedulable = unschedulable && unschedulable->is_bool() && unschedulable->as_bool();
  state.ready = false;
  if (const json::array* conditions = ArrayAt(node, "status.conditions")) {
    for (const json::value& condition : *conditions) {
      if (condition.is_object() && StringAt(condition.as_object(), "type") == "Ready") {
        state.ready = StringAt(condition.as_object(), "status") == "True";
      }
    }
  }
  const json::object* allocatable = ObjectAt(node, "status.allocatable");
  if (!allocatable) allocatable = ObjectAt(node, "status.capacity");
  state.allocatable_milli_cpu = QuantityOr(allocatable, "cpu", 1000, 0);
  state.allocatable_memory = QuantityOr(allocatable, "memory", 1, 0);
  state.allocatable_pods = QuantityOr(allocatable, "pods", 1, 0);
  if (inserted) {
    // Pods seen before their node (informers sync independently) count from now on.
    for (const auto& [key, pod] : pods_) {
      if (pod.node == name) Account(state, pod.request, +1);
    }
  }
}

void ClusterView::RemoveNode(const std::string& name) { nodes_.erase(name); }

void ClusterView::AddPod(const std::string& pod_key, const std::string& node_name,
                         const PodRequest& request) {
  RemovePod(pod_key);
  pods_[pod_key] = {node_name, request};
  if (auto node = nodes_.find(node_name); node != nodes_.end()) {
    Account(node->second, request, +1);
  }
}

void ClusterView::RemovePod(const std::string& pod_key) {
  auto pod = pods_.find(pod_key);
  if (pod == pods_.end()) return;
  if (auto node = nodes_.find(pod->second.node); node != nodes_.end()) {
    Account(node->second, pod->second.request, -1);
  }
  pods_.erase(pod);
}

void ClusterView::Account(NodeState& node, const PodRequest& request, int sign) {
  node.requested_milli_cpu += sign * request.milli_cpu;
  node.requested_memory += sign * request.memory;
  node.nonzero_milli_cpu +=
      sign * (request.milli_cpu ? request.milli_cpu : kDefaultMilliCpuRequest);
  node.nonzero_memory += sign * (request.memory ? request.memory : kDefaultMemoryRequest);
  node.pod_count += sign;
  for (const auto& port : request.host_ports) {
    if (sign > 0) {
      node.host_ports.insert(port);
    } else if (auto it = node.host_ports.find(port); it != node.host_ports.end()) {
      node.host_ports.erase(it);
    }
  }
  if (!request.owner_uid.empty()) {
    int& count = node.pods_by_owner[request.owner_uid];
    count += sign;
    if (count <= 0) node.pods_by_owner.erase(request.owner_uid);
  }
}

std::vector<std::string> ClusterView::FilterReasons(const NodeState& node,
                                                    const json::object& pod,
                                                    const PodRequest& request,
                                                    bool& preemption_helps) const {
  preemption_helps = false;
  if (!node.ready && !PodTolerates(pod, "node.kubernetes.io/not-ready", "", "NoSchedule")) {
    return {"node(s) were not ready"};
  }
  if (node.unschedulable &&
      !PodTolerates(pod, "node.kubernetes.io/unschedulable", "", "NoSchedule")) {
    return {"node(s) were unschedulable"};
  }
  for (const Taint& taint : node.taints) {
    if (taint.effect != "NoSchedule" && taint.effect != "NoExecute") continue;
    if (!PodTolerates(pod, taint.key, taint.value, taint.effect)) {
      return {"node(s) had untolerated taint {" + taint.key + ": " + taint.value + "}"};
    }
  }
  if (const json::object* selector = ObjectAt(pod, "spec.nodeSelector")) {
    for (const auto& [key, value] : *selector) {
      auto label = node.labels.find(std::string(key));
      if (label == node.labels.end() || !value.is_string() ||
          label->second != value.as_string()) {
        return {"node(s) didn't match Pod's node affinity/selector"};
      }
    }
  }
  preemption_helps = true;
  for (const auto& port : request.host_ports) {
    if (node.host_ports.contains(port)) {
      return {"node(s) didn't have free ports for the requested pod ports"};
    }
  }
  std::vector<std::string> reasons;
  if (node.pod_count + 1 > node.allocatable_pods) reasons.push_back("Too many pods");
  if (request.milli_cpu > 0 &&
      node.requested_milli_cpu + request.milli_cpu > node.allocatable_milli_cpu) {
    reasons.push_back("Insufficient cpu");
  }
  if (request.memory > 0 && node.requested_memory + request.memory > node.allocatable_memory) {
    reasons.push_back("Insufficient memory");
  }
  return reasons;
}

int64_t ClusterView::Score(const NodeState& node, const PodRequest& request,
                           int max_owner_pods) const {
  // LeastAllocated: the share of cpu and memory left free after placing the pod, 0..100.
  auto free_share = [](int64_t requested, int64_t allocatable) -> int64_t {
    if (allocatable <= 0 || requested > allocatable) return 0;
    return (allocatable - requested) * 100 / allocatable;
  };
  int64_t cpu = free_share(
      node.nonzero_milli_cpu + (request.milli_cpu ? request.milli_cpu : kDefaultMilliCpuRequest),
      node.allocatable_milli_cpu);
  int64_t memory = free_share(
      node.nonzero_memory + (request.memory ? request.memory : kDefaultMemoryRequest),
      node.allocatable_memory);
  int64_t score = (cpu + memory) / 2;
  // Spread: fewer pods of the same owner on the node scores higher, 0..100, weighted double
  // so that replicas land on different nodes before nodes fill up.
  if (!request.owner_uid.empty() && max_owner_pods > 0) {
    auto it = node.pods_by_owner.find(request.owner_uid);
    int here = it == node.pods_by_owner.end() ? 0 : it->second;
    score += 2 * int64_t{100} * (max_owner_pods - here) / max_owner_pods;
  }
  return score;
}

ScheduleDecision ClusterView::Schedule(const json::object& pod) const {
  const size_t total = nodes_.size();
  if (total == 0) return {std::nullopt, "no nodes available to schedule pods"};
  PodRequest request = PodRequest::FromPod(pod);

  std::vector<const NodeState*> feasible;
  std::map<std::string, int> reasons;
  size_t preemption_useless = 0;
  for (const auto& [name, node] : nodes_) {
    bool preemption_helps = false;
    std::vector<std::string> node_reasons = FilterReasons(node, pod, request, preemption_helps);
    if (node_reasons.empty()) {
      feasible.push_back(&node);
      continue;
    }
    for (std::string& reason : node_reasons) ++reasons[std::move(reason)];
    if (!preemption_helps) ++preemption_useless;
  }
  if (feasible.empty()) {
    // Kubernetes' FitError text: "<n> <reason>" sorted by reason, then the PostFilter's verdict.
    auto histogram = [](const std::map<std::string, int>& counts) {
      std::string text;
      for (const auto& [reason, count] : counts) {
        if (!text.empty()) text += ", ";
        text += std::to_string(count) + " " + reason;
      }
      return text;
    };
    std::string prefix = "0/" + std::to_string(total) + " nodes are available: ";
    std::map<std::string, int> preemption;
    if (preemption_useless > 0) {
      preemption["Preemption is not helpful for scheduling"] = static_cast<int>(preemption_useless);
    }
    if (total > preemption_useless) {
      preemption["No preemption victims found for incoming pod"] =
          static_cast<int>(total - preemption_useless);
    }
    return {std::nullopt,
            prefix + histogram(reasons) + ". preemption: " + prefix + histogram(preemption) + "."};
  }

  int max_owner_pods = 0;
  if (!request.owner_uid.empty()) {
    for (const NodeState* node : feasible) {
      auto it = node->pods_by_owner.find(request.owner_uid);
      if (it != node->pods_by_owner.end()) max_owner_pods = std::max(max_owner_pods, it->second);
    }
  }
  const NodeState* best = nullptr;
  int64_t best_score = -1;
  for (const NodeState* node : feasible) {
    int64_t score = Score(*node, request, max_owner_pods);
    // Ties go to the node with fewer pods, then by name, so decisions are reproducible.
    if (score > best_score ||
        (score == best_score && node->pod_count < best->pod_count)) {
      best = node;
      best_score = score;
    }
  }
  return {best->name, ""};
}

}  // namespace kelp::scheduler
