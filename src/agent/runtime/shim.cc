// kelp-shim: daemonize, `runc create` (or `runc run --detach`), report, then pump the container's
// output into the CRI log and wait (as child subreaper) for its init process; record the exit in
// exit.json.
#include "agent/runtime/shim.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "agent/runtime/cgroups.h"
#include "agent/runtime/console.h"
#include "agent/runtime/cri_log.h"
#include "agent/runtime/timer_slack.h"
#include "common/file.h"
#include "common/json.h"

namespace kelp::agent {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

// After init exits, how long leftover output (descendants still holding the pipes) is read.
constexpr auto kDrainAfterExit = std::chrono::seconds(2);

void WriteFd(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

std::string ReadAvailable(int fd) {
  std::string out;
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  char buffer[4096];
  while (out.size() < 64 * 1024) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

// The last "msg" of runc's JSON log (its error when create failed).
std::string LastRuncLogMessage(const fs::path& log) {
  Result<std::string> text = ReadFile(log);
  if (!text.ok()) return "";
  std::string last;
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos) end = text->size();
    Result<json::object> entry = ParseJsonObject(std::string_view(*text).substr(start, end - start));
    if (entry.ok()) {
      Result<std::string> msg = GetString(*entry, "msg");
      if (msg.ok()) last = *msg;
    }
    start = end + 1;
  }
  return last;
}

}  // namespace

Result<ShimOptions> ParseShimArguments(int argc, char** argv) {
  ShimOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--tty") {
      options.tty = true;
      continue;
    }
    if (arg == "--start") {
      options.start = true;
      continue;
    }
    if (i + 1 >= argc) return InvalidArgumentError(fmt::format("{} needs a value", arg));
    std::string value = argv[++i];
    if (arg == "--runc") {
      options.runc = value;
    } else if (arg == "--root") {
      options.root = value;
    } else if (arg == "--id") {
      options.id = value;
    } else if (arg == "--bundle") {
      options.bundle = value;
    } else if (arg == "--log-path") {
      options.log_path = value;
    } else if (arg == "--state-dir") {
      options.state_dir = value;
    } else if (arg == "--memory-cgroup") {
      options.memory_cgroup = value;
    } else {
      return InvalidArgumentError(fmt::format("unknown flag {}", arg));
    }
  }
  if (options.root.empty() || options.id.empty() || options.bundle.empty() ||
      options.log_path.empty() || options.state_dir.empty()) {
    return InvalidArgumentError(
        "usage: kelp-shim --runc R --root ROOT --id ID --bundle B --log-path L --state-dir D "
        "[--tty] [--start]");
  }
  return options;
}

namespace {

class Monitor {
 public:
  Monitor(const ShimOptions& options, int report_fd) : options_(options), report_fd_(report_fd) {}

  int Run() {
    Status status = Create();
    if (!status.ok()) {
      WriteFd(report_fd_, status.message());
      return 1;
    }
    WriteFd(report_fd_, ShimInfoJson({.shim_pid = ::getpid(), .init_pid = init_pid_}));
    ::close(report_fd_);
    Pump();
    return RecordExit().ok() ? 0 : 1;
  }

 private:
  Status Create() {
    ::setsid();
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) return ErrnoStatus("open /dev/null", errno);
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    devnull_.reset(devnull);
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGHUP, SIG_IGN);
    ::signal(SIGINT, SIG_IGN);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &chld, nullptr);
    signal_fd_.reset(::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signal_fd_.valid()) return ErrnoStatus("signalfd", errno);

    KELP_RETURN_IF_ERROR(CreateDirectories(options_.state_dir, 0700));
    fs::path state(options_.state_dir);
    UniqueFd out_write;
    UniqueFd err_write;
    UniqueFd console_listen;
    std::string console_dir;
    if (options_.tty) {
      // Unix socket paths are short (108 bytes): use a fresh directory under /tmp.
      console_dir = (fs::temp_directory_path() / "kelp-console-XXXXXX").string();
      if (::mkdtemp(console_dir.data()) == nullptr) return ErrnoStatus("mkdtemp", errno);
      KELP_ASSIGN_OR_RETURN(console_listen, ListenConsoleSocket(console_dir + "/c.sock"));
    } else {
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
      out_read_.reset(fds[0]);
      out_write.reset(fds[1]);
      if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
      err_read_.reset(fds[0]);
      err_write.reset(fds[1]);
    }

    // --start: `runc run --detach` creates and starts in one runc process (one Go process
    // start less per container than `runc create` + `runc start`).
    const char* verb = options_.start ? "run" : "create";
    std::vector<std::string> args = {
        options_.runc,  "--root", options_.root, "--log", (state / "runc.log").string(),
        "--log-format", "json"};
    args.push_back(verb);
    if (options_.start) args.push_back("--detach");
    args.insert(args.end(), {"--bundle", options_.bundle, "--pid-file"});
    args.push_back((state / "init.pid").string());
    if (options_.tty) {
      args.push_back("--console-socket");
      args.push_back(console_dir + "/c.sock");
    }
    args.push_back(options_.id);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    // posix_spawn (a vfork: no copy of our page tables) with runc's signals back to default.
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    if (!options_.tty) {
      ::posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
      ::posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
    }
    posix_spawnattr_t attributes;
    ::posix_spawnattr_init(&attributes);
    sigset_t none;
    sigemptyset(&none);
    sigset_t reset;
    sigemptyset(&reset);
    for (int signal : {SIGPIPE, SIGHUP, SIGINT}) sigaddset(&reset, signal);
    ::posix_spawnattr_setsigmask(&attributes, &none);
    ::posix_spawnattr_setsigdefault(&attributes, &reset);
    ::posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    // runc's Go runtime with one P: `runc run` has no parallel work, and on a node starting
    // many pods at once its idle Ps only spin and hand off between threads (agent_bench: p99
    // ~5 % lower in 6 of 8 paired runs). runc init sets the same for itself. An explicit
    // GOMAXPROCS wins.
    std::vector<char*> env;
    for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
    std::string one_proc = "GOMAXPROCS=1";
    if (::getenv("GOMAXPROCS") == nullptr) env.push_back(one_proc.data());
    env.push_back(nullptr);
    // runc (and so, until Create gives it back, the container) runs with a coarser timer
    // slack: timer_slack.h.
    const std::chrono::nanoseconds own_slack = CurrentTimerSlack();
    ::prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(kRuncTimerSlack.count()), 0, 0, 0);
    pid_t runc = 0;
    int spawn_error =
        ::posix_spawnp(&runc, argv[0], &actions, &attributes, argv.data(), env.data());
    ::prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(own_slack.count()), 0, 0, 0);
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attributes);
    if (spawn_error != 0) return ErrnoStatus("spawn " + options_.runc, spawn_error);
    // Only the container may hold the write ends, so their closing means end of output.
    out_write.reset();
    err_write.reset();

    Status console_status;
    if (options_.tty) {
      UniqueFd runc_pidfd(static_cast<int>(::syscall(SYS_pidfd_open, runc, 0)));
      Result<UniqueFd> master =
          ReceivePtyMaster(console_listen.get(), std::chrono::seconds(60), runc_pidfd.get());
      if (master.ok()) {
        out_read_ = std::move(*master);
      } else {
        console_status = master.status();
      }
      console_listen.reset();
      fs::remove_all(console_dir);
    }

    int wait_status = 0;
    while (::waitpid(runc, &wait_status, 0) < 0) {
      if (errno != EINTR) return ErrnoStatus("waitpid runc", errno);
    }
    if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
      std::string error = LastRuncLogMessage(state / "runc.log");
      if (error.empty() && err_read_.valid()) error = ReadAvailable(err_read_.get());
      if (error.empty()) error = fmt::format("runc {} exited with status {}", verb, wait_status);
      while (!error.empty() && error.back() == '\n') error.pop_back();
      return InternalError(fmt::format("runc {}: {}", verb, error));
    }
    if (!console_status.ok()) return console_status;

    // The log file exists before the runtime hears of the container, so `kubectl logs` of a
    // created container finds it (empty).
    KELP_ASSIGN_OR_RETURN(CriLogWriter writer, CriLogWriter::Open(options_.log_path));
    writer_.emplace(std::move(writer));
    KELP_ASSIGN_OR_RETURN(std::string pid_text, ReadFile(state / "init.pid"));
    auto [end, ec] = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), init_pid_);
    if (ec != std::errc() || init_pid_ <= 0) return InternalError("bad init.pid: " + pid_text);
    // The container's cgroup, as the runtime resolved it (not from /proc, where an init that
    // has already exited is a zombie in the root cgroups). None (no cgroups, or a stand-in for
    // runc): only init's own threads.
    Result<fs::path> cgroup = options_.memory_cgroup.empty()
                                  ? Result<fs::path>(NotFoundError("no memory cgroup given"))
                                  : Result<fs::path>(fs::path(options_.memory_cgroup));
    if (cgroup.ok()) memory_cgroup_ = *cgroup;
    // Every thread of the container gets the slack it would have had without runc's.
    Result<size_t> restored = RestoreTimerSlack(
        [&] { return cgroup.ok() ? CgroupThreads(*cgroup) : ProcessThreads(init_pid_); },
        own_slack);
    if (!restored.ok() && fs::exists("/proc/" + std::to_string(init_pid_))) {
      return restored.status().WithContext("restore the container's timer slack");
    }
    return WriteFileAtomic(state / kShimInfoFile,
                           ShimInfoJson({.shim_pid = ::getpid(), .init_pid = init_pid_}), 0644,
                           Durability::kProcessCrashSafe);
  }

  void Pump() {
    std::optional<CriLogWriter>& writer = writer_;
    std::optional<std::chrono::steady_clock::time_point> deadline;
    while (true) {
      pollfd events[3] = {{.fd = out_read_.get(), .events = POLLIN, .revents = 0},
                          {.fd = err_read_.get(), .events = POLLIN, .revents = 0},
                          {.fd = signal_fd_.get(), .events = POLLIN, .revents = 0}};
      int timeout = -1;
      if (deadline.has_value()) {
        if (!out_read_.valid() && !err_read_.valid()) break;
        auto left = std::chrono::ceil<std::chrono::milliseconds>(
            *deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        timeout = static_cast<int>(left.count());
      }
      int ready = ::poll(events, 3, timeout);
      if (ready < 0 && errno != EINTR) break;
      for (int i = 0; i < 2; ++i) {
        if (ready <= 0 || events[i].revents == 0) continue;
        UniqueFd& fd = i == 0 ? out_read_ : err_read_;
        LogStream stream = i == 0 ? LogStream::kStdout : LogStream::kStderr;
        char buffer[32 * 1024];
        ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
        if (n > 0) {
          if (writer) (void)writer->Write(stream, {buffer, static_cast<size_t>(n)}, Clock::now());
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          // EOF, or EIO from a pty master once the terminal's last user is gone.
          if (writer) (void)writer->Flush(stream, Clock::now());
          fd.reset();
        }
      }
      if (ready > 0 && events[2].revents != 0) {
        signalfd_siginfo info;
        while (::read(signal_fd_.get(), &info, sizeof(info)) > 0) {
        }
        int wait_status = 0;
        pid_t pid;
        while ((pid = ::waitpid(-1, &wait_status, WNOHANG)) > 0) {
          if (pid == init_pid_) {
            init_status_ = wait_status;
            finished_at_ = Clock::now();
            deadline = std::chrono::steady_clock::now() + kDrainAfterExit;
          }
        }
      }
    }
    if (writer) {
      (void)writer->Flush(LogStream::kStdout, Clock::now());
      (void)writer->Flush(LogStream::kStderr, Clock::now());
    }
  }

  Status RecordExit() {
    ExitInfo exit{.finished_at = finished_at_};
    if (WIFEXITED(init_status_)) {
      exit.exit_code = WEXITSTATUS(init_status_);
    } else if (WIFSIGNALED(init_status_)) {
      exit.signal = WTERMSIG(init_status_);
      exit.exit_code = 128 + exit.signal;
    }
    if (!memory_cgroup_.empty()) {
      Result<uint64_t> kills = ReadOomKillCount(memory_cgroup_);
      exit.oom_killed = kills.ok() && *kills > 0;
    }
    return WriteFileAtomic(fs::path(options_.state_dir) / kExitInfoFile, ExitInfoJson(exit), 0644,
                           Durability::kProcessCrashSafe);
  }

  const ShimOptions& options_;
  int report_fd_;
  UniqueFd devnull_;
  UniqueFd signal_fd_;
  UniqueFd out_read_;
  UniqueFd err_read_;
  int init_pid_ = 0;
  int init_status_ = 0;
  Clock::time_point finished_at_;
  fs::path memory_cgroup_;
  std::optional<CriLogWriter> writer_;
};


// `kelp-shim exec`: what containerd's shim does for an exec. `runc exec -d` starts the process
// and returns at once; the process is then reparented to us (child subreaper) and we exit with
// its status, so background children it leaves behind (reparented to the container's init)
// cannot hold the exec up as a non-detached `runc exec` would.
int RunExecHelper(int argc, char** argv) {
  std::string runc = "runc";
  std::string root;
  std::string id;
  std::string pid_file;
  std::string console_socket;
  std::vector<std::string> env;
  int i = 2;
  for (; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (i + 1 >= argc) break;
    std::string value = argv[++i];
    if (arg == "--runc") {
      runc = value;
    } else if (arg == "--root") {
      root = value;
    } else if (arg == "--id") {
      id = value;
    } else if (arg == "--pid-file") {
      pid_file = value;
    } else if (arg == "--console-socket") {
      console_socket = value;
    } else if (arg == "--env") {
      env.push_back(value);
    } else {
      std::fprintf(stderr, "kelp-shim exec: unknown flag %s\n", argv[i - 1]);
      return 125;
    }
  }
  if (root.empty() || id.empty() || pid_file.empty() || i >= argc) {
    std::fprintf(stderr,
                 "usage: kelp-shim exec --runc R --root ROOT --id ID --pid-file P "
                 "[--console-socket S] [--env K=V]... -- CMD...\n");
    return 125;
  }
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::vector<std::string> args = {runc, "--root", root, "exec", "-d", "--pid-file", pid_file};
  if (!console_socket.empty()) {
    args.insert(args.end(), {"--tty", "--console-socket", console_socket});
  }
  for (const std::string& e : env) args.insert(args.end(), {"--env", e});
  args.push_back(id);
  for (; i < argc; ++i) args.emplace_back(argv[i]);
  std::vector<char*> c_args;
  for (std::string& a : args) c_args.push_back(a.data());
  c_args.push_back(nullptr);

  // runc exec runs as the shim runs `runc run` (GOMAXPROCS=1, the coarse timer slack); the
  // exec'd process gets this process's slack back below.
  if (::getenv("GOMAXPROCS") == nullptr) ::setenv("GOMAXPROCS", "1", 0);
  const std::chrono::nanoseconds own_slack = CurrentTimerSlack();
  ::prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(kRuncTimerSlack.count()), 0, 0, 0);
  pid_t child = ::fork();
  if (child < 0) return 125;
  if (child == 0) {
    ::execvp(c_args[0], c_args.data());
    _exit(127);
  }
  ::prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(own_slack.count()), 0, 0, 0);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 126;  // runc said why on stderr
  Result<std::string> pid_text = ReadFile(pid_file);
  int pid = 0;
  if (pid_text.ok()) std::from_chars(pid_text->data(), pid_text->data() + pid_text->size(), pid);
  if (pid <= 0) return 126;
  // Every thread of the exec'd process's cgroup (what it has forked meanwhile among them; the
  // container's own already have the slack), or only its own when it is in no container
  // cgroup any more (it has exited). Best effort: the process already runs, and a few threads
  // left with 2 ms of slack are not worth failing an exec that has started.
  Result<fs::path> cgroup = ProcessMemoryCgroup(pid);
  (void)RestoreTimerSlack(
      [&] { return cgroup.ok() ? CgroupThreads(*cgroup) : ProcessThreads(pid); }, own_slack);
  while (true) {
    pid_t reaped = ::waitpid(-1, &status, 0);
    if (reaped < 0) {
      if (errno == EINTR) continue;
      return 255;  // not reparented to us: its status is lost
    }
    if (reaped == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
}
}  // namespace

std::vector<std::string> ShimArguments(const ShimOptions& options) {
  std::vector<std::string> args = {"--runc",     options.runc,     "--root",      options.root,
                                   "--id",       options.id,       "--bundle",    options.bundle,
                                   "--log-path", options.log_path, "--state-dir", options.state_dir};
  if (!options.memory_cgroup.empty()) {
    args.insert(args.end(), {"--memory-cgroup", options.memory_cgroup});
  }
  if (options.tty) args.push_back("--tty");
  if (options.start) args.push_back("--start");
  return args;
}

Result<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view text) {
  std::tm tm{};
  const char* end = ::strptime(std::string(text).c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr || text.size() < 19) return InvalidArgumentError("bad RFC 3339 time");
  std::string_view rest = text.substr(19);
  int64_t nanos = 0;
  if (rest.starts_with('.')) {
    rest.remove_prefix(1);
    int digits = 0;
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
      if (digits < 9) {
        nanos = nanos * 10 + (rest.front() - '0');
        ++digits;
      }
      rest.remove_prefix(1);
    }
    for (; digits < 9; ++digits) nanos *= 10;
  }
  if (rest != "Z") return InvalidArgumentError("only UTC (Z) times are supported");
  std::time_t seconds = ::timegm(&tm);
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(seconds) + std::chrono::nanoseconds(nanos)));
}

std::string ShimInfoJson(const ShimInfo& info) {
  return json::serialize(json::object{{"shim_pid", info.shim_pid}, {"init_pid", info.init_pid}});
}

std::string ExitInfoJson(const ExitInfo& info) {
  return json::serialize(json::object{{"exit_code", info.exit_code},
                                      {"signal", info.signal},
                                      {"finished_at", FormatCriTimestamp(info.finished_at)},
                                      {"oom_killed", info.oom_killed}});
}

Result<ShimInfo> ParseShimInfo(std::string_view text) {
  KELP_ASSIGN_OR_RETURN(json::object doc, ParseJsonObject(text));
  KELP_ASSIGN_OR_RETURN(int64_t shim_pid, GetInt64(doc, "shim_pid"));
  KELP_ASSIGN_OR_RETURN(int64_t init_pid, GetInt64(doc, "init_pid"));
  return ShimInfo{static_cast<int>(shim_pid), static_cast<int>(init_pid)};
}

Result<ExitInfo> ParseExitInfo(std::string_view text) {
  KELP_ASSIGN_OR_RETURN(json::object doc, ParseJsonObject(text));
  ExitInfo info;
  KELP_ASSIGN_OR_RETURN(int64_t code, GetInt64(doc, "exit_code"));
  info.exit_code = static_cast<int>(code);
  KELP_ASSIGN_OR_RETURN(std::optional<int64_t> signal, FindInt64(doc, "signal"));
  info.signal = static_cast<int>(signal.value_or(0));
  KELP_ASSIGN_OR_RETURN(std::string finished, GetString(doc, "finished_at"));
  KELP_ASSIGN_OR_RETURN(info.finished_at, ParseRfc3339(finished));
  KELP_ASSIGN_OR_RETURN(std::optional<bool> oom, FindBool(doc, "oom_killed"));
  info.oom_killed = oom.value_or(false);
  return info;
}

int RunShim(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "exec") return RunExecHelper(argc, argv);
  Result<ShimOptions> options = ParseShimArguments(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "kelp-shim: %s\n", options.status().message().c_str());
    return 2;
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    std::perror("kelp-shim: pipe");
    return 1;
  }
  pid_t daemon = ::fork();
  if (daemon < 0) {
    std::perror("kelp-shim: fork");
    return 1;
  }
  if (daemon == 0) {
    ::close(report[0]);
    _exit(Monitor(*options, report[1]).Run());
  }
  ::close(report[1]);
  std::string answer;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(report[0], buffer, sizeof(buffer))) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    answer.append(buffer, static_cast<size_t>(n));
  }
  if (answer.starts_with("{")) {
    std::printf("%s\n", answer.c_str());
    return 0;
  }
  // The daemon failed before reporting; it has exited (or is exiting) on its own.
  ::waitpid(daemon, nullptr, 0);
  std::fprintf(stderr, "kelp-shim: %s\n", answer.empty() ? "daemon died" : answer.c_str());
  return 1;
}

}  // namespace kelp::agent
