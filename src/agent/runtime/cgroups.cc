// cgroup v1 and v2 discovery, path resolution, stats and removal.
#include "agent/runtime/cgroups.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <system_error>

#include "common/file.h"

namespace kelp::agent {
namespace {

namespace fs = std::filesystem;

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

Result<uint64_t> ReadUint(const fs::path& file) {
  KELP_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return InvalidArgumentError(file.string() + ": not a number");
  }
  return value;
}

// A "key value" field of a cgroup stat file (memory.stat, memory.oom_control); with `aligned`,
// the value may follow after several spaces (/proc/meminfo: "MemTotal:    16384 kB").
Result<uint64_t> ReadKeyedValue(const fs::path& file, std::string_view key, bool aligned = false) {
  KELP_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  for (std::string_view line : Split(text, '\n')) {
    if (!line.starts_with(key) || line.size() <= key.size() || line[key.size()] != ' ') continue;
    std::string_view number = line.substr(key.size() + 1);
    while (aligned && number.starts_with(' ')) number.remove_prefix(1);
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec == std::errc()) return value;
  }
  return NotFoundError(std::string(key) + " not in " + file.string());
}

}  // namespace

std::map<std::string, fs::path> ParseCgroupMounts(std::string_view mountinfo) {
  std::map<std::string, fs::path> mounts;
  for (std::string_view line : Split(mountinfo, '\n')) {
    std::vector<std::string_view> fields = Split(line, ' ');
    size_t dash = 0;
    while (dash < fields.size() && fields[dash] != "-") ++dash;
    if (dash < 5 || dash + 3 >= fields.size()) continue;
    // runc also makes each container's cgroup in the hybrid layout's cgroup2 hierarchy.
    if (fields[dash + 1] == "cgroup2") {
      mounts.emplace(kUnifiedHierarchy, fs::path(std::string(fields[4])));
      continue;
    }
    if (fields[dash + 1] != "cgroup") continue;
    for (std::string_view option : Split(fields[dash + 3], ',')) {
      if (option == "rw" || option == "ro" || option.empty()) continue;
      mounts.emplace(std::string(option), fs::path(std::string(fields[4])));
    }
  }
  return mounts;
}

std::map<std::string, std::string> ParseProcCgroup(std::string_view text) {
  std::map<std::string, std::string> paths;
  for (std::string_view line : Split(text, '\n')) {
    std::vector<std::string_view> fields = Split(line, ':');
    if (fields.size() < 3) continue;
    std::string path(line.substr(fields[0].size() + fields[1].size() + 2));
    if (fields[0] == "0" && fields[1].empty()) {
      paths.emplace(kUnifiedHierarchy, path);
      continue;
    }
    if (fields[1].empty()) continue;
    for (std::string_view controller : Split(fields[1], ',')) {
      paths.emplace(std::string(controller), path);
    }
  }
  return paths;
}

Result<Cgroups> Cgroups::Discover() {
  KELP_ASSIGN_OR_RETURN(std::string mountinfo, ReadFile("/proc/self/mountinfo"));
  KELP_ASSIGN_OR_RETURN(std::string own, ReadFile("/proc/self/cgroup"));
  std::map<std::string, fs::path> mounts = ParseCgroupMounts(mountinfo);
  if (!mounts.contains("memory") && !mounts.contains(kUnifiedHierarchy)) {
    return UnimplementedError("no cgroup hierarchy is mounted (neither a v1 memory one nor cgroup2)");
  }
  return Cgroups(std::move(mounts), ParseProcCgroup(own));
}

Result<fs::path> Cgroups::Resolve(std::string_view controller,
                                  std::string_view cgroups_path) const {
  const std::string hierarchy = unified_only_ ? kUnifiedHierarchy : std::string(controller);
  auto mount = mounts_.find(hierarchy);
  if (mount == mounts_.end()) {
    return NotFoundError("no cgroup hierarchy for " + std::string(controller));
  }
  fs::path relative;
  if (!cgroups_path.starts_with('/')) {
    auto own = own_.find(hierarchy);
    if (own != own_.end()) {
      relative = fs::path(own->second).relative_path();
      if (unified_only_) relative = relative.parent_path();
    }
  }
  relative /= fs::path(std::string(cgroups_path)).relative_path();
  return mount->second / relative;
}

Result<ResourceStats> Cgroups::Stats(std::string_view cgroups_path) const {
  ResourceStats stats{.timestamp = std::chrono::system_clock::now()};
  if (unified_only_) {
    KELP_ASSIGN_OR_RETURN(fs::path dir, Resolve(kUnifiedHierarchy, cgroups_path));
    KELP_ASSIGN_OR_RETURN(uint64_t usage_us, ReadKeyedValue(dir / "cpu.stat", "usage_usec"));
    stats.cpu_usage_ns = usage_us * 1000;
    Result<uint64_t> current = ReadUint(dir / "memory.current");
    Result<uint64_t> inactive = ReadKeyedValue(dir / "memory.stat", "inactive_file");
    const bool root =
        !cgroups_path.empty() && cgroups_path.find_first_not_of('/') == std::string_view::npos;
    if (root && current.status().code() == StatusCode::kNotFound) {
      // The root cgroup: the machine's memory (kB in meminfo).
      const fs::path meminfo = proc_dir_ / "meminfo";
      KELP_ASSIGN_OR_RETURN(uint64_t total_kb, ReadKeyedValue(meminfo, "MemTotal:", true));
      KELP_ASSIGN_OR_RETURN(uint64_t free_kb, ReadKeyedValue(meminfo, "MemFree:", true));
      current = total_kb > free_kb ? (total_kb - free_kb) * 1024 : 0;
      inactive = ReadKeyedValue(meminfo, "Inactive(file):", true);
      if (inactive.ok()) inactive = *inactive * 1024;
    }
    KELP_ASSIGN_OR_RETURN(stats.memory_usage_bytes, std::move(current));
    const uint64_t inactive_file = inactive.ok() ? *inactive : 0;
    stats.memory_working_set_bytes =
        stats.memory_usage_bytes > inactive_file ? stats.memory_usage_bytes - inactive_file : 0;
    return stats;
  }
  KELP_ASSIGN_OR_RETURN(fs::path cpu, Resolve("cpuacct", cgroups_path));
  KELP_ASSIGN_OR_RETURN(stats.cpu_usage_ns, ReadUint(cpu / "cpuacct.usage"));
  KELP_ASSIGN_OR_RETURN(fs::path memory, Resolve("memory", cgroups_path));
  KELP_ASSIGN_OR_RETURN(stats.memory_usage_bytes, ReadUint(memory / "memory.usage_in_bytes"));
  Result<uint64_t> inactive = ReadKeyedValue(memory / "memory.stat", "total_inactive_file");
  uint64_t inactive_file = inactive.ok() ? *inactive : 0;
  stats.memory_working_set_bytes =
      stats.memory_usage_bytes > inactive_file ? stats.memory_usage_bytes - inactive_file : 0;
  return stats;
}

Status Cgroups::RemoveTree(std::string_view cgroups_path) const {
  Status result;
  std::map<fs::path, bool> done;  // co-mounted controllers share a mount point
  for (const auto& [controller, mount] : mounts_) {
    if (done[mount]) continue;
    done[mount] = true;
    Result<fs::path> dir = Resolve(controller, cgroups_path);
    if (!dir.ok()) continue;
    std::error_code ec;
    if (!fs::is_directory(*dir, ec)) continue;
    std::vector<fs::path> dirs;
    for (auto it = fs::recursive_directory_iterator(*dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec)) dirs.push_back(it->path());
    }
    dirs.push_back(*dir);
    // Deepest first: a cgroup directory can only go once its children are gone.
    std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
      return a.string().size() > b.string().size();
    });
    for (const fs::path& d : dirs) {
      if (::rmdir(d.c_str()) != 0 && errno != ENOENT && result.ok()) {
        result = errno == EBUSY ? ConflictError("cgroup " + d.string() + " still has processes")
                                : ErrnoStatus("rmdir " + d.string(), errno);
      }
    }
  }
  return result;
}

Result<fs::path> ProcessMemoryCgroup(pid_t pid) {
  KELP_ASSIGN_OR_RETURN(std::string text, ReadFile("/proc/" + std::to_string(pid) + "/cgroup"));
  std::map<std::string, std::string> paths = ParseProcCgroup(text);
  KELP_ASSIGN_OR_RETURN(std::string mountinfo, ReadFile("/proc/self/mountinfo"));
  std::map<std::string, fs::path> mounts = ParseCgroupMounts(mountinfo);
  // v1 (and hybrid): the memory hierarchy; v2: the unified one.
  const std::string hierarchy = mounts.contains("memory") ? "memory" : kUnifiedHierarchy;
  auto memory = paths.find(hierarchy);
  if (memory == paths.end()) return NotFoundError("process has no memory cgroup");
  if (fs::path(memory->second).relative_path().empty()) {
    return NotFoundError("process is in the root memory cgroup");
  }
  auto mount = mounts.find(hierarchy);
  if (mount == mounts.end()) return NotFoundError("no memory cgroup hierarchy");
  return mount->second / fs::path(memory->second).relative_path();
}

Result<uint64_t> ReadOomKillCount(const fs::path& memory_dir) {
  std::error_code ec;
  if (fs::exists(memory_dir / "memory.oom_control", ec)) {
    return ReadKeyedValue(memory_dir / "memory.oom_control", "oom_kill");
  }
  return ReadKeyedValue(memory_dir / "memory.events", "oom_kill");
}

}  // namespace kelp::agent
