// kelp-shim: one per container, like containerd-shim-runc-v2 or conmon. The runtime runs
// `kelp-shim --runc R --root ROOT --id ID --bundle B --log-path L --state-dir D [--tty]
// [--start]`; the shim daemonizes (setsid, child subreaper), runs `runc create` (with
// --start: `runc run --detach`, created and started by one runc process) with pipes for
// stdout/stderr (or receives the pty through --console-socket for a tty), reports
// {"shim_pid":N,"init_pid":M} on stdout and the foreground process exits 0 (1 with the error
// on stderr). The daemon then copies the container's output into the CRI log file, waits for
// the container's init to exit and records how it ended in D/exit.json before exiting.
// The runtime talks to it only through these files and runc's state, so either side may be
// restarted at any time.
//
// `kelp-shim exec --runc R --root ROOT --id ID --pid-file P [--console-socket S] [--env K=V]
// -- CMD...` runs one exec the way containerd's shim does: `runc exec -d`, then, as child
// subreaper, waits for the exec'd process and exits with its status (128+signal). Its stdio
// is the process's (or, with a console socket, runc sends the pty there).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace kelp::agent {

inline constexpr char kShimInfoFile[] = "shim.json";
inline constexpr char kExitInfoFile[] = "exit.json";

struct ShimOptions {
  std::string runc = "runc";
  std::string root;        // runc --root
  std::string id;
  std::string bundle;
  std::string log_path;    // CRI log file
  std::string state_dir;   // shim.json, exit.json, runc.log, init.pid live here
  // The container's memory cgroup directory (v2: its unified one), as the runtime resolved
  // the bundle's linux.cgroupsPath; empty when the node has no cgroups (then the shim knows
  // only the init's threads and no OOM kill).
  std::string memory_cgroup;
  bool tty = false;
  bool start = false;  // `runc run --detach` instead of `runc create`
};

// argv (after the binary) for launching the shim, and its parser (argv[0] is the binary).
std::vector<std::string> ShimArguments(const ShimOptions& options);
Result<ShimOptions> ParseShimArguments(int argc, char** argv);

struct ShimInfo {
  int shim_pid = 0;
  int init_pid = 0;
};

struct ExitInfo {
  int exit_code = 0;  // 128+signal when a signal ended it
  int signal = 0;
  std::chrono::system_clock::time_point finished_at;
  bool oom_killed = false;
};

Result<ShimInfo> ParseShimInfo(std::string_view json);
Result<ExitInfo> ParseExitInfo(std::string_view json);
std::string ShimInfoJson(const ShimInfo& info);
std::string ExitInfoJson(const ExitInfo& info);
// RFC 3339 with nanoseconds (as CRI log timestamps) and back.
Result<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view text);

// The `kelp-shim` program (both modes); returns its exit code.
int RunShim(int argc, char** argv);

}  // namespace kelp::agent
