// FetchFromUpstream on a private io_context: connect, TLS handshake (the upstream's certificate
// checked against the CA and its address), one request, the whole response; run_for bounds it.
#include "apiserver/kubelet_client.h"

#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "apiserver/upstream_tls.h"

namespace kelp::apiserver {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kMaxBody = 64 * 1024 * 1024;

struct Fetch {
  const UpstreamRequest& request;
  ssl::context& context;
  std::optional<Result<std::string>> result;

  asio::awaitable<void> Run() {
    auto executor = co_await asio::this_coro::executor;
    boost::system::error_code error;
    const std::string where = request.host + ":" + std::to_string(request.port);
    asio::ip::address address = asio::ip::make_address(request.host, error);
    if (error) {
      result = UnavailableError("\"" + request.host + "\" is not an IP address");
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(executor, context);
    stream.set_verify_callback(ssl::host_name_verification(request.host));
    co_await beast::get_lowest_layer(stream).async_connect(
        tcp::endpoint(address, request.port), asio::redirect_error(asio::use_awaitable, error));
    if (!error) {
      co_await stream.async_handshake(ssl::stream_base::client,
                                      asio::redirect_error(asio::use_awaitable, error));
    }
    if (error) {
      result =
          UnavailableError("error dialing backend: dial tcp " + where + ": " + error.message());
      co_return;
    }
    http::request<http::empty_body> message{
        request.method == "POST" ? http::verb::post : http::verb::get, request.target, 11};
    message.set(http::field::host, where);
    for (const auto& [name, value] : request.headers) message.set(name, value);
    message.keep_alive(false);
    co_await http::async_write(stream, message, asio::redirect_error(asio::use_awaitable, error));
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    if (!error) {
      co_await http::async_read(stream, buffer, parser,
                                asio::redirect_error(asio::use_awaitable, error));
    }
    if (error) {
      result = UnavailableError("kubelet " + where + ": " + error.message());
      co_return;
    }
    http::response<http::string_body> response = parser.release();
    if (response.result() != http::status::ok) {
      result = InternalError("kubelet " + where + " answered " +
                             std::to_string(response.result_int()) + ": " + response.body());
      co_return;
    }
    result = std::move(response.body());
  }
};

}  // namespace

Status ConfigureUpstreamTls(ssl::context& context, const UpstreamTls* tls) {
  boost::system::error_code error;
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  if (tls != nullptr) {
    if (!tls->ca_pem.empty()) context.add_certificate_authority(asio::buffer(tls->ca_pem), error);
    if (!error && !tls->client_cert_pem.empty()) {
      context.use_certificate_chain(asio::buffer(tls->client_cert_pem), error);
    }
    if (!error && !tls->client_key_pem.empty()) {
      context.use_private_key(asio::buffer(tls->client_key_pem), ssl::context::pem, error);
    }
    if (error) return InvalidArgumentError("TLS material: " + error.message());
  }
  context.set_verify_mode(ssl::verify_peer, error);
  if (error) return InvalidArgumentError("TLS verify mode: " + error.message());
  return Status::Ok();
}

Result<std::string> FetchFromUpstream(const UpstreamRequest& request,
                                      std::chrono::milliseconds timeout) {
  try {
    ssl::context context{ssl::context::tls_client};
    Status configured = ConfigureUpstreamTls(context, request.tls.get());
    if (!configured.ok()) return configured.WithContext("kubelet client");
    Fetch fetch{request, context, std::nullopt};  // outlives io, whose frames refer to it
    asio::io_context io{1};
    asio::co_spawn(io, fetch.Run(), asio::detached);
    io.run_for(timeout);
    if (!fetch.result) {
      return DeadlineExceededError("kubelet " + request.host + ":" + std::to_string(request.port) +
                                   " did not answer within " + std::to_string(timeout.count()) +
                                   " ms");
    }
    return std::move(*fetch.result);
  } catch (const std::exception& e) {
    return InternalError(std::string("kubelet request: ") + e.what());
  }
}

}  // namespace kelp::apiserver
