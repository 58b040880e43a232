// Fuzz target over what the kubelet server parses from its clients: exec and log query
// strings, WebSocket subprotocol offers and resize-channel payloads.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/kubelet_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  using namespace kelp::agent;
  (void)ParseQueryString(input);
  (void)ParseExecQuery(input);
  (void)ParseLogQuery(input);
  (void)ChooseStreamProtocol(input);
  (void)ParseTerminalSize(input);
  return 0;
}
