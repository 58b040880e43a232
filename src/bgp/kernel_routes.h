// KernelRouteSink: the RouteSink that installs the speaker's best routes into the kernel's
// main table through the Netlink seam (src/net), tagged with kelp's own route protocol
// number so that kelp finds — and sweeps — exactly the routes it made, and `ip route show
// proto 86` lists them. Routes of every other protocol are never touched.
#pragma once

#include <cstdint>
#include <vector>

#include "bgp/message.h"
#include "bgp/speaker.h"
#include "net/netlink.h"

namespace kelp::bgp {

// The rtnetlink protocol of routes kelp's BGP speaker installs (unused by iproute2's
// rt_protos list, BIRD (12), FRR (186) and zebra (11)).
inline constexpr uint8_t kKelpBgpRouteProtocol = 86;

class KernelRouteSink final : public RouteSink {
 public:
  explicit KernelRouteSink(net::Netlink& netlink, uint8_t protocol = kKelpBgpRouteProtocol)
      : netlink_(netlink), protocol_(protocol) {}

  // `ip route replace PREFIX via NEXT_HOP proto 86`; a failure (an unreachable next hop) is
  // logged and the route is left out.
  void Install(const Ipv4Prefix& prefix, uint32_t next_hop) override;
  // Deletes our route to `prefix`; one already gone is fine.
  void Remove(const Ipv4Prefix& prefix) override;
  // Our routes in the main table.
  std::vector<Ipv4Prefix> Leftovers() override;

 private:
  net::Route KernelRoute(const Ipv4Prefix& prefix) const;

  net::Netlink& netlink_;
  const uint8_t protocol_;
};

}  // namespace kelp::bgp
