// cgroups as runc's cgroupfs drivers lay them out, v1 (a hierarchy per controller; also the
// hybrid layout) and v2 (one unified hierarchy): where the hierarchies are mounted, which
// directory a cgroupsPath names, the stats the kubelet reports (CPU usage, memory working set =
// usage - inactive file pages), the OOM-kill counter, and removing a subtree.
// A relative cgroupsPath is below this process's own cgroup in v1 and below its parent in v2
// (runc's fs2 driver: the own cgroup holds processes, so it cannot have controller-enabled
// children).
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

class Cgroups {
 public:
  // Reads /proc/self/mountinfo and /proc/self/cgroup. v1 when a v1 memory hierarchy is
  // mounted, else v2 when a cgroup2 hierarchy is.
  static Result<Cgroups> Discover();
  // For tests: explicit tables ("memory" → mount point; "memory" → own cgroup path). Without a
  // "memory" entry and with a kUnifiedHierarchy one, the layout is v2.
  // `proc_dir` stands for /proc (the v2 root's memory comes from its meminfo).
  Cgroups(std::map<std::string, std::filesystem::path> mounts,
          std::map<std::string, std::string> own, std::filesystem::path proc_dir = "/proc")
      : mounts_(std::move(mounts)), own_(std::move(own)), proc_dir_(std::move(proc_dir)),
        unified_only_(!mounts_.contains("memory") && mounts_.contains(kUnifiedHierarchy)) {}

  // Whether this is a v2 (unified only) layout.
  bool unified_only() const { return unified_only_; }

  // The directory of `cgroups_path` in the hierarchy that holds `controller` (v2: the unified
  // hierarchy, whatever the controller).
  Result<std::filesystem::path> Resolve(std::string_view controller,
                                        std::string_view cgroups_path) const;
  // CPU usage and the memory working set of a cgroupsPath (its whole subtree): v1 cpuacct.usage,
  // memory.usage_in_bytes - total_inactive_file; v2 cpu.stat usage_usec, memory.current -
  // inactive_file. "/" is the whole machine (what the kubelet reports for a node); a v2 root
  // has no memory.current, so there, as runc's libcontainer does, usage is MemTotal - MemFree
  // and the inactive file pages are Inactive(file), from /proc/meminfo.
  Result<ResourceStats> Stats(std::string_view cgroups_path) const;
  // Removes the directory of `cgroups_path` and every directory below it in every hierarchy,
  // deepest first. Fails (Conflict) while processes are still inside.
  Status RemoveTree(std::string_view cgroups_path) const;

 private:
  std::map<std::string, std::filesystem::path> mounts_;  // controller → mount point
  std::map<std::string, std::string> own_;               // controller → own cgroup path
  std::filesystem::path proc_dir_;
  bool unified_only_ = false;
};


// Parsers of /proc/<pid>/mountinfo (cgroup v1 mounts: controller → mount point) and
// /proc/<pid>/cgroup (controller → path; named hierarchies as "name=systemd"); the cgroup2
// hierarchy of a hybrid layout appears as kUnifiedHierarchy in both.
std::map<std::string, std::filesystem::path> ParseCgroupMounts(std::string_view mountinfo);
std::map<std::string, std::string> ParseProcCgroup(std::string_view text);

// The memory cgroup directory of a running process (read from /proc/<pid>/cgroup; v2: its
// unified cgroup). NotFound for a process in the root cgroup, where v1 also shows a process
// that has exited (a zombie): the root's files are the whole machine's, never a container's.
Result<std::filesystem::path> ProcessMemoryCgroup(pid_t pid);
// "oom_kill N" of memory.oom_control (v1) or memory.events (v2) in `memory_dir`.
Result<uint64_t> ReadOomKillCount(const std::filesystem::path& memory_dir);

}  // namespace kelp::agent
