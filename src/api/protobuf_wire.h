// A minimal, bounds-checked reader of the protobuf wire format. It walks one message's bytes
// field by field and never reads past them: every malformed input (truncated varints, lengths
// past the end, groups, reserved wire types) becomes an InvalidArgument status. Payloads are
// views into the caller's buffer; nothing is copied.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace kelp::api {

enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,  // deprecated groups: rejected
  kEndGroup = 4,    // deprecated groups: rejected
  kFixed32 = 5,
};

std::string_view WireTypeName(WireType type);

// One field as it appears on the wire.
struct WireField {
  uint32_t number = 0;
  WireType type = WireType::kVarint;
  uint64_t scalar = 0;           // the value of a varint, fixed32 or fixed64 field
  std::string_view payload;      // the bytes of a length-delimited field
};

// Largest field number protobuf allows (2^29 - 1).
inline constexpr uint32_t kMaxFieldNumber = (1u << 29) - 1;
// A varint encodes at most 64 bits in at most 10 bytes.
inline constexpr int kMaxVarintBytes = 10;

// Reads a varint from the front of `input` and advances it past the varint. Fails on a
// truncated varint, on more than 10 bytes and on a value that does not fit in 64 bits.
Result<uint64_t> ReadVarint(std::string_view& input);

// Iterates over the fields of one message.
class WireReader {
 public:
  explicit WireReader(std::string_view message) : rest_(message) {}

  bool AtEnd() const { return rest_.empty(); }
  // Reads the next field (call only when !AtEnd()).
  Result<WireField> Next();

 private:
  Result<uint64_t> ReadFixed(size_t width);

  std::string_view rest_;
};

}  // namespace kelp::api
