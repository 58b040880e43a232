// Pinned namespaces: a new network, UTS or IPC namespace made on a short-lived thread and kept
// alive by a bind mount of /proc/thread-self/ns/<type> on a file, the way `ip netns add`
// pins a network namespace. Pod sandboxes pin their netns (for CNI and runc) and the UTS and
// IPC namespaces their containers share.
#pragma once

#include <filesystem>
#include <functional>

#include "common/status.h"

namespace kelp::agent {

// `clone_flag` is CLONE_NEWNET, CLONE_NEWUTS or CLONE_NEWIPC. `inside` runs in the new
// namespace before it is pinned (bring lo up, set the hostname). AlreadyExists if `path`
// exists. On failure nothing is left behind.
Status PinNewNamespace(int clone_flag, const std::filesystem::path& path,
                       const std::function<Status()>& inside = {});
// Unmounts and removes a pinned namespace file; an absent one is fine.
Status UnpinNamespace(const std::filesystem::path& path);
// Makes `dir` a shared mount point (bind-mounting it on itself first if needed), as
// iproute2 does for /run/netns, so pins made later show up in mount namespaces made since.
Status MakeSharedMountDir(const std::filesystem::path& dir);

}  // namespace kelp::agent
