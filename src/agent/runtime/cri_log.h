// Container logs in the CRI format the kubelet reads: one entry per line,
// `<RFC3339Nano timestamp> <stdout|stderr> <F|P> <content>`, where P marks a partial line
// (longer than the writer's line limit) continued by the next entry and F ends a line.
// CriLogWriter is what the shim uses; ReadCriLog serves `kubectl logs [-f] [--tail]
// [--timestamps]` (kubelet's log endpoint) from such a file.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/file.h"
#include "common/status.h"

namespace kelp::agent {

enum class LogStream { kStdout, kStderr };

// "2024-01-01T00:00:00.000000000Z": UTC, nine fraction digits (parsable as RFC3339Nano).
std::string FormatCriTimestamp(std::chrono::system_clock::time_point time);

class CriLogWriter {
 public:
  // Lines longer than this are split into P entries, as containerd does (16 KiB).
  static constexpr size_t kMaxLine = 16 * 1024;

  // Opens (creates 0640, appends to) the log file, creating its directory.
  static Result<CriLogWriter> Open(const std::filesystem::path& path);

  // Feeds raw bytes of one stream; complete lines are written at once.
  Status Write(LogStream stream, std::string_view data, std::chrono::system_clock::time_point now);
  // Writes a stream's unterminated tail as a final F entry (at end of the stream).
  Status Flush(LogStream stream, std::chrono::system_clock::time_point now);

 private:
  explicit CriLogWriter(UniqueFd fd) : fd_(std::move(fd)) {}
  Status Emit(LogStream stream, bool partial, std::string_view content,
              std::chrono::system_clock::time_point now);

  UniqueFd fd_;
  std::string pending_[2];
};

struct CriLogEntry {
  std::string timestamp;  // as written
  LogStream stream = LogStream::kStdout;
  bool partial = false;
  std::string_view content;  // without the newline; points into the parsed line
};

// Parses one line (without its '\n'). InvalidArgument for anything else.
Result<CriLogEntry> ParseCriLogLine(std::string_view line);

struct LogReadOptions {
  std::optional<int64_t> tail_lines;  // the last N lines only
  bool follow = false;                // keep reading new entries while the container runs
  bool timestamps = false;            // prefix each line with its timestamp
  std::optional<int64_t> limit_bytes;
  std::optional<LogStream> stream;  // one stream only; nullopt: both
};

// Writes the log's lines (content + '\n', P entries joined) to `sink` in kubectl's format.
// With follow, after the end of the file it waits for more until `running()` returns false
// (then reads what is left and returns) or `cancel` is set. A sink returning false stops the
// read (e.g. the client went away). A missing file is NotFound.
Status ReadCriLog(const std::filesystem::path& path, const LogReadOptions& options,
                  const std::function<bool(std::string_view)>& sink,
                  const std::function<bool()>& running = {},
                  const std::atomic<bool>* cancel = nullptr);

}  // namespace kelp::agent
