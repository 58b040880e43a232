// cgroup v1 and v2 parsing, cgroupsPath resolution like runc's cgroupfs drivers, stats and removal
// over a directory tree that stands in for /sys/fs/cgroup; shim state JSON and shim argument
// round trips.
#include "agent/runtime/cgroups.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "agent/runtime/shim.h"
#include "common/file.h"
#include "common/testing/temp_dir.h"

namespace kelp::agent {
namespace {

namespace fs = std::filesystem;

TEST(CgroupsTest, ParsesMountinfoAndProcCgroup) {
  std::map<std::string, fs::path> mounts = ParseCgroupMounts(
      "30 25 0:26 / /sys/fs/cgroup rw,nosuid shared:9 - tmpfs tmpfs rw,mode=755\n"
      "31 30 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:10 - cgroup cgroup rw,cpu,cpuacct\n"
      "32 30 0:28 / /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory\n"
      "33 30 0:29 / /sys/fs/cgroup/systemd rw shared:12 - cgroup cgroup rw,xattr,name=systemd\n"
      "34 30 0:30 / /sys/fs/cgroup/unified rw shared:13 - cgroup2 cgroup2 rw\n");
  EXPECT_EQ(mounts["cpuacct"], "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(mounts["cpu"], "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(mounts["memory"], "/sys/fs/cgroup/memory");
  EXPECT_EQ(mounts["name=systemd"], "/sys/fs/cgroup/systemd");
  EXPECT_EQ(mounts[kUnifiedHierarchy], "/sys/fs/cgroup/unified");

  std::map<std::string, std::string> own =
      ParseProcCgroup("4:memory:/job/1\n2:cpu,cpuacct:/\n1:name=systemd:/x\n0::/\n");
  EXPECT_EQ(own["memory"], "/job/1");
  EXPECT_EQ(own["cpuacct"], "/");
  EXPECT_EQ(own["name=systemd"], "/x");
  EXPECT_EQ(own[kUnifiedHierarchy], "/");
}

class CgroupTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    fs::create_directories(tmp_.path() / "memory/job/1/kelp/n1/podu/c1");
    fs::create_directories(tmp_.path() / "cpuacct/kelp/n1/podu/c1");
  }
  Cgroups V1() const {
    return Cgroups({{"memory", tmp_.path() / "memory"}, {"cpuacct", tmp_.path() / "cpuacct"}},
                    {{"memory", "/job/1"}, {"cpuacct", "/"}});
  }
  testing::ScopedTempDir tmp_;
};

TEST_F(CgroupTreeTest, ResolvesRelativeBelowOwnCgroupAndAbsoluteFromRoot) {
  Cgroups cgroups = V1();
  EXPECT_EQ(*cgroups.Resolve("memory", "kelp/n1/podu/c1"),
            tmp_.path() / "memory/job/1/kelp/n1/podu/c1");
  EXPECT_EQ(*cgroups.Resolve("memory", "/kelp/n1"), tmp_.path() / "memory/kelp/n1");
  EXPECT_EQ(*cgroups.Resolve("cpuacct", "kelp/n1"), tmp_.path() / "cpuacct/kelp/n1");
  EXPECT_EQ(cgroups.Resolve("blkio", "x").status().code(), StatusCode::kNotFound);
}

TEST_F(CgroupTreeTest, StatsUseWorkingSet) {
  fs::path mem = tmp_.path() / "memory/job/1/kelp/n1/podu/c1";
  std::ofstream(mem / "memory.usage_in_bytes") << "10485760\n";
  std::ofstream(mem / "memory.stat") << "cache 100\ninactive_file 7\ntotal_inactive_file 4194304\n";
  std::ofstream(mem / "memory.oom_control") << "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
  std::ofstream(tmp_.path() / "cpuacct/kelp/n1/podu/c1/cpuacct.usage") << "123456789\n";
  Result<ResourceStats> stats = V1().Stats("kelp/n1/podu/c1");
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->cpu_usage_ns, 123456789u);
  EXPECT_EQ(stats->memory_usage_bytes, 10485760u);
  EXPECT_EQ(stats->memory_working_set_bytes, 10485760u - 4194304u);
  EXPECT_EQ(*ReadOomKillCount(mem), 2u);
}

TEST_F(CgroupTreeTest, RootStatsAreTheHierarchyRoots) {
  // "/" is the root of each hierarchy, whatever cgroup this process is in: the whole machine.
  std::ofstream(tmp_.path() / "memory/memory.usage_in_bytes") << "900000000\n";
  std::ofstream(tmp_.path() / "memory/memory.stat") << "total_inactive_file 100000000\n";
  std::ofstream(tmp_.path() / "cpuacct/cpuacct.usage") << "5000000000\n";
  Result<ResourceStats> stats = V1().Stats("/");
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->cpu_usage_ns, 5000000000u);
  EXPECT_EQ(stats->memory_working_set_bytes, 800000000u);
}

TEST_F(CgroupTreeTest, RemoveTreeDeepestFirst) {
  ASSERT_TRUE(V1().RemoveTree("kelp/n1").ok());
  EXPECT_FALSE(fs::exists(tmp_.path() / "memory/job/1/kelp/n1"));
  EXPECT_TRUE(fs::exists(tmp_.path() / "memory/job/1/kelp"));
  EXPECT_FALSE(fs::exists(tmp_.path() / "cpuacct/kelp/n1"));
  EXPECT_TRUE(V1().RemoveTree("kelp/n1").ok());  // idempotent
}

// A v2 host: one cgroup2 hierarchy, this process in /system.slice/kelp.service.
class UnifiedCgroupTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    fs::create_directories(tmp_.path() / "system.slice/kelp/n1/podu/c1");
  }
  Cgroups V2() const {
    return Cgroups({{kUnifiedHierarchy, tmp_.path()}},
                   {{kUnifiedHierarchy, "/system.slice/kelp.service"}});
  }
  testing::ScopedTempDir tmp_;
};

TEST_F(UnifiedCgroupTreeTest, DiscoversV2FromMountinfo) {
  std::map<std::string, fs::path> mounts = ParseCgroupMounts(
      "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec shared:9 - cgroup2 cgroup2 "
      "rw,nsdelegate,memory_recursiveprot\n");
  EXPECT_EQ(mounts[kUnifiedHierarchy], "/sys/fs/cgroup");
  EXPECT_TRUE(Cgroups(mounts, {{kUnifiedHierarchy, "/"}}).unified_only());
  EXPECT_TRUE(V2().unified_only());
}

TEST_F(UnifiedCgroupTreeTest, ResolvesRelativeBelowTheParentOfOwnCgroup) {
  Cgroups cgroups = V2();
  // runc's fs2 driver: the own cgroup (kelp.service) holds processes, so its parent.
  EXPECT_EQ(*cgroups.Resolve("memory", "kelp/n1/podu/c1"),
            tmp_.path() / "system.slice/kelp/n1/podu/c1");
  EXPECT_EQ(*cgroups.Resolve("cpuacct", "kelp/n1"), tmp_.path() / "system.slice/kelp/n1");
  EXPECT_EQ(*cgroups.Resolve("memory", "/kelp/n1"), tmp_.path() / "kelp/n1");
  Cgroups at_root({{kUnifiedHierarchy, tmp_.path()}}, {{kUnifiedHierarchy, "/"}});
  EXPECT_EQ(*at_root.Resolve("memory", "kelp/n1"), tmp_.path() / "kelp/n1");
}

TEST_F(UnifiedCgroupTreeTest, StatsFromCpuStatAndMemoryCurrent) {
  fs::path dir = tmp_.path() / "system.slice/kelp/n1/podu/c1";
  std::ofstream(dir / "cpu.stat") << "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n";
  std::ofstream(dir / "memory.current") << "10485760\n";
  std::ofstream(dir / "memory.stat") << "anon 100\nfile 5000000\nactive_file 1\ninactive_file 4194304\n";
  std::ofstream(dir / "memory.events") << "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n";
  Result<ResourceStats> stats = V2().Stats("kelp/n1/podu/c1");
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->cpu_usage_ns, 123456000u);
  EXPECT_EQ(stats->memory_usage_bytes, 10485760u);
  EXPECT_EQ(stats->memory_working_set_bytes, 10485760u - 4194304u);
  EXPECT_EQ(*ReadOomKillCount(dir), 1u);
}

TEST_F(UnifiedCgroupTreeTest, RootStatsAreTheMachinesFromMeminfo) {
  // A v2 root has cpu.stat but no memory.current: the machine's memory comes from meminfo.
  std::ofstream(tmp_.path() / "cpu.stat") << "usage_usec 9000000\nuser_usec 6000000\n";
  std::ofstream(tmp_.path() / "memory.stat") << "anon 100\ninactive_file 7\n";
  fs::create_directories(tmp_.path() / "proc");
  std::ofstream(tmp_.path() / "proc" / "meminfo")
      << "MemTotal:        8000000 kB\nMemFree:         3000000 kB\n"
         "MemAvailable:    6000000 kB\nActive(file):     500000 kB\n"
         "Inactive(file):   1000000 kB\n";
  Cgroups cgroups({{kUnifiedHierarchy, tmp_.path()}},
                  {{kUnifiedHierarchy, "/system.slice/kelp.service"}}, tmp_.path() / "proc");
  Result<ResourceStats> stats = cgroups.Stats("/");
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->cpu_usage_ns, 9000000000u);
  EXPECT_EQ(stats->memory_usage_bytes, uint64_t{5000000} * 1024);
  EXPECT_EQ(stats->memory_working_set_bytes, uint64_t{4000000} * 1024);
  // Below the root, a cgroup without memory.current is an error, not the machine.
  EXPECT_FALSE(cgroups.Stats("kelp/n1").ok());
}

TEST_F(UnifiedCgroupTreeTest, RemoveTreeDeepestFirst) {
  ASSERT_TRUE(V2().RemoveTree("kelp/n1").ok());
  EXPECT_FALSE(fs::exists(tmp_.path() / "system.slice/kelp/n1"));
  EXPECT_TRUE(fs::exists(tmp_.path() / "system.slice/kelp"));
  EXPECT_TRUE(V2().RemoveTree("kelp/n1").ok());
}

// kthreadd (pid 2) lives in the root cgroups on v1 and v2 alike; so does a v1 zombie, and the
// root's files are the machine's, never a container's.
TEST(ProcessMemoryCgroupTest, TheRootCgroupIsNotFound) {
  ASSERT_EQ(ReadFile("/proc/2/comm").value_or(""), "kthreadd\n");
  EXPECT_EQ(ProcessMemoryCgroup(2).status().code(), StatusCode::kNotFound);
}

TEST(ShimStateTest, JsonRoundTrips) {
  ExitInfo exit{.exit_code = 137,
                .signal = 9,
                .finished_at = *ParseRfc3339("2024-05-06T07:08:09.123456789Z"),
                .oom_killed = true};
  Result<ExitInfo> parsed = ParseExitInfo(ExitInfoJson(exit));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->exit_code, 137);
  EXPECT_EQ(parsed->signal, 9);
  EXPECT_TRUE(parsed->oom_killed);
  EXPECT_EQ(parsed->finished_at, exit.finished_at);
  Result<ShimInfo> shim = ParseShimInfo(ShimInfoJson({.shim_pid = 5, .init_pid = 6}));
  ASSERT_TRUE(shim.ok());
  EXPECT_EQ(shim->init_pid, 6);
  EXPECT_FALSE(ParseRfc3339("2024-05-06 07:08:09").ok());
  EXPECT_FALSE(ParseRfc3339("2024-05-06T07:08:09+02:00").ok());
}

Result<ShimOptions> ParseBack(const std::vector<std::string>& args) {
  std::vector<std::string> copy = args;
  copy.insert(copy.begin(), "kelp-shim");
  std::vector<char*> argv;
  for (std::string& arg : copy) argv.push_back(arg.data());
  argv.push_back(nullptr);
  return ParseShimArguments(static_cast<int>(copy.size()), argv.data());
}

TEST(ShimStateTest, ArgumentsRoundTrip) {
  ShimOptions options{.runc = "/usr/sbin/runc",
                      .root = "/run/kelp/runc",
                      .id = "0123456789abcdef0123456789abcdef",
                      .bundle = "/b",
                      .log_path = "/l/0.log",
                      .state_dir = "/s"};
  for (bool tty : {false, true}) {
    for (bool start : {false, true}) {
      options.tty = tty;
      options.start = start;
      std::vector<std::string> args = ShimArguments(options);
      EXPECT_EQ(std::count(args.begin(), args.end(), "--start"), start ? 1 : 0);
      Result<ShimOptions> parsed = ParseBack(args);
      ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
      EXPECT_EQ(parsed->runc, options.runc);
      EXPECT_EQ(parsed->root, options.root);
      EXPECT_EQ(parsed->id, options.id);
      EXPECT_EQ(parsed->bundle, options.bundle);
      EXPECT_EQ(parsed->log_path, options.log_path);
      EXPECT_EQ(parsed->state_dir, options.state_dir);
      EXPECT_EQ(parsed->tty, tty);
      EXPECT_EQ(parsed->start, start);
      EXPECT_EQ(parsed->memory_cgroup, "");
    }
  }
  options.memory_cgroup = "/sys/fs/cgroup/memory/kelp/pod1/c1";
  Result<ShimOptions> parsed = ParseBack(ShimArguments(options));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->memory_cgroup, options.memory_cgroup);
}

TEST(ShimStateTest, BadArgumentsAreRefused) {
  EXPECT_FALSE(ParseBack({"--start"}).ok());  // the required flags are missing
  EXPECT_FALSE(ParseBack({"--root"}).ok());   // a flag without its value
  Result<ShimOptions> unknown = ParseBack({"--root", "r", "--id", "i", "--bundle", "b",
                                           "--log-path", "l", "--state-dir", "d", "--detach"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("--detach"), std::string::npos);
}

}  // namespace
}  // namespace kelp::agent
