// OpenSSL-based blocking test client (see tls_client.h).
#include "apiserver/testing/tls_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <memory>

namespace kelp::apiserver::testing {
namespace {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free_all(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};

class Socket {
 public:
  Socket() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

Status ConnectLoopback(const Socket& socket, uint16_t port) {
  if (socket.fd() < 0) return ErrnoError("socket", errno);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(socket.fd(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    return ErrnoError("connect 127.0.0.1:" + std::to_string(port), errno);
  }
  return Status::Ok();
}

Status TlsError(std::string what) {
  char reason[256] = "";
  ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
  ERR_clear_error();
  return IoError(what + ": " + reason);
}

}  // namespace

Result<TlsExchangeResult> TlsExchange(uint16_t port, const std::string& ca_pem,
                                      std::string_view request_bytes) {
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx(SSL_CTX_new(TLS_client_method()));
  std::unique_ptr<BIO, BioDeleter> ca_bio(BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size())));
  if (!ctx || !ca_bio) return TlsError("client TLS context");
  std::unique_ptr<X509, X509Deleter> ca(PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr));
  if (!ca || X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), ca.get()) != 1) {
    return TlsError("load CA");
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);

  Socket socket;
  KELP_RETURN_IF_ERROR(ConnectLoopback(socket, port));
  std::unique_ptr<SSL, SslDeleter> ssl(SSL_new(ctx.get()));
  static constexpr unsigned char kAlpnOffer[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  if (!ssl || SSL_set_fd(ssl.get(), socket.fd()) != 1 ||
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), "127.0.0.1") != 1 ||
      SSL_set_alpn_protos(ssl.get(), kAlpnOffer, sizeof kAlpnOffer) != 0) {
    return TlsError("client TLS session");
  }
  if (SSL_connect(ssl.get()) != 1) return TlsError("TLS handshake");

  TlsExchangeResult result;
  const unsigned char* alpn = nullptr;
  unsigned int alpn_length = 0;
  SSL_get0_alpn_selected(ssl.get(), &alpn, &alpn_length);
  if (alpn) result.alpn_protocol.assign(reinterpret_cast<const char*>(alpn), alpn_length);

  if (!request_bytes.empty() &&
      SSL_write(ssl.get(), request_bytes.data(), static_cast<int>(request_bytes.size())) <= 0) {
    return TlsError("TLS write");
  }
  char chunk[4096];
  for (;;) {
    int n = SSL_read(ssl.get(), chunk, sizeof chunk);
    if (n <= 0) break;  // close_notify, EOF or reset: the exchange is over
    result.received.append(chunk, static_cast<size_t>(n));
  }
  ERR_clear_error();
  return result;
}

Result<ClientResponse> ParseResponse(std::string_view raw) {
  size_t header_end = raw.find("\r\n\r\n");
  if (!raw.starts_with("HTTP/1.1 ") || header_end == std::string_view::npos || raw.size() < 12) {
    return InvalidArgumentError("not an HTTP/1.1 response: " + std::string(raw.substr(0, 80)));
  }
  ClientResponse response;
  std::string_view status_digits = raw.substr(9, 3);
  if (std::from_chars(status_digits.data(), status_digits.data() + 3, response.status).ec !=
      std::errc()) {
    return InvalidArgumentError("bad status line");
  }
  std::string_view header_block = raw.substr(0, header_end);
  size_t line_start = header_block.find("\r\n");
  while (line_start != std::string_view::npos) {
    line_start += 2;
    size_t line_end = header_block.find("\r\n", line_start);
    std::string_view line = header_block.substr(line_start, line_end - line_start);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name(line.substr(0, colon));
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      response.headers[name] = std::string(value);
    }
    line_start = line_end;
  }
  size_t length = raw.size() - header_end - 4;
  if (auto it = response.headers.find("content-length"); it != response.headers.end()) {
    std::from_chars(it->second.data(), it->second.data() + it->second.size(), length);
  }
  response.body = std::string(raw.substr(header_end + 4, length));
  return response;
}

Result<ClientResponse> HttpsGet(uint16_t port, const std::string& ca_pem, std::string_view target,
                                std::optional<std::string_view> token) {
  std::string request = "GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (token) request += "Authorization: Bearer " + std::string(*token) + "\r\n";
  request += "Connection: close\r\n\r\n";
  KELP_ASSIGN_OR_RETURN(TlsExchangeResult exchange, TlsExchange(port, ca_pem, request));
  return ParseResponse(exchange.received);
}

Status SendPlainTcp(uint16_t port, std::string_view bytes) {
  Socket socket;
  KELP_RETURN_IF_ERROR(ConnectLoopback(socket, port));
  if (::send(socket.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL) < 0) {
    return ErrnoError("send", errno);
  }
  return Status::Ok();
}

}  // namespace kelp::apiserver::testing
