// The vxlan backend (see vxlan.h).
#include "flannel/vxlan.h"

#include <fmt/format.h>

#include <set>

namespace kelp::flannel {
namespace {

constexpr uint32_t kVxlanOverhead = 50;  // outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8

net::Ipv4Address NetworkAddress(const net::Ipv4Prefix& subnet) { return subnet.Network().address; }

}  // namespace

net::MacAddress VxlanBackend::VtepMac(const std::string& node_name) {
  // FNV-1a, 64 bit: stable across releases and machines (std::hash is neither).
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : node_name) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  net::MacAddress mac;
  for (int i = 0; i < 6; ++i) mac.bytes[i] = static_cast<uint8_t>(hash >> (8 * i));
  mac.bytes[0] = static_cast<uint8_t>((mac.bytes[0] & 0xfe) | 0x02);  // unicast, local
  return mac;
}

Result<BackendSetup> VxlanBackend::Setup(const LocalNode& local) {
  KELP_ASSIGN_OR_RETURN(Uplink uplink, FindUplink(netlink_, local.uplink, local.public_ip));
  if (uplink.link.mtu <= kVxlanOverhead + 68) {
    return InvalidArgumentError(
        fmt::format("uplink {} MTU {} is too small for vxlan", uplink.link.name, uplink.link.mtu));
  }
  const uint32_t mtu = uplink.link.mtu - kVxlanOverhead;
  const net::MacAddress mac = VtepMac(local.name);
  const std::string name = device_name();
  KELP_RETURN_IF_ERROR(RemoveOtherVxlanDevices(netlink_, name));
  Result<net::Link> existing = netlink_.GetLink(name);
  // A device of another kind under our name (or one with another MAC, i.e. not made by us for
  // this node) is replaced; ours is kept, so a restart does not disturb traffic.
  if (existing.ok() && (existing->kind != "vxlan" || existing->mac != mac)) {
    KELP_RETURN_IF_ERROR(netlink_.DeleteLink(existing->index));
    existing = NotFoundError(name);
  }
  if (!existing.ok()) {
    if (existing.status().code() != StatusCode::kNotFound) return existing.status();
    KELP_RETURN_IF_ERROR(netlink_.AddVxlan({.name = name,
                                            .vni = config_.vni,
                                            .port = config_.port,
                                            .local = local.public_ip,
                                            .underlay = uplink.link.index,
                                            .learning = false,
                                            .mtu = mtu,
                                            .mac = mac}));
    KELP_ASSIGN_OR_RETURN(existing, netlink_.GetLink(name));
  }
  device_index_ = existing->index;
  if (existing->mtu != mtu) KELP_RETURN_IF_ERROR(netlink_.SetLinkMtu(device_index_, mtu));
  // Exactly <subnet>.0/32: an address of an earlier subnet would break routing (flannel #520).
  const net::Address own{device_index_, {NetworkAddress(local.subnet), 32}};
  KELP_ASSIGN_OR_RETURN(std::vector<net::Address> addresses, netlink_.ListAddresses(device_index_));
  bool has_own = false;
  for (const net::Address& a : addresses) {
    if (a.index != device_index_) continue;
    if (a.prefix == own.prefix) {
      has_own = true;
    } else {
      KELP_RETURN_IF_ERROR(netlink_.DeleteAddress(a));
    }
  }
  if (!has_own) KELP_RETURN_IF_ERROR(netlink_.AddAddress(own));
  if (!existing->up) KELP_RETURN_IF_ERROR(netlink_.SetLinkUp(device_index_, true));
  uplink_ = uplink;
  return BackendSetup{.backend_data = VxlanBackendData(config_.vni, mac), .mtu = mtu};
}

Result<ReconcileReport> VxlanBackend::Reconcile(const std::vector<NodeLease>& remotes) {
  if (!uplink_) return InternalError("vxlan: Reconcile before Setup");
  ReconcileReport report;
  std::vector<net::Neighbour> neighbours;
  std::vector<net::FdbEntry> fdb;
  std::vector<net::Route> routes;
  for (const NodeLease& lease : remotes) {
    if (config_.direct_routing && uplink_->address.Contains(lease.public_ip)) {
      routes.push_back({.dst = lease.subnet,
                        .gateway = lease.public_ip,
                        .oif = uplink_->link.index,
                        .protocol = kRouteProtocol});
      continue;
    }
    if (!lease.vtep_mac) {
      report.errors.push_back(fmt::format("node {} publishes no VtepMAC", lease.node));
      continue;
    }
    const net::Ipv4Address gateway = NetworkAddress(lease.subnet);
    neighbours.push_back({device_index_, gateway, *lease.vtep_mac});
    fdb.push_back({device_index_, *lease.vtep_mac, lease.public_ip});
    routes.push_back({.dst = lease.subnet,
                      .gateway = gateway,
                      .oif = device_index_,
                      .protocol = kRouteProtocol,
                      .onlink = true});
  }

  // Neighbours and FDB entries first, so a new route never sends into the void.
  KELP_ASSIGN_OR_RETURN(std::vector<net::Neighbour> current_neighbours,
                        netlink_.ListNeighbours(device_index_));
  for (const net::Neighbour& n : neighbours) {
    bool present = false;
    for (const net::Neighbour& c : current_neighbours) present = present || c == n;
    if (present) continue;
    KELP_RETURN_IF_ERROR(netlink_.ReplaceNeighbour(n));
    ++report.added;
  }
  KELP_ASSIGN_OR_RETURN(std::vector<net::FdbEntry> current_fdb, netlink_.ListFdb(device_index_));
  for (const net::FdbEntry& f : fdb) {
    bool present = false;
    for (const net::FdbEntry& c : current_fdb) present = present || c == f;
    if (present) continue;
    KELP_RETURN_IF_ERROR(netlink_.AppendFdb(f));
    ++report.added;
  }
  // Routes (added last, removed first).
  KELP_RETURN_IF_ERROR(SyncRoutes(netlink_, routes, report));
  // Then what no peer needs any more: everything on flannel.<VNI> is ours.
  for (const net::FdbEntry& c : current_fdb) {
    bool wanted = false;
    for (const net::FdbEntry& f : fdb) wanted = wanted || c == f;
    if (wanted || !c.dst) continue;
    Status deleted = netlink_.DeleteFdb(c);
    if (!deleted.ok() && deleted.code() != StatusCode::kNotFound) return deleted;
    ++report.removed;
  }
  std::set<net::Ipv4Address> wanted_ips;
  for (const net::Neighbour& n : neighbours) wanted_ips.insert(n.ip);
  for (const net::Neighbour& c : current_neighbours) {
    if (wanted_ips.contains(c.ip)) continue;
    Status deleted = netlink_.DeleteNeighbour(c);
    if (!deleted.ok() && deleted.code() != StatusCode::kNotFound) return deleted;
    ++report.removed;
  }
  return report;
}

}  // namespace kelp::flannel
