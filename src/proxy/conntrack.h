// The Conntrack seam: the proxy deletes UDP conntrack entries that NAT rules no longer
// describe. A UDP "connection" only ends when its entry times out, so without this a client
// that keeps sending (DNS from a fixed source port, syslog, ...) keeps hitting a deleted
// endpoint, or keeps bypassing a Service that appeared after its first packet. TCP needs
// nothing: a dead endpoint resets or times out the connection and the next one is new.
// NetfilterConntrack (conntrack_netfilter.h) is the real one; testing::FakeConntrack records.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "net/ip.h"

namespace kelp::proxy {

// Selects UDP entries by their original destination and by where DNAT sent them (the reply's
// source): to `endpoint`, or — without one — nowhere (flows that bypassed a Service because
// they started before it had endpoints).
struct UdpFlowFilter {
  std::optional<net::Ipv4Address> destination;  // nullopt: any (a NodePort on any node address)
  uint16_t port = 0;
  std::optional<std::pair<net::Ipv4Address, uint16_t>> endpoint;  // nullopt: not DNATed
  std::string ToString() const;
  bool operator==(const UdpFlowFilter&) const = default;
};

class Conntrack {
 public:
  virtual ~Conntrack() = default;
  // Deletes the IPv4 UDP entries any of `filters` selects (one pass over the table); returns
  // how many it deleted.
  [[nodiscard]] virtual Result<int> DeleteUdpFlows(const std::vector<UdpFlowFilter>& filters) = 0;
};

}  // namespace kelp::proxy
