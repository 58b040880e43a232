// Node object, registration and Lease renewal shared by the kelp agent and hollow nodes (see
// node_registration.h).
#include "agent/node_registration.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>

#include "common/json.h"

namespace kelp::agent {
namespace {

namespace json = boost::json;

constexpr char kLeaseNamespace[] = "kube-node-lease";

json::object Condition(std::string_view type, std::string_view status, std::string_view reason,
                       std::string_view message, const std::string& now) {
  return {{"type", type},       {"status", status},         {"reason", reason},
          {"message", message}, {"lastHeartbeatTime", now}, {"lastTransitionTime", now}};
}

std::string FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// PRETTY_NAME of /etc/os-release, unquoted.
std::string OsImage() {
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("PRETTY_NAME=")) continue;
    std::string value = line.substr(12);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    return value;
  }
  return "Linux";
}

}  // namespace

std::string Rfc3339(std::chrono::system_clock::time_point time) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z",
                     std::chrono::time_point_cast<std::chrono::seconds>(time));
}

std::string MicroTime(std::chrono::system_clock::time_point time) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch());
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06d}Z",
                     std::chrono::time_point_cast<std::chrono::seconds>(time),
                     micros.count() % 1000000);
}

Result<NodeDescription> DescribeMachine(std::string name, std::string internal_ip) {
  NodeDescription node{.name = std::move(name), .internal_ip = std::move(internal_ip)};
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 1) return ErrnoError("sysconf(_SC_NPROCESSORS_ONLN)", errno);
  node.cpu = std::to_string(cpus);
  std::ifstream meminfo("/proc/meminfo");
  if (!meminfo) return InternalError("cannot read /proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemTotal:") break;
    kib = 0;
  }
  if (kib <= 0) return InternalError("no MemTotal in /proc/meminfo");
  node.memory = std::to_string(kib) + "Ki";
  utsname uts{};
  if (uname(&uts) == 0) node.kernel_version = uts.release;
  node.os_image = OsImage();
  node.machine_id = FirstLine("/etc/machine-id");
  node.system_uuid = node.machine_id;
  node.boot_id = FirstLine("/proc/sys/kernel/random/boot_id");
  return node;
}

json::object NodeObject(const NodeDescription& node, std::chrono::system_clock::time_point now) {
  const std::string time = Rfc3339(now);
  json::object resources{{"cpu", node.cpu},
                         {"memory", node.memory},
                         {"pods", node.pods},
                         {"ephemeral-storage", node.ephemeral_storage}};
  json::object labels{{"kubernetes.io/hostname", node.name},
                      {"kubernetes.io/os", "linux"},
                      {"kubernetes.io/arch", "amd64"},
                      {"beta.kubernetes.io/os", "linux"},
                      {"beta.kubernetes.io/arch", "amd64"}};
  for (const auto& [key, value] : node.extra_labels) labels[key] = value;
  auto or_name = [&](const std::string& id) { return id.empty() ? node.name : id; };
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", node.name}, {"labels", std::move(labels)}}},
          {"spec", json::object{}},
          {"status",
           {{"capacity", resources},
            {"allocatable", resources},
            {"conditions",
             json::array{Condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
                                   "kubelet has sufficient memory available", time),
                         Condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
                                   "kubelet has no disk pressure", time),
                         Condition("PIDPressure", "False", "KubeletHasSufficientPID",
                                   "kubelet has sufficient PID available", time),
                         Condition("Ready", "True", "KubeletReady",
                                   "kubelet is posting ready status", time)}},
            {"addresses",
             json::array{json::object{{"type", "InternalIP"}, {"address", node.internal_ip}},
                         json::object{{"type", "Hostname"}, {"address", node.name}}}},
            {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", 10250}}}}},
            {"nodeInfo",
             {{"machineID", or_name(node.machine_id)},
              {"systemUUID", or_name(node.system_uuid)},
              {"bootID", or_name(node.boot_id)},
              {"kernelVersion", node.kernel_version},
              {"osImage", node.os_image},
              {"containerRuntimeVersion", node.container_runtime_version},
              {"kubeletVersion", "v1.32.0"},
              {"kubeProxyVersion", "v1.32.0"},
              {"operatingSystem", "linux"},
              {"architecture", "amd64"}}}}}};
}

Status RegisterNode(client::ApiClient& client, const json::object& node) {
  const json::value* name_value = FindPath(node, "metadata.name");
  std::string name =
      name_value && name_value->is_string() ? std::string(name_value->as_string()) : std::string();
  Result<json::object> created = client.Create(client::kNodes, "", node);
  if (created.ok() && FindPath(*created, "status.conditions")) return Status::Ok();
  if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists) {
    return created.status().WithContext("register node " + name);
  }
  // Re-registration (or a server that drops status on create): the status is ours to set.
  KELP_ASSIGN_OR_RETURN(json::object stored, client.Get(client::kNodes, "", name));
  stored["status"] = node.at("status");
  Result<json::object> updated = client.Update(client::kNodes, stored, "status");
  if (!updated.ok()) return updated.status().WithContext("set status of node " + name);
  return Status::Ok();
}

Status NodeLeases::Renew(const std::string& node_name) {
  const std::string now = MicroTime(clock_.WallNow());
  std::optional<json::object> lease;
  {
    std::lock_guard lock(mutex_);
    if (auto it = leases_.find(node_name); it != leases_.end()) lease = it->second;
  }
  if (!lease) {
    Result<json::object> stored = client_.Get(client::kLeases, kLeaseNamespace, node_name);
    if (stored.ok()) {
      lease = std::move(*stored);
    } else if (stored.status().code() != StatusCode::kNotFound) {
      return stored.status().WithContext("lease of " + node_name);
    }
  }
  json::object spec{{"holderIdentity", node_name},
                    {"leaseDurationSeconds", lease_duration_seconds_},
                    {"renewTime", now}};
  Result<json::object> written = InternalError("unreachable");
  if (!lease) {
    json::object fresh{{"apiVersion", "coordination.k8s.io/v1"},
                       {"kind", "Lease"},
                       {"metadata", {{"name", node_name}, {"namespace", kLeaseNamespace}}},
                       {"spec", std::move(spec)}};
    written = client_.Create(client::kLeases, kLeaseNamespace, fresh);
  } else {
    (*lease)["spec"] = std::move(spec);
    written = client_.Update(client::kLeases, *lease);
  }
  std::lock_guard lock(mutex_);
  if (!written.ok()) {
    leases_.erase(node_name);  // refetched next round (conflict, or deleted meanwhile)
    return written.status().WithContext("renew lease of " + node_name);
  }
  leases_[node_name] = std::move(*written);
  return Status::Ok();
}

}  // namespace kelp::agent
