// Level parsing and default-logger set-up for kelp::log.
#include "common/log.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <memory>
#include <utility>

namespace kelp::log {
namespace {

constexpr std::array<std::pair<std::string_view, spdlog::level::level_enum>, 7> kLevelNames{{
    {"trace", spdlog::level::trace},
    {"debug", spdlog::level::debug},
    {"info", spdlog::level::info},
    {"warn", spdlog::level::warn},
    {"warning", spdlog::level::warn},
    {"error", spdlog::level::err},
    {"off", spdlog::level::off},
}};

std::string DefaultPattern(std::string_view component) {
  // %L is the one-letter level, as in klog ("I", "W", "E").
  if (component.empty()) return "%Y-%m-%dT%H:%M:%S.%e %L %v";
  return fmt::format("%Y-%m-%dT%H:%M:%S.%e %L [{}] %v", component);
}

}  // namespace

Result<spdlog::level::level_enum> ParseLevel(std::string_view name) {
  for (const auto& [level_name, level] : kLevelNames) {
    if (name == level_name) return level;
  }
  return InvalidArgumentError(
      fmt::format("unknown log level \"{}\" (want trace, debug, info, warn, error or off)", name));
}

void Init(const LogOptions& options) {
  spdlog::sink_ptr sink = options.sink;
  if (sink == nullptr) sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  std::string name = options.component.empty() ? "kelp" : options.component;
  auto logger = std::make_shared<spdlog::logger>(std::move(name), std::move(sink));
  logger->set_level(options.level);
  logger->set_pattern(options.pattern.empty() ? DefaultPattern(options.component)
                                              : options.pattern);
  // Warnings and errors usually precede a crash or an exit; don't lose them in a buffer.
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace kelp::log
