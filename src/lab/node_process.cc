// Mount namespaces, detached processes and clean-up for lab nodes (see node_process.h). The
// forked children only make system calls before they exec or exit.
#include "lab/node_process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>

#include "common/file.h"

extern char** environ;

namespace kelp::lab {
namespace {

// Reads exactly one int from `fd`; nullopt at end of file (the writer closed without one).
std::optional<int> ReadInt(int fd) {
  int value = 0;
  ssize_t got;
  do {
    got = read(fd, &value, sizeof value);
  } while (got < 0 && errno == EINTR);
  if (got != static_cast<ssize_t>(sizeof value)) return std::nullopt;
  return value;
}

void WriteInt(int fd, int value) {
  ssize_t ignored = write(fd, &value, sizeof value);
  (void)ignored;
}

bool IsMountPoint(const std::filesystem::path& dir) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  const std::string wanted = std::filesystem::weakly_canonical(dir).string();
  while (std::getline(mountinfo, line)) {
    // "id parent major:minor root mount-point options ..."
    size_t pos = 0;
    for (int field = 0; field < 4 && pos != std::string::npos; ++field) {
      pos = line.find(' ', pos);
      if (pos != std::string::npos) ++pos;
    }
    if (pos == std::string::npos) continue;
    const size_t end = line.find(' ', pos);
    if (line.substr(pos, end - pos) == wanted) return true;
  }
  return false;
}

// The process state letter from /proc/<pid>/stat ('Z' for a zombie), or 0 when it is gone.
char ProcessState(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return 0;
  const size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() ? text[paren + 2] : 0;
}

bool Alive(pid_t pid) {
  const char state = ProcessState(pid);
  return state != 0 && state != 'Z' && state != 'X';
}

}  // namespace

Status MakePrivateMountPoint(const std::filesystem::path& dir) {
  KELP_RETURN_IF_ERROR(CreateDirectories(dir, 0700));
  if (!IsMountPoint(dir) && mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return ErrnoStatus("bind " + dir.string() + " on itself", errno);
  }
  if (mount(nullptr, dir.c_str(), nullptr, MS_PRIVATE, nullptr) != 0) {
    return ErrnoStatus("make " + dir.string() + " private", errno);
  }
  return Status::Ok();
}

Status CreateMountNamespace(const std::filesystem::path& ns_file,
                            const std::vector<NodeMount>& mounts) {
  for (const NodeMount& mount : mounts) {
    KELP_RETURN_IF_ERROR(CreateDirectories(mount.source, 0755));
    KELP_RETURN_IF_ERROR(CreateDirectories(mount.target, 0755));
  }
  {
    int file = open(ns_file.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (file < 0) return ErrnoStatus("create " + ns_file.string(), errno);
    close(file);
  }
  int ready[2];
  int done[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  if (pipe2(done, O_CLOEXEC) != 0) {
    close(ready[0]);
    close(ready[1]);
    return ErrnoStatus("pipe", errno);
  }
  // Everything the child needs, prepared before fork.
  std::vector<std::pair<std::string, std::string>> binds;
  for (const NodeMount& mount : mounts) binds.emplace_back(mount.source, mount.target);
  const pid_t child = fork();
  if (child < 0) return ErrnoStatus("fork", errno);
  if (child == 0) {
    close(ready[0]);
    close(done[1]);
    // Reports the number of the step that failed (1-based) and errno, or 0 when ready.
    if (unshare(CLONE_NEWNS) != 0) {
      WriteInt(ready[1], 1);
      WriteInt(ready[1], errno);
      _exit(1);
    }
    if (mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) {
      WriteInt(ready[1], 2);
      WriteInt(ready[1], errno);
      _exit(1);
    }
    int step = 3;
    for (const auto& [source, target] : binds) {
      if (mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
        WriteInt(ready[1], step);
        WriteInt(ready[1], errno);
        _exit(1);
      }
      ++step;
    }
    WriteInt(ready[1], 0);
    char byte;
    while (read(done[0], &byte, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  close(ready[1]);
  close(done[0]);
  Status status;
  std::optional<int> step = ReadInt(ready[0]);
  if (!step) {
    status = InternalError("the mount namespace helper died");
  } else if (*step != 0) {
    const int error = ReadInt(ready[0]).value_or(0);
    const std::string what = *step == 1   ? "unshare(CLONE_NEWNS)"
                             : *step == 2 ? "make / a slave mount"
                                          : "bind " + binds[*step - 3].first + " on " +
                                                binds[*step - 3].second;
    status = ErrnoStatus(what, error);
  } else {
    const std::string source = "/proc/" + std::to_string(child) + "/ns/mnt";
    if (mount(source.c_str(), ns_file.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      status = ErrnoStatus("bind the mount namespace on " + ns_file.string(), errno);
    }
  }
  close(ready[0]);
  close(done[1]);  // the child exits
  int ignored;
  while (waitpid(child, &ignored, 0) < 0 && errno == EINTR) {
  }
  if (!status.ok()) unlink(ns_file.c_str());
  return status;
}

Status DeleteMountNamespace(const std::filesystem::path& ns_file) {
  if (umount2(ns_file.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return ErrnoStatus("unmount " + ns_file.string(), errno);
  }
  if (unlink(ns_file.c_str()) != 0) return ErrnoStatus("remove " + ns_file.string(), errno);
  return Status::Ok();
}

Status EnterNode(const std::string& netns_path, const std::string& mount_ns) {
  UniqueFd net;
  UniqueFd mnt;
  if (!netns_path.empty()) {
    net = UniqueFd(open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!net.valid()) return ErrnoStatus("open " + netns_path, errno);
  }
  if (!mount_ns.empty()) {
    mnt = UniqueFd(open(mount_ns.c_str(), O_RDONLY | O_CLOEXEC));
    if (!mnt.valid()) return ErrnoStatus("open " + mount_ns, errno);
  }
  if (net.valid() && setns(net.get(), CLONE_NEWNET) != 0) {
    return ErrnoStatus("enter network namespace " + netns_path, errno);
  }
  if (mnt.valid()) {
    if (setns(mnt.get(), CLONE_NEWNS) != 0) {
      return ErrnoStatus("enter mount namespace " + mount_ns, errno);
    }
    if (chdir("/") != 0) return ErrnoStatus("chdir /", errno);
  }
  return Status::Ok();
}

Result<pid_t> StartDetached(const DetachedProcess& process) {
  if (process.argv.empty() || process.argv[0].empty() || process.argv[0][0] != '/') {
    return InvalidArgumentError("a detached process needs an absolute program path");
  }
  UniqueFd log(open(process.log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (!log.valid()) return ErrnoStatus("open " + process.log_file.string(), errno);
  UniqueFd null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null.valid()) return ErrnoStatus("open /dev/null", errno);
  UniqueFd net;
  UniqueFd mnt;
  if (!process.netns_path.empty()) {
    net = UniqueFd(open(process.netns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!net.valid()) return ErrnoStatus("open " + process.netns_path, errno);
  }
  if (!process.mount_ns.empty()) {
    mnt = UniqueFd(open(process.mount_ns.c_str(), O_RDONLY | O_CLOEXEC));
    if (!mnt.valid()) return ErrnoStatus("open " + process.mount_ns, errno);
  }
  std::vector<char*> argv;
  for (const std::string& arg : process.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** entry = environ; *entry != nullptr; ++entry) env_storage.emplace_back(*entry);
  for (const std::string& entry : process.extra_env) env_storage.push_back(entry);
  std::vector<char*> env;
  for (std::string& entry : env_storage) env.push_back(entry.data());
  env.push_back(nullptr);

  int report[2];  // the daemon's pid, then (only on failure) the errno of its exec
  if (pipe2(report, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  const pid_t child = fork();
  if (child < 0) {
    close(report[0]);
    close(report[1]);
    return ErrnoStatus("fork", errno);
  }
  if (child == 0) {
    close(report[0]);
    setsid();
    const pid_t daemon = fork();
    if (daemon != 0) {
      WriteInt(report[1], daemon);
      _exit(daemon < 0 ? 1 : 0);
    }
    int error = 0;
    if (net.valid() && setns(net.get(), CLONE_NEWNET) != 0) error = errno;
    if (error == 0 && mnt.valid() && setns(mnt.get(), CLONE_NEWNS) != 0) error = errno;
    if (error == 0 && chdir("/") != 0) error = errno;
    if (error == 0 && (dup2(null.get(), 0) < 0 || dup2(log.get(), 1) < 0 || dup2(log.get(), 2) < 0)) {
      error = errno;
    }
    if (error == 0) {
      execve(argv[0], argv.data(), env.data());
      error = errno;
    }
    WriteInt(report[1], error);
    _exit(127);
  }
  close(report[1]);
  std::optional<int> daemon = ReadInt(report[0]);
  std::optional<int> exec_error = ReadInt(report[0]);  // end of file: the exec succeeded
  close(report[0]);
  int ignored;
  while (waitpid(child, &ignored, 0) < 0 && errno == EINTR) {
  }
  if (!daemon || *daemon <= 0) return InternalError("could not start " + process.argv[0]);
  if (exec_error) return ErrnoStatus("start " + process.argv[0] + " inside the node", *exec_error);
  return static_cast<pid_t>(*daemon);
}

Result<ino_t> NamespaceInode(const std::filesystem::path& ns_file) {
  struct stat st;
  if (stat(ns_file.c_str(), &st) != 0) return ErrnoStatus("stat " + ns_file.string(), errno);
  return st.st_ino;
}

std::vector<pid_t> ProcessesInNamespaces(const std::vector<ino_t>& inodes) {
  std::vector<pid_t> pids;
  const std::set<ino_t> wanted(inodes.begin(), inodes.end());
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = std::stoi(name);
    if (pid == getpid()) continue;
    for (const char* kind : {"net", "mnt"}) {
      struct stat st;
      const std::string path = "/proc/" + name + "/ns/" + kind;
      if (stat(path.c_str(), &st) == 0 && wanted.contains(st.st_ino)) {
        pids.push_back(pid);
        break;
      }
    }
  }
  return pids;
}

void StopProcesses(const std::vector<pid_t>& pids, std::chrono::milliseconds grace) {
  for (pid_t pid : pids) kill(pid, SIGTERM);
  auto any_alive = [&] {
    for (pid_t pid : pids) {
      if (Alive(pid)) return true;
    }
    return false;
  };
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (any_alive() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (pid_t pid : pids) {
    if (Alive(pid)) kill(pid, SIGKILL);
  }
  const auto kill_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (any_alive() && std::chrono::steady_clock::now() < kill_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<std::filesystem::path> FindCgroupSubtrees(const std::string& name) {
  // How deep below a hierarchy's root an agent's own cgroup may be (e.g. /user.slice/
  // user-0.slice/session-1.scope); the walk stays cheap.
  constexpr int kMaxDepth = 4;
  std::set<std::filesystem::path> hierarchies;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/fs/cgroup", error)) {
    // v1 hierarchies ("cpu", "memory", ... and their "cpu,cpuacct"-style links), or the
    // unified hierarchy itself.
    std::filesystem::path real = std::filesystem::canonical(entry.path(), error);
    if (!error && std::filesystem::is_directory(real, error)) hierarchies.insert(real);
  }
  hierarchies.insert("/sys/fs/cgroup");
  std::set<std::filesystem::path> found;
  for (const std::filesystem::path& hierarchy : hierarchies) {
    if (std::filesystem::is_directory(hierarchy / name, error)) found.insert(hierarchy / name);
    std::filesystem::recursive_directory_iterator it(
        hierarchy, std::filesystem::directory_options::skip_permission_denied, error);
    for (; !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
      if (!it->is_directory(error)) continue;
      if (it->path().filename() == name) {
        found.insert(it->path());
        it.disable_recursion_pending();
      } else if (it.depth() >= kMaxDepth - 1 || hierarchies.contains(it->path())) {
        it.disable_recursion_pending();  // deep enough, or another hierarchy's mount
      }
    }
    error.clear();
  }
  return {found.begin(), found.end()};
}

Status RemoveCgroupSubtree(const std::string& name) {
  std::error_code error;
  Status result;
  for (const std::filesystem::path& top : FindCgroupSubtrees(name)) {
    // Deepest directories first, so each is empty of children when it is removed.
    std::vector<std::filesystem::path> dirs{top};
    for (const auto& entry : std::filesystem::recursive_directory_iterator(top, error)) {
      if (entry.is_directory(error)) dirs.push_back(entry.path());
    }
    std::sort(dirs.begin(), dirs.end(), [](const auto& a, const auto& b) {
      return a.string().size() > b.string().size();
    });
    for (const std::filesystem::path& dir : dirs) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (true) {
        std::ifstream procs(dir / "cgroup.procs");
        std::vector<pid_t> pids;
        for (pid_t pid; procs >> pid;) pids.push_back(pid);
        if (pids.empty() || std::chrono::steady_clock::now() > deadline) break;
        for (pid_t pid : pids) kill(pid, SIGKILL);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (rmdir(dir.c_str()) != 0 && errno != ENOENT && result.ok()) {
        result = ErrnoStatus("remove cgroup " + dir.string(), errno);
      }
    }
  }
  return result;
}

}  // namespace kelp::lab
