// Runc: the one-shot runc commands the runtime needs (list, state, start, kill, delete),
// run through the ProcessRunner seam with a timeout, with runc's "does not exist" and
// "not running" answers mapped to NotFound so callers can be idempotent. Long-running runc
// invocations (create under the shim, exec with streams) are built elsewhere.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/process.h"
#include "common/status.h"

namespace kelp::agent {

struct RuncState {
  std::string id;
  int pid = 0;
  std::string status;  // "created", "running", "paused", "stopped"
  std::string bundle;
};

// Parses `runc list -f json` (an array, or "null" when empty) and `runc state` (one object).
Result<std::vector<RuncState>> ParseRuncList(std::string_view json);
Result<RuncState> ParseRuncState(std::string_view json);

class Runc {
 public:
  Runc(std::string binary, std::string root, ProcessRunner& runner,
       std::chrono::milliseconds timeout = std::chrono::seconds(30))
      : binary_(std::move(binary)), root_(std::move(root)), runner_(runner), timeout_(timeout) {}

  const std::string& binary() const { return binary_; }
  const std::string& root() const { return root_; }

  Result<std::vector<RuncState>> List();
  Result<RuncState> State(const std::string& id);  // NotFound if runc does not know it
  Status Start(const std::string& id);
  // NotFound if the container does not exist or is not running.
  Status Kill(const std::string& id, int signal);
  // --force kills a running container first. A missing container is fine.
  Status Delete(const std::string& id, bool force);

  // argv prefix "runc --root R" for commands run by other means.
  std::vector<std::string> BaseArgv() const { return {binary_, "--root", root_}; }

 private:
  Result<ProcessResult> Run(std::vector<std::string> args);

  const std::string binary_;
  const std::string root_;
  ProcessRunner& runner_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace kelp::agent
