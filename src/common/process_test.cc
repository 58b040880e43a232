// Tests for SubprocessRunner against real /bin/sh, /bin/cat and /bin/echo: output capture,
// large stdin, exit codes, signals, timeouts, exec errors, environment and started children.
#include "common/process.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>

#include "common/file.h"
#include "common/testing/temp_dir.h"

namespace kelp {
namespace {

using namespace std::chrono_literals;

ProcessRequest Shell(std::string script) {
  return ProcessRequest{.argv = {"/bin/sh", "-c", script}};
}

// True once every child of this test process has been reaped.
bool NoChildrenLeft() { return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD; }

class SubprocessRunnerTest : public ::testing::Test {
 protected:
  ProcessResult RunOk(const ProcessRequest& request) {
    Result<ProcessResult> result = runner_.Run(request);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.value_or(ProcessResult{});
  }

  SubprocessRunner runner_{100ms};
};

TEST_F(SubprocessRunnerTest, CapturesStdout) {
  ProcessResult result = RunOk({.argv = {"/bin/echo", "hello", "world"}});
  EXPECT_EQ(result.stdout_data, "hello world\n");
  EXPECT_EQ(result.stderr_data, "");
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.term_signal, 0);
  EXPECT_FALSE(result.timed_out);
  EXPECT_TRUE(NoChildrenLeft());
}

TEST_F(SubprocessRunnerTest, CapturesStderrAndExitCodeSeparately) {
  ProcessResult result = RunOk(Shell("echo out; echo err >&2; exit 3"));
  EXPECT_EQ(result.stdout_data, "out\n");
  EXPECT_EQ(result.stderr_data, "err\n");
  EXPECT_EQ(result.exit_code, 3);
}

TEST_F(SubprocessRunnerTest, PipesLargeStdinThroughCat) {
  std::string input;
  for (int i = 0; input.size() < 3 * 1024 * 1024; ++i) input += std::to_string(i) + '\n';
  ProcessResult result = RunOk({.argv = {"/bin/cat"}, .stdin_data = input});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.stdout_data.size(), input.size());
  EXPECT_TRUE(result.stdout_data == input);
}

TEST_F(SubprocessRunnerTest, ReadsLargeStdoutAndStderrConcurrently) {
  ProcessResult result = RunOk(
      Shell("head -c 2000000 /dev/zero >&2; head -c 3000000 /dev/zero; head -c 10 /dev/zero >&2"));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.stdout_data.size(), 3000000u);
  EXPECT_EQ(result.stderr_data.size(), 2000010u);
}

TEST_F(SubprocessRunnerTest, ChildThatIgnoresStdinDoesNotHurtKelp) {
  ProcessResult result =
      RunOk({.argv = {"/bin/sh", "-c", "exit 0"}, .stdin_data = std::string(4 * 1024 * 1024, 'x')});
  EXPECT_EQ(result.exit_code, 0);
}

TEST_F(SubprocessRunnerTest, StdinIsDevNullWithoutData) {
  ProcessResult result = RunOk({.argv = {"/bin/cat"}});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.stdout_data, "");
}

TEST_F(SubprocessRunnerTest, ReportsTerminatingSignal) {
  ProcessResult result = RunOk(Shell("kill -USR1 $$"));
  EXPECT_EQ(result.term_signal, SIGUSR1);
  EXPECT_FALSE(result.timed_out);
}

TEST_F(SubprocessRunnerTest, TimeoutSendsSigterm) {
  ProcessResult result = RunOk({.argv = {"/bin/sleep", "60"}, .timeout = 50ms});
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.term_signal, SIGTERM);
  EXPECT_TRUE(NoChildrenLeft());
}

TEST_F(SubprocessRunnerTest, TimeoutEscalatesToSigkillWhenTermIsIgnored) {
  // The shell and its sleep ignore SIGTERM. The timeout only has to outlast the shell's start
  // up to its first command (about a millisecond), so that the trap is in place when SIGTERM
  // arrives; 2 s leaves room for a loaded CI machine.
  ProcessResult result =
      RunOk({.argv = {"/bin/sh", "-c", "trap '' TERM; echo ready; sleep 60"}, .timeout = 2s});
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.term_signal, SIGKILL);
  EXPECT_EQ(result.stdout_data, "ready\n");
  EXPECT_TRUE(NoChildrenLeft());
}

TEST_F(SubprocessRunnerTest, ReturnsWhenChildExitsEvenIfDescendantHoldsStdout) {
  ProcessResult result = RunOk(Shell("sleep 60 & echo $!"));
  EXPECT_EQ(result.exit_code, 0);
  pid_t descendant = std::atoi(result.stdout_data.c_str());
  ASSERT_GT(descendant, 0);
  EXPECT_EQ(::kill(descendant, SIGKILL), 0);
}

TEST_F(SubprocessRunnerTest, MissingBinaryIsNotFound) {
  Result<ProcessResult> result = runner_.Run({.argv = {"/nonexistent/kelp-plugin"}});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status(),
            NotFoundError("exec /nonexistent/kelp-plugin: No such file or directory"));

  result = runner_.Run({.argv = {"kelp-no-such-program-in-path"}});
  EXPECT_EQ(result.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(NoChildrenLeft());
}

TEST_F(SubprocessRunnerTest, NonExecutableFileIsPermissionDenied) {
  testing::ScopedTempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string plugin = (dir.path() / "plugin").string();
  ASSERT_TRUE(WriteFileAtomic(plugin, "#!/bin/sh\n", 0644).ok());
  Result<ProcessResult> result = runner_.Run({.argv = {plugin}});
  EXPECT_EQ(result.status().code(), StatusCode::kPermissionDenied) << result.status().ToString();
}

TEST_F(SubprocessRunnerTest, EmptyArgvIsInvalid) {
  EXPECT_EQ(runner_.Run({}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SubprocessRunnerTest, PassesExactEnvironment) {
  ProcessResult result = RunOk({.argv = {"/bin/sh", "-c", "echo \"$CNI_COMMAND ${HOME:-unset}\""},
                                .env = std::vector<std::string>{"CNI_COMMAND=ADD"}});
  EXPECT_EQ(result.stdout_data, "ADD unset\n");
}

TEST_F(SubprocessRunnerTest, InheritsEnvironmentByDefault) {
  const char* path = std::getenv("PATH");
  ASSERT_NE(path, nullptr);
  ProcessResult result = RunOk(Shell("echo \"$PATH\""));
  EXPECT_EQ(result.stdout_data, std::string(path) + "\n");
}

TEST_F(SubprocessRunnerTest, RunsInWorkingDirectory) {
  testing::ScopedTempDir dir;
  ASSERT_FALSE(dir.path().empty());
  ProcessResult result = RunOk({.argv = {"/bin/pwd"}, .working_dir = dir.path().string()});
  std::error_code ec;
  EXPECT_EQ(result.stdout_data, std::filesystem::canonical(dir.path(), ec).string() + "\n");

  Result<ProcessResult> missing =
      runner_.Run({.argv = {"/bin/pwd"}, .working_dir = (dir.path() / "gone").string()});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("working directory"), std::string::npos);
}

TEST_F(SubprocessRunnerTest, StartedChildReportsExit) {
  Result<std::unique_ptr<ChildProcess>> child = runner_.Start(Shell("exit 7"));
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  Result<ProcessExit> exit = (*child)->Wait(std::nullopt);
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->exit_code, 7);
  EXPECT_EQ((*child)->Wait(0ms).value_or(ProcessExit{}).exit_code, 7);
}

TEST_F(SubprocessRunnerTest, StartedChildAppendsItsOutputToTheOutputFile) {
  testing::ScopedTempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string log = (dir.path() / "child.log").string();
  ASSERT_TRUE(WriteFileAtomic(log, "earlier\n").ok());
  ProcessRequest request = Shell("echo out; echo err >&2");
  request.output_file = log;
  Result<std::unique_ptr<ChildProcess>> child = runner_.Start(request);
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  ASSERT_TRUE((*child)->Wait(std::nullopt).ok());
  EXPECT_EQ(ReadFile(log).value_or(""), "earlier\nout\nerr\n");

  request.output_file = (dir.path() / "missing-dir" / "x.log").string();
  EXPECT_EQ(runner_.Start(request).status().code(), StatusCode::kNotFound);
}

TEST_F(SubprocessRunnerTest, StartedChildRunsUntilTerminated) {
  Result<std::unique_ptr<ChildProcess>> child = runner_.Start({.argv = {"/bin/sleep", "60"}});
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  EXPECT_EQ((*child)->Wait(0ms).status().code(), StatusCode::kDeadlineExceeded);
  Result<ProcessExit> exit = (*child)->Terminate(5s);
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->term_signal, SIGTERM);
  EXPECT_TRUE((*child)->Signal(SIGTERM).ok());
  EXPECT_TRUE(NoChildrenLeft());
}

TEST_F(SubprocessRunnerTest, TerminateEscalatesToSigkill) {
  testing::ScopedTempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string ready_fifo = (dir.path() / "ready").string();
  ASSERT_EQ(::mkfifo(ready_fifo.c_str(), 0600), 0);
  Result<std::unique_ptr<ChildProcess>> child =
      runner_.Start(Shell("trap '' TERM; echo ready > " + ready_fifo + "; sleep 60"));
  ASSERT_TRUE(child.ok());
  // Opening the FIFO blocks until the shell opens it, i.e. until its trap is in place.
  Result<std::string> ready = ReadFile(ready_fifo);
  ASSERT_EQ(ready.value_or(""), "ready\n");
  EXPECT_EQ((*child)->Terminate(50ms).value_or(ProcessExit{}).term_signal, SIGKILL);
  EXPECT_TRUE(NoChildrenLeft());
}

TEST_F(SubprocessRunnerTest, DestroyingStartedChildKillsAndReapsIt) {
  Result<std::unique_ptr<ChildProcess>> child = runner_.Start({.argv = {"/bin/sleep", "60"}});
  ASSERT_TRUE(child.ok());
  child->reset();
  EXPECT_TRUE(NoChildrenLeft());
}

TEST_F(SubprocessRunnerTest, StartRejectsRunOnlyFields) {
  EXPECT_EQ(runner_.Start({.argv = {"/bin/cat"}, .stdin_data = "x"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(runner_.Start({.argv = {"/bin/cat"}, .timeout = 1s}).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kelp
