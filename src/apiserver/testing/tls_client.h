// A minimal blocking TLS client for apiserver tests, on plain OpenSSL and POSIX sockets (no
// Asio): it verifies the server against a given CA and the 127.0.0.1 IP SAN, offers ALPN
// "h2,http/1.1" as kubectl does, sends raw bytes and reads until the server closes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kelp::apiserver::testing {

struct TlsExchangeResult {
  std::string alpn_protocol;  // what the server selected; empty if none
  std::string received;       // every byte until the server closed
};

// Connects to 127.0.0.1:`port`, sends `request_bytes`, returns what came back.
Result<TlsExchangeResult> TlsExchange(uint16_t port, const std::string& ca_pem,
                                      std::string_view request_bytes);

struct ClientResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// Parses one HTTP/1.1 response (Content-Length framed) from the start of `raw`.
Result<ClientResponse> ParseResponse(std::string_view raw);

// GET `target` with "Connection: close" and, if given, "Authorization: Bearer <token>".
Result<ClientResponse> HttpsGet(uint16_t port, const std::string& ca_pem, std::string_view target,
                                std::optional<std::string_view> token);

// Connects over plain TCP, writes `bytes`, and closes (for handshake-garbage tests).
Status SendPlainTcp(uint16_t port, std::string_view bytes);

}  // namespace kelp::apiserver::testing
