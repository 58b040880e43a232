// Runs the real kubectl (/usr/bin/kubectl, v1.32) against an in-process apiserver using the
// kubeconfig the server wrote: TLS verification, bearer token, /version and /healthz.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "common/file.h"
#include "apiserver/kubeconfig.h"
#include "apiserver/server.h"
#include "common/testing/temp_dir.h"

extern char** environ;

namespace kelp::apiserver {
namespace {

constexpr const char* kKubectl = "/usr/bin/kubectl";

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr interleaved
};

// Runs `argv` with exactly `env`, capturing its output, and waits for it to exit.
Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& env) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoError("pipe", errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  std::vector<char*> argv_pointers;
  for (const std::string& arg : argv) argv_pointers.push_back(const_cast<char*>(arg.c_str()));
  argv_pointers.push_back(nullptr);
  std::vector<char*> env_pointers;
  for (const std::string& var : env) env_pointers.push_back(const_cast<char*>(var.c_str()));
  env_pointers.push_back(nullptr);
  pid_t pid = -1;
  int spawn_error = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, argv_pointers.data(),
                                env_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawn_error != 0) {
    ::close(pipe_fds[0]);
    return ErrnoError("spawn " + argv[0], spawn_error);
  }
  CommandResult result;
  char chunk[4096];
  for (;;) {
    ssize_t n = ::read(pipe_fds[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(chunk, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  int wait_status = 0;
  while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
  return result;
}

class KubectlCompatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // kubectl is part of the test environment: its absence is a failure, not a skip.
    ASSERT_EQ(::access(kKubectl, X_OK), 0) << kKubectl << " is not installed";
    ServerOptions options{.data_dir = (dir_.path() / "server").string(),
                          .bind_address = "127.0.0.1",
                          .https_port = 0,
                          .write_kubeconfig = (dir_.path() / "kubeconfig").string()};
    Result<std::unique_ptr<Server>> server = Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    std::filesystem::create_directory(dir_.path() / "home");
  }

  Result<CommandResult> Kubectl(const std::filesystem::path& kubeconfig,
                                std::vector<std::string> args) {
    std::vector<std::string> argv = {kKubectl, "--kubeconfig", kubeconfig.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, {"HOME=" + (dir_.path() / "home").string(), "PATH=/usr/bin:/bin"});
  }

  kelp::testing::ScopedTempDir dir_;
  std::unique_ptr<Server> server_;
};

TEST_F(KubectlCompatTest, VersionReportsServerMinor32) {
  Result<CommandResult> result = Kubectl(server_->kubeconfig_path(), {"version", "-o", "json"});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->exit_code, 0) << result->output;
  boost::system::error_code error;
  boost::json::value version = boost::json::parse(result->output, error);
  ASSERT_FALSE(error) << result->output;
  EXPECT_EQ(version.at("serverVersion").at("minor"), "32");
  EXPECT_EQ(version.at("serverVersion").at("gitVersion"), "v1.32.0-kelp.0");
}

TEST_F(KubectlCompatTest, GetRawHealthzPrintsOk) {
  Result<CommandResult> result = Kubectl(server_->kubeconfig_path(), {"get", "--raw", "/healthz"});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->exit_code, 0) << result->output;
  EXPECT_EQ(result->output, "ok");
}

TEST_F(KubectlCompatTest, WrongTokenFailsWithUnauthorized) {
  KubeconfigParams params{
      .server_host = "127.0.0.1",
      .server_port = server_->port(),
      .ca_cert_pem = ReadFile(dir_.path() / "server" / "tls" / "ca.crt").value_or(""),
      .token = "not-the-cluster-token"};
  const std::filesystem::path wrong = dir_.path() / "wrong-kubeconfig";
  ASSERT_TRUE(WriteKubeconfig(wrong, params).ok());
  Result<CommandResult> result = Kubectl(wrong, {"get", "--raw", "/healthz"});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_NE(result->exit_code, 0);
  EXPECT_NE(result->output.find("Unauthorized"), std::string::npos) << result->output;
}

}  // namespace
}  // namespace kelp::apiserver
