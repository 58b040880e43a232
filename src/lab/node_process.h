// What makes a lab "node" more than a network namespace: a persistent mount namespace in
// which the node's own directories cover the standard paths (/run, /var/lib/kelp, /etc/cni,
// ...), processes started inside a node (network + mount namespace) that outlive
// `kelp lab up`, and finding and stopping everything that runs in a node — its daemons by
// namespace, its containers by their cgroup root <prefix>-lab — when the lab goes down.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"
#include "lab/topology.h"

namespace kelp::lab {

// Makes `dir` a private mount point (a bind mount of itself) so mount-namespace files can be
// bound there without propagating into the namespaces they stand for.
Status MakePrivateMountPoint(const std::filesystem::path& dir);

// Creates a mount namespace in which each mount's source is bind-mounted on its target,
// made persistent by binding it on `ns_file` (as `unshare --mount=FILE`). Host mounts made
// later still propagate into it (slave); its own never leak out.
Status CreateMountNamespace(const std::filesystem::path& ns_file,
                            const std::vector<NodeMount>& mounts);
// Unbinds and removes a namespace file; NotFound when there is none.
Status DeleteMountNamespace(const std::filesystem::path& ns_file);

// Joins the network namespace at `netns_path` and the mount namespace at `mount_ns` (either
// may be empty) in the calling process. The process must be single-threaded.
Status EnterNode(const std::string& netns_path, const std::string& mount_ns);

struct DetachedProcess {
  std::vector<std::string> argv;  // argv[0] is an absolute path
  std::string netns_path;         // /run/netns/<name>
  std::string mount_ns;           // the node's mount namespace file
  std::filesystem::path log_file; // stdout and stderr, appended (a host path)
  std::vector<std::string> extra_env;  // "K=V" added to kelp's environment
};
// Starts `process` inside the node as a daemon of its own session, re-parented to init so it
// keeps running after kelp exits; returns its pid.
Result<pid_t> StartDetached(const DetachedProcess& process);

// Inode numbers of namespace files, to recognise the processes inside them.
Result<ino_t> NamespaceInode(const std::filesystem::path& ns_file);

// Pids of the processes whose network namespace or mount namespace is one of `inodes`.
std::vector<pid_t> ProcessesInNamespaces(const std::vector<ino_t>& inodes);

// SIGTERM to `pids`, up to `grace` for them to exit, then SIGKILL; returns when all are gone
// (or after a bounded wait for the SIGKILLed ones).
void StopProcesses(const std::vector<pid_t>& pids, std::chrono::milliseconds grace);

// The directories named `name` (one path component, e.g. "kelp-lab") in every mounted cgroup
// hierarchy: at its root, or a few levels below it — runc's cgroupfs driver puts a relative
// cgroupsPath below the agent's own cgroup, which in a hierarchy may be a session's cgroup
// that `kelp lab down` (another process, maybe another session) does not share.
std::vector<std::filesystem::path> FindCgroupSubtrees(const std::string& name);

// Kills every task in each subtree FindCgroupSubtrees(name) finds and removes its directories.
Status RemoveCgroupSubtree(const std::string& name);

}  // namespace kelp::lab
