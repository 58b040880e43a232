// Bounds-checked protobuf wire-format reading: varints, fixed-width scalars and
// length-delimited payloads, with every length checked against the bytes that are left.
#include "api/protobuf_wire.h"

#include <string>

namespace kelp::api {

std::string_view WireTypeName(WireType type) {
  switch (type) {
    case WireType::kVarint: return "varint";
    case WireType::kFixed64: return "fixed64";
    case WireType::kLengthDelimited: return "length-delimited";
    case WireType::kStartGroup: return "start-group";
    case WireType::kEndGroup: return "end-group";
    case WireType::kFixed32: return "fixed32";
  }
  return "unknown";
}

Result<uint64_t> ReadVarint(std::string_view& input) {
  uint64_t value = 0;
  // Ends by the 10th byte at the latest: it either overflows or has no continuation bit.
  for (int i = 0;; ++i) {
    if (static_cast<size_t>(i) >= input.size()) return InvalidArgumentError("truncated varint");
    const auto byte = static_cast<uint8_t>(input[i]);
    // The 10th byte may only hold bit 63: more bits, or a continuation, overflow 64 bits.
    if (i == kMaxVarintBytes - 1 && byte > 1) {
      return InvalidArgumentError("varint longer than 10 bytes or over 64 bits");
    }
    value |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      input.remove_prefix(i + 1);
      return value;
    }
  }
}

Result<uint64_t> WireReader::ReadFixed(size_t width) {
  if (rest_.size() < width) {
    return InvalidArgumentError("truncated fixed" + std::to_string(width * 8) + " value");
  }
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i) {  // little-endian on the wire
    value |= static_cast<uint64_t>(static_cast<uint8_t>(rest_[i])) << (8 * i);
  }
  rest_.remove_prefix(width);
  return value;
}

Result<WireField> WireReader::Next() {
  KELP_ASSIGN_OR_RETURN(const uint64_t tag, ReadVarint(rest_));
  const uint64_t number = tag >> 3;
  if (number == 0 || number > kMaxFieldNumber) {
    return InvalidArgumentError("invalid field number " + std::to_string(number));
  }
  WireField field;
  field.number = static_cast<uint32_t>(number);
  field.type = static_cast<WireType>(tag & 7);
  switch (field.type) {
    case WireType::kVarint: {
      KELP_ASSIGN_OR_RETURN(field.scalar, ReadVarint(rest_));
      return field;
    }
    case WireType::kFixed64: {
      KELP_ASSIGN_OR_RETURN(field.scalar, ReadFixed(8));
      return field;
    }
    case WireType::kFixed32: {
      KELP_ASSIGN_OR_RETURN(field.scalar, ReadFixed(4));
      return field;
    }
    case WireType::kLengthDelimited: {
      KELP_ASSIGN_OR_RETURN(const uint64_t length, ReadVarint(rest_));
      if (length > rest_.size()) {
        return InvalidArgumentError("field " + std::to_string(number) + ": length " +
                                    std::to_string(length) + " exceeds the " +
                                    std::to_string(rest_.size()) + " bytes left");
      }
      field.payload = rest_.substr(0, length);
      rest_.remove_prefix(length);
      return field;
    }
    case WireType::kStartGroup:
    case WireType::kEndGroup:
      return InvalidArgumentError("field " + std::to_string(number) +
                                  ": protobuf groups are not supported");
  }
  return InvalidArgumentError("field " + std::to_string(number) + ": invalid wire type " +
                              std::to_string(tag & 7));
}

}  // namespace kelp::api
