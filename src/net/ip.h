// IPv4 address, prefix and MAC value types shared by the Netlink seam, kelp-cni, flannel and
// the BGP kernel sync: parse from and format to the usual text forms ("10.244.1.5",
// "10.244.1.0/24", "aa:bb:cc:dd:ee:ff"), with the address held in host byte order.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kelp::net {

struct Ipv4Address {
  uint32_t value = 0;  // host byte order: 10.0.0.1 is 0x0a000001

  static Result<Ipv4Address> Parse(std::string_view text);
  std::string ToString() const;
  auto operator<=>(const Ipv4Address&) const = default;
};

struct Ipv4Prefix {
  Ipv4Address address;  // may carry host bits (an interface address "10.244.1.5/24")
  uint8_t length = 0;

  // "a.b.c.d/len"; a bare address is a /32.
  static Result<Ipv4Prefix> Parse(std::string_view text);
  std::string ToString() const;
  // The prefix with host bits cleared ("10.244.1.0/24").
  Ipv4Prefix Network() const;
  uint32_t Mask() const { return length == 0 ? 0 : ~uint32_t{0} << (32 - length); }
  bool Contains(Ipv4Address a) const { return (a.value & Mask()) == (address.value & Mask()); }
  Ipv4Address Broadcast() const { return {(address.value & Mask()) | ~Mask()}; }
  auto operator<=>(const Ipv4Prefix&) const = default;
};

struct MacAddress {
  std::array<uint8_t, 6> bytes{};

  static Result<MacAddress> Parse(std::string_view text);
  std::string ToString() const;  // lower-case, colon separated
  auto operator<=>(const MacAddress&) const = default;
};

}  // namespace kelp::net
