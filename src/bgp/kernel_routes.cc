// KernelRouteSink over the Netlink seam.
#include "bgp/kernel_routes.h"

#include <spdlog/spdlog.h>

namespace kelp::bgp {

net::Route KernelRouteSink::KernelRoute(const Ipv4Prefix& prefix) const {
  net::Route route;
  route.dst = net::Ipv4Prefix{.address = {prefix.address()}, .length = prefix.length()};
  route.table = net::kMainTable;
  route.protocol = protocol_;
  return route;
}

void KernelRouteSink::Install(const Ipv4Prefix& prefix, uint32_t next_hop) {
  net::Route route = KernelRoute(prefix);
  route.gateway = net::Ipv4Address{next_hop};
  if (Status status = netlink_.ReplaceRoute(route); !status.ok()) {
    spdlog::warn("kernel route {} via {}: {}", prefix.ToString(), FormatIpv4(next_hop),
                 status.ToString());
  }
}

void KernelRouteSink::Remove(const Ipv4Prefix& prefix) {
  Status status = netlink_.DeleteRoute(KernelRoute(prefix));
  if (!status.ok() && status.code() != StatusCode::kNotFound) {
    spdlog::warn("kernel route {}: delete: {}", prefix.ToString(), status.ToString());
  }
}

std::vector<Ipv4Prefix> KernelRouteSink::Leftovers() {
  std::vector<Ipv4Prefix> prefixes;
  Result<std::vector<net::Route>> routes =
      netlink_.ListRoutes({.table = net::kMainTable, .protocol = protocol_});
  if (!routes.ok()) {
    spdlog::warn("listing kernel routes of protocol {}: {}", protocol_,
                 routes.status().ToString());
    return prefixes;
  }
  for (const net::Route& route : *routes) {
    Result<Ipv4Prefix> prefix = Ipv4Prefix::Create(route.dst.address.value, route.dst.length);
    if (prefix.ok()) prefixes.push_back(*prefix);
  }
  return prefixes;
}

}  // namespace kelp::bgp
