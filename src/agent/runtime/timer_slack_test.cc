#include "agent/runtime/timer_slack.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "common/file.h"
#include "common/testing/temp_dir.h"

namespace kelp::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class TimerSlackTest : public ::testing::Test {
 protected:
  // A stand-in for /proc: <proc>/<tid>/timerslack_ns holding `slack_ns`.
  void AddThread(pid_t tid, uint64_t slack_ns) {
    fs::create_directories(proc_ / std::to_string(tid));
    std::ofstream(proc_ / std::to_string(tid) / "timerslack_ns") << slack_ns << "\n";
  }
  std::string Slack(pid_t tid) {
    return ReadFile(proc_ / std::to_string(tid) / "timerslack_ns").value_or("(none)");
  }

  testing::ScopedTempDir tmp_;
  fs::path proc_ = tmp_.path() / "proc";
};

TEST_F(TimerSlackTest, SetsEveryListedThreadAndSkipsThoseThatExited) {
  AddThread(11, 2000000);
  AddThread(12, 2000000);
  AddThread(13, 50000);
  Result<size_t> changed = RestoreTimerSlack(
      [] {
        return Result<std::vector<pid_t>>(std::vector<pid_t>{11, 12, 13, 14});
      },
      50us, proc_);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(*changed, 2u);
  EXPECT_EQ(Slack(11), "50000");
  EXPECT_EQ(Slack(12), "50000");
  EXPECT_EQ(Slack(13), "50000\n");  // already right: not rewritten
}

TEST_F(TimerSlackTest, ListsAgainUntilNoThreadIsLeftWithTheOldSlack) {
  // A thread forked during the first pass, before its parent was changed, shows up in the
  // second with the old slack.
  AddThread(20, 2000000);
  int listings = 0;
  auto list = [&]() -> Result<std::vector<pid_t>> {
    if (++listings == 2) AddThread(21, 2000000);
    if (listings == 1) return std::vector<pid_t>{20};
    return std::vector<pid_t>{20, 21};
  };
  Result<size_t> changed = RestoreTimerSlack(list, 50us, proc_);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(*changed, 2u);
  EXPECT_EQ(listings, 3);  // the third pass changed nothing
  EXPECT_EQ(Slack(21), "50000");
}

TEST_F(TimerSlackTest, GivesUpWhenNewThreadsKeepComingWithTheOldSlack) {
  pid_t next = 100;
  auto list = [&]() -> Result<std::vector<pid_t>> {
    AddThread(next, 2000000);
    return std::vector<pid_t>{next++};
  };
  Result<size_t> changed = RestoreTimerSlack(list, 50us, proc_, 5);
  EXPECT_FALSE(changed.ok());
  EXPECT_EQ(next, 105);
}

TEST_F(TimerSlackTest, ListingErrorsAreReturned) {
  Result<size_t> changed = RestoreTimerSlack(
      [] { return Result<std::vector<pid_t>>(NotFoundError("no cgroup")); }, 50us, proc_);
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.status().code(), StatusCode::kNotFound);
}

TEST_F(TimerSlackTest, CgroupThreadsReadsV1TasksOrV2Threads) {
  fs::create_directories(tmp_.path() / "v1");
  std::ofstream(tmp_.path() / "v1" / "tasks") << "7\n8\n";
  fs::create_directories(tmp_.path() / "v2");
  std::ofstream(tmp_.path() / "v2" / "cgroup.threads") << "9\n";
  EXPECT_EQ(CgroupThreads(tmp_.path() / "v1").value_or({}), (std::vector<pid_t>{7, 8}));
  EXPECT_EQ(CgroupThreads(tmp_.path() / "v2").value_or({}), (std::vector<pid_t>{9}));
  std::ofstream(tmp_.path() / "v2" / "cgroup.threads") << "x\n";
  EXPECT_FALSE(CgroupThreads(tmp_.path() / "v2").ok());
  EXPECT_FALSE(CgroupThreads(tmp_.path() / "none").ok());
}

// The kernel side: a child that runs with a coarse slack (as runc does, and as a container
// inherits from it) gets this process's slack back. Root only: changing another process's
// slack needs CAP_SYS_NICE, which CI has.
TEST(TimerSlackProcessTest, AChildGetsThisProcesssSlackBack) {
  const std::chrono::nanoseconds own = CurrentTimerSlack();
  const uint64_t coarse = 3000000;
  ASSERT_NE(static_cast<uint64_t>(own.count()), coarse);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::prctl(PR_SET_TIMERSLACK, coarse, 0, 0, 0);
    char byte = 1;
    (void)!::write(ready[1], &byte, 1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  const std::string file = "/proc/" + std::to_string(child) + "/timerslack_ns";
  EXPECT_EQ(ReadFile(file).value_or(""), std::to_string(coarse) + "\n");

  Result<size_t> changed = RestoreTimerSlack([&] { return ProcessThreads(child); }, own);
  const std::string after = ReadFile(file).value_or("");
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(*changed, 1u);
  EXPECT_EQ(after, std::to_string(own.count()) + "\n");
  EXPECT_TRUE(ProcessThreads(child).value_or({0}).empty());  // reaped: no threads listed
}

}  // namespace
}  // namespace kelp::agent
