// kelp-shim as a process, with a stand-in for runc: a shell script that records how it was
// run, starts a short "container init" and writes its pid where runc would.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "agent/runtime/shim.h"
#include "agent/runtime/timer_slack.h"
#include "common/file.h"
#include "common/process.h"
#include "common/testing/temp_dir.h"

namespace kelp::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Runs like `runc --root R --log L --log-format json run --detach --bundle B --pid-file P ID`:
// writes its environment to <dir of L>/runc.env and its timer slack to <dir of L>/runc.slack,
// starts an init that prints a line and exits 3 (orphaned when the script exits, so the shim, a
// child subreaper, reaps it) and writes its pid to P. With KELP_FAKE_INIT_FIFO set, the init
// first waits for a line on that fifo, then writes the slack it passes on to a child to
// $KELP_FAKE_INIT_FIFO.slack. With KELP_FAKE_CGROUP set, that directory stands for the
// container's memory cgroup: its `tasks` lists the init and a second process of the container,
// which waits for a line on other.fifo there and then writes its slack to other.slack.
constexpr char kFakeRunc[] = R"(#!/bin/sh
log=""; pid_file=""
while [ $# -gt 0 ]; do
  case "$1" in
    --log) log=$2; shift ;;
    --pid-file) pid_file=$2; shift ;;
  esac
  shift
done
# The container's second process starts before the init: once the init runs, this script
# forks nothing, so it cannot reap an init that exits at once (sh waits for any child when it
# forks), which would hide that exit from the shim.
if [ -n "$KELP_FAKE_CGROUP" ]; then
  sh -c 'read line < "$KELP_FAKE_CGROUP/other.fifo"
         cat /proc/self/timerslack_ns > "$KELP_FAKE_CGROUP/other.slack"' </dev/null &
  echo $! > "$KELP_FAKE_CGROUP/tasks"
fi
env > "$(dirname "$log")/runc.env"
cat /proc/self/timerslack_ns > "$(dirname "$log")/runc.slack"
if [ -n "$KELP_FAKE_INIT_FIFO" ]; then
  sh -c 'read line < "$KELP_FAKE_INIT_FIFO"
         cat /proc/self/timerslack_ns > "$KELP_FAKE_INIT_FIFO.slack"; exit 3' </dev/null &
else
  sh -c 'echo started from the fake runc; exit 3' </dev/null &
fi
echo $! > "$pid_file"
if [ -n "$KELP_FAKE_CGROUP" ]; then
  echo $! >> "$KELP_FAKE_CGROUP/tasks"
fi
)";

class ShimProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runc_ = tmp_.path() / "runc";
    std::ofstream(runc_) << kFakeRunc;
    fs::permissions(runc_, fs::perms::owner_all);
  }

  // Runs kelp-shim --start with environment `env`, then `after_report` once the shim has
  // reported, and waits for the exit it records.
  Result<ExitInfo> RunShim(std::vector<std::string> env,
                           const std::function<void()>& after_report = {},
                           const std::string& memory_cgroup = "") {
    ShimOptions options{.runc = runc_.string(),
                        .root = (tmp_.path() / "root").string(),
                        .id = "c1",
                        .bundle = tmp_.path().string(),
                        .log_path = (tmp_.path() / "logs" / "0.log").string(),
                        .state_dir = state_.string(),
                        .memory_cgroup = memory_cgroup,
                        .start = true};
    std::vector<std::string> argv = ShimArguments(options);
    argv.insert(argv.begin(), KELP_SHIM_BINARY);
    SubprocessRunner runner;
    Result<ProcessResult> shim = runner.Run({.argv = argv, .env = env, .timeout = 30s});
    if (!shim.ok()) return shim.status();
    if (shim->exit_code != 0) return InternalError("kelp-shim: " + shim->stderr_data);
    if (!ParseShimInfo(shim->stdout_data).ok()) return InternalError("report: " + shim->stdout_data);
    if (after_report) after_report();
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      Result<std::string> exit = ReadFile(state_ / kExitInfoFile);
      if (exit.ok()) return ParseExitInfo(*exit);
      std::this_thread::sleep_for(10ms);
    }
    return DeadlineExceededError("no exit.json");
  }

  std::string RuncEnvironment() { return ReadFile(state_ / "runc.env").value_or(""); }

  testing::ScopedTempDir tmp_;
  fs::path runc_;
  fs::path state_ = tmp_.path() / "state";
};

TEST_F(ShimProcessTest, RunsRuncWithOneGoProcessorAndRecordsTheInitExit) {
  Result<ExitInfo> exit = RunShim(std::vector<std::string>{"PATH=/usr/bin:/bin"});
  ASSERT_TRUE(exit.ok()) << exit.status().ToString();
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_EQ(exit->signal, 0);
  EXPECT_NE(RuncEnvironment().find("GOMAXPROCS=1\n"), std::string::npos) << RuncEnvironment();
  EXPECT_NE(ReadFile(tmp_.path() / "logs" / "0.log").value_or("").find(
                " stdout F started from the fake runc"),
            std::string::npos);
}

TEST_F(ShimProcessTest, AnExplicitGomaxprocsReachesRunc) {
  Result<ExitInfo> exit = RunShim(std::vector<std::string>{"PATH=/usr/bin:/bin", "GOMAXPROCS=4"});
  ASSERT_TRUE(exit.ok()) << exit.status().ToString();
  std::string env = RuncEnvironment();
  EXPECT_NE(env.find("GOMAXPROCS=4\n"), std::string::npos) << env;
  EXPECT_EQ(env.find("GOMAXPROCS=1\n"), std::string::npos) << env;
}

TEST_F(ShimProcessTest, RuncRunsWithACoarseTimerSlackAndTheContainerGetsTheShimsBack) {
  const std::chrono::nanoseconds own = CurrentTimerSlack();
  ASSERT_NE(own, kRuncTimerSlack);
  const fs::path fifo = tmp_.path() / "init.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Result<ExitInfo> exit = RunShim(
      std::vector<std::string>{"PATH=/usr/bin:/bin", "KELP_FAKE_INIT_FIFO=" + fifo.string()},
      [&] { std::ofstream(fifo) << "go\n"; });
  ASSERT_TRUE(exit.ok()) << exit.status().ToString();
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_EQ(ReadFile(state_ / "runc.slack").value_or(""),
            std::to_string(kRuncTimerSlack.count()) + "\n");
  // The init was started by runc with runc's slack; by the time the shim reported, it had the
  // shim's (the test's) again, and passes that on.
  EXPECT_EQ(ReadFile(tmp_.path() / "init.fifo.slack").value_or(""),
            std::to_string(own.count()) + "\n");
}

// The runtime passes the container's memory cgroup: every thread listed there gets the shim's
// slack back, not only the init's (the fallback when no cgroup is known).
TEST_F(ShimProcessTest, TheContainersThreadsComeFromTheMemoryCgroupTheRuntimePasses) {
  const std::chrono::nanoseconds own = CurrentTimerSlack();
  ASSERT_NE(own, kRuncTimerSlack);
  const fs::path cgroup = tmp_.path() / "memcg";
  fs::create_directories(cgroup);
  ASSERT_EQ(::mkfifo((cgroup / "other.fifo").c_str(), 0600), 0);
  Result<ExitInfo> exit = RunShim(
      std::vector<std::string>{"PATH=/usr/bin:/bin", "KELP_FAKE_CGROUP=" + cgroup.string()},
      [&] { std::ofstream(cgroup / "other.fifo") << "go\n"; }, cgroup.string());
  ASSERT_TRUE(exit.ok()) << exit.status().ToString();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (ReadFile(cgroup / "other.slack").value_or("").empty() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(ReadFile(cgroup / "other.slack").value_or(""), std::to_string(own.count()) + "\n");
}

}  // namespace
}  // namespace kelp::agent
