// Sha256 over OpenSSL's EVP interface and the digest string checks.
#include "agent/images/digest.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <array>
#include <cstdlib>

namespace kelp::images {

bool IsSha256Hex(std::string_view hex) {
  if (hex.size() != 64) return false;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<std::string> ParseSha256Digest(std::string_view digest, std::string_view what) {
  const size_t colon = digest.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return InvalidArgumentError(
        fmt::format("{}: \"{}\" is not a digest (want sha256:<hex>)", what, digest));
  }
  const std::string_view algorithm = digest.substr(0, colon);
  const std::string_view hex = digest.substr(colon + 1);
  if (algorithm != "sha256") {
    return UnimplementedError(
        fmt::format("{}: digest algorithm \"{}\" is not supported (only sha256)", what, algorithm));
  }
  if (!IsSha256Hex(hex)) {
    return InvalidArgumentError(fmt::format(
        "{}: \"{}\" is not a sha256 digest (want 64 lowercase hex digits)", what, digest));
  }
  return std::string(hex);
}

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  // Allocation failure of a few bytes is not an input error; it aborts like new would.
  if (state_->ctx == nullptr || EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) != 1) {
    std::abort();
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(state_->ctx); }

void Sha256::Update(const void* data, size_t size) {
  if (size > 0) EVP_DigestUpdate(state_->ctx, data, size);
}

std::string Sha256::Finish() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(state_->ctx, digest.data(), &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(kSha256Prefix);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

std::string Sha256Digest(std::string_view data) {
  Sha256 hasher;
  hasher.Update(data);
  return hasher.Finish();
}

}  // namespace kelp::images
