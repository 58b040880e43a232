// ExecSession: posix_spawn of `kelp-shim exec` (→ `runc exec -d`) with the caller's fds,
// console-socket pty handoff, pidfd-based waiting.
#include "agent/runtime/exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <system_error>

#include "agent/runtime/console.h"

extern char** environ;

namespace kelp::agent {
namespace {

namespace fs = std::filesystem;

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Result<Pipe> MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe2", errno);
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Spawns argv with fds 0/1/2 from `stdio` (-1: /dev/null) in its own process group.
Result<pid_t> Spawn(const std::vector<std::string>& args, const int stdio[3]) {
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  for (int i = 0; i < 3; ++i) {
    if (stdio[i] >= 0) {
      ::posix_spawn_file_actions_adddup2(&actions, stdio[i], i);
    } else {
      ::posix_spawn_file_actions_addopen(&actions, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
    }
  }
  posix_spawnattr_t attributes;
  ::posix_spawnattr_init(&attributes);
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  ::posix_spawnattr_setpgroup(&attributes, 0);
  ::posix_spawnattr_setsigmask(&attributes, &none);
  ::posix_spawnattr_setsigdefault(&attributes, &all);
  ::posix_spawnattr_setflags(&attributes,
                             POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int err = ::posix_spawnp(&pid, argv[0], &actions, &attributes, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attributes);
  if (err != 0) return ErrnoStatus("exec " + args[0], err);
  return pid;
}

}  // namespace

Result<std::unique_ptr<ExecSession>> ExecSession::Start(const ExecTarget& target,
                                                        const std::string& id,
                                                        const ExecOptions& options) {
  if (options.cmd.empty()) return InvalidArgumentError("exec: empty command");
  std::unique_ptr<ExecSession> session(new ExecSession());
  session->tty_ = options.tty;
  std::string scratch = (fs::temp_directory_path() / "kelp-exec-XXXXXX").string();
  if (::mkdtemp(scratch.data()) == nullptr) return ErrnoStatus("mkdtemp", errno);
  session->scratch_ = scratch;
  session->pid_file_ = session->scratch_ / "pid";

  std::vector<std::string> args = {target.shim_binary, "exec",     "--runc",
                                   target.runc_binary, "--root",   target.runc_root,
                                   "--id",             id,         "--pid-file",
                                   session->pid_file_.string()};
  UniqueFd console_listen;
  if (options.tty) {
    fs::path socket = session->scratch_ / "c.sock";
    KELP_ASSIGN_OR_RETURN(console_listen, ListenConsoleSocket(socket));
    args.insert(args.end(), {"--console-socket", socket.string()});
  }
  for (const std::string& e : options.env) args.insert(args.end(), {"--env", e});
  args.push_back("--");
  args.insert(args.end(), options.cmd.begin(), options.cmd.end());

  // With a tty, the helper's own stdio is /dev/null except stderr, where runc reports
  // failures; the process talks to the pty.
  int stdio[3] = {-1, -1, -1};
  Pipe in;
  Pipe out;
  Pipe err;
  if (options.stdin && !options.tty) {
    KELP_ASSIGN_OR_RETURN(in, MakePipe());
    stdio[0] = in.read.get();
  }
  if (!options.tty) {
    KELP_ASSIGN_OR_RETURN(out, MakePipe());
    stdio[1] = out.write.get();
  }
  KELP_ASSIGN_OR_RETURN(err, MakePipe());
  stdio[2] = err.write.get();
  KELP_ASSIGN_OR_RETURN(session->helper_pid_, Spawn(args, stdio));
  session->helper_pidfd_.reset(
      static_cast<int>(::syscall(SYS_pidfd_open, session->helper_pid_, 0)));
  if (!session->helper_pidfd_.valid()) return ErrnoStatus("pidfd_open", errno);
  in.read.reset();
  out.write.reset();
  err.write.reset();

  if (options.tty) {
    Result<UniqueFd> master = ReceivePtyMaster(console_listen.get(), std::chrono::seconds(30),
                                               session->helper_pidfd_.get());
    if (!master.ok()) {
      std::string why;
      char buffer[1024];
      ::fcntl(err.read.get(), F_SETFL, O_NONBLOCK);
      ssize_t n = ::read(err.read.get(), buffer, sizeof(buffer));
      if (n > 0) why.assign(buffer, static_cast<size_t>(n));
      while (!why.empty() && why.back() == '\n') why.pop_back();
      return master.status().WithContext("exec " + id + (why.empty() ? "" : ": " + why));
    }
    session->stdout_ = std::move(*master);
    if (options.stdin) {
      session->stdin_.reset(::fcntl(session->stdout_.get(), F_DUPFD_CLOEXEC, 0));
    }
    if (options.size.has_value()) KELP_RETURN_IF_ERROR(session->Resize(*options.size));
  } else {
    session->stdin_ = std::move(in.write);
    session->stdout_ = std::move(out.read);
    session->stderr_ = std::move(err.read);
  }
  return session;
}

ExecSession::~ExecSession() {
  if (helper_pid_ > 0 && !exit_code_.has_value()) {
    (void)Kill();
    ::kill(helper_pid_, SIGKILL);
    while (::waitpid(helper_pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  std::error_code ec;
  if (!scratch_.empty()) fs::remove_all(scratch_, ec);
}

Status ExecSession::CloseStdin() {
  if (!stdin_.valid()) return Status::Ok();
  if (tty_) {
    // A terminal has no half-close: the line discipline's EOF character does it.
    char eof = 4;
    if (::write(stdin_.get(), &eof, 1) < 0) return ErrnoStatus("write EOF to pty", errno);
    return Status::Ok();
  }
  stdin_.reset();
  return Status::Ok();
}

Status ExecSession::Resize(TerminalSize size) {
  if (!tty_) return InvalidArgumentError("resize: the exec session has no tty");
  // The kernel tells the terminal's foreground process group (SIGWINCH).
  return ResizePty(stdout_.get(), size.columns, size.rows);
}

Result<int> ExecSession::Wait(std::optional<std::chrono::milliseconds> timeout) {
  if (exit_code_.has_value()) return *exit_code_;
  pollfd event{.fd = helper_pidfd_.get(), .events = POLLIN, .revents = 0};
  auto deadline = std::chrono::steady_clock::now() + timeout.value_or(std::chrono::milliseconds(0));
  while (true) {
    int wait_ms = -1;
    if (timeout.has_value()) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline -
                                                               std::chrono::steady_clock::now());
      wait_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
    }
    int ready = ::poll(&event, 1, wait_ms);
    if (ready < 0 && errno != EINTR) return ErrnoStatus("poll pidfd", errno);
    if (ready > 0) break;
    if (ready == 0) return DeadlineExceededError("exec still running");
  }
  int status = 0;
  while (::waitpid(helper_pid_, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoStatus("waitpid exec helper", errno);
  }
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return *exit_code_;
}

Status ExecSession::Kill() {
  Result<std::string> text = [&]() -> Result<std::string> {
    UniqueFd fd(::open(pid_file_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus("open pid file", errno);
    char buffer[32];
    ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n <= 0) return InternalError("empty pid file");
    return std::string(buffer, static_cast<size_t>(n));
  }();
  if (!text.ok()) return text.status();
  int pid = 0;
  std::from_chars(text->data(), text->data() + text->size(), pid);
  if (pid <= 0) return InternalError("bad pid file");
  if (::kill(pid, SIGKILL) != 0 && errno != ESRCH) return ErrnoStatus("kill exec process", errno);
  return Status::Ok();
}

Result<ExecSyncResult> RunExecSync(const ExecTarget& target, const std::string& id,
                                   const std::vector<std::string>& cmd,
                                   std::chrono::milliseconds timeout) {
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<ExecSession> session,
                        ExecSession::Start(target, id, ExecOptions{.cmd = cmd}));
  ExecSyncResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int fds[2] = {session->stdout_fd(), session->stderr_fd()};
  std::string* outputs[2] = {&result.stdout_data, &result.stderr_data};
  bool open[2] = {true, true};
  bool exited = false;
  // Output is read until both pipes close, or until the process has ended and its pipes are
  // drained (a background child it left may keep them open for ever).
  while (open[0] || open[1]) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline -
                                                             std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      (void)session->Kill();
      return DeadlineExceededError("exec timed out after " + std::to_string(timeout.count()) +
                                   "ms");
    }
    pollfd events[3] = {{.fd = open[0] ? fds[0] : -1, .events = POLLIN, .revents = 0},
                        {.fd = open[1] ? fds[1] : -1, .events = POLLIN, .revents = 0},
                        {.fd = exited ? -1 : session->exit_fd(), .events = POLLIN, .revents = 0}};
    int ready = ::poll(events, 3, exited ? 0 : static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) return ErrnoStatus("poll exec output", errno);
    if (ready == 0 && exited) break;  // ended, and nothing more to read right now
    if (ready > 0 && events[2].revents != 0) exited = true;
    for (int i = 0; i < 2 && ready > 0; ++i) {
      if (events[i].revents == 0) continue;
      char buffer[16 * 1024];
      ssize_t n = ::read(fds[i], buffer, sizeof(buffer));
      if (n > 0) {
        outputs[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        open[i] = false;
      }
    }
  }
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline -
                                                           std::chrono::steady_clock::now());
  Result<int> code = session->Wait(std::max(left, std::chrono::milliseconds(0)));
  if (!code.ok()) {
    (void)session->Kill();
    return code.status();
  }
  result.exit_code = *code;
  return result;
}

}  // namespace kelp::agent
