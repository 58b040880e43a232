// SubprocessRunner: posix_spawn plus a poll() loop over the child's stdin, stdout, stderr and
// a pidfd, so large inputs and outputs flow concurrently and timeouts need no extra thread.
#include "common/process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <utility>

#include "common/file.h"

extern char** environ;

namespace kelp {
namespace {

using Millis = std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr std::size_t kIoChunk = 64 * 1024;

ProcessExit ExitFromWaitStatus(int wait_status) {
  ProcessExit exit;
  if (WIFEXITED(wait_status)) exit.exit_code = WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) exit.term_signal = WTERMSIG(wait_status);
  return exit;
}

// Milliseconds until `deadline` for poll(), rounded up; -1 (forever) without one.
int PollTimeout(std::optional<SteadyTime> deadline) {
  if (!deadline.has_value()) return -1;
  auto remaining = std::chrono::ceil<Millis>(*deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<Millis::rep>(remaining.count(), 0, INT_MAX));
}

// Owns a spawned child: its pid (reserved until reaped) and a pidfd that becomes readable
// when it exits.
class SubprocessChild final : public ChildProcess {
 public:
  SubprocessChild(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  SubprocessChild(const SubprocessChild&) = delete;
  SubprocessChild& operator=(const SubprocessChild&) = delete;
  ~SubprocessChild() override {
    if (exit_.has_value()) return;
    ::kill(-pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }

  pid_t pid() const override { return pid_; }
  int pidfd() const { return pidfd_.get(); }

  Status Signal(int signal) override {
    if (exit_.has_value()) return Status::Ok();
    // ESRCH: the group is empty because the child has exited but is not reaped yet.
    if (::kill(-pid_, signal) != 0 && errno != ESRCH) {
      return ErrnoStatus(fmt::format("kill -{} pid {}", signal, pid_), errno);
    }
    return Status::Ok();
  }

  Result<ProcessExit> Wait(std::optional<Millis> timeout) override {
    if (exit_.has_value()) return *exit_;
    std::optional<SteadyTime> deadline;
    if (timeout.has_value()) deadline = std::chrono::steady_clock::now() + *timeout;
    while (true) {
      pollfd exit_event{.fd = pidfd_.get(), .events = POLLIN, .revents = 0};
      int ready = ::poll(&exit_event, 1, PollTimeout(deadline));
      if (ready < 0 && errno != EINTR) return ErrnoStatus("poll pidfd", errno);
      if (ready > 0) return Reap();
      if (deadline.has_value() && std::chrono::steady_clock::now() >= *deadline) {
        return DeadlineExceededError(
            fmt::format("pid {} still running after {}ms", pid_, timeout->count()));
      }
    }
  }

 private:
  // Only called once the pidfd reported the exit, so waitpid does not block.
  Result<ProcessExit> Reap() {
    int wait_status = 0;
    while (::waitpid(pid_, &wait_status, 0) < 0) {
      if (errno != EINTR) return ErrnoStatus(fmt::format("waitpid {}", pid_), errno);
    }
    exit_ = ExitFromWaitStatus(wait_status);
    return *exit_;
  }

  const pid_t pid_;
  UniqueFd pidfd_;
  std::optional<ProcessExit> exit_;
};

// The child's fds 0, 1, 2; -1 means /dev/null for stdin and "inherit kelp's" for the others.
struct ChildStdio {
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
};

class SpawnFileActions {
 public:
  SpawnFileActions() { ::posix_spawn_file_actions_init(&actions_); }
  SpawnFileActions(const SpawnFileActions&) = delete;
  SpawnFileActions& operator=(const SpawnFileActions&) = delete;
  ~SpawnFileActions() { ::posix_spawn_file_actions_destroy(&actions_); }
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

class SpawnAttributes {
 public:
  SpawnAttributes() { ::posix_spawnattr_init(&attributes_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  ~SpawnAttributes() { ::posix_spawnattr_destroy(&attributes_); }
  posix_spawnattr_t* get() { return &attributes_; }

 private:
  posix_spawnattr_t attributes_;
};

std::vector<char*> CStringArray(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

Result<std::unique_ptr<SubprocessChild>> Spawn(const ProcessRequest& request,
                                               const ChildStdio& stdio) {
  if (request.argv.empty()) return InvalidArgumentError("exec: empty argv");
  const std::string& program = request.argv[0];
  if (!request.working_dir.empty()) {
    // posix_spawn reports a bad directory as a bare ENOENT, indistinguishable from a missing
    // program, so check it first for a clear message.
    std::error_code ec;
    if (!std::filesystem::is_directory(request.working_dir, ec)) {
      return NotFoundError(fmt::format("exec {}: working directory {} does not exist", program,
                                       request.working_dir));
    }
  }

  SpawnFileActions actions;
  int errnum = stdio.stdin_fd >= 0
                   ? ::posix_spawn_file_actions_adddup2(actions.get(), stdio.stdin_fd, 0)
                   : ::posix_spawn_file_actions_addopen(actions.get(), 0, "/dev/null", O_RDONLY, 0);
  if (errnum == 0 && stdio.stdout_fd >= 0) {
    errnum = ::posix_spawn_file_actions_adddup2(actions.get(), stdio.stdout_fd, 1);
  }
  if (errnum == 0 && stdio.stderr_fd >= 0) {
    errnum = ::posix_spawn_file_actions_adddup2(actions.get(), stdio.stderr_fd, 2);
  }
  if (errnum == 0 && !request.working_dir.empty()) {
    errnum = ::posix_spawn_file_actions_addchdir_np(actions.get(), request.working_dir.c_str());
  }
  if (errnum != 0) return ErrnoStatus("posix_spawn_file_actions", errnum);

  // Own process group, so a timeout can kill the whole job; default signal state, because
  // kelp may block or ignore signals (SIGPIPE) that the child must see normally.
  SpawnAttributes attributes;
  sigset_t no_signals;
  sigset_t all_signals;
  sigemptyset(&no_signals);
  sigfillset(&all_signals);
  ::posix_spawnattr_setpgroup(attributes.get(), 0);
  ::posix_spawnattr_setsigmask(attributes.get(), &no_signals);
  ::posix_spawnattr_setsigdefault(attributes.get(), &all_signals);
  ::posix_spawnattr_setflags(
      attributes.get(), POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv = CStringArray(request.argv);
  std::vector<char*> envp;
  if (request.env.has_value()) envp = CStringArray(*request.env);
  pid_t pid = -1;
  errnum = ::posix_spawnp(&pid, program.c_str(), actions.get(), attributes.get(), argv.data(),
                          request.env.has_value() ? envp.data() : environ);
  if (errnum != 0) return ErrnoStatus(fmt::format("exec {}", program), errnum);

  // Raw syscall: glibc 2.36's <sys/pidfd.h> lacks extern "C" and cannot be used from C++.
  // A pidfd is always close-on-exec.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.valid()) {
    int pidfd_errno = errno;
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return ErrnoStatus(fmt::format("pidfd_open {}", pid), pidfd_errno);
  }
  return std::make_unique<SubprocessChild>(pid, std::move(pidfd));
}

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

Result<Pipe> MakeOutputPipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe2", errno);
  Pipe pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
  // Only kelp's end is non-blocking; the child gets the ordinary blocking semantics.
  if (::fcntl(pipe.read_end.get(), F_SETFL, O_NONBLOCK) != 0) return ErrnoStatus("fcntl", errno);
  return pipe;
}

// Reads one chunk; closes `fd` at end of file. Returns false on a read error.
bool ReadChunk(UniqueFd& fd, std::string& out) {
  char buffer[kIoChunk];
  ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
  if (n > 0) {
    out.append(buffer, static_cast<std::size_t>(n));
  } else if (n == 0) {
    fd.reset();
  } else if (errno != EAGAIN && errno != EINTR) {
    return false;
  }
  return true;
}

// After the child exited: collects what it left in the pipe, but no more than the pipe holds,
// so a descendant still writing cannot keep us here.
void DrainAfterExit(UniqueFd& fd, std::string& out) {
  if (!fd.valid()) return;
  int capacity = ::fcntl(fd.get(), F_GETPIPE_SZ);
  std::size_t limit = capacity > 0 ? static_cast<std::size_t>(capacity) : kIoChunk;
  std::size_t start_size = out.size();
  while (fd.valid() && out.size() - start_size < limit) {
    std::size_t before = out.size();
    if (!ReadChunk(fd, out) || (fd.valid() && out.size() == before)) break;
  }
  fd.reset();
}

// Sends the next chunk of stdin; closes the socket when all is sent or the child stopped
// reading (EPIPE: the child closed stdin or exited — its exit status tells the story).
Status WriteChunk(UniqueFd& fd, std::string_view data, std::size_t& written) {
  std::size_t length = std::min(kIoChunk, data.size() - written);
  // send() with MSG_NOSIGNAL, rather than write() on a pipe, so a child that closes stdin
  // early cannot kill kelp with SIGPIPE.
  ssize_t n = ::send(fd.get(), data.data() + written, length, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n >= 0) {
    written += static_cast<std::size_t>(n);
  } else if (errno == EPIPE || errno == ECONNRESET) {
    written = data.size();
  } else if (errno != EAGAIN && errno != EINTR) {
    return ErrnoStatus("write child stdin", errno);
  }
  if (written == data.size()) fd.reset();
  return Status::Ok();
}

}  // namespace

Result<ProcessExit> ChildProcess::Terminate(Millis grace) {
  KELP_RETURN_IF_ERROR(Signal(SIGTERM));
  Result<ProcessExit> exit = Wait(grace);
  if (exit.ok() || exit.status().code() != StatusCode::kDeadlineExceeded) return exit;
  KELP_RETURN_IF_ERROR(Signal(SIGKILL));
  return Wait(std::nullopt);
}

Result<ProcessResult> SubprocessRunner::Run(const ProcessRequest& request) {
  KELP_ASSIGN_OR_RETURN(Pipe stdout_pipe, MakeOutputPipe());
  KELP_ASSIGN_OR_RETURN(Pipe stderr_pipe, MakeOutputPipe());
  UniqueFd stdin_parent;
  UniqueFd stdin_child;
  if (!request.stdin_data.empty()) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      return ErrnoStatus("socketpair", errno);
    }
    stdin_parent.reset(fds[0]);
    stdin_child.reset(fds[1]);
  }

  KELP_ASSIGN_OR_RETURN(std::unique_ptr<SubprocessChild> child,
                        Spawn(request, ChildStdio{.stdin_fd = stdin_child.get(),
                                                  .stdout_fd = stdout_pipe.write_end.get(),
                                                  .stderr_fd = stderr_pipe.write_end.get()}));
  // Kelp must not hold the child's ends, or it would never see end of file.
  stdin_child.reset();
  stdout_pipe.write_end.reset();
  stderr_pipe.write_end.reset();

  ProcessResult result;
  std::size_t stdin_written = 0;
  std::optional<SteadyTime> deadline;
  if (request.timeout.has_value()) deadline = std::chrono::steady_clock::now() + *request.timeout;
  bool sent_kill = false;

  while (true) {
    // Slots: 0 stdin, 1 stdout, 2 stderr, 3 child exit. A closed fd is -1, which poll() skips.
    pollfd events[4] = {
        {.fd = stdin_parent.get(), .events = POLLOUT, .revents = 0},
        {.fd = stdout_pipe.read_end.get(), .events = POLLIN, .revents = 0},
        {.fd = stderr_pipe.read_end.get(), .events = POLLIN, .revents = 0},
        {.fd = child->pidfd(), .events = POLLIN, .revents = 0},
    };
    if (::poll(events, 4, PollTimeout(deadline)) < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("poll child io", errno);
    }
    if (deadline.has_value() && std::chrono::steady_clock::now() >= *deadline) {
      if (!result.timed_out) {
        result.timed_out = true;
        KELP_RETURN_IF_ERROR(child->Signal(SIGTERM));
        deadline = std::chrono::steady_clock::now() + kill_grace_;
      } else {
        KELP_RETURN_IF_ERROR(child->Signal(SIGKILL));
        sent_kill = true;
        deadline.reset();
      }
    }
    if (events[0].revents != 0) {
      KELP_RETURN_IF_ERROR(WriteChunk(stdin_parent, request.stdin_data, stdin_written));
    }
    if (events[1].revents != 0 && !ReadChunk(stdout_pipe.read_end, result.stdout_data)) {
      return ErrnoStatus("read child stdout", errno);
    }
    if (events[2].revents != 0 && !ReadChunk(stderr_pipe.read_end, result.stderr_data)) {
      return ErrnoStatus("read child stderr", errno);
    }
    if (events[3].revents != 0) break;
  }

  // A timed-out job's stragglers die with it; the group id stays valid until the reap below.
  if (result.timed_out && !sent_kill) KELP_RETURN_IF_ERROR(child->Signal(SIGKILL));
  KELP_ASSIGN_OR_RETURN(ProcessExit exit, child->Wait(Millis(0)));
  DrainAfterExit(stdout_pipe.read_end, result.stdout_data);
  DrainAfterExit(stderr_pipe.read_end, result.stderr_data);
  result.exit_code = exit.exit_code;
  result.term_signal = exit.term_signal;
  return result;
}

Result<std::unique_ptr<ChildProcess>> SubprocessRunner::Start(const ProcessRequest& request) {
  if (!request.stdin_data.empty() || request.timeout.has_value()) {
    return InvalidArgumentError("start: stdin_data and timeout are only supported by Run");
  }
  UniqueFd output;
  if (!request.output_file.empty()) {
    output.reset(::open(request.output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                        0644));
    if (!output.valid()) return ErrnoStatus("open " + request.output_file, errno);
  }
  KELP_ASSIGN_OR_RETURN(
      std::unique_ptr<SubprocessChild> child,
      Spawn(request, ChildStdio{.stdout_fd = output.get(), .stderr_fd = output.get()}));
  return std::unique_ptr<ChildProcess>(std::move(child));
}

}  // namespace kelp
