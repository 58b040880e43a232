// End to end: the real `kelp server` binary as a process, driven by the real kubectl. Checks
// what a user relies on: it becomes ready quickly, kubectl works with the kubeconfig it wrote,
// SIGTERM stops it cleanly, and a restart keeps its CA and token (old kubeconfigs still work).
#include <signal.h>

#include <chrono>
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "common/file.h"
#include "common/process.h"
#include "common/testing/temp_dir.h"

namespace kelp {
namespace {

using namespace std::chrono_literals;

constexpr char kKubectl[] = "/usr/bin/kubectl";

class ServerProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    ASSERT_TRUE(CreateDirectories(dir_.path() / "home", 0700).ok());
  }

  std::string Kubeconfig() const { return (dir_.path() / "data" / "kubeconfig.yaml").string(); }

  // Starts `kelp server` on a free loopback port and waits (bounded) until the kubeconfig it
  // writes once serving has appeared.
  std::unique_ptr<ChildProcess> StartServer() {
    std::filesystem::remove(Kubeconfig());
    Result<std::unique_ptr<ChildProcess>> child = runner_.Start(
        {.argv = {KELP_BINARY, "server", "--data-dir", (dir_.path() / "data").string(),
                  "--bind-address", "127.0.0.1", "--https-listen-port", "0"}});
    EXPECT_TRUE(child.ok()) << child.status().ToString();
    if (!child.ok()) return nullptr;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!std::filesystem::exists(Kubeconfig()) && std::chrono::steady_clock::now() < deadline) {
      if ((*child)->Wait(20ms).ok()) {
        ADD_FAILURE() << "kelp server exited during start-up";
        return nullptr;
      }
    }
    EXPECT_TRUE(std::filesystem::exists(Kubeconfig())) << "no kubeconfig after 20 s";
    return std::move(child).value();
  }

  ProcessResult Kubectl(std::vector<std::string> args) {
    std::vector<std::string> argv = {kKubectl, "--kubeconfig", Kubeconfig()};
    argv.insert(argv.end(), args.begin(), args.end());
    Result<ProcessResult> result =
        runner_.Run({.argv = argv,
                     .env = std::vector<std::string>{"HOME=" + (dir_.path() / "home").string(),
                                                     "PATH=/usr/bin:/bin"},
                     .timeout = 60s});
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? *result : ProcessResult{};
  }

  kelp::testing::ScopedTempDir dir_;
  SubprocessRunner runner_;
};

TEST_F(ServerProcessTest, KubectlTalksToTheServerAndSigtermStopsIt) {
  std::unique_ptr<ChildProcess> server = StartServer();
  ASSERT_NE(server, nullptr);

  ProcessResult version = Kubectl({"version", "-o", "json"});
  ASSERT_EQ(version.exit_code, 0) << version.stderr_data;
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(version.stdout_data, ec);
  ASSERT_FALSE(ec) << version.stdout_data;
  EXPECT_EQ(parsed.at("serverVersion").at("minor").as_string(), "32");

  ProcessResult ready = Kubectl({"get", "--raw", "/readyz"});
  EXPECT_EQ(ready.exit_code, 0) << ready.stderr_data;
  EXPECT_EQ(ready.stdout_data, "ok");

  ProcessResult refused = Kubectl({"--token", "wrong", "get", "--raw", "/version"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.stderr_data.find("Unauthorized"), std::string::npos) << refused.stderr_data;

  ASSERT_TRUE(server->Signal(SIGTERM).ok());
  Result<ProcessExit> exit = server->Wait(10s);
  ASSERT_TRUE(exit.ok()) << "kelp server did not stop within 10 s of SIGTERM";
  EXPECT_EQ(exit->term_signal, 0);
  EXPECT_EQ(exit->exit_code, 0);
}

TEST_F(ServerProcessTest, RestartKeepsCaAndToken) {
  std::string first_kubeconfig;
  {
    std::unique_ptr<ChildProcess> server = StartServer();
    ASSERT_NE(server, nullptr);
    first_kubeconfig = ReadFile(Kubeconfig()).value_or("");
    ASSERT_TRUE(server->Terminate(10s).ok());
  }
  std::unique_ptr<ChildProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  std::string second_kubeconfig = ReadFile(Kubeconfig()).value_or("");
  // Same CA data and token; only the port (a new free one) may differ.
  auto without_server_line = [](std::string text) {
    size_t at = text.find("server: ");
    if (at != std::string::npos) text.erase(at, text.find('\n', at) - at);
    return text;
  };
  EXPECT_EQ(without_server_line(first_kubeconfig), without_server_line(second_kubeconfig));
  ProcessResult ready = Kubectl({"get", "--raw", "/readyz"});
  EXPECT_EQ(ready.exit_code, 0) << ready.stderr_data;
  ASSERT_TRUE(server->Terminate(10s).ok());
}

TEST_F(ServerProcessTest, UnusableDataDirFailsWithAClearError) {
  ASSERT_TRUE(WriteFileAtomic(dir_.path() / "file", "not a directory").ok());
  Result<ProcessResult> result =
      runner_.Run({.argv = {KELP_BINARY, "server", "--data-dir", (dir_.path() / "file").string(),
                            "--https-listen-port", "0"},
                   .timeout = 20s});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->exit_code, 1);
  EXPECT_NE(result->stderr_data.find("not a directory"), std::string::npos)
      << result->stderr_data;
}

}  // namespace
}  // namespace kelp
