// HttpsServer: TLS (1.2+, ALPN http/1.1) HTTP/1.1 keep-alive server on one Asio io_context
// thread, handing each parsed request to a RequestHandler. Beast/Asio stay inside
// https_server.cc (pimpl); callers see only Router types. Bad input from a client (malformed
// HTTP, oversized headers/body, a failed handshake) ends that connection, never the server.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "apiserver/router.h"
#include "common/status.h"

namespace kelp::apiserver {

struct HttpsServerOptions {
  std::string bind_address = "0.0.0.0";
  uint16_t port = 6443;  // 0 picks a free port; see HttpsServer::port()
  std::filesystem::path cert_path;  // PEM certificate (chain)
  std::filesystem::path key_path;   // PEM private key
  std::vector<int> stop_signals;    // signals that stop the server, e.g. SIGTERM, SIGINT
  size_t max_header_bytes = 64 * 1024;
  size_t max_body_bytes = 1024 * 1024;  // larger bodies get 413
};

class HttpsServer {
 public:
  // Binds, listens and starts serving on a background thread. `handler` runs on that thread.
  static Result<std::unique_ptr<HttpsServer>> Start(const HttpsServerOptions& options,
                                                    RequestHandler handler);
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;
  ~HttpsServer();  // Stop()

  uint16_t port() const;
  // Stops accepting, closes every connection and waits for the serving thread. Idempotent;
  // not to be called from a request handler.
  void Stop();
  // Blocks until the server has stopped (through Stop() or a stop signal).
  void Wait();

 private:
  struct Impl;
  explicit HttpsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kelp::apiserver
