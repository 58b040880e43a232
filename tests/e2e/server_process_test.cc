// End to end: the real `kelp server` binary as a process, driven by the real kubectl. Checks
// what a user relies on: it becomes ready quickly, kubectl works with the kubeconfig it wrote,
// SIGTERM stops it cleanly, and a restart keeps its CA and token (old kubeconfigs still work).
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "common/file.h"
#include "common/testing/temp_dir.h"
#include "tests/e2e/harness.h"

namespace kelp::e2e {
namespace {

class ServerProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    ASSERT_TRUE(CreateDirectories(dir_.path() / "home", 0700).ok());
  }

  kelp::testing::ScopedTempDir dir_;
  SubprocessRunner runner_;
  ServerProcess server_{runner_, dir_.path()};
  Kubectl kubectl_{runner_, dir_.path() / "home", server_.kubeconfig()};
};

TEST_F(ServerProcessTest, KubectlTalksToTheServerAndSigtermStopsIt) {
  ASSERT_TRUE(server_.Start().ok());

  ProcessResult version = kubectl_.Run({"version", "-o", "json"});
  ASSERT_EQ(version.exit_code, 0) << version.stderr_data;
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(version.stdout_data, ec);
  ASSERT_FALSE(ec) << version.stdout_data;
  EXPECT_EQ(parsed.at("serverVersion").at("minor").as_string(), "32");

  ProcessResult ready = kubectl_.Run({"get", "--raw", "/readyz"});
  EXPECT_EQ(ready.exit_code, 0) << ready.stderr_data;
  EXPECT_EQ(ready.stdout_data, "ok");

  ProcessResult refused = kubectl_.Run({"--token", "wrong", "get", "--raw", "/version"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.stderr_data.find("Unauthorized"), std::string::npos) << refused.stderr_data;

  Result<ProcessExit> exit = server_.Stop();
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->term_signal, 0) << "kelp server needed SIGKILL";
  EXPECT_EQ(exit->exit_code, 0);
}

TEST_F(ServerProcessTest, RestartKeepsCaAndToken) {
  ASSERT_TRUE(server_.Start().ok());
  std::string first_kubeconfig = ReadFile(server_.kubeconfig()).value_or("");
  ASSERT_TRUE(server_.Stop().ok());
  ASSERT_TRUE(server_.Start().ok());
  std::string second_kubeconfig = ReadFile(server_.kubeconfig()).value_or("");
  // Same CA data and token; only the port (a new free one) may differ.
  auto without_server_line = [](std::string text) {
    size_t at = text.find("server: ");
    if (at != std::string::npos) text.erase(at, text.find('\n', at) - at);
    return text;
  };
  EXPECT_EQ(without_server_line(first_kubeconfig), without_server_line(second_kubeconfig));
  ProcessResult ready = kubectl_.Run({"get", "--raw", "/readyz"});
  EXPECT_EQ(ready.exit_code, 0) << ready.stderr_data;
}

TEST_F(ServerProcessTest, UnusableDataDirFailsWithAClearError) {
  ASSERT_TRUE(WriteFileAtomic(dir_.path() / "file", "not a directory").ok());
  Result<ProcessResult> result =
      runner_.Run({.argv = {KELP_BINARY, "server", "--data-dir", (dir_.path() / "file").string(),
                            "--https-listen-port", "0"},
                   .timeout = std::chrono::seconds(20)});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->exit_code, 1);
  EXPECT_NE(result->stderr_data.find("not a directory"), std::string::npos)
      << result->stderr_data;
}

}  // namespace
}  // namespace kelp::e2e
