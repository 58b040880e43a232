// libFuzzer target for the BGP codec, the parser of everything a peer sends. The first byte
// picks the session options; the rest is decoded as a stream of messages. Every decoded
// message must re-encode and decode back to the same value, else the target aborts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <variant>

#include "bgp/codec.h"

namespace {

using kelp::bgp::CodecOptions;
using kelp::bgp::DecodedMessage;
using kelp::bgp::Message;
using kelp::bgp::Update;

// The decoder's RFC 7606 notes describe the received bytes, not the message value.
Message WithoutNotes(Message message) {
  if (auto* update = std::get_if<Update>(&message)) update->attribute_errors.clear();
  return message;
}

void CheckRoundTrip(const Message& message, const CodecOptions& options) {
  const auto* update = std::get_if<Update>(&message);
  // Treat-as-withdraw updates keep only the attributes that parsed: nothing to compare.
  if (update && update->treat_as_withdraw) return;
  kelp::Result<std::vector<uint8_t>> bytes = kelp::bgp::Encode(message, options);
  // Re-encoding may legitimately outgrow 4096 bytes (e.g. AS4_PATH for a merged path).
  if (!bytes.ok()) return;
  kelp::bgp::DecodeResult again = kelp::bgp::Decode(*bytes, options);
  const auto* decoded = std::get_if<DecodedMessage>(&again);
  if (decoded == nullptr || decoded->consumed != bytes->size() ||
      WithoutNotes(decoded->message) != WithoutNotes(message)) {
    std::fprintf(stderr, "BGP codec round trip mismatch\n");
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  CodecOptions options;
  options.four_octet_as = (data[0] & 1) != 0;
  options.revised_error_handling = (data[0] & 2) != 0;
  std::span<const uint8_t> stream(data + 1, size - 1);
  while (!stream.empty()) {
    kelp::bgp::DecodeResult result = kelp::bgp::Decode(stream, options);
    const auto* decoded = std::get_if<DecodedMessage>(&result);
    if (decoded == nullptr) break;
    CheckRoundTrip(decoded->message, options);
    stream = stream.subspan(decoded->consumed);
  }
  return 0;
}
