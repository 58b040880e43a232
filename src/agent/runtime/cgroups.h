// cgroup v1 as runc's cgroupfs driver lays it out: where each controller's hierarchy is
// mounted, which directory a cgroupsPath names (absolute from the hierarchy root, relative
// below this process's own cgroup), the stats the kubelet reports (cpuacct.usage, memory
// working set = usage - total_inactive_file), the OOM-kill counter, and removing a subtree.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/runtime/types.h"
#include "common/status.h"

namespace kelp::agent {

// The key of the cgroup2 ("unified") hierarchy of a hybrid layout in the tables below.
inline constexpr char kUnifiedHierarchy[] = "unified";

class CgroupV1 {
 public:
  // Reads /proc/self/mountinfo and /proc/self/cgroup.
  static Result<CgroupV1> Discover();
  // For tests: explicit tables ("memory" → mount point; "memory" → own cgroup path).
  CgroupV1(std::map<std::string, std::filesystem::path> mounts,
           std::map<std::string, std::string> own)
      : mounts_(std::move(mounts)), own_(std::move(own)) {}

  // The directory of `cgroups_path` in the hierarchy that holds `controller`.
  Result<std::filesystem::path> Resolve(std::string_view controller,
                                        std::string_view cgroups_path) const;
  // cpuacct.usage and the memory working set of a cgroupsPath (its whole subtree).
  Result<ResourceStats> Stats(std::string_view cgroups_path) const;
  // Removes the directory of `cgroups_path` and every directory below it in every hierarchy,
  // deepest first. Fails (Conflict) while processes are still inside.
  Status RemoveTree(std::string_view cgroups_path) const;

 private:
  std::map<std::string, std::filesystem::path> mounts_;  // controller → mount point
  std::map<std::string, std::string> own_;               // controller → own cgroup path
};

// Parsers of /proc/<pid>/mountinfo (cgroup v1 mounts: controller → mount point) and
// /proc/<pid>/cgroup (controller → path; named hierarchies as "name=systemd"); the cgroup2
// hierarchy of a hybrid layout appears as kUnifiedHierarchy in both.
std::map<std::string, std::filesystem::path> ParseCgroupMounts(std::string_view mountinfo);
std::map<std::string, std::string> ParseProcCgroup(std::string_view text);

// The memory cgroup directory of a running process (read from /proc/<pid>/cgroup).
Result<std::filesystem::path> ProcessMemoryCgroup(pid_t pid);
// "oom_kill N" of memory.oom_control in `memory_dir`.
Result<uint64_t> ReadOomKillCount(const std::filesystem::path& memory_dir);

}  // namespace kelp::agent
