// runc's --console-socket protocol: runc connects to a unix socket and sends the pty master of
// the container's terminal as SCM_RIGHTS. Used by the shim (tty containers) and by exec -t.
#pragma once

#include <chrono>
#include <filesystem>

#include "common/file.h"
#include "common/status.h"

namespace kelp::agent {

// A listening unix socket at `path` (replaced if a stale one is there).
Result<UniqueFd> ListenConsoleSocket(const std::filesystem::path& path);
// Accepts runc's connection and receives the pty master. Gives up after `timeout`, or early
// (Cancelled) when `abort_fd` (e.g. runc's pidfd) becomes readable first.
Result<UniqueFd> ReceivePtyMaster(int listen_fd, std::chrono::milliseconds timeout,
                                  int abort_fd = -1);
// Sets the terminal size of a pty (TIOCSWINSZ on the master).
Status ResizePty(int pty_fd, uint16_t columns, uint16_t rows);

}  // namespace kelp::agent
