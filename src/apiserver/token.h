// Bearer-token authentication for the apiserver: the cluster token comes from --token, or from
// <data-dir>/token (created once with 32 random bytes, hex, mode 0600). Tokens are compared
// in constant time so response timing reveals nothing about a guess.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kelp::apiserver {

// `configured_token` if non-empty; otherwise the token saved in `data_dir`/token, created on
// first use. InvalidArgument if either is empty or holds whitespace or control characters.
Result<std::string> LoadOrCreateToken(const std::filesystem::path& data_dir,
                                      std::string_view configured_token);

// Checks "Authorization: Bearer <token>" header values against one expected token.
class BearerTokenAuthenticator {
 public:
  explicit BearerTokenAuthenticator(std::string expected_token);

  // True only for a header "Bearer <token>" (scheme case-insensitive) carrying the token.
  bool Authenticate(std::optional<std::string_view> authorization_header) const;

 private:
  std::string expected_digest_;  // SHA-256 of the token: compared digests have equal lengths
};

}  // namespace kelp::apiserver
