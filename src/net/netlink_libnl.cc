// Netlink over libnl-route-3: routes, links (veth, bridge, vxlan), addresses, neighbours and
// FDB entries. Object wrappers below release libnl references on every path; libnl error
// numbers become Status codes (exists → AlreadyExists, missing → NotFound).
#include "net/netlink_libnl.h"

#include <arpa/inet.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "net/netns.h"

namespace kelp::net {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const {
    if (p != nullptr) Free(p);
  }
};
using AddrPtr = std::unique_ptr<nl_addr, Deleter<nl_addr, nl_addr_put>>;
using RoutePtr = std::unique_ptr<rtnl_route, Deleter<rtnl_route, rtnl_route_put>>;
using LinkPtr = std::unique_ptr<rtnl_link, Deleter<rtnl_link, rtnl_link_put>>;
using RtAddrPtr = std::unique_ptr<rtnl_addr, Deleter<rtnl_addr, rtnl_addr_put>>;
using NeighPtr = std::unique_ptr<rtnl_neigh, Deleter<rtnl_neigh, rtnl_neigh_put>>;
using CachePtr = std::unique_ptr<nl_cache, Deleter<nl_cache, nl_cache_free>>;
using MsgPtr = std::unique_ptr<nl_msg, Deleter<nl_msg, nlmsg_free>>;

// Route changes per sendmsg. Each answer the kernel queues (an error, or the final ACK) is an
// skb of a few KiB charged to our receive buffer, which Open() enlarges to kReceiveBuffer so
// that even a batch failing entirely loses no answer.
constexpr size_t kRouteBatch = 128;
constexpr int kReceiveBuffer = 1 << 20;

Status NlStatus(std::string_view what, int err) {
  if (err >= 0) return Status::Ok();
  std::string message = std::string(what) + ": " + nl_geterror(err);
  switch (-err) {
    case NLE_EXIST:
      return AlreadyExistsError(message);
    case NLE_OBJ_NOTFOUND:
    case NLE_NODEV:
    case NLE_NOADDR:
      return NotFoundError(message);
    case NLE_PERM:
      return PermissionDeniedError(message);
    case NLE_INVAL:
    case NLE_RANGE:
      return InvalidArgumentError(message);
    default:
      return IoError(message);
  }
}

AddrPtr MakeAddr(Ipv4Address address, int prefix_length = 32) {
  uint32_t be = htonl(address.value);
  AddrPtr addr(nl_addr_build(AF_INET, &be, sizeof(be)));
  nl_addr_set_prefixlen(addr.get(), prefix_length);
  return addr;
}

AddrPtr MakeMac(const MacAddress& mac) {
  return AddrPtr(nl_addr_build(AF_LLC, mac.bytes.data(), mac.bytes.size()));
}

std::optional<Ipv4Address> ToIpv4(nl_addr* addr) {
  if (addr == nullptr || nl_addr_get_family(addr) != AF_INET || nl_addr_get_len(addr) != 4) {
    return std::nullopt;
  }
  uint32_t be;
  std::memcpy(&be, nl_addr_get_binary_addr(addr), 4);
  return Ipv4Address{ntohl(be)};
}

MacAddress ToMac(nl_addr* addr) {
  MacAddress mac;
  if (addr != nullptr && nl_addr_get_len(addr) == 6) {
    std::memcpy(mac.bytes.data(), nl_addr_get_binary_addr(addr), 6);
  }
  return mac;
}

RoutePtr BuildRoute(const Route& route, bool for_delete) {
  RoutePtr r(rtnl_route_alloc());
  rtnl_route_set_family(r.get(), AF_INET);
  AddrPtr dst = MakeAddr(route.dst.Network().address, route.dst.length);
  rtnl_route_set_dst(r.get(), dst.get());
  rtnl_route_set_table(r.get(), route.table);
  rtnl_route_set_protocol(r.get(), route.protocol);
  // RT_SCOPE_NOWHERE on delete matches the route whatever its scope, like `ip route del`.
  rtnl_route_set_scope(r.get(), for_delete ? uint8_t{RT_SCOPE_NOWHERE} : route.scope);
  rtnl_route_set_type(r.get(), static_cast<uint8_t>(route.type));
  if (route.metric) rtnl_route_set_priority(r.get(), *route.metric);
  if (route.prefsrc) {
    AddrPtr src = MakeAddr(*route.prefsrc);
    rtnl_route_set_pref_src(r.get(), src.get());
  }
  if (route.type == RouteType::kUnicast && (route.oif != 0 || route.gateway)) {
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    if (route.oif != 0) rtnl_route_nh_set_ifindex(nh, route.oif);
    if (route.gateway) {
      AddrPtr gw = MakeAddr(*route.gateway);
      rtnl_route_nh_set_gateway(nh, gw.get());
    }
    if (route.onlink) rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
    rtnl_route_add_nexthop(r.get(), nh);  // the route owns nh now
  }
  return r;
}

Link ToLink(rtnl_link* l) {
  Link link;
  link.index = rtnl_link_get_ifindex(l);
  link.name = rtnl_link_get_name(l) ? rtnl_link_get_name(l) : "";
  link.kind = rtnl_link_get_type(l) ? rtnl_link_get_type(l) : "";
  link.mtu = rtnl_link_get_mtu(l);
  link.mac = ToMac(rtnl_link_get_addr(l));
  unsigned flags = rtnl_link_get_flags(l);
  link.up = (flags & IFF_UP) != 0;
  link.promisc = (flags & IFF_PROMISC) != 0;
  link.master = rtnl_link_get_master(l);
  return link;
}

template <typename Object, typename Fn>
void ForEach(nl_cache* cache, Fn fn) {
  for (nl_object* o = nl_cache_get_first(cache); o != nullptr; o = nl_cache_get_next(o)) {
    fn(reinterpret_cast<Object*>(o));
  }
}

}  // namespace

Result<std::unique_ptr<LibnlNetlink>> LibnlNetlink::Open(int netns_fd) {
  nl_sock* sock = nullptr;
  auto connect = [&]() -> Status {
    sock = nl_socket_alloc();
    if (sock == nullptr) return IoError("nl_socket_alloc failed");
    int err = nl_connect(sock, NETLINK_ROUTE);
    if (err < 0) {
      nl_socket_free(sock);
      sock = nullptr;
      return NlStatus("connect rtnetlink", err);
    }
    return Status::Ok();
  };
  if (netns_fd >= 0) {
    KELP_RETURN_IF_ERROR(RunInNetns(netns_fd, connect));
  } else {
    KELP_RETURN_IF_ERROR(connect());
  }
  // Room for the answers to a whole batch of route changes (kRouteBatch), even if every one
  // fails: beyond rmem_max when we may (CAP_NET_ADMIN), else as far as it allows.
  int receive_buffer = kReceiveBuffer;
  if (::setsockopt(nl_socket_get_fd(sock), SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer,
                   sizeof receive_buffer) != 0) {
    ::setsockopt(nl_socket_get_fd(sock), SOL_SOCKET, SO_RCVBUF, &receive_buffer,
                 sizeof receive_buffer);
  }
  return std::unique_ptr<LibnlNetlink>(new LibnlNetlink(sock));
}

LibnlNetlink::~LibnlNetlink() { nl_socket_free(sock_); }

// Routes.

Status LibnlNetlink::AddRoute(const Route& route) {
  RoutePtr r = BuildRoute(route, false);
  return NlStatus("add route " + route.dst.ToString(), rtnl_route_add(sock_, r.get(), NLM_F_EXCL));
}

Status LibnlNetlink::ReplaceRoute(const Route& route) {
  RoutePtr r = BuildRoute(route, false);
  return NlStatus("replace route " + route.dst.ToString(),
                  rtnl_route_add(sock_, r.get(), NLM_F_REPLACE));
}

Status LibnlNetlink::DeleteRoute(const Route& route) {
  RoutePtr r = BuildRoute(route, true);
  return NlStatus("delete route " + route.dst.ToString(), rtnl_route_delete(sock_, r.get(), 0));
}

std::vector<Status> LibnlNetlink::ApplyRouteChanges(std::span<const RouteChange> changes) {
  std::vector<Status> results;
  results.reserve(changes.size());
  for (size_t begin = 0; begin < changes.size(); begin += kRouteBatch) {
    ApplyRouteBatch(changes.subspan(begin, std::min(kRouteBatch, changes.size() - begin)),
                    results);
  }
  return results;
}

// The kernel handles the requests of one sendmsg in order before sendmsg returns. Only the
// last carries NLM_F_ACK; the others are answered only when they fail (NLMSG_ERROR with their
// sequence number), so once the last one's answer is read every change is known. Should the
// answers be lost anyway (a receive error), the changes not known to have failed are applied
// again one at a time: replacing is idempotent, and a repeated delete reports NotFound, which
// callers deleting what they own accept.
void LibnlNetlink::ApplyRouteBatch(std::span<const RouteChange> batch,
                                   std::vector<Status>& results) {
  const size_t base = results.size();
  results.resize(base + batch.size(), Status::Ok());
  auto describe = [](const RouteChange& change) {
    return std::string(change.op == RouteChange::Op::kReplace ? "replace" : "delete") +
           " route " + change.route.dst.ToString();
  };
  std::vector<uint8_t> buffer;
  std::vector<std::pair<uint32_t, size_t>> sent;  // sequence number → index in the batch
  std::vector<bool> answered(batch.size(), false);
  size_t last_offset = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const RouteChange& change = batch[i];
    const bool remove = change.op == RouteChange::Op::kDelete;
    RoutePtr route = BuildRoute(change.route, remove);
    nl_msg* raw = nullptr;
    int err = remove ? rtnl_route_build_del_request(route.get(), 0, &raw)
                     : rtnl_route_build_add_request(route.get(), NLM_F_REPLACE, &raw);
    if (err < 0) {
      results[base + i] = NlStatus(describe(change), err);
      answered[i] = true;
      continue;
    }
    MsgPtr message(raw);
    // Numbered from a counter of our own: libnl's (nl_complete_msg) would leave the number it
    // expects in answers behind, and its next synchronous request would fail.
    nlmsghdr* header = nlmsg_hdr(message.get());
    header->nlmsg_pid = nl_socket_get_local_port(sock_);
    header->nlmsg_seq = batch_sequence_++;
    header->nlmsg_flags = (header->nlmsg_flags | NLM_F_REQUEST) & ~NLM_F_ACK;
    sent.emplace_back(header->nlmsg_seq, i);
    last_offset = buffer.size();
    const auto* bytes = reinterpret_cast<const uint8_t*>(header);
    buffer.insert(buffer.end(), bytes, bytes + NLMSG_ALIGN(header->nlmsg_len));
  }
  if (sent.empty()) return;
  // The last request asks for an ACK: its answer comes after every other answer.
  reinterpret_cast<nlmsghdr*>(buffer.data() + last_offset)->nlmsg_flags |= NLM_F_ACK;
  const uint32_t last_seq = sent.back().first;
  // Consecutive sequence numbers (modulo 2^32).
  auto index_of = [&](uint32_t seq) -> std::optional<size_t> {
    const uint32_t position = seq - sent.front().first;
    if (position >= sent.size() || sent[position].first != seq) return std::nullopt;
    return sent[position].second;
  };

  bool complete = false;
  int err = nl_sendto(sock_, buffer.data(), buffer.size());
  while (err >= 0 && !complete) {
    sockaddr_nl peer{};
    unsigned char* raw = nullptr;
    int length = nl_recv(sock_, &peer, &raw, nullptr);
    std::unique_ptr<unsigned char, decltype(&std::free)> received(raw, &std::free);
    if (length <= 0) {
      err = length < 0 ? length : -NLE_MSG_TRUNC;
      break;
    }
    for (auto* header = reinterpret_cast<nlmsghdr*>(raw); nlmsg_ok(header, length);
         header = nlmsg_next(header, &length)) {
      if (header->nlmsg_type != NLMSG_ERROR) continue;
      std::optional<size_t> i = index_of(header->nlmsg_seq);
      if (!i) continue;  // an answer to something else (there is nothing else in flight)
      const auto* error = static_cast<const nlmsgerr*>(nlmsg_data(header));
      if (error->error != 0) {
        results[base + *i] = NlStatus(describe(batch[*i]), -nl_syserr2nlerr(error->error));
      }
      answered[*i] = true;
      if (header->nlmsg_seq == last_seq) complete = true;
    }
  }
  if (complete) return;
  // Answers still queued would confuse libnl's synchronous requests below.
  std::array<uint8_t, 4096> discard;
  while (::recv(nl_socket_get_fd(sock_), discard.data(), discard.size(), MSG_DONTWAIT) > 0) {
  }
  for (const auto& [seq, i] : sent) {
    if (answered[i]) continue;
    const RouteChange& change = batch[i];
    results[base + i] = change.op == RouteChange::Op::kReplace ? ReplaceRoute(change.route)
                                                               : DeleteRoute(change.route);
  }
}

Result<std::vector<Route>> LibnlNetlink::ListRoutes(const RouteFilter& filter) {
  nl_cache* raw = nullptr;
  KELP_RETURN_IF_ERROR(NlStatus("list routes", rtnl_route_alloc_cache(sock_, AF_INET, 0, &raw)));
  CachePtr cache(raw);
  std::vector<Route> routes;
  ForEach<rtnl_route>(cache.get(), [&](rtnl_route* r) {
    uint8_t type = rtnl_route_get_type(r);
    if (type != RTN_UNICAST && type != RTN_BLACKHOLE) return;
    Route route;
    route.table = rtnl_route_get_table(r);
    route.protocol = rtnl_route_get_protocol(r);
    if (filter.table && route.table != *filter.table) return;
    if (filter.protocol && route.protocol != *filter.protocol) return;
    nl_addr* dst = rtnl_route_get_dst(r);
    route.dst = Ipv4Prefix{ToIpv4(dst).value_or(Ipv4Address{}),
                           static_cast<uint8_t>(dst ? nl_addr_get_prefixlen(dst) : 0)};
    route.scope = rtnl_route_get_scope(r);
    route.type = static_cast<RouteType>(type);
    if (rtnl_route_get_priority(r) != 0) route.metric = rtnl_route_get_priority(r);
    route.prefsrc = ToIpv4(rtnl_route_get_pref_src(r));
    if (rtnl_route_get_nnexthops(r) > 0) {
      rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
      route.oif = rtnl_route_nh_get_ifindex(nh);
      route.gateway = ToIpv4(rtnl_route_nh_get_gateway(nh));
      route.onlink = (rtnl_route_nh_get_flags(nh) & RTNH_F_ONLINK) != 0;
    }
    routes.push_back(route);
  });
  return routes;
}

// Links.

Result<Link> LibnlNetlink::GetLink(std::string_view name) {
  rtnl_link* raw = nullptr;
  std::string n(name);
  int err = rtnl_link_get_kernel(sock_, 0, n.c_str(), &raw);
  if (err < 0) return NlStatus("get link " + n, err);
  LinkPtr link(raw);
  return ToLink(link.get());
}

Result<Link> LibnlNetlink::GetLinkByIndex(int index) {
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(sock_, index, nullptr, &raw);
  if (err < 0) return NlStatus("get link " + std::to_string(index), err);
  LinkPtr link(raw);
  return ToLink(link.get());
}

Result<std::vector<Link>> LibnlNetlink::ListLinks() {
  nl_cache* raw = nullptr;
  KELP_RETURN_IF_ERROR(NlStatus("list links", rtnl_link_alloc_cache(sock_, AF_UNSPEC, &raw)));
  CachePtr cache(raw);
  std::vector<Link> links;
  ForEach<rtnl_link>(cache.get(), [&](rtnl_link* l) { links.push_back(ToLink(l)); });
  return links;
}

Status LibnlNetlink::AddVeth(std::string_view name, std::string_view peer_name,
                             int peer_netns_fd, uint32_t mtu) {
  LinkPtr veth(rtnl_link_veth_alloc());
  if (!veth) return IoError("rtnl_link_veth_alloc failed");
  LinkPtr peer(rtnl_link_veth_get_peer(veth.get()));
  rtnl_link_set_name(veth.get(), std::string(name).c_str());
  rtnl_link_set_name(peer.get(), std::string(peer_name).c_str());
  if (mtu != 0) {
    rtnl_link_set_mtu(veth.get(), mtu);
    rtnl_link_set_mtu(peer.get(), mtu);
  }
  if (peer_netns_fd >= 0) rtnl_link_set_ns_fd(peer.get(), peer_netns_fd);
  return NlStatus("add veth " + std::string(name),
                  rtnl_link_add(sock_, veth.get(), NLM_F_CREATE | NLM_F_EXCL));
}

Status LibnlNetlink::AddBridge(std::string_view name, uint32_t mtu) {
  LinkPtr link(rtnl_link_alloc());
  rtnl_link_set_name(link.get(), std::string(name).c_str());
  KELP_RETURN_IF_ERROR(NlStatus("bridge type", rtnl_link_set_type(link.get(), "bridge")));
  if (mtu != 0) rtnl_link_set_mtu(link.get(), mtu);
  return NlStatus("add bridge " + std::string(name),
                  rtnl_link_add(sock_, link.get(), NLM_F_CREATE | NLM_F_EXCL));
}

Status LibnlNetlink::AddVxlan(const VxlanSpec& spec) {
  LinkPtr link(rtnl_link_vxlan_alloc());
  if (!link) return IoError("rtnl_link_vxlan_alloc failed");
  rtnl_link_set_name(link.get(), spec.name.c_str());
  rtnl_link_vxlan_set_id(link.get(), spec.vni);
  rtnl_link_vxlan_set_port(link.get(), spec.port);
  rtnl_link_vxlan_set_learning(link.get(), spec.learning ? 1 : 0);
  if (spec.local) {
    AddrPtr local = MakeAddr(*spec.local);
    rtnl_link_vxlan_set_local(link.get(), local.get());
  }
  if (spec.underlay != 0) rtnl_link_vxlan_set_link(link.get(), spec.underlay);
  if (spec.mtu != 0) rtnl_link_set_mtu(link.get(), spec.mtu);
  if (spec.mac) {
    AddrPtr mac = MakeMac(*spec.mac);
    rtnl_link_set_addr(link.get(), mac.get());
  }
  return NlStatus("add vxlan " + spec.name,
                  rtnl_link_add(sock_, link.get(), NLM_F_CREATE | NLM_F_EXCL));
}

Status LibnlNetlink::DeleteLink(int index) {
  LinkPtr link(rtnl_link_alloc());
  rtnl_link_set_ifindex(link.get(), index);
  return NlStatus("delete link " + std::to_string(index), rtnl_link_delete(sock_, link.get()));
}

namespace {

// Applies `edit` to an empty change object for the link at `index`.
template <typename Edit>
Status ChangeLink(nl_sock* sock, int index, std::string_view what, Edit edit) {
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(sock, index, nullptr, &raw);
  if (err < 0) return NlStatus(std::string(what) + " " + std::to_string(index), err);
  LinkPtr orig(raw);
  LinkPtr change(rtnl_link_alloc());
  edit(change.get());
  return NlStatus(std::string(what) + " " + rtnl_link_get_name(orig.get()),
                  rtnl_link_change(sock, orig.get(), change.get(), 0));
}

}  // namespace

Status LibnlNetlink::SetLinkUp(int index, bool up) {
  return ChangeLink(sock_, index, up ? "set up" : "set down", [&](rtnl_link* c) {
    if (up) {
      rtnl_link_set_flags(c, IFF_UP);
    } else {
      rtnl_link_unset_flags(c, IFF_UP);
    }
  });
}

Status LibnlNetlink::SetLinkMtu(int index, uint32_t mtu) {
  return ChangeLink(sock_, index, "set mtu", [&](rtnl_link* c) { rtnl_link_set_mtu(c, mtu); });
}

Status LibnlNetlink::SetLinkMaster(int index, int master_index) {
  return ChangeLink(sock_, index, "set master",
                    [&](rtnl_link* c) { rtnl_link_set_master(c, master_index); });
}

Status LibnlNetlink::SetLinkPromisc(int index, bool on) {
  return ChangeLink(sock_, index, "set promisc", [&](rtnl_link* c) {
    if (on) {
      rtnl_link_set_flags(c, IFF_PROMISC);
    } else {
      rtnl_link_unset_flags(c, IFF_PROMISC);
    }
  });
}

Status LibnlNetlink::SetLinkNetns(int index, int netns_fd) {
  return ChangeLink(sock_, index, "set netns",
                    [&](rtnl_link* c) { rtnl_link_set_ns_fd(c, netns_fd); });
}

Status LibnlNetlink::SetLinkName(int index, std::string_view name) {
  std::string n(name);
  return ChangeLink(sock_, index, "rename", [&](rtnl_link* c) { rtnl_link_set_name(c, n.c_str()); });
}

Status LibnlNetlink::SetBridgePortHairpin(int index, bool on) {
  // RTM_SETLINK for AF_BRIDGE with IFLA_PROTINFO { IFLA_BRPORT_MODE }, as `bridge link set
  // dev X hairpin on` sends it.
  nl_msg* msg = nlmsg_alloc_simple(RTM_SETLINK, 0);
  if (msg == nullptr) return IoError("nlmsg_alloc failed");
  ifinfomsg ifi{};
  ifi.ifi_family = AF_BRIDGE;
  ifi.ifi_index = index;
  int err = nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
  nlattr* nest = err < 0 ? nullptr : nla_nest_start(msg, IFLA_PROTINFO | NLA_F_NESTED);
  if (nest == nullptr || nla_put_u8(msg, IFLA_BRPORT_MODE, on ? 1 : 0) < 0) {
    nlmsg_free(msg);
    return IoError("build hairpin request");
  }
  nla_nest_end(msg, nest);
  return NlStatus("set hairpin " + std::to_string(index), nl_send_sync(sock_, msg));
}

// Addresses.

namespace {

RtAddrPtr BuildAddr(const Address& address) {
  RtAddrPtr a(rtnl_addr_alloc());
  rtnl_addr_set_ifindex(a.get(), address.index);
  rtnl_addr_set_family(a.get(), AF_INET);
  AddrPtr local = MakeAddr(address.prefix.address, address.prefix.length);
  rtnl_addr_set_local(a.get(), local.get());
  rtnl_addr_set_prefixlen(a.get(), address.prefix.length);
  rtnl_addr_set_scope(a.get(), address.scope);
  return a;
}

}  // namespace

Status LibnlNetlink::AddAddress(const Address& address) {
  RtAddrPtr a = BuildAddr(address);
  if (address.prefix.length < 31) {
    AddrPtr brd = MakeAddr(address.prefix.Broadcast());
    rtnl_addr_set_broadcast(a.get(), brd.get());
  }
  return NlStatus("add address " + address.prefix.ToString(),
                  rtnl_addr_add(sock_, a.get(), NLM_F_EXCL));
}

Status LibnlNetlink::DeleteAddress(const Address& address) {
  RtAddrPtr a = BuildAddr(address);
  return NlStatus("delete address " + address.prefix.ToString(),
                  rtnl_addr_delete(sock_, a.get(), 0));
}

Result<std::vector<Address>> LibnlNetlink::ListAddresses(int index) {
  nl_cache* raw = nullptr;
  KELP_RETURN_IF_ERROR(NlStatus("list addresses", rtnl_addr_alloc_cache(sock_, &raw)));
  CachePtr cache(raw);
  std::vector<Address> addresses;
  ForEach<rtnl_addr>(cache.get(), [&](rtnl_addr* a) {
    if (rtnl_addr_get_family(a) != AF_INET) return;
    if (index != 0 && rtnl_addr_get_ifindex(a) != index) return;
    std::optional<Ipv4Address> local = ToIpv4(rtnl_addr_get_local(a));
    if (!local) return;
    addresses.push_back(Address{rtnl_addr_get_ifindex(a),
                                {*local, static_cast<uint8_t>(rtnl_addr_get_prefixlen(a))},
                                static_cast<uint8_t>(rtnl_addr_get_scope(a))});
  });
  return addresses;
}

// Neighbours and FDB.

namespace {

NeighPtr BuildNeigh(int family, int index, const MacAddress& mac,
                    std::optional<Ipv4Address> dst) {
  NeighPtr n(rtnl_neigh_alloc());
  // The destination first: libnl refuses a dst whose family differs from an already set
  // neighbour family, and FDB entries are AF_BRIDGE with an IPv4 dst.
  if (dst) {
    AddrPtr d = MakeAddr(*dst);
    rtnl_neigh_set_dst(n.get(), d.get());
  }
  rtnl_neigh_set_family(n.get(), family);
  rtnl_neigh_set_ifindex(n.get(), index);
  AddrPtr ll = MakeMac(mac);
  rtnl_neigh_set_lladdr(n.get(), ll.get());
  rtnl_neigh_set_state(n.get(), NUD_PERMANENT);
  if (family == AF_BRIDGE) rtnl_neigh_set_flags(n.get(), NTF_SELF);
  return n;
}

}  // namespace

Status LibnlNetlink::ReplaceNeighbour(const Neighbour& neighbour) {
  NeighPtr n = BuildNeigh(AF_INET, neighbour.index, neighbour.mac, neighbour.ip);
  return NlStatus("replace neighbour " + neighbour.ip.ToString(),
                  rtnl_neigh_add(sock_, n.get(), NLM_F_CREATE | NLM_F_REPLACE));
}

Status LibnlNetlink::DeleteNeighbour(const Neighbour& neighbour) {
  NeighPtr n = BuildNeigh(AF_INET, neighbour.index, neighbour.mac, neighbour.ip);
  return NlStatus("delete neighbour " + neighbour.ip.ToString(),
                  rtnl_neigh_delete(sock_, n.get(), 0));
}

Result<std::vector<Neighbour>> LibnlNetlink::ListNeighbours(int index) {
  nl_cache* raw = nullptr;
  KELP_RETURN_IF_ERROR(NlStatus("list neighbours", rtnl_neigh_alloc_cache(sock_, &raw)));
  CachePtr cache(raw);
  std::vector<Neighbour> result;
  ForEach<rtnl_neigh>(cache.get(), [&](rtnl_neigh* n) {
    if (rtnl_neigh_get_family(n) != AF_INET) return;
    if ((rtnl_neigh_get_state(n) & NUD_PERMANENT) == 0) return;
    if (index != 0 && rtnl_neigh_get_ifindex(n) != index) return;
    std::optional<Ipv4Address> ip = ToIpv4(rtnl_neigh_get_dst(n));
    if (!ip) return;
    result.push_back(Neighbour{rtnl_neigh_get_ifindex(n), *ip, ToMac(rtnl_neigh_get_lladdr(n))});
  });
  return result;
}

Status LibnlNetlink::AppendFdb(const FdbEntry& entry) {
  NeighPtr n = BuildNeigh(AF_BRIDGE, entry.index, entry.mac, entry.dst);
  return NlStatus("append fdb " + entry.mac.ToString(),
                  rtnl_neigh_add(sock_, n.get(), NLM_F_CREATE | NLM_F_APPEND));
}

Status LibnlNetlink::DeleteFdb(const FdbEntry& entry) {
  NeighPtr n = BuildNeigh(AF_BRIDGE, entry.index, entry.mac, entry.dst);
  return NlStatus("delete fdb " + entry.mac.ToString(), rtnl_neigh_delete(sock_, n.get(), 0));
}

Result<std::vector<FdbEntry>> LibnlNetlink::ListFdb(int index) {
  nl_cache* raw = nullptr;
  KELP_RETURN_IF_ERROR(
      NlStatus("list fdb", rtnl_neigh_alloc_cache_flags(sock_, &raw, NL_CACHE_AF_ITER)));
  CachePtr cache(raw);
  std::vector<FdbEntry> result;
  ForEach<rtnl_neigh>(cache.get(), [&](rtnl_neigh* n) {
    if (rtnl_neigh_get_family(n) != AF_BRIDGE) return;
    if ((rtnl_neigh_get_state(n) & NUD_PERMANENT) == 0) return;
    if (index != 0 && rtnl_neigh_get_ifindex(n) != index) return;
    result.push_back(FdbEntry{rtnl_neigh_get_ifindex(n), ToMac(rtnl_neigh_get_lladdr(n)),
                              ToIpv4(rtnl_neigh_get_dst(n))});
  });
  return result;
}

}  // namespace kelp::net
