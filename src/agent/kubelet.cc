// Kubelet: node registration, Lease renewal and the pod sync loop over ContainerRuntime (see
// kubelet.h). SyncPod is idempotent: it compares the pod spec with the runtime's state and the
// in-memory records (restart counts, back-off, probe results), acts, and writes the status.
#include "agent/kubelet.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "common/json.h"

namespace kelp::agent {
namespace {

namespace json = boost::json;
using std::chrono::seconds;

std::string StringAt(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

std::optional<int64_t> IntAt(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  if (value && value->is_int64()) return value->as_int64();
  return std::nullopt;
}

const json::array& ArrayAt(const json::object& object, std::string_view path) {
  static const json::array kEmpty;
  const json::value* value = FindPath(object, path);
  return value && value->is_array() ? value->as_array() : kEmpty;
}

std::vector<std::string> Strings(const json::object& object, std::string_view path) {
  std::vector<std::string> out;
  for (const json::value& item : ArrayAt(object, path)) {
    if (item.is_string()) out.emplace_back(item.as_string());
  }
  return out;
}

// A Kubernetes quantity ("100m", "1.5", "64Mi", "1G") in base units.
std::optional<double> ParseQuantity(std::string_view text) {
  static const std::pair<std::string_view, double> kSuffixes[] = {
      {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
      {"m", 1e-3},    {"k", 1e3},        {"M", 1e6},           {"G", 1e9},
      {"T", 1e12}};
  double multiplier = 1;
  for (const auto& [suffix, factor] : kSuffixes) {
    if (text.ends_with(suffix)) {
      multiplier = factor;
      text.remove_suffix(suffix.size());
      break;
    }
  }
  std::string number(text);
  char* end = nullptr;
  double value = std::strtod(number.c_str(), &end);
  if (number.empty() || end != number.c_str() + number.size()) return std::nullopt;
  return value * multiplier;
}

int64_t CpuMillis(const json::object& container, std::string_view path) {
  std::optional<double> value = ParseQuantity(StringAt(container, path));
  return value ? static_cast<int64_t>(std::llround(*value * 1000)) : 0;
}

int64_t Bytes(const json::object& container, std::string_view path) {
  std::optional<double> value = ParseQuantity(StringAt(container, path));
  return value ? static_cast<int64_t>(*value) : 0;
}

std::string ContainerIdUri(const std::string& id) { return "kelp://" + id; }

json::object PodCondition(std::string_view type, bool status, const json::object& pod,
                          const std::string& now) {
  std::string value = status ? "True" : "False";
  std::string since = now;
  for (const json::value& old : ArrayAt(pod, "status.conditions")) {
    if (old.is_object() && StringAt(old.as_object(), "type") == type &&
        StringAt(old.as_object(), "status") == value) {
      since = StringAt(old.as_object(), "lastTransitionTime");
    }
  }
  return {
      {"type", type}, {"status", value}, {"lastProbeTime", nullptr}, {"lastTransitionTime", since}};
}

json::object TerminatedState(const ContainerStatus& status) {
  json::object terminated{{"exitCode", status.exit_code},
                          {"reason", status.reason.empty() ? "Error" : status.reason},
                          {"containerID", ContainerIdUri(status.id)}};
  if (status.started_at) terminated["startedAt"] = Rfc3339(*status.started_at);
  if (status.finished_at) terminated["finishedAt"] = Rfc3339(*status.finished_at);
  if (!status.message.empty()) terminated["message"] = status.message;
  return {{"terminated", std::move(terminated)}};
}

bool IsTerminalPhase(const std::string& phase) { return phase == "Succeeded" || phase == "Failed"; }

}  // namespace

Kubelet::Kubelet(client::ApiClient& client, Clock& clock, ContainerRuntime& runtime,
                 ImageSource& images, NodeDescription node, KubeletOptions options)
    : client_(client),
      clock_(clock),
      runtime_(runtime),
      images_(images),
      node_(std::move(node)),
      options_(options),
      pods_(client, client::kPods, {.field_selector = "spec.nodeName=" + node_.name}),
      queue_(clock),
      leases_(client, clock, options.lease_duration_seconds),
      events_(client, clock, "kubelet", node_.name) {
  pods_.AddHandlers({
      .on_add = [this](const client::ObjectPtr& pod) { queue_.Add(client::ObjectKey(*pod)); },
      .on_update = [this](const client::ObjectPtr&,
                          const client::ObjectPtr& pod) { queue_.Add(client::ObjectKey(*pod)); },
      .on_delete = [this](const client::ObjectPtr& pod) { queue_.Add(client::ObjectKey(*pod)); },
  });
}

Kubelet::~Kubelet() { Stop(); }

Status Kubelet::Start() {
  if (node_.name.empty()) return InvalidArgumentError("agent: a node name is required");
  KELP_RETURN_IF_ERROR(RegisterNode(client_, NodeObject(node_, clock_.WallNow())));
  KELP_RETURN_IF_ERROR(leases_.Renew(node_.name));
  pods_.Start();
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { Worker(); });
  threads_.emplace_back([this] { LeaseLoop(); });
  threads_.emplace_back([this] { HousekeepingLoop(); });
  return Status::Ok();
}

void Kubelet::Stop() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_wake_.notify_all();
  queue_.ShutDown();
  pods_.Stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  events_.Flush();
}

Result<std::string> Kubelet::ContainerId(const std::string& namespace_name, const std::string& pod,
                                         const std::string& container) const {
  std::lock_guard lock(records_mutex_);
  auto it = records_.find(namespace_name + "/" + pod);
  if (it != records_.end()) {
    for (const auto* group : {&it->second->containers, &it->second->init_containers}) {
      auto found = group->find(container);
      if (found != group->end() && !found->second.id.empty()) return found->second.id;
    }
  }
  return NotFoundError("container " + container + " of pod " + namespace_name + "/" + pod +
                       " not found on node " + node_.name);
}

void Kubelet::LeaseLoop() {
  std::unique_lock lock(stop_mutex_);
  while (!stop_wake_.wait_for(lock, options_.lease_renew_interval, [this] { return stopping_; })) {
    lock.unlock();
    if (Status status = leases_.Renew(node_.name); !status.ok()) {
      spdlog::warn("agent: {}", status.ToString());
    }
    lock.lock();
  }
}

void Kubelet::HousekeepingLoop() {
  std::unique_lock lock(stop_mutex_);
  while (!stop_wake_.wait_for(lock, seconds(2), [this] { return stopping_; })) {
    lock.unlock();
    if (pods_.HasSynced()) CleanupOrphans();
    lock.lock();
  }
}

void Kubelet::Worker() {
  while (std::optional<std::string> key = queue_.Get()) {
    Status status = SyncPod(*key);
    if (status.ok()) {
      queue_.Forget(*key);
    } else {
      if (status.code() != StatusCode::kConflict) {
        spdlog::warn("agent: pod {}: {}", *key, status.ToString());
      }
      queue_.AddRateLimited(*key);
    }
    queue_.Done(*key);
  }
}

void Kubelet::CleanupOrphans() {
  Result<std::vector<SandboxStatus>> sandboxes = runtime_.ListPodSandboxes();
  if (!sandboxes.ok()) return;
  std::set<std::string> live_uids;
  for (const client::ObjectPtr& pod : pods_.List())
    live_uids.insert(StringAt(*pod, "metadata.uid"));
  {
    std::lock_guard lock(records_mutex_);
    for (const auto& [key, record] : records_) live_uids.insert(record->uid);
  }
  for (const SandboxStatus& sandbox : *sandboxes) {
    if (live_uids.contains(sandbox.uid)) continue;
    spdlog::info("agent: removing sandbox {} of pod {}/{} (uid {}), gone from the API", sandbox.id,
                 sandbox.pod_namespace, sandbox.name, sandbox.uid);
    Status removed = runtime_.RemovePodSandbox(sandbox.id);
    if (!removed.ok()) spdlog::warn("agent: remove sandbox {}: {}", sandbox.id, removed.ToString());
    std::error_code ec;
    if (!sandbox.log_directory.empty()) std::filesystem::remove_all(sandbox.log_directory, ec);
  }
}

void Kubelet::Adopt(PodRecord& record) {
  Result<std::vector<SandboxStatus>> sandboxes = runtime_.ListPodSandboxes();
  if (!sandboxes.ok()) return;
  for (const SandboxStatus& sandbox : *sandboxes) {
    if (sandbox.uid != record.uid || sandbox.state != SandboxState::kReady) continue;
    record.sandbox_id = sandbox.id;
    record.pod_ip = sandbox.ip;
    Result<std::vector<ContainerStatus>> containers = runtime_.ListContainers(sandbox.id);
    if (!containers.ok()) return;
    std::sort(
        containers->begin(), containers->end(),
        [](const ContainerStatus& a, const ContainerStatus& b) { return a.attempt < b.attempt; });
    for (const ContainerStatus& container : *containers) {
      bool init = container.labels.contains("kelp.dev/init-container");
      ContainerRecord& c =
          init ? record.init_containers[container.name] : record.containers[container.name];
      if (c.current && c.current->state == ContainerState::kExited) c.last_terminated = c.current;
      c.id = container.id;
      c.restart_count = container.attempt;
      c.current = container;
      c.started = true;  // re-checked by the startup probe only before a first success
    }
    spdlog::info("agent: adopted pod {} (sandbox {}, {} containers)", record.key, sandbox.id,
                 containers->size());
    return;
  }
}

Status Kubelet::EnsureSandbox(PodRecord& record, const json::object& pod) {
  if (!record.sandbox_id.empty()) {
    Result<SandboxStatus> sandbox = runtime_.PodSandboxStatus(record.sandbox_id);
    if (sandbox.ok() && sandbox->state == SandboxState::kReady) return Status::Ok();
    // Lost (e.g. a reboot): like the kubelet, start the pod over in a new sandbox.
    spdlog::warn("agent: pod {}: sandbox {} is gone, creating a new one", record.key,
                 record.sandbox_id);
    (void)runtime_.RemovePodSandbox(record.sandbox_id);
    for (auto* group : {&record.init_containers, &record.containers}) {
      for (auto& [name, c] : *group) {
        c.id.clear();
        c.current.reset();
      }
    }
    record.sandbox_id.clear();
  }
  PodSandboxConfig config{.name = StringAt(pod, "metadata.name"),
                          .pod_namespace = StringAt(pod, "metadata.namespace"),
                          .uid = record.uid,
                          .hostname = StringAt(pod, "spec.hostname"),
                          .host_network = FindPath(pod, "spec.hostNetwork") &&
                                          FindPath(pod, "spec.hostNetwork")->is_bool() &&
                                          FindPath(pod, "spec.hostNetwork")->as_bool()};
  config.dns_servers = Strings(pod, "spec.dnsConfig.nameservers");
  config.dns_searches = Strings(pod, "spec.dnsConfig.searches");
  for (const json::value& alias : ArrayAt(pod, "spec.hostAliases")) {
    if (!alias.is_object()) continue;
    config.host_aliases.push_back(
        {StringAt(alias.as_object(), "ip"), Strings(alias.as_object(), "hostnames")});
  }
  if (const json::value* labels = FindPath(pod, "metadata.labels"); labels && labels->is_object()) {
    for (const auto& [key, value] : labels->as_object()) {
      if (value.is_string()) config.labels[std::string(key)] = std::string(value.as_string());
    }
  }
  Result<SandboxStatus> sandbox = runtime_.RunPodSandbox(config);
  if (!sandbox.ok()) {
    events_.Record(pod, "Warning", "FailedCreatePodSandBox",
                   "Failed to create pod sandbox: " + sandbox.status().message());
    return sandbox.status().WithContext("create sandbox");
  }
  record.sandbox_id = sandbox->id;
  record.pod_ip = sandbox->ip;
  return Status::Ok();
}

Status Kubelet::StartContainer(PodRecord& record, ContainerRecord& c, const json::object& pod,
                               const json::object& spec, bool init) {
  const std::string name = StringAt(spec, "name");
  const std::string image = StringAt(spec, "image");
  Result<ResolvedImage> resolved = images_.Resolve(image);
  if (!resolved.ok()) {
    if (resolved.status().code() != StatusCode::kNotFound) return resolved.status();
    std::string message =
        fmt::format("Container image \"{}\" is not present with pull policy of Never", image);
    if (c.waiting_reason != "ErrImageNeverPull") {
      events_.Record(pod, "Warning", "ErrImageNeverPull", message);
    }
    c.waiting_reason = "ErrImageNeverPull";
    c.waiting_message = std::move(message);
    return Status::Ok();
  }
  ContainerConfig config{.name = name,
                         .attempt = c.restart_count,
                         .image = image,
                         .command = Strings(spec, "command"),
                         .args = Strings(spec, "args"),
                         .working_dir = StringAt(spec, "workingDir"),
                         .tty = FindPath(spec, "tty") && FindPath(spec, "tty")->is_bool() &&
                                FindPath(spec, "tty")->as_bool()};
  for (const json::value& entry : ArrayAt(spec, "env")) {
    if (!entry.is_object()) continue;
    const json::object& env = entry.as_object();
    std::string value = StringAt(env, "value");
    if (std::string field = StringAt(env, "valueFrom.fieldRef.fieldPath"); !field.empty()) {
      if (field == "status.podIP") {
        value = record.pod_ip;
      } else if (field == "status.hostIP") {
        value = node_.internal_ip;
      } else {
        value = StringAt(pod, field);
      }
    }
    config.env.emplace_back(StringAt(env, "name"), std::move(value));
  }
  config.resources = ContainerResources::FromKubernetes(CpuMillis(spec, "resources.requests.cpu"),
                                                        CpuMillis(spec, "resources.limits.cpu"),
                                                        Bytes(spec, "resources.limits.memory"));
  auto security_int = [&](std::string_view field) -> std::optional<int64_t> {
    if (auto value = IntAt(spec, fmt::format("securityContext.{}", field))) return value;
    return IntAt(pod, fmt::format("spec.securityContext.{}", field));
  };
  auto security_bool = [&](std::string_view field) {
    const json::value* value = FindPath(spec, fmt::format("securityContext.{}", field));
    if (!value) value = FindPath(pod, fmt::format("spec.securityContext.{}", field));
    return value && value->is_bool() ? std::optional<bool>(value->as_bool()) : std::nullopt;
  };
  config.security.run_as_user = security_int("runAsUser");
  config.security.run_as_group = security_int("runAsGroup");
  config.security.run_as_non_root = security_bool("runAsNonRoot").value_or(false);
  config.security.privileged = security_bool("privileged").value_or(false);
  config.security.read_only_root_filesystem =
      security_bool("readOnlyRootFilesystem").value_or(false);
  config.security.allow_privilege_escalation =
      security_bool("allowPrivilegeEscalation").value_or(true);
  config.security.add_capabilities = Strings(spec, "securityContext.capabilities.add");
  config.security.drop_capabilities = Strings(spec, "securityContext.capabilities.drop");
  config.labels = {{"io.kubernetes.pod.name", StringAt(pod, "metadata.name")},
                   {"io.kubernetes.pod.namespace", StringAt(pod, "metadata.namespace")},
                   {"io.kubernetes.pod.uid", record.uid},
                   {"io.kubernetes.container.name", name}};
  if (init) config.labels["kelp.dev/init-container"] = "true";

  // Created and started by one runc process (`runc run --detach` under the shim). runc 1.1
  // reports what used to fail at `runc create` (a missing executable, a bad mount, ...) the
  // same way, so the reason stays CreateContainerError; the runtime leaves nothing behind.
  Result<std::string> id = runtime_.RunContainer(record.sandbox_id, config);
  if (!id.ok()) {
    c.waiting_reason = "CreateContainerError";
    c.waiting_message = id.status().message();
    events_.Record(pod, "Warning", "Failed", "Error: " + id.status().message());
    return Status::Ok();  // reported in the status; retried at the next sync
  }
  c.id = *id;
  c.waiting_reason.clear();
  c.waiting_message.clear();
  // What GetContainerStatus would say now, without its `runc state` (a process per call):
  // exits are seen through WaitContainer, which reads the shim's files.
  c.current = ContainerStatus{.id = *id,
                              .sandbox_id = record.sandbox_id,
                              .name = name,
                              .attempt = c.restart_count,
                              .image = image,
                              .image_id = resolved->id,
                              .state = ContainerState::kRunning,
                              .created_at = clock_.WallNow(),
                              .started_at = clock_.WallNow()};
  c.readiness = {};
  c.liveness = {};
  c.startup = {};
  auto parse = [&](std::string_view field, ProbeState& state) {
    const json::value* probe = FindPath(spec, field);
    if (!probe || !probe->is_object()) return;
    Result<Probe> parsed = ParseProbe(spec, probe->as_object());
    if (!parsed.ok()) {
      events_.Record(pod, "Warning", "Unhealthy",
                     std::string(field) + ": " + parsed.status().message());
      return;
    }
    state.probe = *parsed;
    state.next = clock_.Now() + parsed->initial_delay;
  };
  parse("readinessProbe", c.readiness);
  parse("livenessProbe", c.liveness);
  parse("startupProbe", c.startup);
  c.started = !c.startup.probe.has_value();
  events_.Record(pod, "Normal", "Started", "Started container " + name);
  return Status::Ok();
}

void Kubelet::RunProbes(PodRecord& record, ContainerRecord& c) {
  auto exec = [&](const std::vector<std::string>& command, std::chrono::milliseconds timeout) {
    Result<ExecSyncResult> result = runtime_.ExecSync(c.id, command, timeout);
    if (!result.ok()) return ProbeOutcome{.success = false, .message = result.status().message()};
    return ProbeOutcome{.success = result->exit_code == 0,
                        .message = result->exit_code == 0
                                       ? ""
                                       : fmt::format("command exited {}: {}", result->exit_code,
                                                     result->stdout_data + result->stderr_data)};
  };
  auto run = [&](ProbeState& state) -> bool {  // true when the probe ran
    if (!state.probe || clock_.Now() < state.next) return false;
    state.next = clock_.Now() + state.probe->period;
    ProbeOutcome outcome = RunProbe(*state.probe, record.pod_ip, exec);
    if (outcome.success) {
      state.failures = 0;
      if (++state.successes >= state.probe->success_threshold) state.result = true;
    } else {
      state.successes = 0;
      if (++state.failures >= state.probe->failure_threshold) state.result = false;
      spdlog::debug("agent: pod {}: probe failed: {}", record.key, outcome.message);
    }
    return true;
  };
  if (!c.started) {
    run(c.startup);
    if (c.startup.result) c.started = true;
    return;
  }
  run(c.readiness);
  run(c.liveness);
}

Status Kubelet::SyncContainer(PodRecord& record, ContainerRecord& c, const json::object& pod,
                              const json::object& spec, bool init,
                              const std::string& restart_policy) {
  const std::string name = StringAt(spec, "name");
  if (!c.id.empty()) {
    if (!c.current || c.current->state != ContainerState::kExited) {
      Result<ContainerStatus> waited = runtime_.WaitContainer(c.id, std::chrono::milliseconds(0));
      if (waited.ok()) {
        c.current = *waited;
      } else if (waited.status().code() != StatusCode::kDeadlineExceeded) {
        if (waited.status().code() != StatusCode::kNotFound) return waited.status();
        c.id.clear();
        c.current.reset();
      } else if (!c.current || c.current->state != ContainerState::kRunning) {
        Result<ContainerStatus> status = runtime_.GetContainerStatus(c.id);
        if (status.ok()) c.current = *status;
      }
    }
  }
  if (c.current && c.current->state == ContainerState::kRunning) {
    if (init) return Status::Ok();
    RunProbes(record, c);
    bool unhealthy =
        (c.liveness.probe && c.liveness.failures >= c.liveness.probe->failure_threshold) ||
        (!c.started && c.startup.probe && c.startup.failures >= c.startup.probe->failure_threshold);
    if (!unhealthy) return Status::Ok();
    events_.Record(pod, "Normal", "Killing",
                   fmt::format("Container {} failed liveness probe, will be restarted", name));
    int64_t grace = IntAt(pod, "spec.terminationGracePeriodSeconds").value_or(30);
    KELP_RETURN_IF_ERROR(runtime_.StopContainer(c.id, seconds(grace)));
    KELP_ASSIGN_OR_RETURN(c.current, runtime_.GetContainerStatus(c.id));
  }
  if (c.current && c.current->state == ContainerState::kCreated) {
    return Status::Ok();  // starting
  }
  if (c.current && c.current->state == ContainerState::kExited) {
    const bool failed = c.current->exit_code != 0;
    const bool restart =
        init ? failed && restart_policy != "Never"
             : restart_policy == "Always" || (restart_policy == "OnFailure" && failed);
    if (!restart) {
      if (init && failed) record.failed = true;
      return Status::Ok();
    }
    // Back-off as the kubelet's: the first restart at once, then 10 s doubling up to 5 min.
    if (c.backoff_until == std::chrono::steady_clock::time_point{}) {
      c.backoff = c.restart_count == 0
                      ? seconds(0)
                      : std::min<seconds>(options_.backoff_max,
                                          options_.backoff_initial *
                                              (1LL << std::min<uint32_t>(c.restart_count - 1, 10)));
      c.backoff_until = clock_.Now() + c.backoff;
      if (c.backoff.count() > 0) {
        events_.Record(pod, "Warning", "BackOff", "Back-off restarting failed container " + name);
      }
    }
    if (clock_.Now() < c.backoff_until) {
      c.waiting_reason = "CrashLoopBackOff";
      c.waiting_message = fmt::format("back-off {}s restarting failed container={} pod={}_{}({})",
                                      c.backoff.count(), name, StringAt(pod, "metadata.name"),
                                      StringAt(pod, "metadata.namespace"), record.uid);
      return Status::Ok();
    }
    c.backoff_until = {};
    c.last_terminated = c.current;
    if (Status removed = runtime_.RemoveContainer(c.id); !removed.ok()) {
      spdlog::warn("agent: pod {}: remove container {}: {}", record.key, c.id, removed.ToString());
    }
    c.id.clear();
    c.current.reset();
    ++c.restart_count;
  }
  if (c.id.empty()) return StartContainer(record, c, pod, spec, init);
  return Status::Ok();
}

Status Kubelet::KillPod(PodRecord& record, seconds grace) {
  std::vector<std::thread> stoppers;
  std::mutex error_mutex;
  Status first_error;
  for (auto* group : {&record.containers, &record.init_containers}) {
    for (auto& [name, c] : *group) {
      if (c.id.empty() || (c.current && c.current->state == ContainerState::kExited)) continue;
      stoppers.emplace_back([&, id = c.id] {
        Status stopped = runtime_.StopContainer(id, grace);
        std::lock_guard lock(error_mutex);
        if (!stopped.ok() && stopped.code() != StatusCode::kNotFound && first_error.ok()) {
          first_error = stopped;
        }
      });
    }
  }
  for (std::thread& thread : stoppers) thread.join();
  KELP_RETURN_IF_ERROR(first_error);
  if (!record.sandbox_id.empty()) {
    Result<SandboxStatus> sandbox = runtime_.PodSandboxStatus(record.sandbox_id);
    KELP_RETURN_IF_ERROR(runtime_.RemovePodSandbox(record.sandbox_id));
    std::error_code ec;
    if (sandbox.ok() && !sandbox->log_directory.empty()) {
      std::filesystem::remove_all(sandbox->log_directory, ec);
    }
  }
  record.sandbox_id.clear();
  return Status::Ok();
}

Status Kubelet::SyncPod(const std::string& key) {
  client::ObjectPtr cached = pods_.Get(key);
  std::shared_ptr<PodRecord> record;
  {
    std::lock_guard lock(records_mutex_);
    if (auto it = records_.find(key); it != records_.end()) record = it->second;
  }
  const std::string uid = cached ? StringAt(*cached, "metadata.uid") : "";
  if (record && record->uid != uid) {
    // Gone from the API, or replaced by a new pod of the same name: the old one goes.
    KELP_RETURN_IF_ERROR(KillPod(*record, seconds(0)));
    std::lock_guard lock(records_mutex_);
    records_.erase(key);
    record.reset();
  }
  if (!cached) return Status::Ok();
  const json::object& pod = *cached;
  if (StringAt(pod, "spec.nodeName") != node_.name) return Status::Ok();
  auto [namespace_name, name] = client::SplitKey(key);

  if (!record) {
    record = std::make_shared<PodRecord>();
    record->key = key;
    record->uid = uid;
    record->start_time = StringAt(pod, "status.startTime");
    if (record->start_time.empty()) record->start_time = Rfc3339(clock_.WallNow());
    Adopt(*record);
    std::lock_guard lock(records_mutex_);
    records_[key] = record;
  }

  if (FindPath(pod, "metadata.deletionTimestamp")) {
    int64_t grace = IntAt(pod, "metadata.deletionGracePeriodSeconds")
                        .value_or(IntAt(pod, "spec.terminationGracePeriodSeconds").value_or(30));
    for (auto& [container_name, c] : record->containers) {
      if (c.current && c.current->state == ContainerState::kRunning) {
        events_.Record(pod, "Normal", "Killing", "Stopping container " + container_name);
      }
    }
    KELP_RETURN_IF_ERROR(KillPod(*record, seconds(std::max<int64_t>(0, grace))));
    Status deleted = client_.Delete(client::kPods, namespace_name, name,
                                    {.grace_period_seconds = 0, .precondition_uid = uid});
    if (!deleted.ok() && deleted.code() != StatusCode::kNotFound &&
        deleted.code() != StatusCode::kConflict) {
      return deleted;
    }
    std::lock_guard lock(records_mutex_);
    records_.erase(key);
    return Status::Ok();
  }

  const std::string phase = StringAt(pod, "status.phase");
  if (IsTerminalPhase(phase)) {
    // Finished pods keep their record (status) but not their network.
    if (!record->sandbox_id.empty()) (void)runtime_.StopPodSandbox(record->sandbox_id);
    return Status::Ok();
  }

  KELP_RETURN_IF_ERROR(EnsureSandbox(*record, pod));
  std::string restart_policy = StringAt(pod, "spec.restartPolicy");
  if (restart_policy.empty()) restart_policy = "Always";

  bool initialized = true;
  for (const json::value& value : ArrayAt(pod, "spec.initContainers")) {
    if (!value.is_object()) continue;
    const json::object& spec = value.as_object();
    ContainerRecord& c = record->init_containers[StringAt(spec, "name")];
    KELP_RETURN_IF_ERROR(SyncContainer(*record, c, pod, spec, true, restart_policy));
    if (record->failed) break;
    if (!(c.current && c.current->state == ContainerState::kExited && c.current->exit_code == 0)) {
      initialized = false;
      break;
    }
  }
  if (initialized && !record->failed) {
    for (const json::value& value : ArrayAt(pod, "spec.containers")) {
      if (!value.is_object()) continue;
      const json::object& spec = value.as_object();
      KELP_RETURN_IF_ERROR(SyncContainer(*record, record->containers[StringAt(spec, "name")], pod,
                                         spec, false, restart_policy));
    }
  }
  KELP_RETURN_IF_ERROR(PutStatus(*record, pod));
  queue_.AddAfter(key, options_.resync_interval);
  return Status::Ok();
}

Status Kubelet::PutStatus(PodRecord& record, const json::object& pod) {
  const std::string now = Rfc3339(clock_.WallNow());
  std::string restart_policy = StringAt(pod, "spec.restartPolicy");
  if (restart_policy.empty()) restart_policy = "Always";

  auto container_status = [&](const json::object& spec, const ContainerRecord* c, bool init,
                              bool& ready, bool& running, bool& waiting_first, bool& succeeded,
                              bool& failed) {
    json::object status{{"name", StringAt(spec, "name")},
                        {"image", StringAt(spec, "image")},
                        {"imageID", ""},
                        {"ready", false},
                        {"restartCount", c ? c->restart_count : 0},
                        {"started", false}};
    ready = running = waiting_first = succeeded = failed = false;
    json::object state;
    if (c && c->current) {
      const ContainerStatus& s = *c->current;
      status["imageID"] = s.image_id;
      status["containerID"] = ContainerIdUri(s.id);
      if (s.state == ContainerState::kRunning) {
        running = true;
        bool is_ready = !init && c->started && (!c->readiness.probe || c->readiness.result);
        ready = is_ready;
        status["ready"] = is_ready;
        status["started"] = c->started;
        state["running"] = {{"startedAt", s.started_at ? Rfc3339(*s.started_at) : now}};
      } else if (s.state == ContainerState::kExited && c->waiting_reason.empty()) {
        state = TerminatedState(s);
        succeeded = s.exit_code == 0;
        failed = !succeeded;
        ready = init && succeeded;
        // About to be restarted: for the phase it is not finished.
        if (!init && (restart_policy == "Always" || (restart_policy == "OnFailure" && failed))) {
          succeeded = failed = false;
        }
      } else if (s.state == ContainerState::kExited) {
        state["waiting"] = {{"reason", c->waiting_reason}, {"message", c->waiting_message}};
        status["lastState"] = TerminatedState(s);
      } else {
        state["waiting"] = {{"reason", "ContainerCreating"}};
        waiting_first = true;
      }
    } else {
      std::string reason =
          c && !c->waiting_reason.empty() ? c->waiting_reason : "ContainerCreating";
      json::object waiting{{"reason", reason}};
      if (c && !c->waiting_message.empty()) waiting["message"] = c->waiting_message;
      state["waiting"] = std::move(waiting);
      waiting_first = !c || !c->last_terminated;
    }
    if (c && c->last_terminated && !status.contains("lastState")) {
      status["lastState"] = TerminatedState(*c->last_terminated);
    }
    if (!status.contains("lastState")) status["lastState"] = json::object{};
    status["state"] = std::move(state);
    return status;
  };

  json::array init_statuses;
  bool initialized = true;
  bool init_failed = record.failed;
  for (const json::value& value : ArrayAt(pod, "spec.initContainers")) {
    if (!value.is_object()) continue;
    const json::object& spec = value.as_object();
    auto it = record.init_containers.find(StringAt(spec, "name"));
    bool ready, running, waiting_first, succeeded, failed;
    init_statuses.push_back(
        container_status(spec, it == record.init_containers.end() ? nullptr : &it->second, true,
                         ready, running, waiting_first, succeeded, failed));
    if (!succeeded) initialized = false;
  }
  json::array statuses;
  bool all_ready = true;
  int running_count = 0, waiting_first_count = 0, waiting_count = 0, succeeded_count = 0,
      failed_count = 0;
  for (const json::value& value : ArrayAt(pod, "spec.containers")) {
    if (!value.is_object()) continue;
    const json::object& spec = value.as_object();
    auto it = record.containers.find(StringAt(spec, "name"));
    const ContainerRecord* c = it == record.containers.end() ? nullptr : &it->second;
    bool ready, running, waiting_first, succeeded, failed;
    statuses.push_back(
        container_status(spec, c, false, ready, running, waiting_first, succeeded, failed));
    all_ready = all_ready && ready;
    running_count += running;
    waiting_first_count += waiting_first;
    waiting_count += !running && !succeeded && !failed;
    succeeded_count += succeeded;
    failed_count += failed;
  }
  std::string phase;
  if (init_failed) {
    phase = "Failed";
  } else if (!initialized || waiting_first_count > 0) {
    phase = "Pending";
  } else if (running_count > 0 || waiting_count > 0) {
    phase = "Running";
  } else if (failed_count > 0) {
    phase = "Failed";
  } else {
    phase = "Succeeded";
  }
  if (statuses.empty()) all_ready = false;

  json::object updated = pod;
  json::object& status = updated["status"].is_object() ? updated["status"].as_object()
                                                       : updated["status"].emplace_object();
  status["phase"] = phase;
  status["conditions"] =
      json::array{PodCondition("PodReadyToStartContainers", !record.sandbox_id.empty(), pod, now),
                  PodCondition("Initialized", initialized, pod, now),
                  PodCondition("Ready", all_ready && phase == "Running", pod, now),
                  PodCondition("ContainersReady", all_ready && phase == "Running", pod, now),
                  PodCondition("PodScheduled", true, pod, now)};
  status["hostIP"] = node_.internal_ip;
  status["hostIPs"] = json::array{json::object{{"ip", node_.internal_ip}}};
  bool host_network = FindPath(pod, "spec.hostNetwork") &&
                      FindPath(pod, "spec.hostNetwork")->is_bool() &&
                      FindPath(pod, "spec.hostNetwork")->as_bool();
  std::string pod_ip = host_network ? node_.internal_ip : record.pod_ip;
  if (!pod_ip.empty()) {
    status["podIP"] = pod_ip;
    status["podIPs"] = json::array{json::object{{"ip", pod_ip}}};
  }
  status["startTime"] = record.start_time;
  if (!init_statuses.empty()) status["initContainerStatuses"] = std::move(init_statuses);
  status["containerStatuses"] = std::move(statuses);
  std::string serialized = SerializeJson(status);
  if (serialized == record.last_status) return Status::Ok();
  Result<json::object> written = client_.Update(client::kPods, updated, "status");
  if (!written.ok()) {
    if (written.status().code() == StatusCode::kNotFound) return Status::Ok();
    return written.status();
  }
  record.last_status = std::move(serialized);
  return Status::Ok();
}

}  // namespace kelp::agent
