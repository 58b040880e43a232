// libFuzzer target: the CNI network configuration parsers (common part, kelp-bridge,
// kelp-ipam, kelp-flannel, GC attachments) and the result parser on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cni/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  kelp::cni::CniResult<kelp::cni::NetConf> conf = kelp::cni::ParseNetConf(text);
  if (auto* c = std::get_if<kelp::cni::NetConf>(&conf)) {
    (void)kelp::cni::ParseBridgeConf(*c);
    (void)kelp::cni::ParseIpamConf(*c);
    (void)kelp::cni::ParseFlannelConf(*c);
    (void)kelp::cni::ParseValidAttachments(*c);
  }
  (void)kelp::cni::ParseResult(text);
  return 0;
}
