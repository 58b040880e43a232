// The ProcessRunner seam: how kelp runs other programs to completion (runc, CNI plugins) and
// starts long-running ones (agents in the lab). Logic takes a ProcessRunner& so
// unit tests can use testing::FakeProcessRunner; SubprocessRunner is the real one.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace kelp {

struct ProcessRequest {
  // argv[0] is searched in kelp's PATH unless it contains a '/'.
  std::vector<std::string> argv;
  // "KEY=VALUE" entries; nullopt inherits kelp's environment.
  std::optional<std::vector<std::string>> env;
  // Written to the child's stdin, then stdin is closed; empty means stdin is /dev/null.
  std::string stdin_data;
  // On expiry the child's process group gets SIGTERM, then SIGKILL after a grace period.
  std::optional<std::chrono::milliseconds> timeout;
  // Empty means kelp's own working directory.
  std::string working_dir;
  // Start only: the child's stdout and stderr are appended to this file (created 0644);
  // empty shares kelp's own stdout and stderr.
  std::string output_file;
};

struct ProcessResult {
  int exit_code = -1;   // meaningful when term_signal == 0
  int term_signal = 0;  // the signal that ended the child, 0 if it exited
  bool timed_out = false;
  std::string stdout_data;
  std::string stderr_data;
};

// How a started child ended.
struct ProcessExit {
  int exit_code = -1;   // meaningful when term_signal == 0
  int term_signal = 0;  // the signal that ended the child, 0 if it exited
};

// A running child started by ProcessRunner::Start. Destroying it kills (SIGKILL to its process
// group) and reaps a child that is still running, so none outlives its owner or turns zombie.
// Not thread-safe: use one ChildProcess from one thread.
class ChildProcess {
 public:
  virtual ~ChildProcess() = default;

  virtual pid_t pid() const = 0;
  // Sends `signal` to the child's process group (the child and what it started). A no-op once
  // the child has exited.
  virtual Status Signal(int signal) = 0;
  // Waits for the child to exit; with a timeout, DeadlineExceeded if it is still running then.
  // Once it has exited, every call returns the same ProcessExit.
  virtual Result<ProcessExit> Wait(std::optional<std::chrono::milliseconds> timeout) = 0;

  // SIGTERM, up to `grace` for a clean exit, then SIGKILL.
  Result<ProcessExit> Terminate(std::chrono::milliseconds grace);
};

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;

  // Runs the child to completion, capturing stdout and stderr. A child that cannot be started
  // is an error (NotFound "exec foo: No such file or directory"); a child that ran and failed
  // is a ProcessResult with its exit code or signal.
  virtual Result<ProcessResult> Run(const ProcessRequest& request) = 0;

  // Starts a long-running child with stdin on /dev/null and stdout/stderr shared with kelp,
  // or appended to `request.output_file`.
  // `request.stdin_data` and `request.timeout` must be empty (InvalidArgument otherwise).
  virtual Result<std::unique_ptr<ChildProcess>> Start(const ProcessRequest& request) = 0;
};

// Runs real processes with posix_spawn. Each child gets its own process group, default
// signal dispositions and an empty signal mask; only its stdio fds are inherited (every fd
// kelp opens is O_CLOEXEC). Run() collects output until the child itself exits: descendants
// that keep the pipes open (a daemonized container) are not waited for. Thread-safe.
class SubprocessRunner final : public ProcessRunner {
 public:
  // `kill_grace`: how long a timed-out child has between SIGTERM and SIGKILL.
  explicit SubprocessRunner(std::chrono::milliseconds kill_grace = std::chrono::seconds(2))
      : kill_grace_(kill_grace) {}

  Result<ProcessResult> Run(const ProcessRequest& request) override;
  Result<std::unique_ptr<ChildProcess>> Start(const ProcessRequest& request) override;

 private:
  const std::chrono::milliseconds kill_grace_;
};

}  // namespace kelp
