// Runc over FakeProcessRunner: argv, JSON parsing and the mapping of runc's errors.
#include "agent/runtime/runc.h"

#include <csignal>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/fake_process_runner.h"

namespace kelp::agent {
namespace {

using ::testing::ElementsAre;

TEST(RuncTest, ListParsesArrayAndNull) {
  testing::FakeProcessRunner runner;
  runner.AddResult(ProcessResult{
      .exit_code = 0,
      .stdout_data = R"([{"ociVersion":"1.0.2","id":"c1","pid":42,"status":"running",)"
                     R"("bundle":"/b/c1","rootfs":"/b/c1/rootfs","created":"x","owner":""}])"});
  runner.AddResult(ProcessResult{.exit_code = 0, .stdout_data = "null\n"});
  Runc runc("/usr/sbin/runc", "/run/r", runner);
  Result<std::vector<RuncState>> list = runc.List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, "c1");
  EXPECT_EQ((*list)[0].pid, 42);
  EXPECT_EQ((*list)[0].status, "running");
  EXPECT_EQ((*list)[0].bundle, "/b/c1");
  EXPECT_THAT(runner.runs()[0].argv,
              ElementsAre("/usr/sbin/runc", "--root", "/run/r", "list", "--format", "json"));
  Result<std::vector<RuncState>> empty = runc.List();
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(RuncTest, MissingContainersAreNotFound) {
  testing::FakeProcessRunner runner;
  Runc runc("runc", "/run/r", runner);
  runner.AddResult(ProcessResult{.exit_code = 1, .stderr_data = "container does not exist\n"});
  EXPECT_EQ(runc.State("c9").status().code(), StatusCode::kNotFound);
  runner.AddResult(ProcessResult{.exit_code = 1, .stderr_data = "container not running\n"});
  EXPECT_EQ(runc.Kill("c9", SIGTERM).code(), StatusCode::kNotFound);
  EXPECT_THAT(runner.runs()[1].argv, ElementsAre("runc", "--root", "/run/r", "kill", "c9", "15"));
  runner.AddResult(ProcessResult{.exit_code = 1, .stderr_data = "container does not exist\n"});
  EXPECT_TRUE(runc.Delete("c9", true).ok());
  EXPECT_THAT(runner.runs()[2].argv,
              ElementsAre("runc", "--root", "/run/r", "delete", "--force", "c9"));
  runner.AddResult(ProcessResult{.exit_code = 1, .stderr_data = "permission denied\n"});
  EXPECT_EQ(runc.Start("c9").code(), StatusCode::kInternal);
  runner.AddResult(ProcessResult{.exit_code = -1, .timed_out = true});
  EXPECT_EQ(runc.Start("c9").code(), StatusCode::kDeadlineExceeded);
}

TEST(RuncTest, RejectsMalformedJson) {
  EXPECT_FALSE(ParseRuncList("{").ok());
  EXPECT_FALSE(ParseRuncList(R"([{"id":"x"}])").ok());
  EXPECT_FALSE(ParseRuncState("[]").ok());
}

}  // namespace
}  // namespace kelp::agent
