// Bounds-checked big-endian byte reading and writing for the codec (internal to src/bgp).
// WireReader never reads past its span: a read that does not fit returns nullopt and
// consumes nothing, so decoders turn every short field into a NOTIFICATION.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace kelp::bgp {

class WireReader {
 public:
  explicit WireReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  size_t remaining() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }

  std::optional<uint8_t> U8() {
    if (bytes_.empty()) return std::nullopt;
    uint8_t value = bytes_[0];
    bytes_ = bytes_.subspan(1);
    return value;
  }
  std::optional<uint16_t> U16() {
    if (bytes_.size() < 2) return std::nullopt;
    uint16_t value = static_cast<uint16_t>((bytes_[0] << 8) | bytes_[1]);
    bytes_ = bytes_.subspan(2);
    return value;
  }
  std::optional<uint32_t> U32() {
    if (bytes_.size() < 4) return std::nullopt;
    uint32_t value = (uint32_t{bytes_[0]} << 24) | (uint32_t{bytes_[1]} << 16) |
                     (uint32_t{bytes_[2]} << 8) | uint32_t{bytes_[3]};
    bytes_ = bytes_.subspan(4);
    return value;
  }
  std::optional<std::span<const uint8_t>> Bytes(size_t count) {
    if (bytes_.size() < count) return std::nullopt;
    std::span<const uint8_t> value = bytes_.first(count);
    bytes_ = bytes_.subspan(count);
    return value;
  }
  std::span<const uint8_t> Rest() {
    std::span<const uint8_t> rest = bytes_;
    bytes_ = {};
    return rest;
  }

 private:
  std::span<const uint8_t> bytes_;
};

class WireWriter {
 public:
  void U8(uint8_t value) { bytes_.push_back(value); }
  void U16(uint16_t value) {
    bytes_.push_back(static_cast<uint8_t>(value >> 8));
    bytes_.push_back(static_cast<uint8_t>(value));
  }
  void U32(uint32_t value) {
    U16(static_cast<uint16_t>(value >> 16));
    U16(static_cast<uint16_t>(value));
  }
  void Bytes(std::span<const uint8_t> value) {
    bytes_.insert(bytes_.end(), value.begin(), value.end());
  }
  // Overwrites a 16-bit field written earlier, e.g. a length known only afterwards.
  void PatchU16(size_t offset, uint16_t value) {
    bytes_[offset] = static_cast<uint8_t>(value >> 8);
    bytes_[offset + 1] = static_cast<uint8_t>(value);
  }

  size_t size() const { return bytes_.size(); }
  const std::vector<uint8_t>& bytes() const& { return bytes_; }
  std::vector<uint8_t> bytes() && { return std::move(bytes_); }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace kelp::bgp
