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
  Queue(prefix, {.op = net::RouteChange::Op::kReplace, .route = route});
}

void KernelRouteSink::Remove(const Ipv4Prefix& prefix) {
  Queue(prefix, {.op = net::RouteChange::Op::kDelete, .route = KernelRoute(prefix)});
}

void KernelRouteSink::Queue(const Ipv4Prefix& prefix, net::RouteChange change) {
  const uint64_t key = uint64_t{prefix.address()} << 8 | prefix.length();
  auto [it, added] = pending_index_.try_emplace(key, pending_.size());
  if (added) {
    pending_.push_back(std::move(change));
  } else {
    pending_[it->second] = std::move(change);
  }
}

void KernelRouteSink::Flush() {
  if (pending_.empty()) return;
  std::vector<Status> results = netlink_.ApplyRouteChanges(pending_);
  // One line per refused route would flood the log when a whole table is refused.
  constexpr size_t kLoggedFailures = 10;
  size_t failures = 0;
  for (size_t i = 0; i < pending_.size() && i < results.size(); ++i) {
    const Status& status = results[i];
    const net::RouteChange& change = pending_[i];
    if (status.ok()) continue;
    if (change.op == net::RouteChange::Op::kDelete && status.code() == StatusCode::kNotFound) {
      continue;
    }
    if (++failures > kLoggedFailures) continue;
    if (change.op == net::RouteChange::Op::kReplace) {
      spdlog::warn("kernel route {} via {}: {}", change.route.dst.ToString(),
                   change.route.gateway->ToString(), status.ToString());
    } else {
      spdlog::warn("kernel route {}: delete: {}", change.route.dst.ToString(), status.ToString());
    }
  }
  if (failures > kLoggedFailures) {
    spdlog::warn("kernel routes: {} more changes refused", failures - kLoggedFailures);
  }
  // Released rather than cleared (a burst can be a whole table, and it is rare): moved-from
  // temporaries, since `= {}` would keep the vector's capacity and the map's buckets.
  pending_ = std::vector<net::RouteChange>();
  pending_index_ = std::unordered_map<uint64_t, size_t>();
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
