// libFuzzer target for what a client decodes from outside: watch lines and Status answers
// from a server, and kubeconfig files. Each must decode or fail with a Status, never crash.
// Seeds: testdata/wire_corpus/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "client/api_wire.h"
#include "client/client_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)kelp::client::ParseWatchEvent(text);
  for (int code : {400, 404, 409, 410, 500, 302}) {
    (void)kelp::client::StatusFromResponse(code, text);
  }
  (void)kelp::client::ParseKubeconfig(text, "/nonexistent/kelp-wire-fuzz");
  return 0;
}
