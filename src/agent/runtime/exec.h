// ExecSession: one exec into a running container, with the caller holding the process's
// stdio as file descriptors — pipes, or for a tty the master of the container-side pty (runc
// hands it over through the console socket; resize = TIOCSWINSZ on it). Like containerd, the
// process is started with `runc exec -d` under `kelp-shim exec`, which reaps it and exits
// with its status, so background children it leaves cannot hold the session open.
// A WebSocket handler (kubectl exec -it) pumps these fds; RunExecSync runs a command to
// completion for probes and tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/runtime/types.h"
#include "common/file.h"
#include "common/status.h"

namespace kelp::agent {

struct TerminalSize {
  uint16_t columns = 80;
  uint16_t rows = 24;
};

// How to reach runc: through `<shim> exec` with runc's binary and --root.
struct ExecTarget {
  std::string shim_binary = "kelp-shim";
  std::string runc_binary = "runc";
  std::string runc_root;
};

struct ExecOptions {
  std::vector<std::string> cmd;
  bool tty = false;
  bool stdin = false;  // without it the process's stdin is /dev/null
  std::optional<TerminalSize> size;  // initial size of the tty
  std::vector<std::string> env;      // extra "K=V" on top of the container's env
};

class ExecSession {
 public:
  // Starts `cmd` in container `id`. The pid file and console socket live in a private
  // directory under the temp dir (socket paths must be short) for the session's life.
  static Result<std::unique_ptr<ExecSession>> Start(const ExecTarget& target,
                                                    const std::string& id,
                                                    const ExecOptions& options);
  // Kills the exec'd process if it still runs, and reaps the helper.
  ~ExecSession();
  ExecSession(const ExecSession&) = delete;
  ExecSession& operator=(const ExecSession&) = delete;

  // Write end of the process's stdin (the pty master with a tty); -1 without stdin.
  int stdin_fd() const { return stdin_.valid() ? stdin_.get() : -1; }
  // Read end of its stdout (the pty master with a tty).
  int stdout_fd() const { return stdout_.get(); }
  // Read end of its stderr; -1 with a tty (a terminal has one output stream).
  int stderr_fd() const { return stderr_.valid() ? stderr_.get() : -1; }
  bool tty() const { return tty_; }

  // Closes stdin (EOF for the process). With a tty, sends the terminal's EOF character.
  Status CloseStdin();
  Status Resize(TerminalSize size);
  // Waits for the process to end: its exit code (128+signal when a signal ended it).
  // DeadlineExceeded when `timeout` passes first.
  Result<int> Wait(std::optional<std::chrono::milliseconds> timeout);
  // SIGKILL to the exec'd process.
  Status Kill();
  // Becomes readable (POLLIN) once the process has ended; for event loops.
  int exit_fd() const { return helper_pidfd_.get(); }

 private:
  ExecSession() = default;

  bool tty_ = false;
  pid_t helper_pid_ = -1;
  UniqueFd helper_pidfd_;
  std::optional<int> exit_code_;
  std::filesystem::path pid_file_;
  std::filesystem::path scratch_;
  UniqueFd stdin_;
  UniqueFd stdout_;
  UniqueFd stderr_;
};

// Runs `options.cmd` (no tty, no stdin) to completion and collects its output. On timeout
// the process is killed and DeadlineExceeded returned.
Result<ExecSyncResult> RunExecSync(const ExecTarget& target, const std::string& id,
                                   const std::vector<std::string>& cmd,
                                   std::chrono::milliseconds timeout);

}  // namespace kelp::agent
