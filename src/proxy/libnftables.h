// LibNftables: the real Nftables seam on libnftables, in-process (no `nft` process per change).
// The netlink socket is opened when the object is created, so it stays bound to the network
// namespace its creating thread was in: create it inside the namespace you mean (the node's),
// then use it from any thread. Calls are serialized by a mutex.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"
#include "proxy/nftables.h"

struct nft_ctx;

namespace kelp::proxy {

class LibNftables final : public Nftables {
 public:
  static Result<std::unique_ptr<LibNftables>> Create();
  ~LibNftables() override;
  LibNftables(const LibNftables&) = delete;
  LibNftables& operator=(const LibNftables&) = delete;

  Status Apply(std::string_view transaction) override;
  Result<std::string> List(std::string_view command) override;

 private:
  explicit LibNftables(nft_ctx* ctx) : ctx_(ctx) {}
  // Runs `commands`; the output buffer on success, the error buffer as the Status otherwise.
  Result<std::string> Run(std::string_view commands);

  std::mutex mutex_;  // guards ctx_ (libnftables contexts are not thread-safe)
  nft_ctx* ctx_;
};

}  // namespace kelp::proxy
