// Helpers of the BGP message value types: IPv4 text forms, prefix canonical form, End-of-RIB
// recognition and message type lookup.
#include "bgp/message.h"

#include <charconv>

namespace kelp::bgp {
namespace {

uint32_t HostMask(uint8_t length) { return length >= 32 ? 0 : (0xffffffffu >> length); }

}  // namespace

std::string FormatIpv4(uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

Result<uint32_t> ParseIpv4(std::string_view text) {
  uint32_t address = 0;
  const char* cursor = text.data();
  const char* end = text.data() + text.size();
  for (int octet_index = 0; octet_index < 4; ++octet_index) {
    if (octet_index > 0) {
      if (cursor == end || *cursor != '.') break;
      ++cursor;
    }
    unsigned octet = 0;
    auto [next, error] = std::from_chars(cursor, end, octet);
    if (error != std::errc() || octet > 255 || next - cursor > 3) break;
    cursor = next;
    address = (address << 8) | octet;
    if (octet_index == 3 && cursor == end) return address;
  }
  return InvalidArgumentError("not an IPv4 address: \"" + std::string(text) + "\"");
}

Result<Ipv4Prefix> Ipv4Prefix::Create(uint32_t address, uint8_t length) {
  if (length > 32) {
    return InvalidArgumentError("IPv4 prefix length " + std::to_string(length) + " exceeds 32");
  }
  if ((address & HostMask(length)) != 0) {
    return InvalidArgumentError("IPv4 prefix " + FormatIpv4(address) + "/" +
                                std::to_string(length) + " has host bits set");
  }
  return Ipv4Prefix(address, length);
}

Result<Ipv4Prefix> Ipv4Prefix::Parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return InvalidArgumentError("IPv4 prefix \"" + std::string(text) + "\" lacks \"/length\"");
  }
  KELP_ASSIGN_OR_RETURN(uint32_t address, ParseIpv4(text.substr(0, slash)));
  std::string_view length_text = text.substr(slash + 1);
  unsigned length = 0;
  auto [next, error] =
      std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
  if (error != std::errc() || next != length_text.data() + length_text.size() ||
      length_text.empty() || length > 32) {
    return InvalidArgumentError("bad IPv4 prefix length in \"" + std::string(text) + "\"");
  }
  return Create(address, static_cast<uint8_t>(length));
}

std::string Ipv4Prefix::ToString() const {
  return FormatIpv4(address_) + "/" + std::to_string(length_);
}

std::optional<AfiSafi> Update::EndOfRibFamily() const {
  if (!withdrawn.empty() || !nlri.empty()) return std::nullopt;
  PathAttributes only_unreach;
  only_unreach.mp_unreach = attributes.mp_unreach;
  if (attributes != only_unreach) return std::nullopt;
  if (!attributes.mp_unreach) return kIpv4Unicast;
  const MpUnreach& unreach = *attributes.mp_unreach;
  if (!unreach.prefixes.empty() || !unreach.raw_withdrawn.empty()) return std::nullopt;
  return unreach.family;
}

MessageType TypeOf(const Message& message) {
  struct TypeVisitor {
    MessageType operator()(const Open&) const { return MessageType::kOpen; }
    MessageType operator()(const Update&) const { return MessageType::kUpdate; }
    MessageType operator()(const Notification&) const { return MessageType::kNotification; }
    MessageType operator()(const Keepalive&) const { return MessageType::kKeepalive; }
    MessageType operator()(const RouteRefresh&) const { return MessageType::kRouteRefresh; }
  };
  return std::visit(TypeVisitor{}, message);
}

}  // namespace kelp::bgp
