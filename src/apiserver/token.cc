// Cluster token loading/creation (OpenSSL RAND_bytes) and constant-time bearer checks
// (CRYPTO_memcmp over SHA-256 digests, which also hides the token's length), and the agent
// token in k3s' K10 format.
#include "apiserver/token.h"

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
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

std::string Hex(const unsigned char* bytes, size_t size) {
  static constexpr char kHexDigits[] = "0123456789abcdef";
  std::string hex;
  for (size_t i = 0; i < size; ++i) {
    hex += kHexDigits[bytes[i] >> 4];
    hex += kHexDigits[bytes[i] & 0xf];
  }
  return hex;
}

Result<std::string> GenerateToken() {
  std::array<unsigned char, kGeneratedTokenBytes> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return InternalError("RAND_bytes failed to generate the cluster token");
  }
  return Hex(bytes.data(), bytes.size());
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

Result<std::string> CertificateSha256(std::string_view cert_pem) {
  BIO* bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  if (!bio) return InternalError("BIO_new_mem_buf failed");
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!cert) return InvalidArgumentError("not a PEM certificate");
  unsigned char* der = nullptr;
  int length = i2d_X509(cert, &der);
  X509_free(cert);
  if (length <= 0) return InternalError("i2d_X509 failed");
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(length), digest);
  OPENSSL_free(der);
  return Hex(digest, sizeof digest);
}

Result<std::string> LoadOrCreateAgentToken(const std::filesystem::path& data_dir,
                                           std::string_view ca_cert_pem) {
  constexpr std::string_view kCredentialMarker = "::node:";
  KELP_ASSIGN_OR_RETURN(std::string ca_hash, CertificateSha256(ca_cert_pem));
  const std::filesystem::path token_path = data_dir / "agent-token";
  std::string secret;
  Result<std::string> saved = ReadFile(token_path);
  if (saved.ok()) {
    size_t marker = saved->find(kCredentialMarker);
    if (marker != std::string::npos) {
      secret = saved->substr(marker + kCredentialMarker.size());
      while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    }
  } else if (saved.status().code() != StatusCode::kNotFound) {
    return saved.status();
  }
  if (secret.empty()) {
    KELP_ASSIGN_OR_RETURN(secret, GenerateToken());
  }
  KELP_RETURN_IF_ERROR(ValidateToken(secret, token_path.string()));
  std::string token = "K10" + ca_hash + std::string(kCredentialMarker) + secret;
  if (!saved.ok() || *saved != token + "\n") {
    KELP_RETURN_IF_ERROR(WriteFileAtomic(token_path, token + "\n", 0600));
  }
  return token;
}

BearerTokenAuthenticator::BearerTokenAuthenticator(std::string expected_token)
    : expected_digests_{Sha256(expected_token)} {}

BearerTokenAuthenticator::BearerTokenAuthenticator(const std::vector<std::string>& expected_tokens) {
  for (const std::string& token : expected_tokens) expected_digests_.push_back(Sha256(token));
}

bool BearerTokenAuthenticator::Authenticate(
    std::optional<std::string_view> authorization_header) const {
  constexpr std::string_view kScheme = "bearer ";
  if (!authorization_header || authorization_header->size() <= kScheme.size() ||
      strncasecmp(authorization_header->data(), kScheme.data(), kScheme.size()) != 0) {
    return false;
  }
  std::string presented_digest = Sha256(authorization_header->substr(kScheme.size()));
  bool match = false;
  for (const std::string& expected : expected_digests_) {
    match |= CRYPTO_memcmp(presented_digest.data(), expected.data(), expected.size()) == 0;
  }
  return match;
}

}  // namespace kelp::apiserver
