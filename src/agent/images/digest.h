// Content digests of image blobs and layers: "sha256:<64 lowercase hex>" strings, their
// validation, and an incremental SHA-256 (OpenSSL) that hashes a blob while it streams past,
// so a layer is verified during the one pass that unpacks it.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kelp::images {

inline constexpr std::string_view kSha256Prefix = "sha256:";

// True for exactly 64 lowercase hex digits.
bool IsSha256Hex(std::string_view hex);

// Checks "sha256:<64 lowercase hex>" and returns the hex part. Other algorithms (sha512, ...)
// are Unimplemented; anything else is InvalidArgument naming `what`.
Result<std::string> ParseSha256Digest(std::string_view digest, std::string_view what);

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // The digest of everything fed so far, as "sha256:<hex>". Ends this hasher.
  std::string Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// "sha256:<hex>" of `data`.
std::string Sha256Digest(std::string_view data);

}  // namespace kelp::images
