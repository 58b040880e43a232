// BGP-4 wire codec: encodes Message values into bytes and decodes a byte stream into
// messages, one at a time, so a peer's socket reader can feed whatever it has received.
// A decode error is the exact NOTIFICATION RFC 4271 §6 (with RFC 5492, 6793, 7313, 7606 and
// 7607 amendments) says to send before closing the session; see README.md for the mapping.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "bgp/message.h"
#include "common/status.h"

namespace kelp::bgp {

// What the session negotiated, which changes the wire format or the error handling.
// ADD-PATH (RFC 7911) is never advertised by kelp, so NLRI never carries path identifiers.
struct CodecOptions {
  // Both sides advertised the 4-octet AS capability: AS_PATH and AGGREGATOR carry 4-octet
  // ASes. Otherwise they carry 2-octet ones, with AS4_PATH/AS4_AGGREGATOR for big ASes.
  bool four_octet_as = false;
  // RFC 7606 revised error handling: malformed attributes lead to "treat-as-withdraw" or
  // "attribute discard" where that RFC allows, instead of a session reset. When false, every
  // attribute error is the NOTIFICATION RFC 4271 §6.3 prescribes.
  bool revised_error_handling = true;
};

// A decode failure: the NOTIFICATION to send to the peer, and why (for logs).
struct DecodeError {
  Notification notification;
  std::string reason;
};

// The buffer holds only part of the next message.
struct NeedMoreBytes {
  size_t at_least = 0;  // how many more bytes are needed before decoding can go on
};

struct DecodedMessage {
  Message message;
  size_t consumed = 0;  // the bytes of this message at the front of the buffer
};

using DecodeResult = std::variant<NeedMoreBytes, DecodedMessage, DecodeError>;

// Decodes the message at the front of `buffer`. Never reads past the buffer.
DecodeResult Decode(std::span<const uint8_t> buffer, const CodecOptions& options);

// Encodes one message with its header. Fails (InvalidArgument) when the message cannot be
// represented: longer than 4096 bytes, an AS_PATH segment of more than 255 ASes, a raw
// attribute or capability colliding with one the codec encodes itself, and the like.
Result<std::vector<uint8_t>> Encode(const Message& message, const CodecOptions& options);

// What the local speaker expects of a peer's OPEN; checks the codec cannot make alone.
struct OpenExpectations {
  std::optional<uint32_t> peer_as;        // the configured peer AS
  uint32_t local_as = 0;
  uint32_t local_identifier = 0;
  bool require_four_octet_as = false;     // refuse peers without the 4-octet AS capability
  std::vector<AfiSafi> required_families; // refuse peers not advertising these (MP capability)
};

// The NOTIFICATION to refuse `open` with, or nullopt when it is acceptable:
// Bad Peer AS (2/2), Bad BGP Identifier (2/3, an iBGP peer using our identifier) or
// Unsupported Capability (2/7, data = the capabilities required but missing).
std::optional<DecodeError> CheckOpen(const Open& open, const OpenExpectations& expect);

}  // namespace kelp::bgp
