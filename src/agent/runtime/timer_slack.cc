// RestoreTimerSlack and its thread listings: /proc/<tid>/timerslack_ns, cgroup tasks files.
#include "agent/runtime/timer_slack.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <charconv>
#include <string>
#include <string_view>
#include <system_error>

#include "common/file.h"

namespace kelp::agent {
namespace {

namespace fs = std::filesystem;

Result<std::vector<pid_t>> ParseIds(std::string_view text) {
  std::vector<pid_t> ids;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.empty()) continue;
    pid_t id = 0;
    auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), id);
    if (ec != std::errc() || ptr != line.data() + line.size() || id <= 0) {
      return InternalError("not a thread id: " + std::string(line));
    }
    ids.push_back(id);
  }
  return ids;
}

// The slack is a kernel value, not a file: written in place, never replaced.
Status WriteInPlace(const fs::path& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus("open " + path.string(), errno);
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    return ErrnoStatus("write " + path.string(), errno);
  }
  return Status::Ok();
}

}  // namespace

Result<size_t> RestoreTimerSlack(const std::function<Result<std::vector<pid_t>>()>& list_threads,
                                 std::chrono::nanoseconds slack, const fs::path& proc,
                                 int max_passes) {
  const std::string want = std::to_string(slack.count());
  size_t changed = 0;
  for (int pass = 0; pass < max_passes; ++pass) {
    KELP_ASSIGN_OR_RETURN(std::vector<pid_t> threads, list_threads());
    size_t changed_now = 0;
    for (pid_t tid : threads) {
      const fs::path file = proc / std::to_string(tid) / "timerslack_ns";
      Result<std::string> current = ReadFile(file);
      if (!current.ok()) continue;  // exited since it was listed
      std::string_view value = *current;
      while (!value.empty() && value.back() == '\n') value.remove_suffix(1);
      if (value == want) continue;
      Status written = WriteInPlace(file, want);
      if (!written.ok()) {
        if (!fs::exists(proc / std::to_string(tid))) continue;  // exited meanwhile
        return written;
      }
      ++changed_now;
    }
    if (changed_now == 0) return changed;
    changed += changed_now;
  }
  return InternalError("the container's threads kept changing: timer slack not restored");
}

Result<std::vector<pid_t>> CgroupThreads(const fs::path& cgroup_dir) {
  std::error_code ec;
  const fs::path v1 = cgroup_dir / "tasks";
  KELP_ASSIGN_OR_RETURN(std::string text,
                        ReadFile(fs::exists(v1, ec) ? v1 : cgroup_dir / "cgroup.threads"));
  return ParseIds(text);
}

Result<std::vector<pid_t>> ProcessThreads(pid_t pid, const fs::path& proc) {
  std::error_code ec;
  std::string ids;
  for (const auto& entry : fs::directory_iterator(proc / std::to_string(pid) / "task", ec)) {
    ids += entry.path().filename().string() + "\n";
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return InternalError("list threads of " + std::to_string(pid) + ": " + ec.message());
  }
  return ParseIds(ids);
}

std::chrono::nanoseconds CurrentTimerSlack() {
  return std::chrono::nanoseconds(::prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0));
}

}  // namespace kelp::agent
