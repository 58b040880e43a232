// The parts of a TLS server on Asio that kelp's two HTTPS servers (the apiserver's
// https_server.cc, the agent's kubelet_server.cc) share: the server certificate, the listening
// socket, the io thread, the accept loop and the set of open connections that shutdown closes.
// Header-only and heavy (Asio, Beast's tcp_stream): include it only from a translation unit
// that includes Beast anyway.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <exception>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "common/status.h"

namespace kelp::asio_tls {

// Loads the certificate chain and key a server presents, and allows TLS 1.2 and later only.
inline Status UseServerCertificate(boost::asio::ssl::context& tls,
                                   const std::filesystem::path& cert_path,
                                   const std::filesystem::path& key_path,
                                   boost::asio::ssl::context::options extra_options = 0) {
  namespace ssl = boost::asio::ssl;
  boost::system::error_code error;
  tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                      extra_options,
                  error);
  if (error) return InvalidArgumentError("TLS options: " + error.message());
  SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
  tls.use_certificate_chain_file(cert_path.string(), error);
  if (error) return InvalidArgumentError("load " + cert_path.string() + ": " + error.message());
  tls.use_private_key_file(key_path.string(), ssl::context::pem, error);
  if (error) return InvalidArgumentError("load " + key_path.string() + ": " + error.message());
  return Status::Ok();
}

// Opens, binds (SO_REUSEADDR) and listens on bind_address:port; returns the bound port (the
// chosen one when `port` is 0).
inline Result<uint16_t> Listen(boost::asio::ip::tcp::acceptor& acceptor,
                               const std::string& bind_address, uint16_t port) {
  namespace asio = boost::asio;
  boost::system::error_code error;
  asio::ip::address address = asio::ip::make_address(bind_address, error);
  if (error) return InvalidArgumentError("bind address \"" + bind_address + "\" is not an IP");
  asio::ip::tcp::endpoint endpoint(address, port);
  const std::string where = bind_address + ":" + std::to_string(port);
  if (acceptor.open(endpoint.protocol(), error) ||
      acceptor.set_option(asio::socket_base::reuse_address(true), error) ||
      acceptor.bind(endpoint, error) ||
      acceptor.listen(asio::socket_base::max_listen_connections, error)) {
    return IoError("listen on " + where + ": " + error.message());
  }
  uint16_t bound = acceptor.local_endpoint(error).port();
  if (error) return IoError("local address of " + where + ": " + error.message());
  return bound;
}

// A thread that runs `io` until it runs out of work or is stopped. A handler that throws is a
// bug, but must not end the server for every other client: io.run() is entered again.
inline std::thread RunIoThread(boost::asio::io_context& io) {
  return std::thread([&io] {
    for (;;) {
      try {
        io.run();
        return;
      } catch (const std::exception&) {
      }
    }
  });
}

// Accepts connections until `stopping` (read on the io thread) is set or the acceptor is
// closed, handing each socket to `serve` (which spawns its coroutine). An accept error (e.g.
// EMFILE) waits a little instead of spinning on the same error.
template <typename Serve>
boost::asio::awaitable<void> AcceptConnections(boost::asio::ip::tcp::acceptor& acceptor,
                                               const bool& stopping, Serve serve) {
  namespace asio = boost::asio;
  asio::steady_timer backoff(acceptor.get_executor());
  while (!stopping) {
    boost::system::error_code error;
    asio::ip::tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, error));
    if (stopping) co_return;
    if (error) {
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, error));
      continue;
    }
    serve(std::move(socket));
  }
}

// Keeps `item` in `set` while it lives (e.g. the open connections, so shutdown can close
// them). The set is touched on the io thread only.
template <typename T>
class Registration {
 public:
  Registration(std::set<T*>& set, T* item) : set_(set), item_(item) { set_.insert(item_); }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  ~Registration() { set_.erase(item_); }

 private:
  std::set<T*>& set_;
  T* item_;
};

// Shuts down and closes every stream in `streams` (their coroutines then end and deregister).
inline void CloseAll(const std::set<boost::beast::tcp_stream*>& streams) {
  boost::system::error_code ignored;
  for (boost::beast::tcp_stream* stream : std::set<boost::beast::tcp_stream*>(streams)) {
    stream->socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    stream->socket().close(ignored);
  }
}

}  // namespace kelp::asio_tls
