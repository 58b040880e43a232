// The Nftables seam: how the Service proxy changes the kernel's packet filter. Apply() runs an
// nft script (what `nft -f` reads) as one atomic transaction: all of it takes effect or none.
// List() runs a listing command ("list table ip kelp-proxy") and returns nft's text.
// LibNftables (libnftables.h) is the real one; testing::FakeNftables records the transactions
// for golden tests.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace kelp::proxy {

class Nftables {
 public:
  virtual ~Nftables() = default;
  // kInvalidArgument when nft rejects the script (syntax, unknown chain, ...), kIoError when
  // the kernel does; the message is nft's.
  [[nodiscard]] virtual Status Apply(std::string_view transaction) = 0;
  // kNotFound when what is listed does not exist.
  [[nodiscard]] virtual Result<std::string> List(std::string_view command) = 0;
};

}  // namespace kelp::proxy
