// Text forms of IPv4 addresses, prefixes and MAC addresses.
#include "net/ip.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstdio>

namespace kelp::net {

Result<Ipv4Address> Ipv4Address::Parse(std::string_view text) {
  std::string copy(text);
  in_addr addr{};
  if (inet_pton(AF_INET, copy.c_str(), &addr) != 1) {
    return InvalidArgumentError("invalid IPv4 address \"" + copy + "\"");
  }
  return Ipv4Address{ntohl(addr.s_addr)};
}

std::string Ipv4Address::ToString() const {
  char buf[INET_ADDRSTRLEN];
  in_addr addr{htonl(value)};
  inet_ntop(AF_INET, &addr, buf, sizeof(buf));
  return buf;
}

Result<Ipv4Prefix> Ipv4Prefix::Parse(std::string_view text) {
  size_t slash = text.find('/');
  KELP_ASSIGN_OR_RETURN(Ipv4Address address, Ipv4Address::Parse(text.substr(0, slash)));
  if (slash == std::string_view::npos) return Ipv4Prefix{address, 32};
  std::string_view len_text = text.substr(slash + 1);
  unsigned length = 0;
  auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), length);
  if (ec != std::errc() || end != len_text.data() + len_text.size() || len_text.empty() ||
      length > 32) {
    return InvalidArgumentError("invalid IPv4 prefix \"" + std::string(text) + "\"");
  }
  return Ipv4Prefix{address, static_cast<uint8_t>(length)};
}

std::string Ipv4Prefix::ToString() const {
  return address.ToString() + "/" + std::to_string(length);
}

Ipv4Prefix Ipv4Prefix::Network() const { return {{address.value & Mask()}, length}; }

Result<MacAddress> MacAddress::Parse(std::string_view text) {
  MacAddress mac;
  if (text.size() != 17) return InvalidArgumentError("invalid MAC \"" + std::string(text) + "\"");
  for (size_t i = 0; i < 6; ++i) {
    if (i > 0 && text[i * 3 - 1] != ':') {
      return InvalidArgumentError("invalid MAC \"" + std::string(text) + "\"");
    }
    const char* begin = text.data() + i * 3;
    auto [end, ec] = std::from_chars(begin, begin + 2, mac.bytes[i], 16);
    if (ec != std::errc() || end != begin + 2) {
      return InvalidArgumentError("invalid MAC \"" + std::string(text) + "\"");
    }
  }
  return mac;
}

std::string MacAddress::ToString() const {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                bytes[3], bytes[4], bytes[5]);
  return buf;
}

}  // namespace kelp::net
