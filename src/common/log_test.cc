// Tests for log level parsing and that Init routes the default logger to the given sink
// with the chosen level and pattern.
#include "common/log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <sstream>

namespace kelp::log {
namespace {

TEST(ParseLevelTest, AcceptsKnownNames) {
  EXPECT_EQ(ParseLevel("debug").value_or(spdlog::level::off), spdlog::level::debug);
  EXPECT_EQ(ParseLevel("info").value_or(spdlog::level::off), spdlog::level::info);
  EXPECT_EQ(ParseLevel("warn").value_or(spdlog::level::off), spdlog::level::warn);
  EXPECT_EQ(ParseLevel("warning").value_or(spdlog::level::off), spdlog::level::warn);
  EXPECT_EQ(ParseLevel("error").value_or(spdlog::level::off), spdlog::level::err);
  EXPECT_EQ(ParseLevel("off").value_or(spdlog::level::info), spdlog::level::off);
}

TEST(ParseLevelTest, RejectsUnknownNameWithClearError) {
  Result<spdlog::level::level_enum> level = ParseLevel("verbose");
  ASSERT_FALSE(level.ok());
  EXPECT_EQ(level.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(level.status().message().find("\"verbose\""), std::string::npos);
  EXPECT_FALSE(ParseLevel("").ok());
}

// Restores spdlog's default logger so other tests keep logging to stderr.
class LogInitTest : public ::testing::Test {
 protected:
  void TearDown() override { Init(LogOptions{}); }

  std::ostringstream output_;
  spdlog::sink_ptr sink_ = std::make_shared<spdlog::sinks::ostream_sink_st>(output_);
};

TEST_F(LogInitTest, DefaultLoggerWritesToSinkAtOrAboveLevel) {
  Init(LogOptions{.level = spdlog::level::info, .pattern = "%l %v", .sink = sink_});
  spdlog::debug("hidden {}", 1);
  spdlog::info("pod {}/{} synced", "default", "web-0");
  spdlog::error("failed: {}", "boom");
  spdlog::default_logger()->flush();
  EXPECT_EQ(output_.str(), "info pod default/web-0 synced\nerror failed: boom\n");
}

TEST_F(LogInitTest, DefaultPatternShowsComponent) {
  Init(LogOptions{.level = spdlog::level::debug, .component = "agent", .sink = sink_});
  spdlog::debug("hello");
  spdlog::default_logger()->flush();
  EXPECT_NE(output_.str().find(" D [agent] hello\n"), std::string::npos) << output_.str();
}

}  // namespace
}  // namespace kelp::log
