// Time as kubectl shows it: Kubernetes' "human duration" (5s, 2m30s, 3h12m, 12d, 2y3d) and the
// RFC 3339 timestamps objects carry (creationTimestamp, lastTimestamp, finishedAt). The table
// printers turn "timestamp + Clock::WallNow()" into an AGE cell with these.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace kelp::api {

// Kubernetes' HumanDuration: about 2-3 significant figures, coarser as durations grow.
// Up to 2 seconds in the future counts as "0s" (clock skew); further is "<invalid>".
std::string HumanDuration(std::chrono::nanoseconds elapsed);

// Parses "2024-01-02T03:04:05Z", with optional fractional seconds and a "+hh:mm"/"-hh:mm"
// offset instead of "Z". Anything else (including an impossible date) is nullopt.
std::optional<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view text);

// HumanDuration from `timestamp` to `now`; "<unknown>" when the timestamp does not parse.
std::string AgeSince(std::string_view timestamp, std::chrono::system_clock::time_point now);

}  // namespace kelp::api
