// End to end: `kelp lab` with hollow agents (no containers) — up makes the namespaces, the
// LAN and the host's door to it, starts the server and agents inside their nodes, and returns
// with every node Ready; the host's kubectl drives the cluster at the master's address;
// status, exec and logs work; down removes every namespace, link, mount, process and file,
// also after daemons were killed and for a half-made lab. Each test has its own prefix,
// subnet and directory, and runs `down` at the end whatever happened.
#include <signal.h>
#include <unistd.h>

#include <regex>

#include <gtest/gtest.h>

#include "common/file.h"
#include "tests/e2e/lab_fixture.h"

namespace kelp::e2e {
namespace {

using namespace std::chrono_literals;

class LabHollowTest : public LabFixture {
 protected:
  LabHollowTest() : LabFixture("kl", 213) {}
  ProcessResult Up() { return Lab({"up", "--hollow", "--subnet", subnet_base_ + "0/24"}); }
};

TEST_F(LabHollowTest, UpDrivesAClusterAndDownLeavesNothing) {
  ProcessResult up = Up();
  ASSERT_EQ(up.exit_code, 0) << up.stdout_data << up.stderr_data;
  EXPECT_NE(up.stdout_data.find("The lab is up (3 nodes"), std::string::npos) << up.stdout_data;
  EXPECT_NE(up.stdout_data.find("export KUBECONFIG=" + lab_dir_ + "/kubeconfig.yaml"),
            std::string::npos);

  const std::string nodes = KubeOk({"get", "nodes", "-o", "wide"});
  for (const char* node : {"master", "node01", "node02"}) {
    EXPECT_TRUE(std::regex_search(nodes, std::regex(std::string(node) + " +Ready")))
        << nodes;
  }
  EXPECT_NE(nodes.find(subnet_base_ + "20"), std::string::npos) << nodes;

  KubeOk({"create", "deployment", "nginx", "--image=nginx:1.22", "--replicas=3"});
  std::string pods;
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (true) {
    pods = KubeOk({"get", "pods", "-o", "wide"});
    if (std::regex_search(pods, std::regex("(Running[^\n]*\n?[^\n]*){3}"))) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "3 Running pods:\n" << pods;
    std::this_thread::sleep_for(100ms);  // poll interval of the bounded wait
  }
  for (const char* node : {"master", "node01", "node02"}) {
    EXPECT_NE(pods.find(node), std::string::npos) << "spread over the nodes:\n" << pods;
  }

  ProcessResult status = Lab({"status"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_TRUE(std::regex_search(status.stdout_data, std::regex("master +" + subnet_base_ +
                                                               "10 .*kelp server")))
      << status.stdout_data;
  ProcessResult exec = Lab({"exec", "node01", "--", "ip", "-o", "-4", "addr", "show", "eth0"});
  EXPECT_EQ(exec.exit_code, 0) << exec.stderr_data;
  EXPECT_NE(exec.stdout_data.find(subnet_base_ + "20/24"), std::string::npos) << exec.stdout_data;
  ProcessResult private_files = Lab({"exec", "master", "--", "ls", "/var/lib/kelp/server"});
  EXPECT_NE(private_files.stdout_data.find("agent-token"), std::string::npos)
      << "the master sees its own /var/lib/kelp";
  ProcessResult logs = Lab({"logs", "node01"});
  EXPECT_NE(logs.stdout_data.find("registered"), std::string::npos) << logs.stdout_data;

  ProcessResult down = Lab({"down"});
  EXPECT_EQ(down.exit_code, 0) << down.stdout_data << down.stderr_data;
  EXPECT_EQ(Leftovers(), "");
  EXPECT_EQ(Lab({"down"}).exit_code, 0) << "down is safe to repeat";
}

TEST_F(LabHollowTest, DownCleansUpAfterCrashedDaemonsAndAHalfMadeLab) {
  ASSERT_EQ(Up().exit_code, 0);
  ProcessResult again = Up();
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.stderr_data.find("already up"), std::string::npos) << again.stderr_data;
  // The server dies hard; its agents keep running.
  ProcessResult status = Lab({"status"});
  std::smatch match;
  ASSERT_TRUE(std::regex_search(status.stdout_data, match, std::regex("kelp server\\(([0-9]+)\\)")))
      << status.stdout_data;
  ASSERT_EQ(kill(std::stoi(match[1]), SIGKILL), 0);
  EXPECT_EQ(Lab({"down"}).exit_code, 0);
  EXPECT_EQ(Leftovers(), "");

  // A lab whose `up` died after making one node namespace and nothing else.
  ASSERT_TRUE(CreateDirectories(lab_dir_, 0700).ok());
  ASSERT_TRUE(runner_.Run({.argv = {"ip", "netns", "add", prefix_ + "-node01"}}).ok());
  EXPECT_EQ(Lab({"down"}).exit_code, 0);
  EXPECT_EQ(Leftovers(), "");
}

TEST_F(LabHollowTest, ASubnetInUseIsRefusedWithAClearError) {
  ASSERT_EQ(Up().exit_code, 0);
  // A second lab (own prefix and directory) on the LAN the first one already routes.
  const std::string other_dir = (dir_.path() / "other").string();
  Result<ProcessResult> up = runner_.Run(
      {.argv = {KELP_BINARY, "lab", "up", "--hollow", "--prefix", prefix_ + "b", "--dir", other_dir,
                "--subnet", subnet_base_ + "0/24"},
       .timeout = 60s});
  ASSERT_TRUE(up.ok());
  (void)runner_.Run({.argv = {KELP_BINARY, "lab", "down", "--prefix", prefix_ + "b", "--dir",
                              other_dir}});
  EXPECT_NE(up->exit_code, 0);
  EXPECT_NE(up->stderr_data.find("already in use on this machine (route " + subnet_base_ +
                                 "0/24 dev " + prefix_ + "-lab0)"),
            std::string::npos)
      << up->stderr_data;
  EXPECT_NE(up->stderr_data.find("--subnet"), std::string::npos) << up->stderr_data;
}

}  // namespace
}  // namespace kelp::e2e
