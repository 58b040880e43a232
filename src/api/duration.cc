// HumanDuration's thresholds follow Kubernetes' apimachinery util/duration so AGE columns
// read the same as on a real cluster; ParseRfc3339 is a strict, allocation-free parser.
#include "api/duration.h"

#include <fmt/format.h>

#include <cstdint>

namespace kelp::api {
namespace {

using std::chrono::nanoseconds;

// "<n><unit>" or "<n><unit><m><subunit>" when the remainder is not zero.
std::string TwoUnits(std::int64_t major, std::string_view major_unit, std::int64_t minor,
                     std::string_view minor_unit) {
  if (minor == 0) return fmt::format("{}{}", major, major_unit);
  return fmt::format("{}{}{}{}", major, major_unit, minor, minor_unit);
}

// Reads exactly `width` decimal digits at `pos`, advancing it.
std::optional<int> ReadDigits(std::string_view text, std::size_t& pos, std::size_t width) {
  if (pos + width > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += width;
  return value;
}

bool ReadChar(std::string_view text, std::size_t& pos, char expected) {
  if (pos >= text.size() || text[pos] != expected) return false;
  ++pos;
  return true;
}

// ".123456789" → nanoseconds; digits past the ninth are ignored, as Go does.
std::optional<nanoseconds> ReadFraction(std::string_view text, std::size_t& pos) {
  if (!ReadChar(text, pos, '.')) return nanoseconds(0);
  std::int64_t nanos = 0;
  std::size_t digits = 0;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    if (digits < 9) nanos = nanos * 10 + (text[pos] - '0');
    ++digits;
    ++pos;
  }
  if (digits == 0) return std::nullopt;
  for (std::size_t i = digits; i < 9; ++i) nanos *= 10;
  return nanoseconds(nanos);
}

// "Z" or "+hh:mm" / "-hh:mm": the offset east of UTC.
std::optional<std::chrono::minutes> ReadZone(std::string_view text, std::size_t& pos) {
  if (ReadChar(text, pos, 'Z')) return std::chrono::minutes(0);
  if (pos >= text.size() || (text[pos] != '+' && text[pos] != '-')) return std::nullopt;
  int sign = text[pos++] == '-' ? -1 : 1;
  auto hours = ReadDigits(text, pos, 2);
  if (!hours || !ReadChar(text, pos, ':')) return std::nullopt;
  auto minutes = ReadDigits(text, pos, 2);
  if (!minutes || *hours > 23 || *minutes > 59) return std::nullopt;
  return std::chrono::minutes(sign * (*hours * 60 + *minutes));
}

}  // namespace

std::string HumanDuration(nanoseconds elapsed) {
  using std::chrono::hours;
  using std::chrono::minutes;
  using std::chrono::seconds;
  const std::int64_t total_seconds = std::chrono::duration_cast<seconds>(elapsed).count();
  if (total_seconds < -1) return "<invalid>";
  if (total_seconds < 0) return "0s";
  if (total_seconds < 2 * 60) return fmt::format("{}s", total_seconds);

  const std::int64_t total_minutes = total_seconds / 60;
  if (total_minutes < 10) return TwoUnits(total_minutes, "m", total_seconds % 60, "s");
  if (total_minutes < 3 * 60) return fmt::format("{}m", total_minutes);

  const std::int64_t total_hours = total_minutes / 60;
  if (total_hours < 8) return TwoUnits(total_hours, "h", total_minutes % 60, "m");
  if (total_hours < 48) return fmt::format("{}h", total_hours);

  const std::int64_t total_days = total_hours / 24;
  if (total_hours < 24 * 8) return TwoUnits(total_days, "d", total_hours % 24, "h");
  if (total_hours < 24 * 365 * 2) return fmt::format("{}d", total_days);
  if (total_hours < 24 * 365 * 8) return TwoUnits(total_days / 365, "y", total_days % 365, "d");
  return fmt::format("{}y", total_days / 365);
}

std::optional<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view text) {
  std::size_t pos = 0;
  auto year = ReadDigits(text, pos, 4);
  if (!year || !ReadChar(text, pos, '-')) return std::nullopt;
  auto month = ReadDigits(text, pos, 2);
  if (!month || !ReadChar(text, pos, '-')) return std::nullopt;
  auto day = ReadDigits(text, pos, 2);
  if (!day || !ReadChar(text, pos, 'T')) return std::nullopt;
  auto hour = ReadDigits(text, pos, 2);
  if (!hour || !ReadChar(text, pos, ':')) return std::nullopt;
  auto minute = ReadDigits(text, pos, 2);
  if (!minute || !ReadChar(text, pos, ':')) return std::nullopt;
  auto second = ReadDigits(text, pos, 2);
  if (!second) return std::nullopt;
  auto fraction = ReadFraction(text, pos);
  if (!fraction) return std::nullopt;
  auto zone = ReadZone(text, pos);
  if (!zone || pos != text.size()) return std::nullopt;

  const std::chrono::year_month_day date{std::chrono::year(*year),
                                         std::chrono::month(static_cast<unsigned>(*month)),
                                         std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok() || *hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
  const auto utc = std::chrono::sys_days(date) + std::chrono::hours(*hour) +
                   std::chrono::minutes(*minute) + std::chrono::seconds(*second) + *fraction -
                   *zone;
  return std::chrono::time_point_cast<std::chrono::system_clock::duration>(utc);
}

std::string AgeSince(std::string_view timestamp, std::chrono::system_clock::time_point now) {
  auto then = ParseRfc3339(timestamp);
  if (!then) return "<unknown>";
  return HumanDuration(std::chrono::duration_cast<nanoseconds>(now - *then));
}

}  // namespace kelp::api
