// Resolving a container's user: the image's USER ("", "uid", "name", "uid:gid",
// "name:group") and the pod's runAsUser/runAsGroup into numeric uid, gid and supplementary
// groups, looking names up in the image's own /etc/passwd and /etc/group as containerd does.
// The files are opened inside the rootfs (RESOLVE_IN_ROOT), so an image's symlinks cannot
// point the lookup at the node's files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/runtime/types.h"
#include "common/status.h"

namespace kelp::agent {

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string home;
};
struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

// Malformed lines are skipped, as libc does.
std::vector<PasswdEntry> ParsePasswd(std::string_view text);
std::vector<GroupEntry> ParseGroup(std::string_view text);

struct ResolvedUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
};

// Pure resolution over already-parsed files. A name that the files do not know is
// InvalidArgument; runAsNonRoot with uid 0 is PermissionDenied.
Result<ResolvedUser> ResolveUser(std::string_view image_user, const SecurityContext& security,
                                 const std::vector<PasswdEntry>& passwd,
                                 const std::vector<GroupEntry>& groups);

// Reads <rootfs>/etc/passwd and /etc/group (missing files count as empty) and resolves.
Result<ResolvedUser> ResolveUserInRootfs(const std::filesystem::path& rootfs,
                                         std::string_view image_user,
                                         const SecurityContext& security);

// Reads `relative` (e.g. "etc/passwd") below `root` with every symlink resolved inside
// `root`. NotFound when absent.
Result<std::string> ReadFileInRoot(const std::filesystem::path& root, std::string_view relative);

}  // namespace kelp::agent
