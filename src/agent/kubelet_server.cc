// The kubelet API's transport: Beast HTTP/1.1 and WebSocket over Asio SSL streams with C++20
// coroutines on one io thread; the only agent TU that includes Beast/Asio. One request per
// connection (the API server opens one per logs/exec/stats call). Runtime calls that block
// (lookups, starting an exec, cgroup stats) run on a small thread pool; a log stream is read
// by a thread of its own that hands chunks over a bounded queue. An exec session pumps the
// process's fds (asio posix descriptors) into WebSocket messages through one writer, and the
// client's messages into stdin / resize / close-stdin.
#include "agent/kubelet_server.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "agent/stats_collector.h"
#include "common/asio_tls_server.h"

namespace kelp::agent {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

using Stream = beast::ssl_stream<beast::tcp_stream>;
using WebSocket = websocket::stream<Stream&>;

constexpr auto kHandshakeTimeout = 10s;
constexpr auto kRequestTimeout = 30s;
constexpr auto kCloseTimeout = 5s;
// How long output may still arrive after an exec'd process ended (children holding its pipes
// do not keep the session open longer).
constexpr auto kOutputDrainTimeout = 2s;
constexpr int kPoolThreads = 4;
constexpr size_t kMaxQueuedLogBytes = 1024 * 1024;
// Output of an exec'd process waiting to be written to the WebSocket; above this its pumps
// stop reading (the process then blocks on a full pipe) until the client catches up.
constexpr size_t kMaxQueuedExecBytes = 1024 * 1024;

// A Status JSON answer; the connection closes after it.
http::response<http::string_body> StatusResponse(int code, std::string_view reason,
                                                 std::string_view message) {
  http::response<http::string_body> response{static_cast<http::status>(code), 11};
  response.set(http::field::content_type, "application/json");
  response.body() = StatusFailureJson(code, reason, message);
  response.keep_alive(false);
  response.prepare_payload();
  return response;
}

std::pair<int, std::string_view> HttpCodeOf(const Status& status) {
  switch (status.code()) {
    case StatusCode::kNotFound:
      return {404, "NotFound"};
    case StatusCode::kInvalidArgument:
      return {400, "BadRequest"};
    case StatusCode::kConflict:
      return {409, "Conflict"};
    default:
      return {500, "InternalError"};
  }
}

// Path segments of "/a/b/c" → {"a","b","c"}.
std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    size_t slash = path.find('/');
    out.emplace_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  }
  return out;
}

// The common name of the verified client certificate; empty when there is none.
std::string PeerCommonName(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return "";
  char name[256] = {0};
  int length =
      X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof name);
  X509_free(cert);
  return length > 0 ? std::string(name, static_cast<size_t>(length)) : "";
}

// Log chunks from the reader thread to the connection coroutine; bounded in bytes.
class LogChannel : public std::enable_shared_from_this<LogChannel> {
 public:
  explicit LogChannel(asio::io_context& io) : io_(io), wake_(io) {}

  // Reader thread: false once the connection gave up (stop reading).
  bool Push(std::string chunk) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [this] { return closed_ || queued_bytes_ < kMaxQueuedLogBytes; });
    if (closed_) return false;
    queued_bytes_ += chunk.size();
    chunks_.push_back(std::move(chunk));
    lock.unlock();
    Wake();
    return true;
  }
  void Finish(Status status) {
    {
      std::lock_guard lock(mutex_);
      finished_ = true;
      result_ = std::move(status);
    }
    Wake();
  }
  // io thread.
  std::pair<std::deque<std::string>, bool> TakeAll() {
    std::lock_guard lock(mutex_);
    std::deque<std::string> taken;
    taken.swap(chunks_);
    queued_bytes_ = 0;
    not_full_.notify_all();
    return {std::move(taken), finished_};
  }
  bool HasNews() {
    std::lock_guard lock(mutex_);
    return !chunks_.empty() || finished_;
  }
  void Close() {
    cancel.store(true);
    std::lock_guard lock(mutex_);
    closed_ = true;
    not_full_.notify_all();
  }
  void Wake() {
    asio::post(io_, [self = shared_from_this()] { self->wake_.cancel(); });
  }
  asio::steady_timer& wake_timer() { return wake_; }

  std::atomic<bool> cancel{false};

 private:
  asio::io_context& io_;
  asio::steady_timer wake_;
  std::mutex mutex_;  // guards everything below
  std::condition_variable not_full_;
  std::deque<std::string> chunks_;
  size_t queued_bytes_ = 0;
  bool finished_ = false;
  bool closed_ = false;
  Status result_;
};

// Keeps only the lines stamped at or after `cutoff` (a CRI timestamp: they compare as text),
// and drops the stamp again unless it was asked for.
class SinceFilter {
 public:
  SinceFilter(std::string cutoff, bool keep_timestamps)
      : cutoff_(std::move(cutoff)), keep_timestamps_(keep_timestamps) {}
  // The part of `entry` to emit.
  std::string_view Apply(std::string_view entry) {
    if (at_line_start_) {
      size_t space = entry.find(' ');
      std::string_view stamp = entry.substr(0, space);
      keep_ = stamp >= cutoff_;
      if (!keep_timestamps_ && space != std::string_view::npos) entry.remove_prefix(space + 1);
    }
    at_line_start_ = !entry.empty() && entry.back() == '\n';
    return keep_ ? entry : std::string_view();
  }

 private:
  std::string cutoff_;
  bool keep_timestamps_;
  bool at_line_start_ = true;
  bool keep_ = true;
};

}  // namespace

struct KubeletServer::Impl {
  Impl(const KubeletServerOptions& server_options, ContainerRuntime& container_runtime,
       ContainerLookup& container_lookup)
      : options(server_options),
        runtime(container_runtime),
        lookup(container_lookup),
        stats(container_runtime, server_options.node_name) {}

  Status Configure() {
    KELP_RETURN_IF_ERROR(asio_tls::UseServerCertificate(tls, options.cert_path, options.key_path));
    if (options.client_ca_pem.empty()) return InvalidArgumentError("kubelet server: no client CA");
    boost::system::error_code error;
    tls.add_certificate_authority(asio::buffer(options.client_ca_pem), error);
    if (error) return InvalidArgumentError("client CA: " + error.message());
    tls.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, error);
    // Only certificates issued for client authentication (not other nodes' serving ones).
    SSL_CTX_set_purpose(tls.native_handle(), X509_PURPOSE_SSL_CLIENT);

    Result<uint16_t> port = asio_tls::Listen(acceptor, options.bind_address, options.port);
    if (!port.ok()) return port.status().WithContext("kubelet server");
    bound_port = *port;
    return Status::Ok();
  }

  void Run() {
    auto serve = [this](tcp::socket socket) {
      asio::co_spawn(io, ServeConnection(std::move(socket)), asio::detached);
    };
    asio::co_spawn(io, asio_tls::AcceptConnections(acceptor, stopping, serve), asio::detached);
    thread = asio_tls::RunIoThread(io);
  }

  void BeginShutdown() {
    if (stopping) return;
    stopping = true;
    boost::system::error_code ignored;
    acceptor.close(ignored);
    asio_tls::CloseAll(open_streams);
    for (LogChannel* channel : log_channels) channel->Close();
    for (ExecSession* session : exec_sessions) (void)session->Kill();
  }

  void Stop() {
    std::lock_guard lock(stop_mutex);
    if (!thread.joinable()) return;
    asio::post(io, [this] { BeginShutdown(); });
    thread.join();
    pool.join();
  }

  // Runs `work` on the pool and resumes on the io thread with its result.
  template <typename R>
  asio::awaitable<R> OnPool(std::function<R()> work) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(R)>(
        [this](auto handler, std::function<R()> fn) {
          // The work guard keeps io running until the result is back.
          asio::post(pool, [this, handler = std::move(handler), fn = std::move(fn),
                            work = asio::make_work_guard(io)]() mutable {
            R result = fn();
            asio::post(io, [handler = std::move(handler), result = std::move(result)]() mutable {
              std::move(handler)(std::move(result));
            });
          });
        },
        asio::use_awaitable, std::move(work));
  }

  asio::awaitable<void> Write(Stream& stream, http::response<http::string_body> response) {
    boost::system::error_code error;
    beast::get_lowest_layer(stream).expires_after(kRequestTimeout);
    co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, error));
    if (error) co_return;
    beast::get_lowest_layer(stream).expires_after(kCloseTimeout);
    co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, error));
  }

  asio::awaitable<void> ServeConnection(tcp::socket socket) {
    Stream stream(std::move(socket), tls);
    beast::tcp_stream& transport = beast::get_lowest_layer(stream);
    asio_tls::Registration<beast::tcp_stream> registration(open_streams, &transport);
    if (stopping) co_return;
    boost::system::error_code error;
    transport.expires_after(kHandshakeTimeout);
    co_await stream.async_handshake(ssl::stream_base::server,
                                    asio::redirect_error(asio::use_awaitable, error));
    if (error) co_return;  // no certificate, or not one of the cluster CA's

    beast::flat_buffer buffer;
    http::request_parser<http::string_body> parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(64 * 1024);
    transport.expires_after(kRequestTimeout);
    co_await http::async_read(stream, buffer, parser,
                              asio::redirect_error(asio::use_awaitable, error));
    if (error) co_return;
    http::request<http::string_body> request = parser.release();

    const std::string client = PeerCommonName(stream.native_handle());
    const auto& allowed = options.allowed_client_names;
    if (std::find(allowed.begin(), allowed.end(), client) == allowed.end()) {
      co_await Write(stream,
                     StatusResponse(403, "Forbidden",
                                    "client \"" + client + "\" may not use the kubelet API"));
      co_return;
    }
    const std::string_view target = request.target();
    const size_t question = target.find('?');
    const std::string path(target.substr(0, question));
    const std::string query(question == std::string_view::npos ? "" : target.substr(question + 1));
    const std::vector<std::string> segments = Segments(path);
    const bool get = request.method() == http::verb::get;

    if (get && segments.size() == 4 && segments[0] == "containerLogs") {
      co_await ServeLogs(stream, segments[1], segments[2], segments[3], query);
    } else if ((get || request.method() == http::verb::post) && segments.size() == 4 &&
               segments[0] == "exec") {
      co_await ServeExec(stream, std::move(request), segments[1], segments[2], segments[3], query);
    } else if (get && path == "/stats/summary") {
      co_await ServeSummary(stream);
    } else if (get && path == "/healthz") {
      http::response<http::string_body> ok{http::status::ok, 11};
      ok.set(http::field::content_type, "text/plain");
      ok.body() = "ok";
      ok.keep_alive(false);
      ok.prepare_payload();
      co_await Write(stream, std::move(ok));
    } else {
      co_await Write(stream, StatusResponse(404, "NotFound", "no such kubelet endpoint: " + path));
    }
  }

  asio::awaitable<void> ServeSummary(Stream& stream) {
    Result<NodeSummary> summary =
        co_await OnPool<Result<NodeSummary>>([this] { return stats.Collect(); });
    if (!summary.ok()) {
      co_await Write(stream, StatusResponse(500, "InternalError", summary.status().message()));
      co_return;
    }
    http::response<http::string_body> response{http::status::ok, 11};
    response.set(http::field::content_type, "application/json");
    response.body() = SummaryJson(*summary);
    response.keep_alive(false);
    response.prepare_payload();
    co_await Write(stream, std::move(response));
  }

  asio::awaitable<Result<std::string>> Find(const std::string& pod_namespace,
                                            const std::string& pod, const std::string& container,
                                            bool previous) {
    co_return co_await OnPool<Result<std::string>>(
        [&, previous] { return lookup.FindContainer(pod_namespace, pod, container, previous); });
  }

  asio::awaitable<void> ServeLogs(Stream& stream, const std::string& pod_namespace,
                                  const std::string& pod, const std::string& container,
                                  const std::string& query) {
    Result<LogRequest> log_request = ParseLogQuery(query);
    if (!log_request.ok()) {
      co_await Write(stream, StatusResponse(400, "BadRequest", log_request.status().message()));
      co_return;
    }
    Result<std::string> id = co_await Find(pod_namespace, pod, container, log_request->previous);
    if (!id.ok()) {
      auto [code, reason] = HttpCodeOf(id.status());
      co_await Write(stream, StatusResponse(code, reason, id.status().message()));
      co_return;
    }
    LogReadOptions read_options = log_request->options;
    std::optional<SinceFilter> since;
    if (log_request->since_seconds) {
      since.emplace(FormatCriTimestamp(std::chrono::system_clock::now() -
                                       std::chrono::seconds(*log_request->since_seconds)),
                    read_options.timestamps);
      read_options.timestamps = true;
    }

    beast::tcp_stream& transport = beast::get_lowest_layer(stream);
    boost::system::error_code error;
    http::response<http::empty_body> header{http::status::ok, 11};
    header.set(http::field::content_type, "text/plain");
    header.keep_alive(false);
    header.chunked(true);
    http::response_serializer<http::empty_body> serializer{header};
    transport.expires_after(kRequestTimeout);
    co_await http::async_write_header(stream, serializer,
                                      asio::redirect_error(asio::use_awaitable, error));
    if (error) co_return;
    transport.expires_never();

    auto shared_channel = std::make_shared<LogChannel>(io);
    LogChannel& channel = *shared_channel;
    asio_tls::Registration<LogChannel> registered(log_channels, &channel);
    std::thread reader([this, &channel, container_id = *id, read_options, &since] {
      Status status = runtime.ReadLogs(
          container_id, read_options,
          [&](std::string_view entry) {
            if (since) entry = since->Apply(entry);
            return entry.empty() || channel.Push(std::string(entry));
          },
          &channel.cancel);
      channel.Finish(std::move(status));
    });
    // A client that goes away (closes, or sends anything) ends the stream.
    bool client_gone = false;
    std::array<char, 1> probe;
    int probes = 1;
    stream.async_read_some(asio::buffer(probe), [&](boost::system::error_code, size_t) {
      client_gone = true;
      --probes;
      channel.Close();
      channel.wake_timer().cancel();
    });
    for (;;) {
      auto [chunks, finished] = channel.TakeAll();
      bool failed = false;
      for (const std::string& chunk : chunks) {
        co_await asio::async_write(stream, http::make_chunk(asio::buffer(chunk)),
                                   asio::redirect_error(asio::use_awaitable, error));
        if (error) {
          failed = true;
          break;
        }
      }
      if (failed || client_gone || stopping) break;
      if (finished) {
        co_await asio::async_write(stream, http::make_chunk_last(),
                                   asio::redirect_error(asio::use_awaitable, error));
        break;
      }
      if (channel.HasNews()) continue;
      channel.wake_timer().expires_at(asio::steady_timer::time_point::max());
      co_await channel.wake_timer().async_wait(asio::redirect_error(asio::use_awaitable, error));
    }
    channel.Close();
    co_await OnPool<bool>([&reader] {
      reader.join();
      return true;
    });
    // The probe read still pending: end it by closing the connection, and let it finish
    // before its buffer and callback's captures go.
    boost::system::error_code ignored;
    transport.socket().shutdown(tcp::socket::shutdown_both, ignored);
    transport.socket().close(ignored);
    asio::steady_timer settle(io);
    while (probes > 0) {
      settle.expires_after(1ms);
      co_await settle.async_wait(asio::redirect_error(asio::use_awaitable, error));
    }
  }

  // --- exec ---

  struct ExecBridge {
    ExecBridge(asio::io_context& io, WebSocket& websocket, ExecSession& exec_session)
        : ws(websocket), session(exec_session), wake(io), children_changed(io), drained(io) {}

    void Send(uint8_t channel, std::string_view data) {
      if (broken) return;
      std::string frame(1, static_cast<char>(channel));
      frame.append(data);
      outbox_bytes += frame.size();
      outbox.push_back(std::move(frame));
      wake.cancel();
    }

    WebSocket& ws;
    ExecSession& session;
    asio::steady_timer wake;              // the writer sleeps on it
    asio::steady_timer children_changed;  // the session sleeps on it
    asio::steady_timer drained;           // pumps sleep on it while the outbox is full
    std::deque<std::string> outbox;
    size_t outbox_bytes = 0;
    uint64_t progress = 0;     // reads from the process's output so far
    bool output_done = false;  // no more frames after the outbox
    bool broken = false;       // the WebSocket failed
    bool process_ended = false;
    int running_pumps = 0;
    int running_children = 0;
    std::vector<asio::posix::stream_descriptor*> output_fds;
  };

  // Spawns `child`, counted in bridge.running_children until it ends.
  void SpawnChild(ExecBridge& bridge, asio::awaitable<void> child) {
    ++bridge.running_children;
    asio::co_spawn(io, std::move(child), [&bridge](std::exception_ptr) {
      --bridge.running_children;
      bridge.children_changed.cancel();
    });
  }

  asio::awaitable<void> WaitChildren(ExecBridge& bridge, std::function<bool()> done) {
    boost::system::error_code error;
    while (!done()) {
      bridge.children_changed.expires_at(asio::steady_timer::time_point::max());
      co_await bridge.children_changed.async_wait(asio::redirect_error(asio::use_awaitable, error));
    }
  }

  asio::awaitable<void> ExecWriter(ExecBridge& bridge) {
    boost::system::error_code error;
    for (;;) {
      while (!bridge.outbox.empty() && !bridge.broken) {
        std::string frame = std::move(bridge.outbox.front());
        bridge.outbox.pop_front();
        co_await bridge.ws.async_write(asio::buffer(frame),
                                       asio::redirect_error(asio::use_awaitable, error));
        bridge.outbox_bytes -= frame.size();
        if (bridge.outbox_bytes <= kMaxQueuedExecBytes / 2) bridge.drained.cancel();
        if (error) bridge.broken = true;
      }
      if (bridge.broken) {
        bridge.outbox.clear();
        bridge.outbox_bytes = 0;
        bridge.drained.cancel();
      }
      if (bridge.output_done || bridge.broken) co_return;
      bridge.wake.expires_at(asio::steady_timer::time_point::max());
      co_await bridge.wake.async_wait(asio::redirect_error(asio::use_awaitable, error));
    }
  }

  asio::awaitable<void> ExecOutputPump(ExecBridge& bridge, int fd, uint8_t channel) {
    asio::posix::stream_descriptor output(io, ::dup(fd));
    bridge.output_fds.push_back(&output);
    std::array<char, 32 * 1024> buffer;
    boost::system::error_code error;
    for (;;) {
      size_t n = co_await output.async_read_some(asio::buffer(buffer),
                                                 asio::redirect_error(asio::use_awaitable, error));
      if (n > 0) {
        ++bridge.progress;
        bridge.Send(channel, std::string_view(buffer.data(), n));
      }
      if (error) break;  // EOF, EIO (a pty whose last holder is gone), or closed
      while (bridge.outbox_bytes > kMaxQueuedExecBytes && !bridge.broken && output.is_open()) {
        bridge.drained.expires_at(asio::steady_timer::time_point::max());
        co_await bridge.drained.async_wait(asio::redirect_error(asio::use_awaitable, error));
      }
    }
    std::erase(bridge.output_fds, &output);
    --bridge.running_pumps;
  }

  asio::awaitable<void> ExecInput(ExecBridge& bridge, std::string_view protocol) {
    std::optional<asio::posix::stream_descriptor> input;
    if (bridge.session.stdin_fd() >= 0) input.emplace(io, ::dup(bridge.session.stdin_fd()));
    boost::system::error_code error;
    for (;;) {
      beast::flat_buffer message;
      co_await bridge.ws.async_read(message, asio::redirect_error(asio::use_awaitable, error));
      if (error) {
        // The client went away (or closed) before the process ended: end the process.
        if (!bridge.process_ended) (void)bridge.session.Kill();
        co_return;
      }
      std::string_view data(static_cast<const char*>(message.data().data()), message.size());
      if (data.empty()) continue;
      const auto channel = static_cast<uint8_t>(data.front());
      data.remove_prefix(1);
      if (channel == kStdinChannel && input && input->is_open() && !data.empty()) {
        co_await asio::async_write(*input, asio::buffer(data),
                                   asio::redirect_error(asio::use_awaitable, error));
        if (error) input->close(error);
      } else if (channel == kResizeChannel) {
        if (std::optional<TerminalSize> size = ParseTerminalSize(data)) {
          (void)bridge.session.Resize(*size);
        }
      } else if (channel == kCloseChannel && protocol == kStreamProtocolV5 && !data.empty() &&
                 static_cast<uint8_t>(data.front()) == kStdinChannel) {
        if (input && input->is_open()) input->close(error);
        (void)bridge.session.CloseStdin();
      }
    }
  }

  asio::awaitable<void> ServeExec(Stream& stream, http::request<http::string_body> request,
                                  const std::string& pod_namespace, const std::string& pod,
                                  const std::string& container, const std::string& query) {
    // The request's own errors first, so kubectl's SPDY retry after a refused WebSocket
    // upgrade gets the same answer.
    Result<ExecRequest> exec = ParseExecQuery(query);
    if (!exec.ok()) {
      co_await Write(stream, StatusResponse(400, "BadRequest", exec.status().message()));
      co_return;
    }
    Result<std::string> id = co_await Find(pod_namespace, pod, container, false);
    if (!id.ok()) {
      auto [code, reason] = HttpCodeOf(id.status());
      co_await Write(stream, StatusResponse(code, reason, id.status().message()));
      co_return;
    }
    if (!websocket::is_upgrade(request)) {
      co_await Write(
          stream, StatusResponse(400, "BadRequest",
                                 "exec needs a WebSocket upgrade with subprotocol " +
                                     std::string(kStreamProtocolV5) + " (SPDY is not supported)"));
      co_return;
    }
    std::optional<std::string_view> protocol =
        ChooseStreamProtocol(request[http::field::sec_websocket_protocol]);
    if (!protocol) {
      co_await Write(stream, StatusResponse(400, "BadRequest",
                                            "no supported stream protocol offered; supported: " +
                                                std::string(kStreamProtocolV5) + ", " +
                                                std::string(kStreamProtocolV4)));
      co_return;
    }
    ExecOptions exec_options{.cmd = exec->command, .tty = exec->tty, .stdin = exec->stdin};
    Result<std::unique_ptr<ExecSession>> started =
        co_await OnPool<Result<std::unique_ptr<ExecSession>>>(
            [&] { return runtime.Exec(*id, exec_options); });
    if (!started.ok()) {
      auto [code, reason] = HttpCodeOf(started.status());
      co_await Write(stream, StatusResponse(code, reason,
                                            "unable to start exec: " + started.status().message()));
      co_return;
    }
    std::unique_ptr<ExecSession> session = std::move(*started);
    asio_tls::Registration<ExecSession> registered(exec_sessions, session.get());
    if (stopping) co_return;

    WebSocket ws(stream);
    const std::string chosen(*protocol);
    ws.set_option(websocket::stream_base::decorator([chosen](websocket::response_type& response) {
      response.set(http::field::sec_websocket_protocol, chosen);
    }));
    ws.set_option(websocket::stream_base::timeout{.handshake_timeout = kRequestTimeout,
                                                  .idle_timeout = websocket::stream_base::none(),
                                                  .keep_alive_pings = false});
    beast::get_lowest_layer(stream).expires_never();
    ws.binary(true);
    ws.read_message_max(1024 * 1024);
    boost::system::error_code error;
    co_await ws.async_accept(request, asio::redirect_error(asio::use_awaitable, error));
    if (error) co_return;  // the session's destructor kills the process

    ExecBridge bridge(io, ws, *session);
    SpawnChild(bridge, ExecWriter(bridge));
    if (exec->stdout && session->stdout_fd() >= 0) {
      ++bridge.running_pumps;
      SpawnChild(bridge, ExecOutputPump(bridge, session->stdout_fd(), kStdoutChannel));
    }
    if (exec->stderr && session->stderr_fd() >= 0) {
      ++bridge.running_pumps;
      SpawnChild(bridge, ExecOutputPump(bridge, session->stderr_fd(), kStderrChannel));
    }
    SpawnChild(bridge, ExecInput(bridge, *protocol));

    asio::posix::stream_descriptor exited(io, ::dup(session->exit_fd()));
    co_await exited.async_wait(asio::posix::stream_descriptor::wait_read,
                               asio::redirect_error(asio::use_awaitable, error));
    bridge.process_ended = true;
    // Output the process wrote just before it ended may still be in its pipes: read on while
    // it keeps coming (or a slow client is still being written to), until EOF or
    // kOutputDrainTimeout of silence (a background child holding the pipes open).
    asio::steady_timer drain(io);
    uint64_t seen = bridge.progress;
    auto quiet_since = std::chrono::steady_clock::now();
    while (bridge.running_pumps > 0) {
      const auto now = std::chrono::steady_clock::now();
      if (bridge.progress != seen || bridge.outbox_bytes > 0) {
        seen = bridge.progress;
        quiet_since = now;
      }
      if (now - quiet_since >= kOutputDrainTimeout) {
        for (asio::posix::stream_descriptor* fd : bridge.output_fds) {
          boost::system::error_code ignored;
          fd->close(ignored);
        }
        bridge.drained.cancel();
        co_await WaitChildren(bridge, [&] { return bridge.running_pumps == 0; });
        break;
      }
      drain.expires_after(100ms);
      co_await drain.async_wait(asio::redirect_error(asio::use_awaitable, error));
    }
    drain.cancel();

    Result<int> exit_code = session->Wait(0ms);
    bridge.Send(kErrorChannel, exit_code.ok() ? ExecExitStatus(*exit_code, exec->command)
                                              : ExecErrorStatus(exit_code.status().message()));
    bridge.output_done = true;
    bridge.wake.cancel();
    co_await WaitChildren(bridge, [&] { return bridge.running_children <= 1; });  // the reader
    if (!bridge.broken) {
      beast::get_lowest_layer(stream).expires_after(kCloseTimeout);
      co_await ws.async_close(websocket::close_code::normal,
                              asio::redirect_error(asio::use_awaitable, error));
    }
    boost::system::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream).socket().close(ignored);
    co_await WaitChildren(bridge, [&] { return bridge.running_children == 0; });
  }

  KubeletServerOptions options;
  ContainerRuntime& runtime;
  ContainerLookup& lookup;
  StatsCollector stats;
  ssl::context tls{ssl::context::tls_server};
  std::set<beast::tcp_stream*> open_streams;  // io thread only
  std::set<LogChannel*> log_channels;         // io thread only
  std::set<ExecSession*> exec_sessions;       // io thread only
  bool stopping = false;                      // io thread only
  asio::thread_pool pool{kPoolThreads};
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  uint16_t bound_port = 0;
  std::mutex stop_mutex;  // guards joining `thread`
  std::thread thread;
};

Result<std::unique_ptr<KubeletServer>> KubeletServer::Start(const KubeletServerOptions& options,
                                                            ContainerRuntime& runtime,
                                                            ContainerLookup& lookup) {
  try {
    auto impl = std::make_unique<Impl>(options, runtime, lookup);
    KELP_RETURN_IF_ERROR(impl->Configure());
    impl->Run();
    return std::unique_ptr<KubeletServer>(new KubeletServer(std::move(impl)));
  } catch (const std::exception& e) {
    return InternalError(std::string("start kubelet server: ") + e.what());
  }
}

KubeletServer::KubeletServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KubeletServer::~KubeletServer() { Stop(); }
uint16_t KubeletServer::port() const { return impl_->bound_port; }
void KubeletServer::Stop() { impl_->Stop(); }

}  // namespace kelp::agent
