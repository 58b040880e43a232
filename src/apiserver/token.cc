// Cluster token loading/creation (OpenSSL RAND_bytes) and constant-time bearer checks
// (CRYPTO_memcmp over SHA-256 digests, which also hides the token's length).
#include "apiserver/token.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <strings.h>

#include <algorithm>
#include <array>

#include "common/file.h"

namespace kelp::apiserver {
namespace {

constexpr size_t kGeneratedTokenBytes = 32;

Status ValidateToken(std::string_view token, std::string_view source) {
  if (token.empty()) return InvalidArgumentError(std::string(source) + ": token is empty");
  bool printable = std::all_of(token.begin(), token.end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  if (!printable) {
    return InvalidArgumentError(std::string(source) +
                                ": token holds whitespace or non-printable characters");
  }
  return Status::Ok();
}

Result<std::string> GenerateToken() {
  std::array<unsigned char, kGeneratedTokenBytes> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return InternalError("RAND_bytes failed to generate the cluster token");
  }
  static constexpr char kHexDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : bytes) {
    hex += kHexDigits[byte >> 4];
    hex += kHexDigits[byte & 0xf];
  }
  return hex;
}

std::string Sha256(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

}  // namespace

Result<std::string> LoadOrCreateToken(const std::filesystem::path& data_dir,
                                      std::string_view configured_token) {
  if (!configured_token.empty()) {
    KELP_RETURN_IF_ERROR(ValidateToken(configured_token, "--token"));
    return std::string(configured_token);
  }
  const std::filesystem::path token_path = data_dir / "token";
  Result<std::string> saved = ReadFile(token_path);
  if (saved.ok()) {
    std::string token = std::move(*saved);
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    KELP_RETURN_IF_ERROR(ValidateToken(token, token_path.string()));
    return token;
  }
  if (saved.status().code() != StatusCode::kNotFound) return saved.status();
  KELP_ASSIGN_OR_RETURN(std::string token, GenerateToken());
  KELP_RETURN_IF_ERROR(WriteFileAtomic(token_path, token + "\n", 0600));
  return token;
}

BearerTokenAuthenticator::BearerTokenAuthenticator(std::string expected_token)
    : expected_digest_(Sha256(expected_token)) {}

bool BearerTokenAuthenticator::Authenticate(
    std::optional<std::string_view> authorization_header) const {
  constexpr std::string_view kScheme = "bearer ";
  if (!authorization_header || authorization_header->size() <= kScheme.size() ||
      strncasecmp(authorization_header->data(), kScheme.data(), kScheme.size()) != 0) {
    return false;
  }
  std::string presented_digest = Sha256(authorization_header->substr(kScheme.size()));
  return CRYPTO_memcmp(presented_digest.data(), expected_digest_.data(),
                       expected_digest_.size()) == 0;
}

}  // namespace kelp::apiserver
