// Query parsing, remotecommand Status messages and the Summary document (see the header).
#include "agent/kubelet_protocol.h"

#include <boost/json.hpp>
#include <charconv>

#include "common/json.h"

namespace kelp::agent {
namespace json = boost::json;

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
               HexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> Last(const std::multimap<std::string, std::string>& params,
                                std::string_view key) {
  auto [begin, end] = params.equal_range(std::string(key));
  if (begin == end) return std::nullopt;
  return std::prev(end)->second;
}

bool IsTrue(const std::optional<std::string>& value) {
  return value && (*value == "true" || *value == "1");
}

Result<std::optional<int64_t>> OptionalInt(const std::multimap<std::string, std::string>& params,
                                           std::string_view key, int64_t minimum) {
  std::optional<std::string> text = Last(params, key);
  if (!text || text->empty()) return std::optional<int64_t>();
  int64_t value = 0;
  auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size() || value < minimum) {
    return InvalidArgumentError(std::string(key) + ": \"" + *text +
                                "\" is not an integer >= " + std::to_string(minimum));
  }
  return std::optional<int64_t>(value);
}

std::string JoinCommand(const std::vector<std::string>& command) {
  std::string text = "[";
  for (size_t i = 0; i < command.size(); ++i) {
    if (i > 0) text += ' ';
    text += command[i];
  }
  return text + "]";
}

json::object CpuJson(const UsageStats& usage) {
  json::object cpu{{"time", FormatCriTimestamp(usage.sample.time)},
                   {"usageCoreNanoSeconds", usage.sample.cpu_usage_ns}};
  if (usage.usage_nano_cores) cpu["usageNanoCores"] = *usage.usage_nano_cores;
  return cpu;
}

json::object MemoryJson(const UsageStats& usage) {
  return {{"time", FormatCriTimestamp(usage.sample.time)},
          {"workingSetBytes", usage.sample.memory_working_set_bytes},
          {"usageBytes", usage.sample.memory_usage_bytes}};
}

}  // namespace

std::multimap<std::string, std::string> ParseQueryString(std::string_view query) {
  std::multimap<std::string, std::string> params;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    params.emplace(PercentDecode(pair.substr(0, eq)),
                   eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1)));
  }
  return params;
}

Result<ExecRequest> ParseExecQuery(std::string_view query) {
  std::multimap<std::string, std::string> params = ParseQueryString(query);
  ExecRequest request;
  auto [begin, end] = params.equal_range("command");
  for (auto it = begin; it != end; ++it) request.command.push_back(it->second);
  auto flag = [&](std::string_view name, std::string_view old_name) {
    return IsTrue(Last(params, name)) || IsTrue(Last(params, old_name));
  };
  request.stdin = flag("stdin", "input");
  request.stdout = flag("stdout", "output");
  request.stderr = flag("stderr", "error");
  request.tty = flag("tty", "tty");
  if (request.command.empty()) return InvalidArgumentError("you must specify a command");
  if (!request.stdin && !request.stdout && !request.stderr) {
    return InvalidArgumentError("you must specify at least 1 of stdin, stdout, stderr");
  }
  if (request.tty && request.stderr) {
    return InvalidArgumentError("tty and stderr cannot both be true");
  }
  return request;
}

Result<LogRequest> ParseLogQuery(std::string_view query) {
  std::multimap<std::string, std::string> params = ParseQueryString(query);
  LogRequest request;
  request.options.follow = IsTrue(Last(params, "follow"));
  request.options.timestamps = IsTrue(Last(params, "timestamps"));
  request.previous = IsTrue(Last(params, "previous"));
  KELP_ASSIGN_OR_RETURN(request.options.tail_lines, OptionalInt(params, "tailLines", 0));
  KELP_ASSIGN_OR_RETURN(request.options.limit_bytes, OptionalInt(params, "limitBytes", 1));
  KELP_ASSIGN_OR_RETURN(request.since_seconds, OptionalInt(params, "sinceSeconds", 1));
  return request;
}

std::optional<std::string_view> ChooseStreamProtocol(std::string_view offered) {
  bool v4 = false;
  while (!offered.empty()) {
    size_t comma = offered.find(',');
    std::string_view item = offered.substr(0, comma);
    offered = comma == std::string_view::npos ? std::string_view() : offered.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == kStreamProtocolV5) return kStreamProtocolV5;
    if (item == kStreamProtocolV4) v4 = true;
  }
  if (v4) return kStreamProtocolV4;
  return std::nullopt;
}

std::string ExecExitStatus(int exit_code, const std::vector<std::string>& command) {
  if (exit_code == 0) return R"({"metadata":{},"status":"Success"})";
  json::object status{
      {"metadata", json::object()},
      {"status", "Failure"},
      {"message", "command terminated with non-zero exit code: error executing command " +
                      JoinCommand(command) + ", exit code " + std::to_string(exit_code)},
      {"reason", "NonZeroExitCode"},
      {"details", json::object{{"causes", json::array{json::object{
                                              {"reason", "ExitCode"},
                                              {"message", std::to_string(exit_code)}}}}}}};
  return json::serialize(status);
}

std::string ExecErrorStatus(std::string_view message) {
  json::object status{{"metadata", json::object()},
                      {"status", "Failure"},
                      {"message", message},
                      {"reason", "InternalError"},
                      {"code", 500}};
  return json::serialize(status);
}

std::optional<TerminalSize> ParseTerminalSize(std::string_view payload) {
  Result<json::object> object = ParseJsonObject(payload);
  if (!object.ok()) return std::nullopt;
  Result<std::optional<int64_t>> width = FindInt64(*object, "Width");
  Result<std::optional<int64_t>> height = FindInt64(*object, "Height");
  if (!width.ok() || !height.ok() || !*width || !*height) return std::nullopt;
  if (**width < 0 || **width > 0xFFFF || **height < 0 || **height > 0xFFFF) return std::nullopt;
  return TerminalSize{.columns = static_cast<uint16_t>(**width),
                      .rows = static_cast<uint16_t>(**height)};
}

std::string StatusFailureJson(int code, std::string_view reason, std::string_view message) {
  json::object status{{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
                      {"status", "Failure"}, {"message", message}, {"reason", reason},
                      {"code", code}};
  return json::serialize(status);
}

std::optional<uint64_t> CpuRate(const CpuMemorySample& earlier, const CpuMemorySample& later) {
  if (later.time <= earlier.time || later.cpu_usage_ns < earlier.cpu_usage_ns) return std::nullopt;
  const auto elapsed_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(later.time - earlier.time).count();
  const long double cores = static_cast<long double>(later.cpu_usage_ns - earlier.cpu_usage_ns) /
                            static_cast<long double>(elapsed_ns);
  return static_cast<uint64_t>(cores * 1e9L);
}

std::string SummaryJson(const NodeSummary& summary) {
  json::array pods;
  for (const PodSummary& pod : summary.pods) {
    json::array containers;
    for (const ContainerSummary& container : pod.containers) {
      containers.push_back(json::object{{"name", container.name},
                                        {"startTime", FormatCriTimestamp(container.start_time)},
                                        {"cpu", CpuJson(container.usage)},
                                        {"memory", MemoryJson(container.usage)}});
    }
    pods.push_back(json::object{
        {"podRef",
         json::object{{"name", pod.name}, {"namespace", pod.pod_namespace}, {"uid", pod.uid}}},
        {"startTime", FormatCriTimestamp(pod.start_time)},
        {"containers", std::move(containers)},
        {"cpu", CpuJson(pod.usage)},
        {"memory", MemoryJson(pod.usage)}});
  }
  json::object node{{"nodeName", summary.node_name},
                    {"startTime", FormatCriTimestamp(summary.start_time)},
                    {"cpu", CpuJson(summary.usage)},
                    {"memory", MemoryJson(summary.usage)}};
  return json::serialize(json::object{{"node", std::move(node)}, {"pods", std::move(pods)}});
}

}  // namespace kelp::agent
