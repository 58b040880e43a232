// ContainerRuntime: the node's container runtime as a library, with CRI's verbs — pod
// sandboxes (pinned netns + CNI, shared UTS/IPC namespaces, /etc/hosts, resolv.conf), runc
// containers (overlayfs rootfs over the image layers, OCI bundle, one kelp-shim each), stop
// with grace, exec, logs, cgroup stats — and adoption: all state lives in files (its state
// dir, the shims' files, runc's root, the CNI cache), so a new ContainerRuntime over the same
// directories sees the same pods and containers without touching running ones.
//
// Thread safety: calls for different pods may run concurrently; calls for one pod must be
// serialized by the caller (the kubelet's per-pod worker does this).
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/runtime/cgroups.h"
#include "agent/runtime/cni_runner.h"
#include "agent/runtime/cri_log.h"
#include "agent/runtime/exec.h"
#include "agent/runtime/image_source.h"
#include "agent/runtime/runc.h"
#include "agent/runtime/sealed_program.h"
#include "agent/runtime/types.h"
#include "common/process.h"
#include "common/status.h"

namespace kelp::agent {

struct RuntimeOptions {
  std::string node_name;  // required; names the cgroup parent
  // What must survive a reboot to be reported or cleaned up after it: the sandbox and container
  // records, hosts/hostname/resolv.conf, the overlay upper and work dirs. On disk.
  std::filesystem::path state_dir = "/var/lib/kelp/runtime";
  std::filesystem::path runc_root = "/run/kelp/runc";
  // What describes running processes and goes with them on a reboot, as containerd keeps its
  // bundles under /run: each container's bundle (config.json, the rootfs mount point) with the
  // shim's files (shim.json, init.pid, runc.log, exit.json), and each sandbox's pinned UTS and
  // IPC namespaces. Meant for a tmpfs; both directories survive agent restarts.
  std::filesystem::path run_state_dir = "/run/kelp/runtime";
  std::string runc_binary = "runc";
  // Run runc from one sealed in-memory copy of runc_binary (sealed_program.h), so that runc
  // skips re-executing itself from a read-only bind mount for every container. Falls back to
  // runc_binary itself if the copy cannot be made. Costs the binary's size in memory.
  bool sealed_runc = false;
  std::string shim_binary = "kelp-shim";
  std::filesystem::path netns_dir = "/run/netns";
  std::filesystem::path pod_log_dir = "/var/log/pods";
  std::filesystem::path resolv_conf = "/etc/resolv.conf";  // copied when a pod has no DNS
  // cgroupsPath prefix for pods (relative: below the agent's own cgroup, as runc resolves it).
  // Empty: "kelp/<node_name>".
  std::string cgroup_parent;
  // The cgroupsPath whose usage NodeStats reports (`kubectl top node`): "/" is the whole
  // machine, as the kubelet reports a node; empty means cgroup_parent (the node's pods only,
  // for nodes that share a machine, as in `kelp lab`).
  std::string node_stats_cgroup = "/";
  CniOptions cni;
  std::chrono::milliseconds runc_timeout = std::chrono::seconds(30);
};

// What Open() found and did when it (re)built its view.
struct RecoveryReport {
  std::vector<SandboxStatus> sandboxes;
  std::vector<ContainerStatus> containers;
  // runc containers under our root with no record of ours: force-deleted.
  std::vector<std::string> removed_orphan_containers;
  // Namespaces pinned in netns_dir by us (kelp-<id>) with no sandbox record: CNI DEL from the
  // cache, then removed.
  std::vector<std::string> removed_orphan_sandboxes;
};

class ContainerRuntime {
 public:
  // Prepares the directories and adopts what a previous instance left (see RecoveryReport).
  static Result<std::unique_ptr<ContainerRuntime>> Open(RuntimeOptions options,
                                                        ProcessRunner& runner,
                                                        ImageSource& images);
  ContainerRuntime(const ContainerRuntime&) = delete;
  ContainerRuntime& operator=(const ContainerRuntime&) = delete;
  // Leaves every sandbox and container running.
  ~ContainerRuntime();

  const RecoveryReport& recovery() const { return recovery_; }
  const RuntimeOptions& options() const { return options_; }

  // --- pod sandboxes ---
  // Pins the pod's namespaces, brings lo up, runs CNI ADD (CNI_ARGS with the K8S_POD_*
  // keys) and writes hosts/hostname/resolv.conf. On failure everything made is undone
  // (including CNI DEL).
  Result<SandboxStatus> RunPodSandbox(const PodSandboxConfig& config);
  // Kills the pod's containers (SIGKILL; the kubelet stops them gracefully before), runs CNI
  // DEL (from the cached config and result, even if the netns is gone) and removes the netns.
  // The sandbox becomes NotReady. Idempotent.
  Status StopPodSandbox(const std::string& sandbox_id);
  // StopPodSandbox, then removes its containers, namespaces, files and (with the pod's last
  // sandbox) the pod cgroup. Not the pod's log directory: a pod's sandboxes share it, and the
  // kelp kubelet removes it with the pod. Idempotent; also cleans up an id known only by its
  // netns or CNI cache entry.
  Status RemovePodSandbox(const std::string& sandbox_id);
  Result<SandboxStatus> PodSandboxStatus(const std::string& sandbox_id);
  Result<std::vector<SandboxStatus>> ListPodSandboxes();
  // CNI CHECK of the pod's attachment.
  Status CheckPodNetwork(const std::string& sandbox_id);

  // --- containers ---
  // Resolves the image, mounts the rootfs, writes the bundle and starts the shim, which runs
  // `runc create`. Returns the container id.
  Result<std::string> CreateContainer(const std::string& sandbox_id,
                                      const ContainerConfig& config);
  Status StartContainer(const std::string& container_id);
  // CreateContainer + StartContainer in one runc process (the shim runs `runc run --detach`):
  // one Go process start less per container. The container is Running (started_at recorded)
  // when it returns; on failure nothing of it is left. What the kubelet uses.
  Result<std::string> RunContainer(const std::string& sandbox_id, const ContainerConfig& config);
  // SIGTERM, up to `grace` for the exit, then SIGKILL (grace 0: SIGKILL at once). Returns once
  // the container has exited. Idempotent.
  Status StopContainer(const std::string& container_id, std::chrono::milliseconds grace);
  // Kills it if running, `runc delete`, unmounts and removes its files (not its log).
  Status RemoveContainer(const std::string& container_id);
  Result<ContainerStatus> GetContainerStatus(const std::string& container_id);
  // Every container, or those of one sandbox.
  Result<std::vector<ContainerStatus>> ListContainers(const std::string& sandbox_id = "");
  // Blocks until the container has exited (or `timeout` passes: DeadlineExceeded).
  Result<ContainerStatus> WaitContainer(const std::string& container_id,
                                        std::chrono::milliseconds timeout);

  // --- exec, logs, stats ---
  Result<std::unique_ptr<ExecSession>> Exec(const std::string& container_id,
                                            const ExecOptions& options);
  Result<ExecSyncResult> ExecSync(const std::string& container_id,
                                  const std::vector<std::string>& cmd,
                                  std::chrono::milliseconds timeout);
  // The container's CRI log in kubectl's format; follow ends when the container exits.
  Status ReadLogs(const std::string& container_id, const LogReadOptions& options,
                  const std::function<bool(std::string_view)>& sink,
                  const std::atomic<bool>* cancel = nullptr);
  Result<ResourceStats> ContainerStats(const std::string& container_id);
  Result<ResourceStats> PodStats(const std::string& sandbox_id);
  // Every pod of this node together (the cgroup parent).
  Result<ResourceStats> NodeStats();

  // The cgroupsPath of a pod (<parent>/pod<uid>) and of a container in it.
  std::string PodCgroupPath(const std::string& pod_uid) const;

 private:
  Result<std::string> CreateContainer(const std::string& sandbox_id, const ContainerConfig& config,
                                      bool start);
  Status RecordStarted(const std::string& container_id);
  ContainerRuntime(RuntimeOptions options, ProcessRunner& runner, ImageSource& images);
  Status Recover();

  ExecTarget ExecTargetOf() const;
  std::filesystem::path SandboxDir(const std::string& id) const;    // in state_dir
  std::filesystem::path SandboxNsDir(const std::string& id) const;  // in run_state_dir
  std::filesystem::path ContainerDir(const std::string& id) const;  // in state_dir
  std::filesystem::path BundleDir(const std::string& id) const;     // in run_state_dir
  // Unmounts and removes a container's bundle and its state (either may be missing).
  Status RemoveContainerFiles(const std::string& id);
  std::filesystem::path NetnsPath(const std::string& sandbox_id) const;
  Result<SandboxStatus> LoadSandbox(const std::string& id) const;
  Status SaveSandbox(const SandboxStatus& sandbox);
  Result<ContainerStatus> LoadContainer(const std::string& id,
                                        const std::vector<RuncState>* runc_states);
  // Waits until the shim recorded the exit (or, without a live shim, runc says stopped).
  Status WaitForExit(const std::string& container_id,
                     std::optional<std::chrono::steady_clock::time_point> deadline);
  Status TeardownNetwork(const std::string& sandbox_id, const SandboxStatus* sandbox);
  std::vector<std::string> ContainerIdsOfSandbox(const std::string& sandbox_id) const;

  const RuntimeOptions options_;
  ProcessRunner& runner_;
  ImageSource& images_;
  CniRunner cni_;
  Runc runc_;
  std::optional<Cgroups> cgroups_;
  std::optional<SealedProgram> sealed_runc_;  // what options_.runc_binary names, if sealed
  RecoveryReport recovery_;
};

}  // namespace kelp::agent
