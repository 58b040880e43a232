// Golden tests for HumanDuration (the AGE column's format) and the RFC 3339 parser.
#include "api/duration.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace kelp::api {
namespace {

using namespace std::chrono_literals;

TEST(HumanDurationTest, MatchesKubernetesFormatTable) {
  const std::vector<std::pair<std::chrono::nanoseconds, std::string>> cases = {
      {-3s, "<invalid>"},
      {-1500ms, "0s"},
      {-500ms, "0s"},
      {0s, "0s"},
      {5s, "5s"},
      {119s, "119s"},
      {120s, "2m"},
      {150s, "2m30s"},
      {9min + 59s, "9m59s"},
      {10min, "10m"},
      {10min + 30s, "10m"},
      {179min, "179m"},
      {3h, "3h"},
      {4h + 5min, "4h5m"},
      {7h + 59min, "7h59m"},
      {8h, "8h"},
      {47h + 59min, "47h"},
      {48h, "2d"},
      {12 * 24h + 5h, "12d"},
      {7 * 24h + 23h, "7d23h"},
      {8 * 24h, "8d"},
      {729 * 24h, "729d"},
      {730 * 24h, "2y"},
      {(2 * 365 + 40) * 24h, "2y40d"},
      {(8 * 365 + 40) * 24h, "8y"},
  };
  for (const auto& [elapsed, expected] : cases) {
    EXPECT_EQ(HumanDuration(elapsed), expected) << elapsed.count() << "ns";
  }
}

TEST(ParseRfc3339Test, AcceptsUtcOffsetsAndFractions) {
  const auto base = std::chrono::sys_days{std::chrono::year{2024} / 1 / 2} + 3h + 4min + 5s;
  EXPECT_EQ(ParseRfc3339("2024-01-02T03:04:05Z"), base);
  EXPECT_EQ(ParseRfc3339("2024-01-02T05:04:05+02:00"), base);
  EXPECT_EQ(ParseRfc3339("2024-01-01T22:34:05-04:30"), base);
  EXPECT_EQ(ParseRfc3339("2024-01-02T03:04:05.250000Z"), base + 250ms);
  EXPECT_EQ(ParseRfc3339("2024-01-02T03:04:05.123456789123Z"), base + 123456789ns);
}

TEST(ParseRfc3339Test, RejectsMalformedText) {
  for (std::string_view bad :
       {"", "2024-01-02", "2024-01-02T03:04:05", "2024-01-02 03:04:05Z", "2024-02-30T00:00:00Z",
        "2024-01-02T24:00:00Z", "2024-01-02T03:04:05.Z", "2024-01-02T03:04:05Zjunk",
        "2024-01-02T03:04:05+0200", "yesterday"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

TEST(AgeSinceTest, UsesNowAndReportsUnknownForBadTimestamps) {
  const auto now = std::chrono::sys_days{std::chrono::year{2024} / 1 / 1} + 0s;
  EXPECT_EQ(AgeSince("2023-12-31T23:55:00Z", now), "5m");
  EXPECT_EQ(AgeSince("2023-12-20T00:00:00Z", now), "12d");
  EXPECT_EQ(AgeSince("not a time", now), "<unknown>");
}

}  // namespace
}  // namespace kelp::api
