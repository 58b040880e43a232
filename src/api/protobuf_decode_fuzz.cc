// libFuzzer target for DecodeKubernetesProtobuf: any bytes a client can POST must decode or
// fail with a Status, never crash, hang or read out of bounds. The seed corpus is in
// testdata/protobuf_corpus/ (kubectl 1.32 captures plus truncated and mutated variants).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/protobuf_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)kelp::api::DecodeKubernetesProtobuf(body);
  return 0;
}
