// CRI log lines: writing them from a container's streams, parsing them, and serving them with
// tail/follow/timestamps (inotify wakes a follower when the shim appends).
#include "agent/runtime/cri_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <ctime>
#include <vector>

namespace kelp::agent {
namespace {

constexpr std::string_view kStreamNames[] = {"stdout", "stderr"};

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write log", errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// Emits entries in kubectl's format, joining partial entries per stream.
class LogFormatter {
 public:
  LogFormatter(const LogReadOptions& options, const std::function<bool(std::string_view)>& sink)
      : options_(options), sink_(sink) {}

  // False once the reader should stop (sink refused or byte limit reached).
  bool Add(const CriLogEntry& entry) {
    if (options_.stream.has_value() && *options_.stream != entry.stream) return true;
    bool& in_partial = in_partial_[static_cast<int>(entry.stream)];
    std::string out;
    if (options_.timestamps && !in_partial) out = entry.timestamp + " ";
    out.append(entry.content);
    if (!entry.partial) out.push_back('\n');
    in_partial = entry.partial;
    if (options_.limit_bytes.has_value()) {
      int64_t left = *options_.limit_bytes - written_;
      if (left <= 0) return false;
      if (static_cast<int64_t>(out.size()) > left) out.resize(static_cast<size_t>(left));
    }
    written_ += static_cast<int64_t>(out.size());
    if (!sink_(out)) return false;
    return !options_.limit_bytes.has_value() || written_ < *options_.limit_bytes;
  }

 private:
  const LogReadOptions& options_;
  const std::function<bool(std::string_view)>& sink_;
  bool in_partial_[2] = {false, false};
  int64_t written_ = 0;
};

// Splits complete lines off `buffer`, leaving an unterminated tail in it.
std::vector<std::string> TakeLines(std::string& buffer) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (true) {
    size_t nl = buffer.find('\n', start);
    if (nl == std::string::npos) break;
    lines.emplace_back(buffer, start, nl - start);
    start = nl + 1;
  }
  buffer.erase(0, start);
  return lines;
}

Result<bool> ReadMore(int fd, std::string& buffer) {
  char chunk[64 * 1024];
  bool any = false;
  while (true) {
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read log", errno);
    }
    if (n == 0) return any;
    buffer.append(chunk, static_cast<size_t>(n));
    any = true;
  }
}

}  // namespace

std::string FormatCriTimestamp(std::chrono::system_clock::time_point time) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ns / 1'000'000'000);
  long fraction = static_cast<long>(ns % 1'000'000'000);
  if (fraction < 0) {
    fraction += 1'000'000'000;
    --seconds;
  }
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char date[32];
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09d}Z", date, fraction);
}

Result<CriLogWriter> CriLogWriter::Open(const std::filesystem::path& path) {
  KELP_RETURN_IF_ERROR(CreateDirectories(path.parent_path(), 0755));
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!fd.valid()) return ErrnoStatus("open " + path.string(), errno);
  return CriLogWriter(std::move(fd));
}

Status CriLogWriter::Emit(LogStream stream, bool partial, std::string_view content,
                          std::chrono::system_clock::time_point now) {
  std::string line = FormatCriTimestamp(now);
  line += ' ';
  line += kStreamNames[static_cast<int>(stream)];
  line += partial ? " P " : " F ";
  line += content;
  line += '\n';
  // One write per entry so a concurrent reader never sees half an entry's header.
  return WriteAll(fd_.get(), line);
}

Status CriLogWriter::Write(LogStream stream, std::string_view data,
                           std::chrono::system_clock::time_point now) {
  std::string& pending = pending_[static_cast<int>(stream)];
  while (!data.empty()) {
    size_t nl = data.find('\n');
    if (nl == std::string_view::npos) {
      pending.append(data);
      break;
    }
    pending.append(data.substr(0, nl));
    data.remove_prefix(nl + 1);
    while (pending.size() > kMaxLine) {
      KELP_RETURN_IF_ERROR(Emit(stream, true, std::string_view(pending).substr(0, kMaxLine), now));
      pending.erase(0, kMaxLine);
    }
    KELP_RETURN_IF_ERROR(Emit(stream, false, pending, now));
    pending.clear();
  }
  while (pending.size() >= kMaxLine) {
    KELP_RETURN_IF_ERROR(Emit(stream, true, std::string_view(pending).substr(0, kMaxLine), now));
    pending.erase(0, kMaxLine);
  }
  return Status::Ok();
}

Status CriLogWriter::Flush(LogStream stream, std::chrono::system_clock::time_point now) {
  std::string& pending = pending_[static_cast<int>(stream)];
  if (pending.empty()) return Status::Ok();
  Status status = Emit(stream, false, pending, now);
  pending.clear();
  return status;
}

Result<CriLogEntry> ParseCriLogLine(std::string_view line) {
  CriLogEntry entry;
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) {
    return InvalidArgumentError("log line without timestamp");
  }
  entry.timestamp = std::string(line.substr(0, sp1));
  std::string_view rest = line.substr(sp1 + 1);
  if (rest.starts_with("stdout ")) {
    entry.stream = LogStream::kStdout;
  } else if (rest.starts_with("stderr ")) {
    entry.stream = LogStream::kStderr;
  } else {
    return InvalidArgumentError("log line with an unknown stream");
  }
  rest.remove_prefix(7);
  // Tags are "F"/"P", possibly followed by ":"-separated extras in later CRI versions.
  size_t sp2 = rest.find(' ');
  std::string_view tags = rest.substr(0, sp2);
  if (tags.empty() || (tags[0] != 'F' && tags[0] != 'P')) {
    return InvalidArgumentError("log line with an unknown tag");
  }
  entry.partial = tags[0] == 'P';
  entry.content = sp2 == std::string_view::npos ? std::string_view() : rest.substr(sp2 + 1);
  return entry;
}

Status ReadCriLog(const std::filesystem::path& path, const LogReadOptions& options,
                  const std::function<bool(std::string_view)>& sink,
                  const std::function<bool()>& running, const std::atomic<bool>* cancel) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus("open " + path.string(), errno);
  UniqueFd watch;
  if (options.follow) {
    // Watch before the first read so no append between the two is missed.
    watch.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!watch.valid()) return ErrnoStatus("inotify_init1", errno);
    if (::inotify_add_watch(watch.get(), path.c_str(), IN_MODIFY) < 0) {
      return ErrnoStatus("inotify_add_watch " + path.string(), errno);
    }
  }

  LogFormatter formatter(options, sink);
  std::string buffer;
  KELP_RETURN_IF_ERROR(ReadMore(fd.get(), buffer).status());
  std::vector<std::string> lines = TakeLines(buffer);

  // Tail: start at the first entry of the N-th last complete line of the selected streams.
  size_t start = 0;
  if (options.tail_lines.has_value()) {
    int64_t wanted = std::max<int64_t>(0, *options.tail_lines);
    start = lines.size();
    int64_t seen = 0;
    for (size_t i = lines.size(); i-- > 0;) {
      Result<CriLogEntry> entry = ParseCriLogLine(lines[i]);
      if (!entry.ok()) continue;
      if (options.stream.has_value() && entry->stream != *options.stream) continue;
      if (!entry->partial) {
        if (seen == wanted) break;
        ++seen;
      }
      start = i;
    }
  }
  for (size_t i = start; i < lines.size(); ++i) {
    Result<CriLogEntry> entry = ParseCriLogLine(lines[i]);
    if (entry.ok() && !formatter.Add(*entry)) return Status::Ok();
  }
  if (!options.follow) return Status::Ok();

  bool last_round = false;
  while (true) {
    if (cancel != nullptr && cancel->load()) return Status::Ok();
    if (!last_round && running && !running()) last_round = true;
    KELP_RETURN_IF_ERROR(ReadMore(fd.get(), buffer).status());
    for (const std::string& line : TakeLines(buffer)) {
      Result<CriLogEntry> entry = ParseCriLogLine(line);
      if (entry.ok() && !formatter.Add(*entry)) return Status::Ok();
    }
    if (last_round) return Status::Ok();
    pollfd event{.fd = watch.get(), .events = POLLIN, .revents = 0};
    // The timeout bounds how late a cancel or the container's exit is noticed.
    if (::poll(&event, 1, 200) > 0) {
      char drain[4096];
      while (::read(watch.get(), drain, sizeof(drain)) > 0) {
      }
    }
  }
}

}  // namespace kelp::agent
