// BuildOciSpec: the config.json runc reads, field by field in the order of the OCI runtime
// spec (process, root, hostname, mounts, linux).
#include "agent/runtime/oci_spec.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

namespace kelp::agent {
namespace {

namespace json = boost::json;

constexpr char kDefaultPath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

json::array Strings(const std::vector<std::string>& values) {
  json::array out;
  for (const std::string& v : values) out.emplace_back(v);
  return out;
}

std::string CapabilityName(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (!name.starts_with("CAP_")) name = "CAP_" + name;
  return name;
}

std::vector<std::string> Capabilities(const SecurityContext& security) {
  std::vector<std::string> caps;
  bool drop_all = false;
  std::vector<std::string> drop;
  for (const std::string& d : security.drop_capabilities) {
    std::string name = CapabilityName(d);
    if (name == "CAP_ALL") drop_all = true;
    drop.push_back(name);
  }
  if (!drop_all) {
    for (const std::string& c : DefaultCapabilities()) {
      if (std::find(drop.begin(), drop.end(), c) == drop.end()) caps.push_back(c);
    }
  }
  for (const std::string& a : security.add_capabilities) {
    std::string name = CapabilityName(a);
    if (name == "CAP_ALL") continue;  // "add: [ALL]" is privileged in disguise: not supported
    if (std::find(caps.begin(), caps.end(), name) == caps.end()) caps.push_back(name);
  }
  return caps;
}

json::object MountEntry(std::string destination, std::string type, std::string source,
                        std::vector<std::string> options) {
  return json::object{{"destination", std::move(destination)},
                      {"type", std::move(type)},
                      {"source", std::move(source)},
                      {"options", Strings(options)}};
}

json::object BindMount(const std::string& destination, const std::string& source, bool readonly) {
  return MountEntry(destination, "bind", source, {"rbind", "rprivate", readonly ? "ro" : "rw"});
}

size_t PathDepth(const std::string& path) {
  return static_cast<size_t>(std::count(path.begin(), path.end(), '/'));
}

json::array Mounts(const OciSpecInput& input) {
  const ContainerConfig& c = *input.container;
  auto overridden = [&](std::string_view destination) {
    return std::any_of(c.mounts.begin(), c.mounts.end(),
                       [&](const Mount& m) { return m.container_path == destination; });
  };
  json::array mounts;
  auto add = [&](json::object mount) {
    if (!overridden(mount.at("destination").as_string())) mounts.push_back(std::move(mount));
  };
  add(MountEntry("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}));
  add(MountEntry("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}));
  add(MountEntry("/dev/pts", "devpts", "devpts",
                 {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}));
  add(MountEntry("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}));
  add(MountEntry("/dev/shm", "tmpfs", "shm",
                 {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}));
  add(MountEntry("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}));
  add(MountEntry("/sys/fs/cgroup", "cgroup", "cgroup",
                 {"nosuid", "noexec", "nodev", "relatime", "ro"}));
  bool ro = c.security.read_only_root_filesystem;
  if (!input.hosts_file.empty()) add(BindMount("/etc/hosts", input.hosts_file, ro));
  if (!input.resolv_conf_file.empty()) {
    add(BindMount("/etc/resolv.conf", input.resolv_conf_file, ro));
  }
  if (!input.hostname_file.empty()) add(BindMount("/etc/hostname", input.hostname_file, ro));

  // Volumes: parents before children, as containerd orders them.
  std::vector<Mount> volumes = c.mounts;
  std::stable_sort(volumes.begin(), volumes.end(), [](const Mount& a, const Mount& b) {
    return PathDepth(a.container_path) < PathDepth(b.container_path);
  });
  for (const Mount& m : volumes) {
    mounts.push_back(BindMount(m.container_path, m.host_path, m.readonly));
  }
  return mounts;
}

json::object Resources(const ContainerResources& r) {
  json::object resources{{"devices", json::array{json::object{{"allow", false}, {"access", "rwm"}}}}};
  if (r.memory_limit_bytes > 0) resources["memory"] = json::object{{"limit", r.memory_limit_bytes}};
  json::object cpu;
  if (r.cpu_shares > 0) cpu["shares"] = r.cpu_shares;
  if (r.cpu_quota > 0) cpu["quota"] = r.cpu_quota;
  if (r.cpu_period > 0) cpu["period"] = r.cpu_period;
  if (!cpu.empty()) resources["cpu"] = std::move(cpu);
  return resources;
}

json::array Namespaces(const OciSpecInput& input) {
  auto ns = [](std::string type, const std::string& path) {
    json::object out{{"type", std::move(type)}};
    if (!path.empty()) out["path"] = path;
    return out;
  };
  json::array out{ns("pid", ""), ns("ipc", input.ipc_ns_path), ns("uts", input.uts_ns_path),
                  ns("mount", "")};
  if (!input.netns_path.empty()) out.push_back(ns("network", input.netns_path));
  return out;
}

}  // namespace

const std::vector<std::string>& DefaultCapabilities() {
  static const std::vector<std::string> caps = {
      "CAP_CHOWN",          "CAP_DAC_OVERRIDE", "CAP_FSETID",   "CAP_FOWNER",
      "CAP_MKNOD",          "CAP_NET_RAW",      "CAP_SETGID",   "CAP_SETUID",
      "CAP_SETFCAP",        "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE",
      "CAP_SYS_CHROOT",     "CAP_KILL",         "CAP_AUDIT_WRITE"};
  return caps;
}

Result<std::vector<std::string>> ContainerArgs(const ContainerConfig& container,
                                               const ImageConfig& image) {
  std::vector<std::string> argv;
  if (!container.command.empty()) {
    argv = container.command;
    argv.insert(argv.end(), container.args.begin(), container.args.end());
  } else {
    argv = image.entrypoint;
    const std::vector<std::string>& tail = container.args.empty() ? image.cmd : container.args;
    argv.insert(argv.end(), tail.begin(), tail.end());
  }
  if (argv.empty()) {
    return InvalidArgumentError("no command specified: the image has no entrypoint or cmd and "
                                "the container no command or args");
  }
  return argv;
}

std::vector<std::string> ContainerEnv(const ContainerConfig& container, const ImageConfig& image,
                                      const std::string& hostname) {
  std::vector<std::string> env;
  auto set = [&](const std::string& key, const std::string& value) {
    std::string prefix = key + "=";
    auto it = std::find_if(env.begin(), env.end(),
                           [&](const std::string& e) { return e.starts_with(prefix); });
    if (it != env.end()) {
      *it = prefix + value;
    } else {
      env.push_back(prefix + value);
    }
  };
  bool has_path = false;
  for (const std::string& e : image.env) {
    size_t eq = e.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    has_path = has_path || e.starts_with("PATH=");
    set(e.substr(0, eq), e.substr(eq + 1));
  }
  if (!has_path) env.insert(env.begin(), kDefaultPath);
  set("HOSTNAME", hostname);
  if (container.tty) set("TERM", "xterm");
  for (const auto& [key, value] : container.env) set(key, value);
  return env;
}

Result<json::object> BuildOciSpec(const OciSpecInput& input) {
  const ContainerConfig& c = *input.container;
  const ImageConfig& image = *input.image;
  if (c.security.privileged) {
    return UnimplementedError("privileged containers are not supported by kelp's runtime");
  }
  KELP_ASSIGN_OR_RETURN(std::vector<std::string> args, ContainerArgs(c, image));
  std::string cwd = !c.working_dir.empty()       ? c.working_dir
                    : !image.working_dir.empty() ? image.working_dir
                                                 : "/";
  if (cwd.front() != '/') return InvalidArgumentError("workingDir must be absolute: " + cwd);

  json::array gids;
  for (uint32_t gid : input.user.additional_gids) gids.emplace_back(gid);
  json::object user{{"uid", input.user.uid}, {"gid", input.user.gid}};
  if (!gids.empty()) user["additionalGids"] = std::move(gids);
  json::array caps = Strings(Capabilities(c.security));
  json::object process{
      {"terminal", c.tty},
      {"user", std::move(user)},
      {"args", Strings(args)},
      {"env", Strings(ContainerEnv(c, image, input.hostname))},
      {"cwd", cwd},
      {"capabilities", json::object{{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
      {"noNewPrivileges", !c.security.allow_privilege_escalation},
  };
  if (c.resources.oom_score_adj.has_value()) {
    process["oomScoreAdj"] = *c.resources.oom_score_adj;
  }

  json::object linux{
      {"resources", Resources(c.resources)},
      {"cgroupsPath", input.cgroups_path},
      {"namespaces", Namespaces(input)},
      {"maskedPaths", Strings({"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                               "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                               "/proc/sched_debug", "/proc/scsi", "/sys/firmware"})},
      {"readonlyPaths", Strings({"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                 "/proc/sysrq-trigger"})},
  };
  if (!input.netns_path.empty()) {
    // Pod networking as containerd sets it up: ping and low ports without privileges.
    linux["sysctl"] = json::object{{"net.ipv4.ip_unprivileged_port_start", "0"},
                                   {"net.ipv4.ping_group_range", "0 2147483647"}};
  }

  json::object annotations;
  for (const auto& [key, value] : input.annotations) annotations[key] = value;

  return json::object{
      {"ociVersion", "1.0.2"},
      {"process", std::move(process)},
      {"root", json::object{{"path", input.rootfs_path},
                            {"readonly", c.security.read_only_root_filesystem}}},
      {"hostname", input.hostname},
      {"mounts", Mounts(input)},
      {"annotations", std::move(annotations)},
      {"linux", std::move(linux)},
  };
}

ContainerResources ContainerResources::FromKubernetes(int64_t cpu_request_millis,
                                                      int64_t cpu_limit_millis,
                                                      int64_t memory_limit_bytes) {
  constexpr int64_t kPeriod = 100000;  // µs
  ContainerResources r;
  if (cpu_request_millis > 0) r.cpu_shares = std::max<int64_t>(2, cpu_request_millis * 1024 / 1000);
  if (cpu_limit_millis > 0) {
    // With a limit and no request, Kubernetes defaults the request to the limit.
    if (r.cpu_shares == 0) r.cpu_shares = std::max<int64_t>(2, cpu_limit_millis * 1024 / 1000);
    r.cpu_period = kPeriod;
    r.cpu_quota = std::max<int64_t>(1000, cpu_limit_millis * kPeriod / 1000);
  }
  if (cpu_request_millis <= 0 && cpu_limit_millis <= 0) r.cpu_shares = 2;  // BestEffort
  r.memory_limit_bytes = memory_limit_bytes > 0 ? memory_limit_bytes : 0;
  return r;
}

std::string_view ContainerStateName(ContainerState state) {
  switch (state) {
    case ContainerState::kCreated:
      return "created";
    case ContainerState::kRunning:
      return "running";
    case ContainerState::kExited:
      return "exited";
    case ContainerState::kUnknown:
      break;
  }
  return "unknown";
}

}  // namespace kelp::agent
