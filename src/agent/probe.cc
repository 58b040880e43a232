// Probe parsing and the httpGet/tcpSocket checks (Boost.Beast over one io_context per check,
// bounded by the probe's timeout). See probe.h.
#include "agent/probe.h"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/json.h"

namespace kelp::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

std::string StringAt(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

int IntAt(const json::object& object, std::string_view path, int fallback) {
  const json::value* value = FindPath(object, path);
  return value && value->is_int64() ? static_cast<int>(value->as_int64()) : fallback;
}

// An int port, or a name of one of the container's ports.
Result<int> ResolvePort(const json::object& container, const json::value* port) {
  if (port == nullptr) return InvalidArgumentError("probe has no port");
  if (port->is_int64()) return static_cast<int>(port->as_int64());
  if (!port->is_string()) return InvalidArgumentError("probe port is neither a number nor a name");
  std::string name(port->as_string());
  if (const json::value* ports = FindPath(container, "ports"); ports && ports->is_array()) {
    for (const json::value& entry : ports->as_array()) {
      if (entry.is_object() && StringAt(entry.as_object(), "name") == name) {
        return IntAt(entry.as_object(), "containerPort", 0);
      }
    }
  }
  if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) return std::stoi(name);
  return InvalidArgumentError("probe port " + name + " is not a port of the container");
}

}  // namespace

Result<Probe> ParseProbe(const json::object& container, const json::object& spec) {
  Probe probe;
  probe.initial_delay = std::chrono::seconds(IntAt(spec, "initialDelaySeconds", 0));
  probe.period = std::chrono::seconds(std::max(1, IntAt(spec, "periodSeconds", 10)));
  probe.timeout = std::chrono::seconds(std::max(1, IntAt(spec, "timeoutSeconds", 1)));
  probe.success_threshold = std::max(1, IntAt(spec, "successThreshold", 1));
  probe.failure_threshold = std::max(1, IntAt(spec, "failureThreshold", 3));
  if (const json::value* http = FindPath(spec, "httpGet"); http && http->is_object()) {
    const json::object& get = http->as_object();
    probe.kind = Probe::Kind::kHttpGet;
    KELP_ASSIGN_OR_RETURN(probe.port, ResolvePort(container, get.if_contains("port")));
    probe.host = StringAt(get, "host");
    if (std::string path = StringAt(get, "path"); !path.empty()) probe.path = path;
    if (!probe.path.starts_with('/')) probe.path = "/" + probe.path;
    if (std::string scheme = StringAt(get, "scheme"); !scheme.empty()) probe.scheme = scheme;
    if (probe.scheme != "HTTP") return InvalidArgumentError("httpGet probe: only scheme HTTP");
    if (const json::value* headers = get.if_contains("httpHeaders");
        headers && headers->is_array()) {
      for (const json::value& header : headers->as_array()) {
        if (!header.is_object()) continue;
        probe.http_headers.emplace_back(StringAt(header.as_object(), "name"),
                                        StringAt(header.as_object(), "value"));
      }
    }
    return probe;
  }
  if (const json::value* tcp = FindPath(spec, "tcpSocket"); tcp && tcp->is_object()) {
    probe.kind = Probe::Kind::kTcpSocket;
    KELP_ASSIGN_OR_RETURN(probe.port, ResolvePort(container, tcp->as_object().if_contains("port")));
    probe.host = StringAt(tcp->as_object(), "host");
    return probe;
  }
  if (const json::value* command = FindPath(spec, "exec.command"); command && command->is_array()) {
    probe.kind = Probe::Kind::kExec;
    for (const json::value& arg : command->as_array()) {
      if (arg.is_string()) probe.command.emplace_back(arg.as_string());
    }
    if (probe.command.empty()) return InvalidArgumentError("exec probe without a command");
    return probe;
  }
  return InvalidArgumentError("probe has no httpGet, tcpSocket or exec handler");
}

ProbeOutcome RunProbe(const Probe& probe, const std::string& pod_ip,
                      const std::function<ProbeOutcome(const std::vector<std::string>&,
                                                       std::chrono::milliseconds)>& exec) {
  if (probe.kind == Probe::Kind::kExec) return exec(probe.command, probe.timeout);
  const std::string host = probe.host.empty() ? pod_ip : probe.host;
  const std::string target = fmt::format("{}:{}", host, probe.port);
  asio::io_context io;
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  http::request<http::empty_body> request{http::verb::get, probe.path, 11};
  http::response<http::string_body> response;
  ProbeOutcome outcome{
      .success = false,
      .message = "probe timed out after " + std::to_string(probe.timeout.count()) + "s"};
  boost::system::error_code parse_error;
  asio::ip::address address = asio::ip::make_address(host, parse_error);
  if (parse_error) return {.success = false, .message = "bad probe host " + host};
  stream.expires_after(probe.timeout);
  stream.async_connect(
      tcp::endpoint(address, static_cast<uint16_t>(probe.port)), [&](beast::error_code error) {
        if (error) {
          outcome.message = "dial tcp " + target + ": " + error.message();
          return;
        }
        if (probe.kind == Probe::Kind::kTcpSocket) {
          outcome = {.success = true, .message = ""};
          return;
        }
        request.set(http::field::host, target);
        request.set(http::field::user_agent, "kube-probe/1.32");
        request.set(http::field::accept, "*/*");
        for (const auto& [name, value] : probe.http_headers) request.set(name, value);
        request.set(http::field::connection, "close");
        http::async_write(stream, request, [&](beast::error_code write_error, size_t) {
          if (write_error) {
            outcome.message = "GET " + target + probe.path + ": " + write_error.message();
            return;
          }
          http::async_read(stream, buffer, response, [&](beast::error_code read_error, size_t) {
            if (read_error) {
              outcome.message = "GET " + target + probe.path + ": " + read_error.message();
              return;
            }
            unsigned code = response.result_int();
            outcome.success = code >= 200 && code < 400;
            outcome.message =
                outcome.success ? "" : fmt::format("HTTP probe failed with statuscode: {}", code);
          });
        });
      });
  io.run();
  return outcome;
}

}  // namespace kelp::agent
