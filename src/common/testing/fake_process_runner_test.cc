// Tests for FakeProcessRunner: recording, scripted results before the handler, and fake
// children that end on their first signal.
#include "common/testing/fake_process_runner.h"

#include <gtest/gtest.h>

#include <csignal>

namespace kelp::testing {
namespace {

using namespace std::chrono_literals;

TEST(FakeProcessRunnerTest, ScriptedResultsComeFirstThenHandler) {
  FakeProcessRunner runner;
  runner.AddResult(ProcessResult{.exit_code = 0, .stdout_data = "first"});
  runner.AddResult(NotFoundError("exec bridge: No such file or directory"));
  runner.SetHandler([](const ProcessRequest& request) -> Result<ProcessResult> {
    return ProcessResult{.exit_code = 1, .stdout_data = request.stdin_data};
  });

  EXPECT_EQ(runner.Run({.argv = {"runc", "state", "pod1"}})->stdout_data, "first");
  EXPECT_EQ(runner.Run({.argv = {"bridge"}}).status().code(), StatusCode::kNotFound);
  Result<ProcessResult> echoed = runner.Run({.argv = {"bridge"}, .stdin_data = "{}"});
  ASSERT_TRUE(echoed.ok());
  EXPECT_EQ(echoed->stdout_data, "{}");
  EXPECT_EQ(echoed->exit_code, 1);

  std::vector<ProcessRequest> runs = runner.runs();
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].argv, (std::vector<std::string>{"runc", "state", "pod1"}));
  EXPECT_EQ(runs[2].stdin_data, "{}");
}

TEST(FakeProcessRunnerTest, UnscriptedRunIsAnErrorNamingTheCommand) {
  FakeProcessRunner runner;
  Result<ProcessResult> result = runner.Run({.argv = {"runc", "delete", "x"}});
  EXPECT_EQ(result.status(),
            InternalError("FakeProcessRunner: no result scripted for runc delete x"));
}

TEST(FakeProcessRunnerTest, StartedChildEndsOnFirstSignalAndIsLogged) {
  FakeProcessRunner runner;
  Result<std::unique_ptr<ChildProcess>> child = runner.Start({.argv = {"kelp", "agent"}});
  ASSERT_TRUE(child.ok());
  EXPECT_EQ((*child)->pid(), FakeProcessRunner::kFirstFakePid);
  EXPECT_EQ((*child)->Wait(10ms).status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ((*child)->Wait(std::nullopt).status().code(), StatusCode::kInternal);

  Result<ProcessExit> exit = (*child)->Terminate(1s);
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->term_signal, SIGTERM);
  EXPECT_EQ(
      runner.signals(),
      (std::vector<FakeProcessRunner::SentSignal>{{FakeProcessRunner::kFirstFakePid, SIGTERM}}));
  ASSERT_EQ(runner.starts().size(), 1u);
  EXPECT_EQ(runner.starts()[0].argv[1], "agent");
}

}  // namespace
}  // namespace kelp::testing
