// The apiserver's transport: Boost.Beast HTTP/1.1 over Asio SSL streams with C++20
// coroutines; with kubelet_client.cc the only translation units that include Beast/Asio. Each
// connection is a coroutine (handshake, then read → handle → write until close); every Asio
// call uses error codes, and exceptions from handlers are turned into 500 Status responses. A
// streamed response (watch) is written chunk by chunk: its ResponseStream runs on a helper
// thread that hands chunks over through a bounded queue and wakes the connection by posting to
// the io thread, so a blocking producer never stalls other connections. A proxied response
// (logs and exec, relayed to a node's kubelet) connects to the upstream over mutual TLS, sends
// the request on and relays bytes both ways until either side closes.
#include "apiserver/https_server.h"

#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "apiserver/upstream_tls.h"
#include "common/asio_tls_server.h"

namespace kelp::apiserver {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto kHandshakeTimeout = 10s;
constexpr auto kIdleTimeout = 120s;
constexpr auto kTlsShutdownTimeout = 2s;
constexpr auto kUpstreamConnectTimeout = 10s;
// Handlers block (a write waits for its batch's fsync), so they run on this many threads: up
// to as many writes share one group commit, and the io thread keeps serving other connections.
constexpr int kHandlerThreads = 32;
// ALPN wire format: length-prefixed protocol names. Only HTTP/1.1 is served.
constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

int SelectAlpnHttp11(SSL*, const unsigned char** out, unsigned char* out_length,
                     const unsigned char* offered, unsigned int offered_length, void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_length, kAlpnHttp11, sizeof kAlpnHttp11, offered,
                            offered_length) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no ALPN agreement: carry on, the client may still speak 1.1
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

HttpRequest ToHttpRequest(http::request<http::string_body>&& message) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& field : message) {
    headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return MakeRequest(std::string(message.method_string()), std::string(message.target()),
                     std::move(headers), std::move(message.body()));
}

// Takes the body over: a large one is not copied.
http::response<http::string_body> ToBeastResponse(HttpResponse&& response, bool keep_alive) {
  http::response<http::string_body> message{static_cast<http::status>(response.status), 11};
  if (!response.content_type.empty()) message.set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.extra_headers) message.set(name, value);
  message.body() = std::move(response.body);
  message.keep_alive(keep_alive);
  message.prepare_payload();
  return message;
}

// The response to a request the parser rejected, or nullopt when the connection just ended.
std::optional<HttpResponse> ResponseToReadError(const boost::system::error_code& error) {
  if (error == http::error::body_limit) {
    return StatusFailureResponse(413, "RequestEntityTooLarge", "request body too large");
  }
  if (error == http::error::header_limit) {
    return StatusFailureResponse(431, "BadRequest", "request header fields too large");
  }
  if (error.category() == http::make_error_code(http::error::bad_method).category() &&
      error != http::error::end_of_stream && error != http::error::partial_message) {
    return StatusFailureResponse(400, "BadRequest", "malformed HTTP request: " + error.message());
  }
  return std::nullopt;
}

// Chunks on their way from a ResponseStream's helper thread to the connection. Bounded in
// chunks (many small watch events) and bytes (the large chunks of a LIST), so a slow client
// slows the producer down instead of growing memory.
class ChunkQueue {
 public:
  static constexpr size_t kMaxQueuedChunks = 256;
  static constexpr size_t kMaxQueuedBytes = 1024 * 1024;

  // Helper thread: blocks while full. `chunk` nullopt marks the end. False once closed.
  bool Push(std::optional<std::string> chunk) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [this] {
      return closed_ || (chunks_.size() < kMaxQueuedChunks && queued_bytes_ < kMaxQueuedBytes);
    });
    if (closed_) return false;
    if (chunk) {
      queued_bytes_ += chunk->size();
      chunks_.push_back(std::move(*chunk));
    } else {
      ended_ = true;
    }
    return true;
  }

  // io thread: everything queued so far, and whether the stream has ended after it.
  std::pair<std::deque<std::string>, bool> TakeAll() {
    std::lock_guard lock(mutex_);
    std::deque<std::string> taken;
    taken.swap(chunks_);
    queued_bytes_ = 0;
    not_full_.notify_all();
    return {std::move(taken), ended_};
  }

  // io thread: whether TakeAll has something new to hand over.
  bool HasNews() {
    std::lock_guard lock(mutex_);
    return !chunks_.empty() || ended_;
  }

  void Close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    not_full_.notify_all();
  }

 private:
  std::mutex mutex_;  // guards chunks_, queued_bytes_, ended_ and closed_
  std::condition_variable not_full_;
  std::deque<std::string> chunks_;
  size_t queued_bytes_ = 0;
  bool ended_ = false;
  bool closed_ = false;
};

// The connection side of one streamed response: the timer the coroutine sleeps on between
// chunks (cancelled to wake it) and the producer to cancel on shutdown. Lives on the io thread.
struct StreamPump {
  StreamPump(asio::io_context& io, std::shared_ptr<ResponseStream> response_stream)
      : wake(io, asio::steady_timer::time_point::max()), stream(std::move(response_stream)) {}

  asio::steady_timer wake;
  std::shared_ptr<ResponseStream> stream;
  std::shared_ptr<ChunkQueue> queue = std::make_shared<ChunkQueue>();
};

// Runs a ResponseStream's Next() on its own thread for as long as the object lives; the
// destructor cancels the stream and joins, so no thread outlives its connection.
class StreamProducer {
 public:
  StreamProducer(asio::io_context& io, const std::shared_ptr<StreamPump>& pump)
      : stream_(pump->stream), queue_(pump->queue) {
    std::weak_ptr<StreamPump> weak_pump = pump;
    thread_ = std::thread([&io, stream = stream_, queue = queue_, weak_pump] {
      for (;;) {
        std::optional<std::string> chunk = stream->Next();
        const bool ended = !chunk;
        if (!queue->Push(std::move(chunk))) return;
        asio::post(io, [weak_pump] {
          if (std::shared_ptr<StreamPump> pump = weak_pump.lock()) pump->wake.cancel();
        });
        if (ended) return;
      }
    });
  }
  StreamProducer(const StreamProducer&) = delete;
  StreamProducer& operator=(const StreamProducer&) = delete;
  ~StreamProducer() {
    stream_->Cancel();
    queue_->Close();
    thread_.join();
  }

 private:
  std::shared_ptr<ResponseStream> stream_;
  std::shared_ptr<ChunkQueue> queue_;
  std::thread thread_;
};

}  // namespace

struct HttpsServer::Impl {
  using Stream = beast::ssl_stream<beast::tcp_stream>;

  explicit Impl(RequestHandler request_handler, const HttpsServerOptions& server_options)
      : options(server_options), handler(std::move(request_handler)) {}

  Status Configure() {
    KELP_RETURN_IF_ERROR(asio_tls::UseServerCertificate(tls, options.cert_path, options.key_path,
                                                        ssl::context::single_dh_use));
    SSL_CTX_set_alpn_select_cb(tls.native_handle(), SelectAlpnHttp11, nullptr);
    KELP_ASSIGN_OR_RETURN(bound_port,
                          asio_tls::Listen(acceptor, options.bind_address, options.port));

    boost::system::error_code error;
    if (!options.stop_signals.empty()) {
      signals.emplace(io);
      for (int signal_number : options.stop_signals) {
        if (signals->add(signal_number, error)) {
          return IoError("watch signal " + std::to_string(signal_number) + ": " + error.message());
        }
      }
      signals->async_wait([this](const boost::system::error_code& wait_error, int) {
        if (!wait_error) BeginShutdown();
      });
    }
    return Status::Ok();
  }

  void Run() {
    auto serve = [this](tcp::socket socket) {
      asio::co_spawn(io, ServeConnection(std::move(socket)), [](std::exception_ptr) {});
    };
    asio::co_spawn(io, asio_tls::AcceptConnections(acceptor, stopping, serve),
                   [](std::exception_ptr) {});
    serving_thread = asio_tls::RunIoThread(io);
  }

  // Runs on the io thread.
  void BeginShutdown() {
    if (stopping) return;
    stopping = true;
    boost::system::error_code ignored;
    acceptor.close(ignored);
    if (signals) signals->cancel(ignored);
    asio_tls::CloseAll(open_streams);
    for (StreamPump* pump : active_pumps) {
      pump->stream->Cancel();
      pump->wake.cancel();
    }
  }

  void Stop() {
    asio::post(io, [this] { BeginShutdown(); });
    Wait();
  }

  void Wait() {
    std::lock_guard lock(join_mutex);
    if (serving_thread.joinable()) serving_thread.join();
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
    if (error) co_return;

    beast::flat_buffer buffer;
    bool keep_alive = true;
    while (keep_alive && !stopping) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
      parser.body_limit(options.max_body_bytes);
      transport.expires_after(kIdleTimeout);
      co_await http::async_read(stream, buffer, parser,
                                asio::redirect_error(asio::use_awaitable, error));
      HttpResponse response;
      if (error) {
        std::optional<HttpResponse> rejection = ResponseToReadError(error);
        if (!rejection) co_return;  // closed, timed out or reset: nothing to answer
        response = std::move(*rejection);
        keep_alive = false;
      } else {
        keep_alive = parser.get().keep_alive();
        response = co_await HandleOnPool(ToHttpRequest(parser.release()));
      }
      if (response.upstream) {
        co_await ProxyToUpstream(stream, buffer, *response.upstream);
        co_return;
      }
      if (response.stream) {
        // An open-ended stream (a watch) ends the connection: kubectl opens a new one per
        // watch anyway. A finite one (a LIST) keeps it.
        keep_alive = keep_alive && response.stream->KeepsConnection();
        const bool completed = co_await WriteStreamedResponse(stream, response, keep_alive);
        if (!completed || !keep_alive) co_return;
        continue;
      }
      auto message = ToBeastResponse(std::move(response), keep_alive && !stopping);
      transport.expires_after(kIdleTimeout);
      co_await http::async_write(stream, message, asio::redirect_error(asio::use_awaitable, error));
      if (error) co_return;
    }
    if (stopping) co_return;
    transport.expires_after(kTlsShutdownTimeout);
    co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, error));
  }

  // One direction of a proxied connection; when it ends, both connections are closed so the
  // other direction ends too.
  struct RelayState {
    explicit RelayState(asio::io_context& io) : done(io, asio::steady_timer::time_point::max()) {}
    void CloseBoth() {
      boost::system::error_code ignored;
      for (beast::tcp_stream* transport : {client, upstream}) {
        transport->socket().shutdown(tcp::socket::shutdown_both, ignored);
        transport->socket().close(ignored);
      }
    }
    beast::tcp_stream* client = nullptr;
    beast::tcp_stream* upstream = nullptr;
    int running = 0;
    asio::steady_timer done;
  };

  asio::awaitable<void> Relay(Stream& from, Stream& to, RelayState& state) {
    std::array<char, 16 * 1024> chunk;
    boost::system::error_code error;
    for (;;) {
      size_t n = co_await from.async_read_some(asio::buffer(chunk),
                                               asio::redirect_error(asio::use_awaitable, error));
      if (n > 0) {
        boost::system::error_code write_error;
        co_await asio::async_write(to, asio::buffer(chunk.data(), n),
                                   asio::redirect_error(asio::use_awaitable, write_error));
        if (write_error) break;
      }
      if (error) break;
    }
    state.CloseBoth();
    --state.running;
    state.done.cancel();
  }

  asio::awaitable<void> WriteFailure(Stream& stream, HttpResponse response) {
    boost::system::error_code error;
    auto message = ToBeastResponse(std::move(response), false);
    beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
    co_await http::async_write(stream, message, asio::redirect_error(asio::use_awaitable, error));
    if (error) co_return;
    beast::get_lowest_layer(stream).expires_after(kTlsShutdownTimeout);
    co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, error));
  }

  // Sends the request to the upstream and relays bytes both ways (see UpstreamRequest). The
  // client connection ends with it.
  asio::awaitable<void> ProxyToUpstream(Stream& client, beast::flat_buffer& client_buffer,
                                        const UpstreamRequest& request) {
    const std::string where = request.host + ":" + std::to_string(request.port);
    auto dial_error = [&](const std::string& what) {
      return StatusFailureResponse(500, "InternalError", "error dialing backend: " + what);
    };
    ssl::context context{ssl::context::tls_client};
    if (Status configured = ConfigureUpstreamTls(context, request.tls.get()); !configured.ok()) {
      co_await WriteFailure(client, dial_error(configured.message()));
      co_return;
    }
    boost::system::error_code error;
    asio::ip::address address = asio::ip::make_address(request.host, error);
    if (error) {
      co_await WriteFailure(client, dial_error("\"" + request.host + "\" is not an IP address"));
      co_return;
    }
    Stream upstream(io, context);
    upstream.set_verify_callback(ssl::host_name_verification(request.host));
    beast::tcp_stream& upstream_transport = beast::get_lowest_layer(upstream);
    asio_tls::Registration<beast::tcp_stream> registration(open_streams, &upstream_transport);
    upstream_transport.expires_after(kUpstreamConnectTimeout);
    co_await upstream_transport.async_connect(tcp::endpoint(address, request.port),
                                              asio::redirect_error(asio::use_awaitable, error));
    if (!error && !stopping) {
      co_await upstream.async_handshake(ssl::stream_base::client,
                                        asio::redirect_error(asio::use_awaitable, error));
    }
    if (stopping) co_return;
    if (error) {
      co_await WriteFailure(client, dial_error("dial tcp " + where + ": " + error.message()));
      co_return;
    }
    bool upgrade = false;
    std::string head =
        request.method + " " + request.target + " HTTP/1.1\r\nHost: " + where + "\r\n";
    for (const auto& [name, value] : request.headers) {
      if (beast::iequals(name, "upgrade")) upgrade = true;
      head += name + ": " + value + "\r\n";
    }
    if (!upgrade) head += "Connection: close\r\n";
    head += "\r\n";
    co_await asio::async_write(upstream, asio::buffer(head),
                               asio::redirect_error(asio::use_awaitable, error));
    if (!error && client_buffer.size() > 0) {
      // Bytes the client sent after its request head (none from kubectl, which waits for 101).
      co_await asio::async_write(upstream, client_buffer.data(),
                                 asio::redirect_error(asio::use_awaitable, error));
      client_buffer.consume(client_buffer.size());
    }
    if (error || stopping) {
      if (!stopping) {
        co_await WriteFailure(client, dial_error("send to " + where + ": " + error.message()));
      }
      co_return;
    }
    beast::tcp_stream& client_transport = beast::get_lowest_layer(client);
    client_transport.expires_never();
    upstream_transport.expires_never();
    RelayState state(io);
    state.client = &client_transport;
    state.upstream = &upstream_transport;
    state.running = 2;
    asio::co_spawn(io, Relay(upstream, client, state), asio::detached);
    asio::co_spawn(io, Relay(client, upstream, state), asio::detached);
    while (state.running > 0) {
      state.done.expires_at(asio::steady_timer::time_point::max());
      co_await state.done.async_wait(asio::redirect_error(asio::use_awaitable, error));
    }
  }

  // Header with chunked encoding, then each chunk as the producer hands it over, flushed at
  // once; ends when the stream ends, a write fails (client gone) or the server stops. True
  // when the whole body was written; with `keep_alive` the connection then stays open,
  // otherwise it is shut down here.
  asio::awaitable<bool> WriteStreamedResponse(Stream& stream, const HttpResponse& response,
                                              bool keep_alive) {
    beast::tcp_stream& transport = beast::get_lowest_layer(stream);
    boost::system::error_code error;
    http::response<http::empty_body> header{static_cast<http::status>(response.status), 11};
    if (!response.content_type.empty()) header.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.extra_headers) header.set(name, value);
    header.keep_alive(keep_alive);
    header.chunked(true);
    http::response_serializer<http::empty_body> serializer{header};
    transport.expires_after(kIdleTimeout);
    co_await http::async_write_header(stream, serializer,
                                      asio::redirect_error(asio::use_awaitable, error));
    if (error) co_return false;

    auto pump = std::make_shared<StreamPump>(io, response.stream);
    // Listed while in flight, so shutdown can end it.
    asio_tls::Registration<StreamPump> registration(active_pumps, pump.get());
    if (stopping) co_return false;
    std::deque<std::string> pending;
    if (!response.body.empty()) pending.push_back(response.body);
    StreamProducer producer(io, pump);
    for (;;) {
      auto [chunks, ended] = pump->queue->TakeAll();
      for (std::string& chunk : chunks) pending.push_back(std::move(chunk));
      for (const std::string& chunk : pending) {
        if (chunk.empty()) continue;  // an empty chunk would mark the end of the body
        transport.expires_after(kIdleTimeout);
        co_await asio::async_write(stream, http::make_chunk(asio::buffer(chunk)),
                                   asio::redirect_error(asio::use_awaitable, error));
        if (error) co_return false;
      }
      pending.clear();
      if (ended) break;
      if (stopping) co_return false;
      // Chunks pushed while this coroutine was writing were announced by a wake-up that found
      // no wait to cancel: take them now. One pushed after this check wakes the wait below,
      // since its wake-up is posted to this (the io) thread.
      if (pump->queue->HasNews()) continue;
      co_await pump->wake.async_wait(asio::redirect_error(asio::use_awaitable, error));
      if (stopping) co_return false;
    }
    transport.expires_after(kIdleTimeout);
    co_await asio::async_write(stream, http::make_chunk_last(),
                               asio::redirect_error(asio::use_awaitable, error));
    if (error) co_return false;
    if (keep_alive) co_return true;
    transport.expires_after(kTlsShutdownTimeout);
    co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, error));
    co_return true;
  }

  // Runs the handler on handler_pool and resumes the connection on the io thread.
  asio::awaitable<HttpResponse> HandleOnPool(HttpRequest request) {
    co_return co_await asio::co_spawn(handler_pool, HandleAsCoroutine(std::move(request)),
                                      asio::use_awaitable);
  }

  // A member coroutine rather than a capturing lambda: g++ 12 destroys a coroutine lambda's
  // captures twice when Asio moves the closure into co_spawn.
  asio::awaitable<HttpResponse> HandleAsCoroutine(HttpRequest request) {
    co_return HandleSafely(request);
  }

  HttpResponse HandleSafely(const HttpRequest& request) {
    try {
      return handler(request);
    } catch (const std::exception& e) {
      return StatusFailureResponse(500, "InternalError", std::string("internal error: ") + e.what());
    }
  }

  // Declared before `io`: coroutine frames that io destroys may still refer to these.
  HttpsServerOptions options;
  RequestHandler handler;
  ssl::context tls{ssl::context::tls_server};
  std::set<beast::tcp_stream*> open_streams;  // only touched on the io thread
  std::set<StreamPump*> active_pumps;         // only touched on the io thread
  bool stopping = false;                       // only touched on the io thread

  // Declared before `io`, so it is joined after io's coroutine frames are gone; a handler in
  // flight keeps io running until the handler is done.
  asio::thread_pool handler_pool{kHandlerThreads};
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::optional<asio::signal_set> signals;
  uint16_t bound_port = 0;
  std::mutex join_mutex;  // guards joining serving_thread
  std::thread serving_thread;
};

Result<std::unique_ptr<HttpsServer>> HttpsServer::Start(const HttpsServerOptions& options,
                                                        RequestHandler handler) {
  try {
    auto impl = std::make_unique<Impl>(std::move(handler), options);
    KELP_RETURN_IF_ERROR(impl->Configure());
    impl->Run();
    return std::unique_ptr<HttpsServer>(new HttpsServer(std::move(impl)));
  } catch (const std::exception& e) {
    return InternalError(std::string("start HTTPS server: ") + e.what());
  }
}

HttpsServer::HttpsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpsServer::~HttpsServer() { Stop(); }

uint16_t HttpsServer::port() const { return impl_->bound_port; }

void HttpsServer::Stop() { impl_->Stop(); }

void HttpsServer::Wait() { impl_->Wait(); }

}  // namespace kelp::apiserver
