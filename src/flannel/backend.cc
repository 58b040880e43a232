// Shared backend pieces: finding the uplink, the route mark-and-sweep, the backend factory.
#include "flannel/backend.h"

#include <fmt/format.h>

#include <map>

#include "flannel/host_gw.h"
#include "flannel/udp.h"
#include "flannel/vxlan.h"

namespace kelp::flannel {

Result<std::unique_ptr<Backend>> MakeBackend(const BackendConfig& config, net::Netlink& netlink) {
  if (config.type == kBackendVxlan)
    return std::unique_ptr<Backend>(new VxlanBackend(config, netlink));
  if (config.type == kBackendHostGw) return std::unique_ptr<Backend>(new HostGwBackend(netlink));
  if (config.type == kBackendUdp) return std::unique_ptr<Backend>(new UdpBackend(config, netlink));
  return InvalidArgumentError("unknown flannel backend \"" + config.type + "\"");
}

Result<Uplink> FindUplink(net::Netlink& netlink, const std::string& name,
                          net::Ipv4Address address) {
  KELP_ASSIGN_OR_RETURN(std::vector<net::Address> addresses, netlink.ListAddresses(0));
  for (const net::Address& a : addresses) {
    if (a.prefix.address != address) continue;
    KELP_ASSIGN_OR_RETURN(net::Link link, netlink.GetLinkByIndex(a.index));
    if (!name.empty() && link.name != name) continue;
    return Uplink{link, a.prefix};
  }
  if (!name.empty()) {
    return NotFoundError(
        fmt::format("interface {} does not hold the node IP {}", name, address.ToString()));
  }
  return NotFoundError(fmt::format(
      "no interface holds the node IP {}; pass --node-ip with this node's address (or --iface)",
      address.ToString()));
}

Status RemoveOtherVxlanDevices(net::Netlink& netlink, const std::string& keep) {
  KELP_ASSIGN_OR_RETURN(std::vector<net::Link> links, netlink.ListLinks());
  for (const net::Link& link : links) {
    if (link.kind != "vxlan" || link.name == keep || link.name.rfind("flannel.", 0) != 0) continue;
    Status deleted = netlink.DeleteLink(link.index);
    if (!deleted.ok() && deleted.code() != StatusCode::kNotFound) return deleted;
  }
  return Status::Ok();
}

namespace {

bool SameRoute(const net::Route& a, const net::Route& b) {
  return a.dst.Network() == b.dst.Network() && a.gateway == b.gateway && a.oif == b.oif &&
         a.onlink == b.onlink;
}

}  // namespace

Status SyncRoutes(net::Netlink& netlink, const std::vector<net::Route>& desired,
                  ReconcileReport& report) {
  KELP_ASSIGN_OR_RETURN(std::vector<net::Route> current,
                        netlink.ListRoutes({.table = net::kMainTable, .protocol = kRouteProtocol}));
  std::map<net::Ipv4Prefix, const net::Route*> wanted;
  for (const net::Route& route : desired) wanted[route.dst.Network()] = &route;
  std::map<net::Ipv4Prefix, int> seen;
  for (const net::Route& route : current) {
    auto it = wanted.find(route.dst.Network());
    // Duplicates (same destination twice, e.g. another metric) are stale too.
    if (it == wanted.end() || seen[route.dst.Network()]++ > 0) {
      Status deleted = netlink.DeleteRoute(route);
      if (!deleted.ok() && deleted.code() != StatusCode::kNotFound) return deleted;
      ++report.removed;
    }
  }
  for (const net::Route& route : desired) {
    bool present = false;
    for (const net::Route& c : current) present = present || SameRoute(c, route);
    if (present) continue;
    KELP_RETURN_IF_ERROR(netlink.ReplaceRoute(route));
    ++report.added;
  }
  return Status::Ok();
}

}  // namespace kelp::flannel
