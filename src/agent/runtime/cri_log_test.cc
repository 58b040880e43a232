// CRI log lines: writer output (F/P split, flush), parser, and reads with tail, timestamps,
// stream filter, byte limit and follow until the container stops.
#include "agent/runtime/cri_log.h"

#include <atomic>
#include <fstream>
#include <iterator>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <thread>

#include "common/testing/temp_dir.h"

namespace kelp::agent {
namespace {

using std::chrono::system_clock;

system_clock::time_point At(int64_t ns) {
  return system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(
      std::chrono::nanoseconds(1704067200'000000000LL + ns)));
}

std::string ReadAll(const std::filesystem::path& path, LogReadOptions options = {}) {
  std::string out;
  Status status = ReadCriLog(path, options, [&](std::string_view chunk) {
    out.append(chunk);
    return true;
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
  return out;
}

class CriLogTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(tmp_.path().empty()); }
  std::filesystem::path Log() const { return tmp_.path() / "ctr" / "0.log"; }
  testing::ScopedTempDir tmp_;
};

TEST_F(CriLogTest, TimestampsAreRfc3339NanoUtc) {
  EXPECT_EQ(FormatCriTimestamp(At(5)), "2024-01-01T00:00:00.000000005Z");
  EXPECT_EQ(FormatCriTimestamp(At(1'500'000'000)), "2024-01-01T00:00:01.500000000Z");
}

TEST_F(CriLogTest, WriterEmitsFullAndPartialLines) {
  Result<CriLogWriter> writer = CriLogWriter::Open(Log());
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  ASSERT_TRUE(writer->Write(LogStream::kStdout, "hello\nwor", At(1)).ok());
  ASSERT_TRUE(writer->Write(LogStream::kStderr, "oops\n", At(2)).ok());
  ASSERT_TRUE(writer->Write(LogStream::kStdout, "ld\n\n", At(3)).ok());
  std::string long_line(CriLogWriter::kMaxLine + 10, 'x');
  ASSERT_TRUE(writer->Write(LogStream::kStdout, long_line, At(4)).ok());
  ASSERT_TRUE(writer->Write(LogStream::kStdout, "tail", At(5)).ok());
  ASSERT_TRUE(writer->Flush(LogStream::kStdout, At(6)).ok());
  std::string expected =
      "2024-01-01T00:00:00.000000001Z stdout F hello\n"
      "2024-01-01T00:00:00.000000002Z stderr F oops\n"
      "2024-01-01T00:00:00.000000003Z stdout F world\n"
      "2024-01-01T00:00:00.000000003Z stdout F \n"
      "2024-01-01T00:00:00.000000004Z stdout P " + std::string(CriLogWriter::kMaxLine, 'x') + "\n"
      "2024-01-01T00:00:00.000000006Z stdout F xxxxxxxxxxtail\n";
  std::string raw;
  ASSERT_TRUE(ReadCriLog(Log(), {}, [&](std::string_view) { return true; }).ok());
  std::ifstream in(Log());
  raw.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  EXPECT_EQ(raw, expected);

  // kubectl's view joins the partial line.
  EXPECT_EQ(ReadAll(Log()), "hello\noops\nworld\n\n" + long_line + "tail\n");
}

TEST_F(CriLogTest, ParsesLinesAndRejectsGarbage) {
  Result<CriLogEntry> entry = ParseCriLogLine("2024-01-01T00:00:00Z stderr P a b");
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->stream, LogStream::kStderr);
  EXPECT_TRUE(entry->partial);
  EXPECT_EQ(entry->content, "a b");
  EXPECT_TRUE(ParseCriLogLine("2024-01-01T00:00:00Z stdout F").ok());
  EXPECT_FALSE(ParseCriLogLine("garbage").ok());
  EXPECT_FALSE(ParseCriLogLine("ts stdin F x").ok());
  EXPECT_FALSE(ParseCriLogLine("ts stdout X x").ok());
}

TEST_F(CriLogTest, TailTimestampsStreamAndLimit) {
  Result<CriLogWriter> writer = CriLogWriter::Open(Log());
  ASSERT_TRUE(writer.ok());
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(writer->Write(LogStream::kStdout, "line" + std::to_string(i) + "\n", At(i)).ok());
  }
  ASSERT_TRUE(writer->Write(LogStream::kStderr, "err\n", At(6)).ok());
  EXPECT_EQ(ReadAll(Log(), {.tail_lines = 2}), "line5\nerr\n");
  EXPECT_EQ(ReadAll(Log(), {.tail_lines = 0}), "");
  EXPECT_EQ(ReadAll(Log(), {.tail_lines = 100}), "line1\nline2\nline3\nline4\nline5\nerr\n");
  EXPECT_EQ(ReadAll(Log(), {.tail_lines = 1, .timestamps = true}),
            "2024-01-01T00:00:00.000000006Z err\n");
  EXPECT_EQ(ReadAll(Log(), {.tail_lines = 1, .stream = LogStream::kStdout}), "line5\n");
  EXPECT_EQ(ReadAll(Log(), {.limit_bytes = 8}), "line1\nli");
  EXPECT_EQ(ReadCriLog(tmp_.path() / "none.log", {}, [](std::string_view) { return true; })
                .code(),
            StatusCode::kNotFound);
}

TEST_F(CriLogTest, FollowDeliversAppendsUntilTheContainerStops) {
  Result<CriLogWriter> writer = CriLogWriter::Open(Log());
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer->Write(LogStream::kStdout, "first\n", At(1)).ok());
  std::atomic<bool> running{true};
  std::atomic<int> lines{0};
  std::string out;
  std::thread reader([&] {
    Status status = ReadCriLog(
        Log(), {.follow = true},
        [&](std::string_view chunk) {
          out.append(chunk);
          ++lines;
          return true;
        },
        [&] { return running.load(); });
    EXPECT_TRUE(status.ok());
  });
  while (lines.load() < 1) std::this_thread::yield();
  ASSERT_TRUE(writer->Write(LogStream::kStdout, "second\n", At(2)).ok());
  while (lines.load() < 2) std::this_thread::yield();
  ASSERT_TRUE(writer->Write(LogStream::kStdout, "last\n", At(3)).ok());
  running = false;  // the reader still delivers what was written before the stop
  reader.join();
  EXPECT_EQ(out, "first\nsecond\nlast\n");
}

TEST_F(CriLogTest, FollowStopsOnCancel) {
  ASSERT_TRUE(CriLogWriter::Open(Log()).ok());
  std::atomic<bool> cancel{false};
  std::thread reader([&] {
    EXPECT_TRUE(ReadCriLog(Log(), {.follow = true}, [](std::string_view) { return true; },
                           [] { return true; }, &cancel)
                    .ok());
  });
  cancel = true;
  reader.join();
}

}  // namespace
}  // namespace kelp::agent
