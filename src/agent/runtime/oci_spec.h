// The OCI runtime spec (config.json of a runc bundle) for one container of a pod, built from
// its ContainerConfig, the image's config and what the sandbox provides (network namespace,
// shared uts/ipc namespaces, /etc/hosts, resolv.conf, hostname). Kubernetes' rules for
// command/args and env, Docker's default capabilities, masked/readonly /proc paths and
// cgroup v1 resources. A pure function, golden-tested.
#pragma once

#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "agent/runtime/image_source.h"
#include "agent/runtime/types.h"
#include "agent/runtime/user.h"
#include "common/status.h"

namespace kelp::agent {

struct OciSpecInput {
  const ContainerConfig* container = nullptr;
  const ImageConfig* image = nullptr;
  ResolvedUser user;
  std::string hostname;
  std::string rootfs_path;
  std::string cgroups_path;   // e.g. "kelp/node01/pod<uid>/<container id>"
  std::string netns_path;     // empty: the node's network (hostNetwork)
  std::string uts_ns_path;    // empty: a new UTS namespace of its own
  std::string ipc_ns_path;    // empty: a new IPC namespace of its own
  std::string hosts_file;     // bind-mounted on /etc/hosts (skipped when empty)
  std::string resolv_conf_file;
  std::string hostname_file;
  std::vector<std::pair<std::string, std::string>> annotations;
};

// The process's argv by Kubernetes' rules: command replaces the image entrypoint (and drops
// its cmd); args replace the image cmd. InvalidArgument when nothing is left to run.
Result<std::vector<std::string>> ContainerArgs(const ContainerConfig& container,
                                               const ImageConfig& image);
// Image env, then the pod's env (a key given again replaces the image's value), PATH when
// neither has one, HOSTNAME, and TERM=xterm for a tty.
std::vector<std::string> ContainerEnv(const ContainerConfig& container, const ImageConfig& image,
                                      const std::string& hostname);
// Docker's default capability set, as "CAP_*" names.
const std::vector<std::string>& DefaultCapabilities();

Result<boost::json::object> BuildOciSpec(const OciSpecInput& input);

}  // namespace kelp::agent
