// Timer slack for runc, and giving it back to the container.
//
// runc is a Go program. While its threads block in syscalls (mounts, cgroup writes, waiting on
// runc init), Go's sysmon thread wakes every 20 µs to take their processors back: ~450 sleeps of
// 20 µs per `runc run --detach`, each a context switch. On a node starting many pods at once
// those wake-ups compete with real work. With a coarser timer slack (prctl PR_SET_TIMERSLACK,
// inherited by child processes and threads) the kernel may batch them: agent_bench's bare-runc
// burst used ~15 % less CPU per container (docs/agent.md).
//
// The slack is inherited down to the container's own processes, so the shim gives every thread
// in the container the slack it would have had (its own) as soon as runc returns:
// RestoreTimerSlack. Until then (a few ms after the container's process starts) the
// container's timers may fire up to kRuncTimerSlack late.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include "common/status.h"

namespace kelp::agent {

// The timer slack runc runs with (the default is 50 µs).
inline constexpr std::chrono::nanoseconds kRuncTimerSlack = std::chrono::milliseconds(2);

// Sets the timer slack of each thread `list_threads` returns (TIDs) to `slack` through
// <proc>/<tid>/timerslack_ns, listing again until a pass finds every thread already at
// `slack`: a thread that forks while it still has the old slack passes it on, and the next
// pass finds the child. Threads that exit meanwhile are skipped. Returns how many were changed;
// an error if the threads have not settled after `max_passes` passes.
Result<size_t> RestoreTimerSlack(const std::function<Result<std::vector<pid_t>>()>& list_threads,
                                 std::chrono::nanoseconds slack,
                                 const std::filesystem::path& proc = "/proc", int max_passes = 64);

// The TIDs of a cgroup's threads: its `tasks` file (v1) or `cgroup.threads` (v2).
Result<std::vector<pid_t>> CgroupThreads(const std::filesystem::path& cgroup_dir);

// The TIDs of one process's threads (<proc>/<pid>/task).
Result<std::vector<pid_t>> ProcessThreads(pid_t pid, const std::filesystem::path& proc = "/proc");

// This thread's timer slack (PR_GET_TIMERSLACK).
std::chrono::nanoseconds CurrentTimerSlack();

}  // namespace kelp::agent
