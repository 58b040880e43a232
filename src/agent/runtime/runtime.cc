// ContainerRuntime: sandboxes and containers as directories of JSON records next to the
// kernel objects they describe; every status is recomputed from those files, the shim's files
// and runc's state, which is what makes restarts and adoption trivial.
#include "agent/runtime/runtime.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <csignal>
#include <cstring>
#include <thread>

#include "agent/runtime/namespaces.h"
#include "agent/runtime/oci_spec.h"
#include "agent/runtime/shim.h"
#include "agent/runtime/user.h"
#include "common/file.h"
#include "common/json.h"
#include "net/netlink_libnl.h"

namespace kelp::agent {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using SystemTime = std::chrono::system_clock::time_point;

constexpr char kSandboxFile[] = "sandbox.json";
constexpr char kContainerFile[] = "container.json";
constexpr char kStartFile[] = "start.json";
constexpr char kNetnsPrefix[] = "kelp-";

Result<std::string> RandomId() {
  unsigned char bytes[16];
  UniqueFd fd(::open("/dev/urandom", O_RDONLY | O_CLOEXEC));
  if (!fd.valid() || ::read(fd.get(), bytes, sizeof(bytes)) != sizeof(bytes)) {
    return ErrnoStatus("read /dev/urandom", errno);
  }
  std::string id;
  for (unsigned char b : bytes) id += fmt::format("{:02x}", b);
  return id;
}

// Sandbox and container ids are 32 lowercase hex characters (RandomId). Recovery relies on it
// to tell its own netns files ("kelp-<id>") from other namespaces named kelp-*.
bool ValidId(const std::string& id) {
  if (id.size() != 32) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

json::object MapJson(const std::map<std::string, std::string>& map) {
  json::object out;
  for (const auto& [k, v] : map) out[k] = v;
  return out;
}

std::map<std::string, std::string> JsonMap(const json::object& doc, std::string_view key) {
  std::map<std::string, std::string> out;
  const json::value* value = doc.if_contains(key);
  if (value == nullptr || !value->is_object()) return out;
  for (const auto& [k, v] : value->as_object()) {
    if (v.is_string()) out[std::string(k)] = std::string(v.as_string());
  }
  return out;
}

std::string FieldOr(const json::object& doc, std::string_view key, std::string fallback = "") {
  const json::value* value = doc.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : fallback;
}

SystemTime TimeField(const json::object& doc, std::string_view key) {
  Result<SystemTime> time = ParseRfc3339(FieldOr(doc, key));
  return time.ok() ? *time : SystemTime{};
}

std::string SandboxJson(const SandboxStatus& s) {
  return json::serialize(json::object{
      {"id", s.id},
      {"name", s.name},
      {"namespace", s.pod_namespace},
      {"uid", s.uid},
      {"attempt", s.attempt},
      {"ready", s.state == SandboxState::kReady},
      {"ip", s.ip},
      {"netns", s.netns_path},
      {"host_network", s.host_network},
      {"created_at", FormatCriTimestamp(s.created_at)},
      {"log_directory", s.log_directory},
      {"labels", MapJson(s.labels)},
      {"annotations", MapJson(s.annotations)},
  });
}

Result<SandboxStatus> ParseSandbox(std::string_view text) {
  KELP_ASSIGN_OR_RETURN(json::object doc, ParseJsonObject(text));
  SandboxStatus s;
  KELP_ASSIGN_OR_RETURN(s.id, GetString(doc, "id"));
  s.name = FieldOr(doc, "name");
  s.pod_namespace = FieldOr(doc, "namespace");
  s.uid = FieldOr(doc, "uid");
  KELP_ASSIGN_OR_RETURN(std::optional<int64_t> attempt, FindInt64(doc, "attempt"));
  s.attempt = static_cast<uint32_t>(attempt.value_or(0));
  KELP_ASSIGN_OR_RETURN(std::optional<bool> ready, FindBool(doc, "ready"));
  s.state = ready.value_or(false) ? SandboxState::kReady : SandboxState::kNotReady;
  s.ip = FieldOr(doc, "ip");
  s.netns_path = FieldOr(doc, "netns");
  KELP_ASSIGN_OR_RETURN(std::optional<bool> host_network, FindBool(doc, "host_network"));
  s.host_network = host_network.value_or(false);
  s.created_at = TimeField(doc, "created_at");
  s.log_directory = FieldOr(doc, "log_directory");
  s.labels = JsonMap(doc, "labels");
  s.annotations = JsonMap(doc, "annotations");
  return s;
}

std::string HostsFile(const PodSandboxConfig& config, const std::string& hostname,
                      const std::string& ip) {
  std::string hosts =
      "# Kubernetes-managed hosts file.\n"
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "fe00::0\tip6-mcastprefix\n"
      "fe00::1\tip6-allnodes\n"
      "fe00::2\tip6-allrouters\n";
  if (!ip.empty()) hosts += ip + "\t" + hostname + "\n";
  if (!config.host_aliases.empty()) {
    hosts += "\n# Entries added by HostAliases.\n";
    for (const HostAlias& alias : config.host_aliases) {
      hosts += alias.ip;
      for (const std::string& name : alias.hostnames) hosts += "\t" + name;
      hosts += "\n";
    }
  }
  return hosts;
}

Result<std::string> ResolvConf(const PodSandboxConfig& config, const fs::path& node_resolv) {
  if (config.dns_servers.empty() && config.dns_searches.empty() && config.dns_options.empty()) {
    Result<std::string> node = ReadFile(node_resolv);
    if (!node.ok() && node.status().code() == StatusCode::kNotFound) return std::string();
    return node;
  }
  std::string text;
  if (!config.dns_searches.empty()) {
    text += "search";
    for (const std::string& s : config.dns_searches) text += " " + s;
    text += "\n";
  }
  for (const std::string& server : config.dns_servers) text += "nameserver " + server + "\n";
  if (!config.dns_options.empty()) {
    text += "options";
    for (const std::string& o : config.dns_options) text += " " + o;
    text += "\n";
  }
  return text;
}

Status BringLoopbackUp() {
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<net::LibnlNetlink> nl, net::LibnlNetlink::Open());
  KELP_ASSIGN_OR_RETURN(net::Link lo, nl->GetLink("lo"));
  return nl->SetLinkUp(lo.index, true);
}

Status Unmount(const fs::path& path) {
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return ErrnoStatus("unmount " + path.string(), errno);
  }
  return Status::Ok();
}

// Unpins a sandbox's UTS and IPC namespaces kept in `dir` and removes it; an absent one is fine.
Status RemoveNamespacePins(const fs::path& dir) {
  KELP_RETURN_IF_ERROR(UnpinNamespace(dir / "uts"));
  KELP_RETURN_IF_ERROR(UnpinNamespace(dir / "ipc"));
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return IoError("remove " + dir.string() + ": " + ec.message());
  return Status::Ok();
}

// True while `pid` is a live kelp-shim for `container_id` (guards against pid reuse).
bool ShimAlive(int pid, const std::string& container_id) {
  if (pid <= 0) return false;
  Result<std::string> cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  return cmdline.ok() && cmdline->find(container_id) != std::string::npos &&
         cmdline->find("--state-dir") != std::string::npos;
}

}  // namespace

ContainerRuntime::ContainerRuntime(RuntimeOptions options, ProcessRunner& runner,
                                   ImageSource& images)
    : options_(std::move(options)),
      runner_(runner),
      images_(images),
      cni_(options_.cni, runner),
      runc_(options_.runc_binary, options_.runc_root.string(), runner, options_.runc_timeout) {}

ContainerRuntime::~ContainerRuntime() = default;

Result<std::unique_ptr<ContainerRuntime>> ContainerRuntime::Open(RuntimeOptions options,
                                                                 ProcessRunner& runner,
                                                                 ImageSource& images) {
  if (options.node_name.empty()) return InvalidArgumentError("runtime: node_name is required");
  if (options.cgroup_parent.empty()) options.cgroup_parent = "kelp/" + options.node_name;
  std::optional<SealedProgram> sealed_runc;
  if (options.sealed_runc) {
    Result<SealedProgram> sealed = SealedProgram::Create(options.runc_binary);
    if (sealed.ok()) {
      spdlog::info("runtime: runc runs from a sealed copy of {} ({:.1f} MB in memory)",
                   sealed->source(), static_cast<double>(sealed->size()) / 1e6);
      options.runc_binary = sealed->path();
      sealed_runc = std::move(*sealed);
    } else {
      spdlog::warn("runtime: no sealed copy of {}, running it directly: {}", options.runc_binary,
                   sealed.status().message());
    }
  }
  std::unique_ptr<ContainerRuntime> runtime(
      new ContainerRuntime(std::move(options), runner, images));
  runtime->sealed_runc_ = std::move(sealed_runc);
  Result<Cgroups> cgroups = Cgroups::Discover();
  if (cgroups.ok()) {
    runtime->cgroups_ = std::move(*cgroups);
  } else {
    spdlog::warn("runtime: no cgroup stats: {}", cgroups.status().message());
  }
  for (const fs::path& dir : {runtime->options_.state_dir / "sandboxes",
                              runtime->options_.state_dir / "containers",
                              runtime->options_.run_state_dir / "sandboxes",
                              runtime->options_.run_state_dir / "containers",
                              runtime->options_.runc_root}) {
    KELP_RETURN_IF_ERROR(CreateDirectories(dir, 0711));
  }
  KELP_RETURN_IF_ERROR(runtime->Recover());
  return runtime;
}

fs::path ContainerRuntime::SandboxDir(const std::string& id) const {
  return options_.state_dir / "sandboxes" / id;
}
fs::path ContainerRuntime::SandboxNsDir(const std::string& id) const {
  return options_.run_state_dir / "sandboxes" / id;
}
fs::path ContainerRuntime::ContainerDir(const std::string& id) const {
  return options_.state_dir / "containers" / id;
}
fs::path ContainerRuntime::BundleDir(const std::string& id) const {
  return options_.run_state_dir / "containers" / id;
}
fs::path ContainerRuntime::NetnsPath(const std::string& sandbox_id) const {
  return options_.netns_dir / (kNetnsPrefix + sandbox_id);
}
ExecTarget ContainerRuntime::ExecTargetOf() const {
  return ExecTarget{.shim_binary = options_.shim_binary,
                    .runc_binary = options_.runc_binary,
                    .runc_root = options_.runc_root.string()};
}
std::string ContainerRuntime::PodCgroupPath(const std::string& pod_uid) const {
  return options_.cgroup_parent + "/pod" + pod_uid;
}

Status ContainerRuntime::Recover() {
  KELP_ASSIGN_OR_RETURN(std::vector<RuncState> states, runc_.List());
  // runc containers we have no record of (a crash between `runc create` and our record is
  // impossible — the record is written first — so these are leftovers of removed ones).
  for (const RuncState& state : states) {
    if (fs::exists(ContainerDir(state.id) / kContainerFile)) continue;
    spdlog::warn("runtime: removing unknown runc container {}", state.id);
    (void)runc_.Delete(state.id, true);
    recovery_.removed_orphan_containers.push_back(state.id);
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.state_dir / "containers", ec)) {
    std::string id = entry.path().filename().string();
    if (!fs::exists(entry.path() / kContainerFile)) {
      // CreateContainer died before its record: nothing was started from it.
      (void)RemoveContainerFiles(id);
      continue;
    }
    Result<ContainerStatus> status = LoadContainer(id, &states);
    if (status.ok()) recovery_.containers.push_back(std::move(*status));
  }
  for (const auto& entry : fs::directory_iterator(options_.run_state_dir / "containers", ec)) {
    std::string id = entry.path().filename().string();
    if (!fs::exists(ContainerDir(id) / kContainerFile)) (void)RemoveContainerFiles(id);
  }
  for (const auto& entry : fs::directory_iterator(options_.state_dir / "sandboxes", ec)) {
    Result<SandboxStatus> sandbox = LoadSandbox(entry.path().filename().string());
    if (sandbox.ok()) recovery_.sandboxes.push_back(std::move(*sandbox));
  }
  for (const auto& entry : fs::directory_iterator(options_.run_state_dir / "sandboxes", ec)) {
    // Namespaces pinned for a sandbox whose record is gone (RemovePodSandbox died between).
    std::string id = entry.path().filename().string();
    if (!fs::exists(SandboxDir(id) / kSandboxFile)) (void)RemoveNamespacePins(entry.path());
  }
  for (const auto& entry : fs::directory_iterator(options_.netns_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with(kNetnsPrefix)) continue;
    std::string id = name.substr(std::strlen(kNetnsPrefix));
    if (!ValidId(id) || fs::exists(SandboxDir(id))) continue;
    spdlog::warn("runtime: removing the netns of unknown sandbox {}", id);
    (void)TeardownNetwork(id, nullptr);
    recovery_.removed_orphan_sandboxes.push_back(id);
  }
  spdlog::info("runtime: adopted {} sandboxes and {} containers", recovery_.sandboxes.size(),
               recovery_.containers.size());
  return Status::Ok();
}

Result<SandboxStatus> ContainerRuntime::LoadSandbox(const std::string& id) const {
  if (!ValidId(id)) return NotFoundError("sandbox " + id + " not found");
  Result<std::string> text = ReadFile(SandboxDir(id) / kSandboxFile);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      return NotFoundError("sandbox " + id + " not found");
    }
    return text.status();
  }
  return ParseSandbox(*text);
}

Status ContainerRuntime::SaveSandbox(const SandboxStatus& sandbox) {
  return WriteFileAtomic(SandboxDir(sandbox.id) / kSandboxFile, SandboxJson(sandbox), 0644,
                         Durability::kProcessCrashSafe);
}

Result<SandboxStatus> ContainerRuntime::RunPodSandbox(const PodSandboxConfig& config) {
  if (config.name.empty() || config.pod_namespace.empty() || config.uid.empty()) {
    return InvalidArgumentError("sandbox: name, namespace and uid are required");
  }
  KELP_ASSIGN_OR_RETURN(std::string id, RandomId());
  SandboxStatus sandbox{.id = id,
                        .name = config.name,
                        .pod_namespace = config.pod_namespace,
                        .uid = config.uid,
                        .attempt = config.attempt,
                        .host_network = config.host_network,
                        .created_at = std::chrono::system_clock::now(),
                        .log_directory = config.log_directory,
                        .labels = config.labels,
                        .annotations = config.annotations};
  if (sandbox.log_directory.empty()) {
    sandbox.log_directory = (options_.pod_log_dir / fmt::format("{}_{}_{}", config.pod_namespace,
                                                                 config.name, config.uid))
                                .string();
  }
  if (!config.host_network) sandbox.netns_path = NetnsPath(id).string();
  std::string hostname = config.hostname.empty() ? config.name : config.hostname;
  fs::path dir = SandboxDir(id);
  fs::path ns_dir = SandboxNsDir(id);
  KELP_RETURN_IF_ERROR(CreateDirectories(dir, 0711));
  KELP_RETURN_IF_ERROR(CreateDirectories(ns_dir, 0711));
  // The record first, so a crash in the middle leaves something RemovePodSandbox can find.
  KELP_RETURN_IF_ERROR(SaveSandbox(sandbox));

  auto fail = [&](Status status) -> Status {
    Status removed = RemovePodSandbox(id);
    if (!removed.ok()) {
      // E.g. the CNI DEL fails for the same reason the ADD did: the kubelet will make a new
      // sandbox, so this one must not linger half-made.
      spdlog::warn("runtime: cleaning up failed sandbox {}: {}", id, removed.message());
      (void)UnpinNamespace(NetnsPath(id));
      (void)RemoveNamespacePins(ns_dir);
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
    return status;
  };
  KELP_ASSIGN_OR_RETURN(std::string resolv, ResolvConf(config, options_.resolv_conf));
  Status status = WriteFileAtomic(dir / "resolv.conf", resolv, 0644, Durability::kProcessCrashSafe);
  if (status.ok()) {
    status = WriteFileAtomic(dir / "hostname", hostname + "\n", 0644,
                             Durability::kProcessCrashSafe);
  }
  if (status.ok()) {
    status = PinNewNamespace(CLONE_NEWUTS, ns_dir / "uts", [&]() -> Status {
      if (::sethostname(hostname.data(), hostname.size()) != 0) {
        return ErrnoStatus("sethostname", errno);
      }
      return Status::Ok();
    });
  }
  if (status.ok()) status = PinNewNamespace(CLONE_NEWIPC, ns_dir / "ipc");
  if (!status.ok()) return fail(status);

  if (!config.host_network) {
    status = MakeSharedMountDir(options_.netns_dir);
    if (status.ok()) status = PinNewNamespace(CLONE_NEWNET, NetnsPath(id), BringLoopbackUp);
    if (!status.ok()) return fail(status.WithContext("pod network namespace"));
    Result<CniNetworkList> list = cni_.LoadNetworkList();
    if (!list.ok()) return fail(list.status().WithContext("cni config"));
    CniAttachment attachment{
        .container_id = id,
        .netns = NetnsPath(id).string(),
        .ifname = "eth0",
        .args = KubernetesCniArgs(config.pod_namespace, config.name, id, config.uid)};
    Result<CniAddResult> added = cni_.Add(*list, attachment);
    if (!added.ok()) return fail(added.status().WithContext("CNI ADD"));
    sandbox.ip = added->ip;
  }
  status = WriteFileAtomic(dir / "hosts", HostsFile(config, hostname, sandbox.ip), 0644,
                           Durability::kProcessCrashSafe);
  if (status.ok()) status = CreateDirectories(sandbox.log_directory, 0755);
  sandbox.state = SandboxState::kReady;
  if (status.ok()) status = SaveSandbox(sandbox);
  if (!status.ok()) return fail(status);
  return sandbox;
}

Status ContainerRuntime::TeardownNetwork(const std::string& sandbox_id,
                                         const SandboxStatus* sandbox) {
  fs::path netns = NetnsPath(sandbox_id);
  std::error_code ec;
  bool netns_exists = fs::exists(netns, ec);
  Result<CniNetworkList> list = cni_.CachedNetworkList(sandbox_id, "eth0");
  if (!list.ok() && (netns_exists || sandbox != nullptr)) list = cni_.LoadNetworkList();
  if (list.ok()) {
    CniAttachment attachment{.container_id = sandbox_id,
                             .netns = netns_exists ? netns.string() : "",
                             .ifname = "eth0"};
    for (CniCacheEntry& entry : cni_.CachedEntries(sandbox_id)) {
      if (entry.ifname == "eth0") attachment.args = entry.args;
    }
    if (attachment.args.empty() && sandbox != nullptr) {
      attachment.args =
          KubernetesCniArgs(sandbox->pod_namespace, sandbox->name, sandbox_id, sandbox->uid);
    }
    KELP_RETURN_IF_ERROR(cni_.Del(*list, attachment).WithContext("CNI DEL"));
  } else if (list.status().code() != StatusCode::kNotFound) {
    return list.status();
  }
  return UnpinNamespace(netns);
}

Status ContainerRuntime::StopPodSandbox(const std::string& sandbox_id) {
  Result<SandboxStatus> sandbox = LoadSandbox(sandbox_id);
  if (!sandbox.ok() && sandbox.status().code() != StatusCode::kNotFound) return sandbox.status();
  for (const std::string& id : ContainerIdsOfSandbox(sandbox_id)) {
    KELP_RETURN_IF_ERROR(StopContainer(id, std::chrono::milliseconds(0)));
  }
  if (sandbox.ok() && sandbox->host_network) {
    sandbox->state = SandboxState::kNotReady;
    return SaveSandbox(*sandbox);
  }
  KELP_RETURN_IF_ERROR(TeardownNetwork(sandbox_id, sandbox.ok() ? &*sandbox : nullptr));
  if (!sandbox.ok()) return Status::Ok();
  sandbox->state = SandboxState::kNotReady;
  sandbox->ip.clear();
  return SaveSandbox(*sandbox);
}

Status ContainerRuntime::RemovePodSandbox(const std::string& sandbox_id) {
  if (!ValidId(sandbox_id)) return InvalidArgumentError("bad sandbox id " + sandbox_id);
  Result<SandboxStatus> sandbox = LoadSandbox(sandbox_id);
  KELP_RETURN_IF_ERROR(StopPodSandbox(sandbox_id));
  for (const std::string& id : ContainerIdsOfSandbox(sandbox_id)) {
    KELP_RETURN_IF_ERROR(RemoveContainer(id));
  }
  fs::path dir = SandboxDir(sandbox_id);
  // dir/ns: where agents before the run dir's bundles pinned them.
  for (const fs::path& pins : {SandboxNsDir(sandbox_id), dir / "ns"}) {
    KELP_RETURN_IF_ERROR(RemoveNamespacePins(pins));
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return IoError("remove " + dir.string() + ": " + ec.message());
  // The pod cgroup goes with the pod's last sandbox (a pod's sandboxes share its uid). The log
  // directory stays: it belongs to the pod, and the kubelet removes it with the pod.
  if (sandbox.ok() && cgroups_.has_value()) {
    Result<std::vector<SandboxStatus>> others = ListPodSandboxes();
    bool last = others.ok() && std::none_of(others->begin(), others->end(),
                                            [&](const SandboxStatus& s) {
                                              return s.uid == sandbox->uid;
                                            });
    if (last) {
      Status removed = cgroups_->RemoveTree(PodCgroupPath(sandbox->uid));
      if (!removed.ok()) spdlog::warn("runtime: pod cgroup: {}", removed.message());
    }
  }
  if (ec) return IoError("remove " + dir.string() + ": " + ec.message());
  return Status::Ok();
}

Result<SandboxStatus> ContainerRuntime::PodSandboxStatus(const std::string& sandbox_id) {
  return LoadSandbox(sandbox_id);
}

Result<std::vector<SandboxStatus>> ContainerRuntime::ListPodSandboxes() {
  std::vector<SandboxStatus> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.state_dir / "sandboxes", ec)) {
    Result<SandboxStatus> sandbox = LoadSandbox(entry.path().filename().string());
    if (sandbox.ok()) out.push_back(std::move(*sandbox));
  }
  if (ec) return IoError("list sandboxes: " + ec.message());
  return out;
}

Status ContainerRuntime::CheckPodNetwork(const std::string& sandbox_id) {
  KELP_ASSIGN_OR_RETURN(SandboxStatus sandbox, LoadSandbox(sandbox_id));
  if (sandbox.host_network) return Status::Ok();
  KELP_ASSIGN_OR_RETURN(CniNetworkList list, cni_.CachedNetworkList(sandbox_id, "eth0"));
  CniAttachment attachment{
      .container_id = sandbox_id,
      .netns = NetnsPath(sandbox_id).string(),
      .ifname = "eth0",
      .args = KubernetesCniArgs(sandbox.pod_namespace, sandbox.name, sandbox_id, sandbox.uid)};
  return cni_.Check(list, attachment);
}

std::vector<std::string> ContainerRuntime::ContainerIdsOfSandbox(
    const std::string& sandbox_id) const {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.state_dir / "containers", ec)) {
    Result<std::string> text = ReadFile(entry.path() / kContainerFile);
    if (!text.ok()) continue;
    Result<json::object> doc = ParseJsonObject(*text);
    if (doc.ok() && FieldOr(*doc, "sandbox_id") == sandbox_id) {
      ids.push_back(entry.path().filename().string());
    }
  }
  return ids;
}

Result<std::string> ContainerRuntime::CreateContainer(const std::string& sandbox_id,
                                                      const ContainerConfig& config) {
  return CreateContainer(sandbox_id, config, /*start=*/false);
}

Result<std::string> ContainerRuntime::RunContainer(const std::string& sandbox_id,
                                                   const ContainerConfig& config) {
  KELP_ASSIGN_OR_RETURN(std::string id, CreateContainer(sandbox_id, config, /*start=*/true));
  if (Status recorded = RecordStarted(id); !recorded.ok()) {
    (void)RemoveContainer(id);
    return recorded;
  }
  return id;
}

Result<std::string> ContainerRuntime::CreateContainer(const std::string& sandbox_id,
                                                      const ContainerConfig& config, bool start) {
  KELP_ASSIGN_OR_RETURN(SandboxStatus sandbox, LoadSandbox(sandbox_id));
  if (sandbox.state != SandboxState::kReady) {
    return ConflictError("sandbox " + sandbox_id + " is not ready");
  }
  if (config.name.empty()) return InvalidArgumentError("container name is required");
  KELP_ASSIGN_OR_RETURN(ResolvedImage image, images_.Resolve(config.image));
  if (image.layers.empty()) return InvalidArgumentError("image " + config.image + " has no layers");
  KELP_ASSIGN_OR_RETURN(std::string id, RandomId());
  fs::path dir = ContainerDir(id);
  fs::path bundle = BundleDir(id);
  fs::path rootfs = bundle / "rootfs";
  auto fail = [&](Status status) -> Status {
    (void)RemoveContainerFiles(id);
    return status;
  };
  for (const fs::path& sub : {dir / "upper", dir / "work", rootfs}) {
    if (Status made = CreateDirectories(sub, 0711); !made.ok()) return fail(made);
  }

  // overlayfs: the top layer comes first in lowerdir.
  std::string lower;
  for (auto it = image.layers.rbegin(); it != image.layers.rend(); ++it) {
    lower += (lower.empty() ? "" : ":") + it->string();
  }
  std::string mount_options = fmt::format("lowerdir={},upperdir={},workdir={}", lower,
                                          (dir / "upper").string(), (dir / "work").string());
  if (::mount("overlay", rootfs.c_str(), "overlay", 0, mount_options.c_str()) != 0) {
    return fail(ErrnoStatus("mount overlay rootfs", errno));
  }

  Result<ResolvedUser> user = ResolveUserInRootfs(rootfs, image.config.user, config.security);
  if (!user.ok()) return fail(user.status());
  std::string log_path = config.log_path;
  if (log_path.empty()) {
    log_path = (fs::path(sandbox.log_directory) / config.name /
                fmt::format("{}.log", config.attempt))
                   .string();
  }
  fs::path sandbox_dir = SandboxDir(sandbox_id);
  std::string cgroups_path = PodCgroupPath(sandbox.uid) + "/" + id;
  std::string hostname_text = ReadFile(sandbox_dir / "hostname").value_or(sandbox.name + "\n");
  while (!hostname_text.empty() && hostname_text.back() == '\n') hostname_text.pop_back();
  OciSpecInput input{
      .container = &config,
      .image = &image.config,
      .user = *user,
      .hostname = hostname_text,
      .rootfs_path = rootfs.string(),
      .cgroups_path = cgroups_path,
      .netns_path = sandbox.netns_path,
      .uts_ns_path = (SandboxNsDir(sandbox_id) / "uts").string(),
      .ipc_ns_path = (SandboxNsDir(sandbox_id) / "ipc").string(),
      .hosts_file = (sandbox_dir / "hosts").string(),
      .resolv_conf_file = (sandbox_dir / "resolv.conf").string(),
      .hostname_file = (sandbox_dir / "hostname").string(),
      .annotations = {{"io.kubernetes.pod.name", sandbox.name},
                      {"io.kubernetes.pod.namespace", sandbox.pod_namespace},
                      {"io.kubernetes.pod.uid", sandbox.uid},
                      {"io.kubernetes.container.name", config.name},
                      {"io.kubernetes.cri.sandbox-id", sandbox_id}}};
  Result<json::object> spec = BuildOciSpec(input);
  if (!spec.ok()) return fail(spec.status());
  Status status = WriteFileAtomic(bundle / "config.json", json::serialize(*spec), 0600,
                                  Durability::kProcessCrashSafe);
  if (!status.ok()) return fail(status);

  json::object record{{"id", id},
                      {"sandbox_id", sandbox_id},
                      {"pod_uid", sandbox.uid},
                      {"name", config.name},
                      {"attempt", config.attempt},
                      {"image", config.image},
                      {"image_id", image.id},
                      {"created_at", FormatCriTimestamp(std::chrono::system_clock::now())},
                      {"log_path", log_path},
                      {"cgroups_path", cgroups_path},
                      {"tty", config.tty},
                      {"labels", MapJson(config.labels)},
                      {"annotations", MapJson(config.annotations)}};
  status = WriteFileAtomic(dir / kContainerFile, json::serialize(record), 0644,
                           Durability::kProcessCrashSafe);
  if (!status.ok()) return fail(status);

  ShimOptions shim{.runc = options_.runc_binary,
                   .root = options_.runc_root.string(),
                   .id = id,
                   .bundle = bundle.string(),
                   .log_path = log_path,
                   .state_dir = bundle.string(),
                   .tty = config.tty,
                   .start = start};
  // The shim finds the container's threads there (timer slack) without reading config.json
  // and /proc/self/mountinfo, which grows with the node's pods, at every start.
  if (cgroups_.has_value()) {
    Result<fs::path> memory = cgroups_->Resolve("memory", cgroups_path);
    if (memory.ok()) shim.memory_cgroup = memory->string();
  }
  ProcessRequest request{.argv = {options_.shim_binary}, .timeout = options_.runc_timeout};
  std::vector<std::string> args = ShimArguments(shim);
  request.argv.insert(request.argv.end(), args.begin(), args.end());
  Result<ProcessResult> launched = runner_.Run(request);
  if (!launched.ok()) return fail(launched.status().WithContext("start kelp-shim"));
  if (launched->exit_code != 0) {
    std::string error = launched->stderr_data;
    while (!error.empty() && error.back() == '\n') error.pop_back();
    (void)runc_.Delete(id, true);
    return fail(InternalError("create container " + config.name + ": " + error));
  }
  return id;
}

Status ContainerRuntime::StartContainer(const std::string& container_id) {
  if (!ValidId(container_id) || !fs::exists(ContainerDir(container_id) / kContainerFile)) {
    return NotFoundError("container " + container_id + " not found");
  }
  // runc itself refuses to start anything but a created container; asking it for the state
  // first would cost a second runc run on every start.
  Status started = runc_.Start(container_id);
  if (!started.ok()) {
    return started.code() == StatusCode::kInternal ? ConflictError(started.message()) : started;
  }
  return RecordStarted(container_id);
}

Status ContainerRuntime::RecordStarted(const std::string& container_id) {
  return WriteFileAtomic(
      ContainerDir(container_id) / kStartFile,
      json::serialize(json::object{
          {"started_at", FormatCriTimestamp(std::chrono::system_clock::now())}}),
      0644, Durability::kProcessCrashSafe);
}

Status ContainerRuntime::WaitForExit(const std::string& container_id,
                                     std::optional<std::chrono::steady_clock::time_point> deadline) {
  fs::path dir = BundleDir(container_id);
  auto remaining_ms = [&]() -> int {
    if (!deadline.has_value()) return -1;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline -
                                                             std::chrono::steady_clock::now());
    return static_cast<int>(std::max<int64_t>(0, left.count()));
  };
  while (true) {
    if (fs::exists(dir / kExitInfoFile)) return Status::Ok();
    Result<std::string> shim_text = ReadFile(dir / kShimInfoFile);
    Result<ShimInfo> shim = shim_text.ok() ? ParseShimInfo(*shim_text) : shim_text.status();
    if (shim.ok() && ShimAlive(shim->shim_pid, container_id)) {
      // The shim exits right after writing exit.json: its pidfd is the exit event.
      UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, shim->shim_pid, 0)));
      if (pidfd.valid()) {
        pollfd event{.fd = pidfd.get(), .events = POLLIN, .revents = 0};
        int ready = ::poll(&event, 1, remaining_ms());
        if (ready == 0) return DeadlineExceededError("container " + container_id + " still running");
        continue;
      }
    }
    // No live shim (killed, or lost with a reboot): runc's state is all there is.
    Result<RuncState> state = runc_.State(container_id);
    if (!state.ok() || state->status == "stopped") return Status::Ok();
    if (remaining_ms() == 0) {
      return DeadlineExceededError("container " + container_id + " still running");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Status ContainerRuntime::StopContainer(const std::string& container_id,
                                       std::chrono::milliseconds grace) {
  KELP_ASSIGN_OR_RETURN(ContainerStatus status, GetContainerStatus(container_id));
  if (status.state == ContainerState::kExited) return Status::Ok();
  if (status.state == ContainerState::kUnknown) {
    Status deleted = runc_.Delete(container_id, true);
    return deleted;
  }
  if (grace.count() > 0) {
    Status term = runc_.Kill(container_id, SIGTERM);
    if (term.ok()) {
      Status exited = WaitForExit(container_id, std::chrono::steady_clock::now() + grace);
      if (exited.ok()) return Status::Ok();
      if (exited.code() != StatusCode::kDeadlineExceeded) return exited;
    } else if (term.code() != StatusCode::kNotFound) {
      return term;
    }
  }
  Status kill = runc_.Kill(container_id, SIGKILL);
  if (!kill.ok() && kill.code() != StatusCode::kNotFound) return kill;
  return WaitForExit(container_id, std::chrono::steady_clock::now() + std::chrono::seconds(30));
}

Status ContainerRuntime::RemoveContainer(const std::string& container_id) {
  if (!ValidId(container_id)) return InvalidArgumentError("bad container id " + container_id);
  if (!fs::exists(ContainerDir(container_id))) return RemoveContainerFiles(container_id);
  Result<ContainerStatus> status = GetContainerStatus(container_id);
  if (status.ok() && (status->state == ContainerState::kRunning ||
                      status->state == ContainerState::kCreated)) {
    KELP_RETURN_IF_ERROR(StopContainer(container_id, std::chrono::milliseconds(0)));
  }
  KELP_RETURN_IF_ERROR(runc_.Delete(container_id, true));
  return RemoveContainerFiles(container_id);
}

Status ContainerRuntime::RemoveContainerFiles(const std::string& id) {
  // The bundle (with the rootfs mount over the upper dir) first. ContainerDir(id)/rootfs: where
  // agents before the run dir's bundles mounted it.
  for (const fs::path& dir : {BundleDir(id), ContainerDir(id)}) {
    KELP_RETURN_IF_ERROR(Unmount(dir / "rootfs"));
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) return IoError("remove " + dir.string() + ": " + ec.message());
  }
  return Status::Ok();
}

Result<ContainerStatus> ContainerRuntime::LoadContainer(const std::string& id,
                                                        const std::vector<RuncState>* runc_states) {
  if (!ValidId(id)) return NotFoundError("container " + id + " not found");
  fs::path dir = ContainerDir(id);
  Result<std::string> text = ReadFile(dir / kContainerFile);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      return NotFoundError("container " + id + " not found");
    }
    return text.status();
  }
  KELP_ASSIGN_OR_RETURN(json::object doc, ParseJsonObject(*text));
  ContainerStatus status{.id = id,
                         .sandbox_id = FieldOr(doc, "sandbox_id"),
                         .name = FieldOr(doc, "name"),
                         .image = FieldOr(doc, "image"),
                         .image_id = FieldOr(doc, "image_id"),
                         .created_at = TimeField(doc, "created_at"),
                         .log_path = FieldOr(doc, "log_path"),
                         .labels = JsonMap(doc, "labels"),
                         .annotations = JsonMap(doc, "annotations")};
  KELP_ASSIGN_OR_RETURN(std::optional<int64_t> attempt, FindInt64(doc, "attempt"));
  status.attempt = static_cast<uint32_t>(attempt.value_or(0));
  Result<std::string> start = ReadFile(dir / kStartFile);
  if (start.ok()) {
    Result<json::object> start_doc = ParseJsonObject(*start);
    if (start_doc.ok()) status.started_at = TimeField(*start_doc, "started_at");
  }

  const fs::path bundle = BundleDir(id);
  auto exited_from_file = [&]() -> bool {
    Result<std::string> exit_text = ReadFile(bundle / kExitInfoFile);
    if (!exit_text.ok()) return false;
    Result<ExitInfo> exit = ParseExitInfo(*exit_text);
    if (!exit.ok()) return false;
    status.state = ContainerState::kExited;
    status.exit_code = exit->exit_code;
    status.finished_at = exit->finished_at;
    status.reason = exit->oom_killed         ? "OOMKilled"
                    : exit->exit_code == 0   ? "Completed"
                                             : "Error";
    return true;
  };
  if (exited_from_file()) return status;

  std::optional<RuncState> runc;
  if (runc_states != nullptr) {
    for (const RuncState& s : *runc_states) {
      if (s.id == id) runc = s;
    }
  } else {
    Result<RuncState> s = runc_.State(id);
    if (s.ok()) runc = *s;
  }
  Result<std::string> shim_text = ReadFile(bundle / kShimInfoFile);
  Result<ShimInfo> shim = shim_text.ok() ? ParseShimInfo(*shim_text) : shim_text.status();
  bool shim_alive = shim.ok() && ShimAlive(shim->shim_pid, id);
  if (runc.has_value() && runc->status == "created") {
    status.state = ContainerState::kCreated;
  } else if (runc.has_value() && (runc->status == "running" || runc->status == "paused")) {
    status.state = ContainerState::kRunning;
    status.pid = runc->pid;
  } else if (shim_alive) {
    // Stopped, and the shim is about to record how: give it a moment.
    if (WaitForExit(id, std::chrono::steady_clock::now() + std::chrono::seconds(2)).ok() &&
        exited_from_file()) {
      return status;
    }
    status.state = ContainerState::kUnknown;
  } else if (shim.ok() && exited_from_file()) {
    // The shim recorded the exit and quit between the first look at exit.json and now.
    return status;
  } else if (shim.ok() || status.started_at.has_value()) {
    // It ran, and nothing recorded its end: the shim was killed, or the node rebooted (which
    // takes the run dir with the shim's files).
    status.state = ContainerState::kExited;
    status.exit_code = 255;
    status.reason = "Unknown";
    status.message = "the container's shim is gone; its exit status was lost";
  } else {
    status.state = ContainerState::kUnknown;
    status.reason = "Unknown";
  }
  return status;
}

Result<ContainerStatus> ContainerRuntime::GetContainerStatus(const std::string& container_id) {
  return LoadContainer(container_id, nullptr);
}

Result<std::vector<ContainerStatus>> ContainerRuntime::ListContainers(
    const std::string& sandbox_id) {
  KELP_ASSIGN_OR_RETURN(std::vector<RuncState> states, runc_.List());
  std::vector<ContainerStatus> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.state_dir / "containers", ec)) {
    Result<ContainerStatus> status = LoadContainer(entry.path().filename().string(), &states);
    if (!status.ok()) continue;
    if (!sandbox_id.empty() && status->sandbox_id != sandbox_id) continue;
    out.push_back(std::move(*status));
  }
  return out;
}

Result<ContainerStatus> ContainerRuntime::WaitContainer(const std::string& container_id,
                                                        std::chrono::milliseconds timeout) {
  KELP_RETURN_IF_ERROR(
      WaitForExit(container_id, std::chrono::steady_clock::now() + timeout));
  return GetContainerStatus(container_id);
}

Result<std::unique_ptr<ExecSession>> ContainerRuntime::Exec(const std::string& container_id,
                                                            const ExecOptions& options) {
  KELP_ASSIGN_OR_RETURN(ContainerStatus status, GetContainerStatus(container_id));
  if (status.state != ContainerState::kRunning) {
    return ConflictError("container " + container_id + " is not running");
  }
  return ExecSession::Start(ExecTargetOf(), container_id, options);
}

Result<ExecSyncResult> ContainerRuntime::ExecSync(const std::string& container_id,
                                                  const std::vector<std::string>& cmd,
                                                  std::chrono::milliseconds timeout) {
  KELP_ASSIGN_OR_RETURN(ContainerStatus status, GetContainerStatus(container_id));
  if (status.state != ContainerState::kRunning) {
    return ConflictError("container " + container_id + " is not running");
  }
  return RunExecSync(ExecTargetOf(), container_id, cmd, timeout);
}

Status ContainerRuntime::ReadLogs(const std::string& container_id, const LogReadOptions& options,
                                  const std::function<bool(std::string_view)>& sink,
                                  const std::atomic<bool>* cancel) {
  KELP_ASSIGN_OR_RETURN(ContainerStatus status, GetContainerStatus(container_id));
  fs::path dir = BundleDir(container_id);
  auto running = [&] {
    std::error_code ec;
    return fs::exists(dir, ec) && !fs::exists(dir / kExitInfoFile, ec);
  };
  return ReadCriLog(status.log_path, options, sink, running, cancel);
}

Result<ResourceStats> ContainerRuntime::ContainerStats(const std::string& container_id) {
  if (!cgroups_.has_value()) return UnimplementedError("no cgroup hierarchy");
  if (!ValidId(container_id)) return NotFoundError("container " + container_id + " not found");
  KELP_ASSIGN_OR_RETURN(std::string text, ReadFile(ContainerDir(container_id) / kContainerFile));
  KELP_ASSIGN_OR_RETURN(json::object doc, ParseJsonObject(text));
  return cgroups_->Stats(FieldOr(doc, "cgroups_path"));
}

Result<ResourceStats> ContainerRuntime::PodStats(const std::string& sandbox_id) {
  if (!cgroups_.has_value()) return UnimplementedError("no cgroup hierarchy");
  KELP_ASSIGN_OR_RETURN(SandboxStatus sandbox, LoadSandbox(sandbox_id));
  return cgroups_->Stats(PodCgroupPath(sandbox.uid));
}

Result<ResourceStats> ContainerRuntime::NodeStats() {
  if (!cgroups_.has_value()) return UnimplementedError("no cgroup hierarchy");
  return cgroups_->Stats(options_.node_stats_cgroup.empty() ? options_.cgroup_parent
                                                           : options_.node_stats_cgroup);
}

}  // namespace kelp::agent
