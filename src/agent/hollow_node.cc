// HollowNodes: node registration, Lease renewal, and the kubelet-like pod status and deletion
// loop of kubemark-style hollow nodes (see hollow_node.h).
#include "agent/hollow_node.h"

#include <arpa/inet.h>

#include <algorithm>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "agent/node_registration.h"
#include "common/json.h"

namespace kelp::agent {
namespace {

namespace json = boost::json;

// The first address of a pod CIDR is the network, the second the bridge's (flannel's cni0).
constexpr uint32_t kFirstPodHost = 2;

std::string StringAt(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

Result<uint32_t> ParseIpv4(std::string_view text) {
  in_addr address{};
  if (inet_pton(AF_INET, std::string(text).c_str(), &address) != 1) {
    return InvalidArgumentError("not an IPv4 address: " + std::string(text));
  }
  return ntohl(address.s_addr);
}

std::string FormatIpv4(uint32_t address) {
  return fmt::format("{}.{}.{}.{}", address >> 24, (address >> 16) & 0xff, (address >> 8) & 0xff,
                     address & 0xff);
}

std::vector<std::string> NodeNames(const HollowNodeOptions& options) {
  if (options.count == 1) return {options.node_name};
  std::vector<std::string> names;
  for (int i = 0; i < options.count; ++i) names.push_back(fmt::format("{}-{}", options.node_name, i));
  return names;
}

client::ListOptions PodListOptions(const HollowNodeOptions& options) {
  if (options.count == 1) return {.field_selector = "spec.nodeName=" + options.node_name};
  return {.field_selector = "spec.nodeName!="};
}

client::ListOptions NodeListOptions(const HollowNodeOptions& options) {
  if (options.count == 1) return {.field_selector = "metadata.name=" + options.node_name};
  return {};
}

json::object PodCondition(std::string_view type, const std::string& now) {
  return {{"type", type}, {"status", "True"}, {"lastProbeTime", nullptr},
          {"lastTransitionTime", now}};
}

bool IsRunningAndReady(const json::object& pod) {
  if (StringAt(pod, "status.phase") != "Running" || StringAt(pod, "status.podIP").empty()) {
    return false;
  }
  const json::value* conditions = FindPath(pod, "status.conditions");
  if (!conditions || !conditions->is_array()) return false;
  for (const json::value& condition : conditions->as_array()) {
    if (condition.is_object() && StringAt(condition.as_object(), "type") == "Ready") {
      return StringAt(condition.as_object(), "status") == "True";
    }
  }
  return false;
}

}  // namespace

HollowNodes::HollowNodes(client::ApiClient& client, Clock& clock, HollowNodeOptions options)
    : client_(client),
      clock_(clock),
      options_(std::move(options)),
      names_(NodeNames(options_)),
      name_set_(names_.begin(), names_.end()),
      pods_(client, client::kPods, PodListOptions(options_)),
      nodes_(client, client::kNodes, NodeListOptions(options_)),
      queue_(clock),
      leases_(client, clock, options_.lease_duration_seconds) {
  pods_.AddHandlers({
      .on_add = [this](const client::ObjectPtr& pod) { OnPod(pod); },
      .on_update = [this](const client::ObjectPtr&, const client::ObjectPtr& pod) { OnPod(pod); },
      .on_delete = [this](const client::ObjectPtr& pod) { OnPodDeleted(pod); },
  });
  nodes_.AddHandlers({
      .on_add = [this](const client::ObjectPtr& node) { OnNode(nullptr, node); },
      .on_update = [this](const client::ObjectPtr& old_node,
                          const client::ObjectPtr& node) { OnNode(old_node, node); },
  });
}

HollowNodes::~HollowNodes() { Stop(); }

Status HollowNodes::Start() {
  if (options_.node_name.empty()) return InvalidArgumentError("hollow node: a node name is required");
  if (options_.count < 1) return InvalidArgumentError("hollow node: --count must be at least 1");
  if (options_.lease_duration_seconds < 1) {
    return InvalidArgumentError("hollow node: --node-lease-duration-seconds must be at least 1");
  }
  KELP_ASSIGN_OR_RETURN(uint32_t first_ip, ParseIpv4(options_.node_ip));
  ips_.clear();
  for (size_t i = 0; i < names_.size(); ++i) ips_.push_back(FormatIpv4(first_ip + i));
  for (size_t i = 0; i < names_.size(); ++i) KELP_RETURN_IF_ERROR(RegisterNode(i));
  KELP_RETURN_IF_ERROR(RenewLeases());
  nodes_.Start();
  pods_.Start();
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { Worker(); });
  threads_.emplace_back([this] { LeaseLoop(); });
  return Status::Ok();
}

void HollowNodes::Stop() {
  {
    std::lock_guard lock(lease_mutex_);
    stopping_ = true;
  }
  lease_wake_.notify_all();
  queue_.ShutDown();
  pods_.Stop();
  nodes_.Stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

json::object HollowNodes::NodeObject(size_t index) const {
  NodeDescription node{.name = names_[index],
                       .internal_ip = ips_[index],
                       .cpu = options_.cpu,
                       .memory = options_.memory,
                       .pods = options_.pods,
                       .extra_labels = {{"kelp.dev/hollow", "true"}},
                       .kernel_version = "hollow",
                       .os_image = "kelp hollow node",
                       .container_runtime_version = "hollow://0.1.0"};
  return agent::NodeObject(node, clock_.WallNow());
}

Status HollowNodes::RegisterNode(size_t index) {
  return agent::RegisterNode(client_, NodeObject(index));
}

Status HollowNodes::RenewLeases() {
  Status first_error;
  for (const std::string& name : names_) {
    Status status = leases_.Renew(name);
    if (!status.ok() && first_error.ok()) first_error = status;
  }
  return first_error;
}

void HollowNodes::LeaseLoop() {
  auto next = clock_.Now() + lease_renew_interval();
  std::unique_lock lock(lease_mutex_);
  while (!stopping_) {
    if (clock_.Now() >= next) {
      lock.unlock();
      if (Status status = RenewLeases(); !status.ok()) spdlog::warn("hollow: {}", status.ToString());
      lock.lock();
      next = clock_.Now() + lease_renew_interval();
      continue;
    }
    auto remaining = std::min<std::chrono::steady_clock::duration>(next - clock_.Now(),
                                                                   std::chrono::seconds(1));
    lease_wake_.wait_for(lock, remaining, [this] { return stopping_; });
  }
}

void HollowNodes::OnPod(const client::ObjectPtr& pod) {
  if (!name_set_.contains(StringAt(*pod, "spec.nodeName"))) return;
  queue_.Add(client::ObjectKey(*pod));
}

void HollowNodes::OnPodDeleted(const client::ObjectPtr& pod) {
  const std::string key = client::ObjectKey(*pod);
  std::lock_guard lock(ips_mutex_);
  auto node = pod_ips_.find(StringAt(*pod, "spec.nodeName"));
  if (node == pod_ips_.end()) return;
  if (auto it = node->second.by_pod.find(key); it != node->second.by_pod.end()) {
    node->second.used.erase(it->second);
    node->second.by_pod.erase(it);
  }
}

void HollowNodes::OnNode(const client::ObjectPtr& old_node, const client::ObjectPtr& node) {
  const std::string name = StringAt(*node, "metadata.name");
  if (!name_set_.contains(name)) return;
  // Pods waiting for the node's podCIDR can start now.
  if (StringAt(*node, "spec.podCIDR").empty()) return;
  if (old_node && StringAt(*old_node, "spec.podCIDR") == StringAt(*node, "spec.podCIDR")) return;
  for (const client::ObjectPtr& pod : pods_.List()) {
    if (StringAt(*pod, "spec.nodeName") == name) queue_.Add(client::ObjectKey(*pod));
  }
}

void HollowNodes::Worker() {
  while (std::optional<std::string> key = queue_.Get()) {
    Status status = SyncPod(*key);
    if (status.ok()) {
      queue_.Forget(*key);
    } else {
      if (status.code() != StatusCode::kUnavailable && status.code() != StatusCode::kConflict) {
        spdlog::warn("hollow: {}: {}", *key, status.ToString());
      }
      queue_.AddRateLimited(*key);
    }
    queue_.Done(*key);
  }
}

Result<std::string> HollowNodes::PodIp(const std::string& node_name, const std::string& key,
                                       const json::object& pod) {
  client::ObjectPtr node = nodes_.Get(node_name);
  std::string cidr = node ? StringAt(*node, "spec.podCIDR") : "";
  if (cidr.empty()) return UnavailableError("node " + node_name + " has no podCIDR yet");
  std::lock_guard lock(ips_mutex_);
  NodeIps& ips = pod_ips_[node_name];
  if (ips.cidr != cidr) {
    size_t slash = cidr.find('/');
    KELP_ASSIGN_OR_RETURN(uint32_t network, ParseIpv4(cidr.substr(0, slash)));
    int prefix = slash == std::string::npos ? 32 : std::atoi(cidr.c_str() + slash + 1);
    if (prefix < 8 || prefix > 30) return InvalidArgumentError("unusable podCIDR " + cidr);
    ips = NodeIps{.cidr = cidr, .network = network, .size = uint32_t{1} << (32 - prefix)};
  }
  if (auto it = ips.by_pod.find(key); it != ips.by_pod.end()) return FormatIpv4(it->second);
  // A pod that already has an address keeps it (e.g. after this process restarted).
  if (std::string existing = StringAt(pod, "status.podIP"); !existing.empty()) {
    if (Result<uint32_t> address = ParseIpv4(existing);
        address.ok() && *address - ips.network < ips.size) {
      ips.by_pod[key] = *address;
      ips.used.insert(*address);
      return existing;
    }
  }
  for (uint32_t host = kFirstPodHost; host + 1 < ips.size; ++host) {
    uint32_t address = ips.network + host;
    if (ips.used.insert(address).second) {
      ips.by_pod[key] = address;
      return FormatIpv4(address);
    }
  }
  return UnavailableError("podCIDR " + cidr + " of node " + node_name + " is full");
}

Status HollowNodes::SyncPod(const std::string& key) {
  client::ObjectPtr cached = pods_.Get(key);
  if (!cached) return Status::Ok();
  const json::object& pod = *cached;
  const std::string node_name = StringAt(pod, "spec.nodeName");
  if (!name_set_.contains(node_name)) return Status::Ok();
  auto [namespace_name, name] = client::SplitKey(key);

  if (FindPath(pod, "metadata.deletionTimestamp")) {
    // The containers "stopped" at once: finish the deletion as kubelet does.
    Status deleted = client_.Delete(client::kPods, namespace_name, name,
                                    {.grace_period_seconds = 0,
                                     .precondition_uid = StringAt(pod, "metadata.uid")});
    if (!deleted.ok() && deleted.code() != StatusCode::kNotFound &&
        deleted.code() != StatusCode::kConflict) {
      return deleted;
    }
    return Status::Ok();
  }
  std::string phase = StringAt(pod, "status.phase");
  if (phase == "Succeeded" || phase == "Failed" || IsRunningAndReady(pod)) return Status::Ok();

  KELP_ASSIGN_OR_RETURN(std::string pod_ip, PodIp(node_name, key, pod));
  const size_t index = std::find(names_.begin(), names_.end(), node_name) - names_.begin();
  const std::string& host_ip = ips_[index];
  const std::string now = Rfc3339(clock_.WallNow());
  std::string start_time = StringAt(pod, "status.startTime");
  if (start_time.empty()) start_time = now;

  json::array container_statuses;
  if (const json::value* containers = FindPath(pod, "spec.containers");
      containers && containers->is_array()) {
    for (const json::value& container : containers->as_array()) {
      if (!container.is_object()) continue;
      std::string container_name = StringAt(container.as_object(), "name");
      std::string image = StringAt(container.as_object(), "image");
      container_statuses.push_back(json::object{
          {"name", container_name},
          {"image", image},
          {"imageID", "hollow://" + image},
          {"containerID", "hollow://" + StringAt(pod, "metadata.uid") + "/" + container_name},
          {"ready", true},
          {"started", true},
          {"restartCount", 0},
          {"state", {{"running", {{"startedAt", start_time}}}}}});
    }
  }
  json::object updated = pod;
  json::object& status = updated["status"].is_object() ? updated["status"].as_object()
                                                       : updated["status"].emplace_object();
  status["phase"] = "Running";
  status["conditions"] = json::array{
      PodCondition("PodReadyToStartContainers", now), PodCondition("Initialized", now),
      PodCondition("Ready", now), PodCondition("ContainersReady", now),
      PodCondition("PodScheduled", start_time)};
  status["hostIP"] = host_ip;
  status["hostIPs"] = json::array{json::object{{"ip", host_ip}}};
  status["podIP"] = pod_ip;
  status["podIPs"] = json::array{json::object{{"ip", pod_ip}}};
  status["startTime"] = start_time;
  status["containerStatuses"] = std::move(container_statuses);
  Result<json::object> written = client_.Update(client::kPods, updated, "status");
  if (!written.ok()) {
    if (written.status().code() == StatusCode::kNotFound) return Status::Ok();
    return written.status();  // a conflict: the informer brings the newer pod, then retry
  }
  return Status::Ok();
}

}  // namespace kelp::agent
