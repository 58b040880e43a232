// Process-wide logging over spdlog. main() calls kelp::log::Init once with the configured
// level; everything else logs with spdlog's fmt-style calls on the default logger:
//   spdlog::info("synced pod {}/{} in {}ms", ns, name, elapsed.count());
//   spdlog::warn("lease renewal failed: {}", status.ToString());
// No kelp wrapper macros: spdlog's API is already the one we want.
#pragma once

#include <spdlog/common.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace kelp::log {

struct LogOptions {
  spdlog::level::level_enum level = spdlog::level::info;
  // Shown in every line ("[agent]") so interleaved logs of a lab's processes stay readable.
  std::string component;
  // spdlog pattern; empty picks kelp's default (ISO time, level letter, component, message).
  std::string pattern;
  // Where lines go; null means stderr. Tests pass an ostream sink.
  spdlog::sink_ptr sink;
};

// Parses a --log-level value: "trace", "debug", "info", "warn" (or "warning"), "error", "off".
Result<spdlog::level::level_enum> ParseLevel(std::string_view name);

// Replaces spdlog's default logger with one configured by `options`. Call once at start-up,
// before other threads log.
void Init(const LogOptions& options);

}  // namespace kelp::log
