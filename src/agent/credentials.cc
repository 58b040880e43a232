// K10 agent-token parsing (see credentials.h).
#include "agent/credentials.h"

#include <algorithm>

namespace kelp::agent {

Result<std::string> K10CaHash(std::string_view token) {
  constexpr std::string_view kPrefix = "K10";
  constexpr size_t kHashLength = 64;
  constexpr std::string_view kSeparator = "::";
  const Status malformed = InvalidArgumentError(
      "token is not a K10 agent token (K10<sha256 of the server CA>::node:<secret>, as in "
      "<data-dir>/agent-token)");
  if (token.size() <= kPrefix.size() + kHashLength + kSeparator.size() ||
      token.substr(0, kPrefix.size()) != kPrefix) {
    return malformed;
  }
  std::string_view hash = token.substr(kPrefix.size(), kHashLength);
  if (!std::all_of(hash.begin(), hash.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      })) {
    return malformed;
  }
  std::string_view rest = token.substr(kPrefix.size() + kHashLength);
  if (rest.substr(0, kSeparator.size()) != kSeparator ||
      rest.find(':', kSeparator.size()) == std::string_view::npos) {
    return malformed;
  }
  return std::string(hash);
}

}  // namespace kelp::agent
