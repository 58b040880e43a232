// KernelRouteSink: the RouteSink that installs the speaker's best routes into the kernel's
// main table through the Netlink seam (src/net), tagged with kelp's own route protocol
// number so that kelp finds — and sweeps — exactly the routes it made, and `ip route show
// proto 86` lists them. Routes of every other protocol are never touched. Changes are held
// until Flush() and then go to the kernel as one batch (Netlink::ApplyRouteChanges: many
// requests per sendmsg), which is what lets 100,000 routes in within seconds.
#pragma once

#include <cstdint>
#include <unordered_map>
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

  // Queues `ip route replace PREFIX via NEXT_HOP proto 86`.
  void Install(const Ipv4Prefix& prefix, uint32_t next_hop) override;
  // Queues the deletion of our route to `prefix`.
  void Remove(const Ipv4Prefix& prefix) override;
  // Sends the queued changes, the last one per prefix, in one batch. A change the kernel
  // refuses (an unreachable next hop) is logged and left out; the others still apply. A
  // deletion of a route already gone is fine.
  void Flush() override;
  // Our routes in the main table (after a Flush).
  std::vector<Ipv4Prefix> Leftovers() override;

  size_t pending() const { return pending_.size(); }

 private:
  net::Route KernelRoute(const Ipv4Prefix& prefix) const;
  void Queue(const Ipv4Prefix& prefix, net::RouteChange change);

  net::Netlink& netlink_;
  const uint8_t protocol_;
  std::vector<net::RouteChange> pending_;
  // Prefix (address << 8 | length) → its change in pending_, so a later change replaces it.
  std::unordered_map<uint64_t, size_t> pending_index_;
};

}  // namespace kelp::bgp
