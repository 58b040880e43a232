// Lab node plumbing against the real kernel (root): a persistent mount namespace whose bind
// mounts only its processes see, a detached daemon started inside a network + mount
// namespace that keeps running, found by its namespaces and stopped; cgroup subtrees killed
// and removed. Everything made is removed, also when a check fails.
#include "lab/node_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "common/file.h"
#include "common/testing/temp_dir.h"
#include "net/netns.h"

namespace kelp::lab {
namespace {

using namespace std::chrono_literals;

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

bool Alive(pid_t pid) {
  Result<std::string> stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return false;
  size_t paren = stat->rfind(')');
  return paren != std::string::npos && (*stat)[paren + 2] != 'Z';
}

class NodeProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "needs root";
    ns_dir_ = dir_.path() / "ns";
    ASSERT_TRUE(MakePrivateMountPoint(ns_dir_).ok());
  }
  void TearDown() override {
    if (pid_ > 0) StopProcesses({pid_}, 1s);
    (void)DeleteMountNamespace(ns_dir_ / "node.mnt");
    umount2(ns_dir_.c_str(), MNT_DETACH);
  }

  testing::ScopedTempDir dir_;
  std::filesystem::path ns_dir_;
  pid_t pid_ = -1;
};

TEST_F(NodeProcessTest, ADetachedDaemonRunsInTheNodesNamespacesAndIsFoundAndStopped) {
  // The node's own /var/lib/kelp: a directory of the test, seen at a path of the test too
  // (the target must exist on the host; a temp dir keeps the host untouched).
  const std::filesystem::path own = dir_.path() / "own";
  const std::filesystem::path target = dir_.path() / "standard";
  ASSERT_TRUE(CreateDirectories(own, 0755).ok());
  ASSERT_TRUE(WriteFileAtomic(own / "marker", "node-only\n", 0644).ok());
  const std::filesystem::path mnt = ns_dir_ / "node.mnt";
  ASSERT_TRUE(CreateMountNamespace(mnt, {{target.string(), own.string()}}).ok());
  EXPECT_FALSE(std::filesystem::exists(target / "marker")) << "the host does not see it";

  auto netns = net::NamedNetns::Create("klabt" + std::to_string(getpid()));
  ASSERT_TRUE(netns.ok()) << netns.status().ToString();
  const std::filesystem::path out = dir_.path() / "out.log";
  // The daemon reports what it sees, then stays until it is stopped.
  Result<pid_t> pid = StartDetached(
      {.argv = {"/bin/sh", "-c",
                "cat " + (target / "marker").string() + "; ip -o link show | wc -l; exec sleep 600"},
       .netns_path = (*netns)->path().string(),
       .mount_ns = mnt.string(),
       .log_file = out});
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  pid_ = *pid;
  ASSERT_TRUE(WaitFor([&] { return ReadFile(out).value_or("").find('\n', 10) != std::string::npos; },
                      10s))
      << ReadFile(out).value_or("");
  const std::string seen = ReadFile(out).value_or("");
  EXPECT_NE(seen.find("node-only"), std::string::npos) << seen;
  EXPECT_NE(seen.find("\n1\n"), std::string::npos) << "only lo in a fresh netns: " << seen;
  EXPECT_NE(getpgid(pid_), getpgid(0)) << "a session of its own";

  Result<ino_t> inode = NamespaceInode((*netns)->path());
  ASSERT_TRUE(inode.ok());
  std::vector<pid_t> found = ProcessesInNamespaces({*inode});
  EXPECT_NE(std::find(found.begin(), found.end(), pid_), found.end());
  StopProcesses(found, 5s);
  EXPECT_FALSE(Alive(pid_));
  pid_ = -1;
  EXPECT_TRUE(DeleteMountNamespace(mnt).ok());
  EXPECT_FALSE(std::filesystem::exists(mnt));
}

TEST_F(NodeProcessTest, AProgramThatCannotStartIsAnError) {
  Result<pid_t> pid = StartDetached({.argv = {"/nonexistent/kelp"}, .log_file = dir_.path() / "x"});
  EXPECT_FALSE(pid.ok());
  EXPECT_NE(pid.status().message().find("/nonexistent/kelp"), std::string::npos);
}

TEST_F(NodeProcessTest, CgroupSubtreesAreKilledAndRemoved) {
  // A v1 hierarchy where there is one (this machine's layout), else the unified one.
  std::filesystem::path hierarchy = "/sys/fs/cgroup";
  for (const char* v1 : {"/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory"}) {
    if (std::filesystem::exists(v1)) {
      hierarchy = v1;
      break;
    }
  }
  const std::string top = "kelp-lab-test-" + std::to_string(getpid());
  const std::filesystem::path cgroup = hierarchy / top / "pod1";
  ASSERT_TRUE(CreateDirectories(cgroup, 0755).ok());
  Result<pid_t> pid = StartDetached({.argv = {"/bin/sleep", "600"}, .log_file = dir_.path() / "s"});
  ASSERT_TRUE(pid.ok());
  pid_ = *pid;
  {
    std::ofstream procs(cgroup / "cgroup.procs");
    procs << pid_;
  }
  // The same name below another cgroup, as when the agent ran in a session's own cgroup
  // (runc puts a relative cgroupsPath below the agent's cgroup).
  const std::filesystem::path session = hierarchy / ("kelp-session-test-" + std::to_string(getpid()));
  ASSERT_TRUE(CreateDirectories(session / top / "pod2", 0755).ok());
  std::vector<std::filesystem::path> found = FindCgroupSubtrees(top);
  EXPECT_NE(std::find(found.begin(), found.end(), hierarchy / top), found.end());
  EXPECT_NE(std::find(found.begin(), found.end(), session / top), found.end());

  EXPECT_TRUE(RemoveCgroupSubtree(top).ok());
  EXPECT_TRUE(WaitFor([&] { return !Alive(pid_); }, 5s));
  EXPECT_FALSE(std::filesystem::exists(hierarchy / top));
  EXPECT_FALSE(std::filesystem::exists(session / top));
  EXPECT_TRUE(FindCgroupSubtrees(top).empty());
  ::rmdir(session.c_str());
  pid_ = -1;
}

}  // namespace
}  // namespace kelp::lab
