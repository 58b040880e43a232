// Bearer-token authentication for the apiserver: the cluster token comes from --token, or from
// <data-dir>/token (created once with 32 random bytes, hex, mode 0600). Tokens are compared
// in constant time so response timing reveals nothing about a guess.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kelp::apiserver {

// `configured_token` if non-empty; otherwise the token saved in `data_dir`/token, created on
// first use. InvalidArgument if either is empty or holds whitespace or control characters.
Result<std::string> LoadOrCreateToken(const std::filesystem::path& data_dir,
                                      std::string_view configured_token);

// The node credential of `kelp agent`: "K10<sha256 hex of the CA certificate's DER>::node:
// <secret>", k3s' format, so an agent given only this token can pin the server's CA. Kept in
// <data_dir>/agent-token (0600); the secret is created once, the CA hash follows the CA.
Result<std::string> LoadOrCreateAgentToken(const std::filesystem::path& data_dir,
                                           std::string_view ca_cert_pem);

// Lower-case hex SHA-256 of the DER form of the PEM certificate `cert_pem`.
Result<std::string> CertificateSha256(std::string_view cert_pem);

// Checks "Authorization: Bearer <token>" header values against the expected tokens.
class BearerTokenAuthenticator {
 public:
  explicit BearerTokenAuthenticator(std::string expected_token);
  explicit BearerTokenAuthenticator(const std::vector<std::string>& expected_tokens);

  // True only for a header "Bearer <token>" (scheme case-insensitive) carrying the token.
  bool Authenticate(std::optional<std::string_view> authorization_header) const;

 private:
  // SHA-256 of each token: compared digests have equal lengths.
  std::vector<std::string> expected_digests_;
};

}  // namespace kelp::apiserver
