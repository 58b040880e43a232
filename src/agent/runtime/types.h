// The runtime's vocabulary, shaped after CRI's messages so the kubelet maps a pod spec onto
// it directly: what a pod sandbox and a container are asked to be (configs), and what the
// runtime reports about them (statuses). Everything here is plain data.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kelp::agent {

struct HostAlias {
  std::string ip;
  std::vector<std::string> hostnames;
};

struct PodSandboxConfig {
  std::string name;
  std::string pod_namespace;
  std::string uid;
  uint32_t attempt = 0;
  std::string hostname;  // empty: the pod name
  bool host_network = false;
  // resolv.conf of the pod; all empty: a copy of the node's (RuntimeOptions::resolv_conf).
  std::vector<std::string> dns_servers;
  std::vector<std::string> dns_searches;
  std::vector<std::string> dns_options;
  std::vector<HostAlias> host_aliases;  // extra /etc/hosts lines
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  // Empty: <pod_log_dir>/<namespace>_<name>_<uid>, as the kubelet lays it out.
  std::string log_directory;
};

struct Mount {
  std::string container_path;
  std::string host_path;
  bool readonly = false;
};

// CRI's LinuxContainerResources; 0 means "not set".
struct ContainerResources {
  int64_t cpu_shares = 0;
  int64_t cpu_quota = 0;
  int64_t cpu_period = 0;
  int64_t memory_limit_bytes = 0;
  std::optional<int> oom_score_adj;

  // What the kubelet derives from requests/limits: shares = request·1024/1000 (min 2),
  // quota = limit·period/1000 with period 100 ms. 0 leaves a value unset.
  static ContainerResources FromKubernetes(int64_t cpu_request_millis, int64_t cpu_limit_millis,
                                           int64_t memory_limit_bytes);
};

struct SecurityContext {
  std::optional<int64_t> run_as_user;
  std::optional<int64_t> run_as_group;
  bool run_as_non_root = false;
  bool privileged = false;  // not supported: refused with Unimplemented
  bool read_only_root_filesystem = false;
  bool allow_privilege_escalation = true;
  std::vector<std::string> add_capabilities;   // "NET_ADMIN" (with or without CAP_)
  std::vector<std::string> drop_capabilities;  // "ALL" drops every default one
  std::vector<int64_t> supplemental_groups;
};

struct ContainerConfig {
  std::string name;
  uint32_t attempt = 0;  // the restart count; names the log file
  std::string image;     // as the pod spec writes it; resolved through ImageSource
  std::vector<std::string> command;  // Kubernetes' command (overrides the entrypoint)
  std::vector<std::string> args;     // Kubernetes' args (overrides the image cmd)
  std::vector<std::pair<std::string, std::string>> env;  // resolved pod env, in order
  std::string working_dir;
  std::vector<Mount> mounts;
  ContainerResources resources;
  SecurityContext security;
  bool tty = false;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  // Empty: <sandbox log directory>/<name>/<attempt>.log.
  std::string log_path;
};

enum class SandboxState { kReady, kNotReady };

struct SandboxStatus {
  std::string id;
  std::string name;
  std::string pod_namespace;
  std::string uid;
  uint32_t attempt = 0;
  SandboxState state = SandboxState::kNotReady;
  std::string ip;            // empty with host network or once the network is torn down
  std::string netns_path;    // empty with host network
  bool host_network = false;
  std::chrono::system_clock::time_point created_at;
  std::string log_directory;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

enum class ContainerState { kCreated, kRunning, kExited, kUnknown };
std::string_view ContainerStateName(ContainerState state);

struct ContainerStatus {
  std::string id;
  std::string sandbox_id;
  std::string name;
  uint32_t attempt = 0;
  std::string image;     // the reference given
  std::string image_id;  // the resolved image id ("sha256:...")
  ContainerState state = ContainerState::kUnknown;
  int pid = 0;  // the container's init process while running
  std::chrono::system_clock::time_point created_at;
  std::optional<std::chrono::system_clock::time_point> started_at;
  std::optional<std::chrono::system_clock::time_point> finished_at;
  int exit_code = 0;   // 128+signal when killed by a signal, as CRI reports it
  std::string reason;  // "Completed", "Error", "OOMKilled", "Unknown" once exited
  std::string message;
  std::string log_path;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

struct ExecSyncResult {
  int exit_code = -1;
  std::string stdout_data;
  std::string stderr_data;
};

// From cgroup v1: cpuacct.usage and memory usage - total_inactive_file, as cAdvisor reports
// the working set.
struct ResourceStats {
  std::chrono::system_clock::time_point timestamp;
  uint64_t cpu_usage_ns = 0;
  uint64_t memory_usage_bytes = 0;
  uint64_t memory_working_set_bytes = 0;
};

}  // namespace kelp::agent
