// kelp-bridge: a veth per container attached to a Linux bridge, addresses from IPAM, gateway
// on the bridge, optional masquerade in kelp's own nftables table. Follows the reference
// bridge plugin's order (bridge → veth → IPAM → container config → gateway → masquerade) and
// undoes the veth and the lease if a later step fails.
#include <boost/json.hpp>

#include "cni/types.h"

namespace kelp::cni {
namespace {

namespace json = boost::json;

CniError Fail(ErrorCode code, std::string msg, const Status& status) {
  return CniError{code, std::move(msg), status.ToString()};
}

// Host-side veth name: stable for (container, ifname) so DEL finds it without the netns.
std::string HostVethName(const std::string& container_id, const std::string& ifname) {
  uint32_t h = 2166136261u;
  for (char c : container_id + "/" + ifname) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  char buf[16];
  std::snprintf(buf, sizeof(buf), "veth%08x", h);
  return buf;
}

// nftables: one table kelp owns; each network gets a chain (accept own subnet, masquerade
// the rest except multicast); pod addresses map to their network's chain.
std::string MasqChain(const std::string& network) {
  uint32_t h = 2166136261u;
  for (char c : network) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  char buf[24];
  std::snprintf(buf, sizeof(buf), "net-%08x", h);
  return buf;
}

std::string MasqAddScript(const std::string& network, const std::vector<CniIp>& ips) {
  std::string chain = MasqChain(network);
  std::string s =
      "add table ip kelp-cni\n"
      "add map ip kelp-cni pods { type ipv4_addr : verdict; }\n"
      "add chain ip kelp-cni postrouting { type nat hook postrouting priority srcnat; }\n"
      "flush chain ip kelp-cni postrouting\n"
      "add rule ip kelp-cni postrouting ip saddr vmap @pods\n"
      "add chain ip kelp-cni " + chain + "\n"
      "flush chain ip kelp-cni " + chain + "\n";
  for (const CniIp& ip : ips) {
    s += "add rule ip kelp-cni " + chain + " ip daddr " + ip.address.Network().ToString() +
         " accept\n";
  }
  s += "add rule ip kelp-cni " + chain + " ip daddr != 224.0.0.0/4 masquerade\n";
  for (const CniIp& ip : ips) {
    s += "add element ip kelp-cni pods { " + ip.address.address.ToString() + " : jump " + chain +
         " }\n";
  }
  return s;
}

CniResult<CniOutput> RunIpamFor(const Invocation& inv, Command command) {
  const json::value* type = inv.conf.ipam_raw->if_contains("type");
  if (type == nullptr || !type->is_string()) {
    return CniError{ErrorCode::kInvalidNetworkConfig, "ipam.type is missing", ""};
  }
  CniResult<std::string> out = Delegate(inv, inv.conf.raw, type->get_string(), command);
  if (auto* e = std::get_if<CniError>(&out)) return *e;
  if (command != Command::kAdd) return CniOutput{};
  CniResult<CniOutput> parsed = ParseResult(std::get<std::string>(out));
  if (auto* e = std::get_if<CniError>(&parsed)) return *e;
  if (std::get<CniOutput>(parsed).ips.empty()) {
    return CniError{ErrorCode::kInvalidNetworkConfig, "IPAM plugin returned no IP config", ""};
  }
  return parsed;
}

// Everything ADD made, removed again when a later step fails.
class AddUndo {
 public:
  explicit AddUndo(const Invocation& inv) : inv_(inv) {}
  ~AddUndo() {
    if (committed_) return;
    if (veth_index_ != 0) (void)inv_.sys.HostNetlink().DeleteLink(veth_index_);
    if (ipam_done_) (void)RunIpamFor(inv_, Command::kDel);
  }
  void set_veth(int index) { veth_index_ = index; }
  void set_ipam_done() { ipam_done_ = true; }
  void Commit() { committed_ = true; }

 private:
  const Invocation& inv_;
  int veth_index_ = 0;
  bool ipam_done_ = false;
  bool committed_ = false;
};

CniResult<net::Link> EnsureBridge(net::Netlink& nl, const BridgeConf& b) {
  Result<net::Link> link = nl.GetLink(b.bridge);
  if (!link.ok()) {
    Status added = nl.AddBridge(b.bridge, b.mtu);
    if (!added.ok() && added.code() != StatusCode::kAlreadyExists) {
      return Fail(ErrorCode::kIoFailure, "cannot create bridge " + b.bridge, added);
    }
    link = nl.GetLink(b.bridge);
    if (!link.ok()) return Fail(ErrorCode::kIoFailure, "bridge " + b.bridge, link.status());
  } else if (link->kind != "bridge") {
    return CniError{ErrorCode::kInvalidNetworkConfig,
                    b.bridge + " already exists but is not a bridge", "kind " + link->kind};
  }
  if (b.promisc_mode && !link->promisc) {
    Status s = nl.SetLinkPromisc(link->index, true);
    if (!s.ok()) return Fail(ErrorCode::kIoFailure, "promisc on " + b.bridge, s);
  }
  if (!link->up) {
    Status s = nl.SetLinkUp(link->index, true);
    if (!s.ok()) return Fail(ErrorCode::kIoFailure, "set " + b.bridge + " up", s);
  }
  return *link;
}

CniResult<std::string> Add(const Invocation& inv, const BridgeConf& b) {
  net::Netlink& host = inv.sys.HostNetlink();
  Result<UniqueFd> netns = inv.sys.OpenNetns(inv.env.netns);
  if (!netns.ok()) {
    return Fail(ErrorCode::kContainerUnknown, "cannot open netns " + inv.env.netns,
                netns.status());
  }
  Result<std::unique_ptr<net::Netlink>> inside = inv.sys.NetlinkIn(netns->get());
  if (!inside.ok()) return Fail(ErrorCode::kIoFailure, "netlink in container", inside.status());
  net::Netlink& cnl = **inside;
  if (cnl.GetLink(inv.env.ifname).ok()) {
    return CniError{ErrorCode::kInvalidEnvironment,
                    "interface " + inv.env.ifname + " already exists in " + inv.env.netns, ""};
  }
  CniResult<net::Link> bridge = EnsureBridge(host, b);
  if (auto* e = std::get_if<CniError>(&bridge)) return *e;
  const net::Link& br = std::get<net::Link>(bridge);

  AddUndo undo(inv);
  std::string host_name = HostVethName(inv.env.container_id, inv.env.ifname);
  if (Result<net::Link> stale = host.GetLink(host_name); stale.ok()) {
    (void)host.DeleteLink(stale->index);  // left by a crashed ADD of this attachment
  }
  uint32_t mtu = b.mtu != 0 ? b.mtu : br.mtu;
  Status made = host.AddVeth(host_name, inv.env.ifname, netns->get(), mtu);
  if (!made.ok()) return Fail(ErrorCode::kIoFailure, "cannot create veth " + host_name, made);
  Result<net::Link> hv = host.GetLink(host_name);
  if (!hv.ok()) return Fail(ErrorCode::kIoFailure, "veth " + host_name, hv.status());
  undo.set_veth(hv->index);
  Status s = host.SetLinkMaster(hv->index, br.index);
  if (s.ok() && b.hairpin_mode) s = host.SetBridgePortHairpin(hv->index, true);
  if (s.ok()) s = host.SetLinkUp(hv->index, true);
  if (!s.ok()) return Fail(ErrorCode::kIoFailure, "cannot attach " + host_name, s);

  CniResult<CniOutput> ipam = RunIpamFor(inv, Command::kAdd);
  if (auto* e = std::get_if<CniError>(&ipam)) return *e;
  undo.set_ipam_done();
  CniOutput result = std::get<CniOutput>(ipam);

  Result<net::Link> cv = cnl.GetLink(inv.env.ifname);
  if (!cv.ok()) return Fail(ErrorCode::kIoFailure, "container veth", cv.status());
  std::optional<net::Ipv4Address> default_gw;
  for (CniIp& ip : result.ips) {
    if (b.is_gateway && !ip.gateway) ip.gateway = net::Ipv4Address{ip.address.Network().address.value + 1};
    ip.interface = 2;
    if (b.is_default_gateway && !default_gw) default_gw = ip.gateway;
  }
  if (default_gw) {
    bool has_default = false;
    for (const RouteConf& r : result.routes) has_default = has_default || r.dst.length == 0;
    if (has_default) {
      return CniError{ErrorCode::kInvalidNetworkConfig,
                      "isDefaultGateway conflicts with a default route from IPAM", ""};
    }
    result.routes.push_back(RouteConf{net::Ipv4Prefix{}, default_gw});
  }
  // Container side: arp_notify, up, addresses, routes.
  s = inv.sys.Sysctl(netns->get(), "net/ipv4/conf/" + inv.env.ifname + "/arp_notify", "1");
  if (s.ok()) s = cnl.SetLinkUp(cv->index, true);
  for (const CniIp& ip : result.ips) {
    if (s.ok()) s = cnl.AddAddress({cv->index, ip.address});
  }
  for (const RouteConf& r : result.routes) {
    if (!s.ok()) break;
    net::Route route;
    route.dst = r.dst;
    route.gateway = r.gw ? r.gw : result.ips[0].gateway;
    route.oif = cv->index;
    s = cnl.AddRoute(route);
  }
  if (!s.ok()) return Fail(ErrorCode::kIoFailure, "cannot configure " + inv.env.ifname, s);

  if (b.is_gateway) {
    Result<std::vector<net::Address>> existing = host.ListAddresses(br.index);
    for (const CniIp& ip : result.ips) {
      net::Address gw{br.index, {*ip.gateway, ip.address.length}};
      bool present = existing.ok() &&
                     std::find(existing->begin(), existing->end(), gw) != existing->end();
      if (!present) s = host.AddAddress(gw);
      if (!s.ok() && s.code() != StatusCode::kAlreadyExists) {
        return Fail(ErrorCode::kIoFailure, "cannot set gateway on " + b.bridge, s);
      }
    }
    s = inv.sys.Sysctl(-1, "net/ipv4/ip_forward", "1");
    if (!s.ok()) return Fail(ErrorCode::kIoFailure, "cannot enable ip_forward", s);
  }
  if (b.ip_masq) {
    s = inv.sys.Nft(MasqAddScript(inv.conf.name, result.ips));
    if (!s.ok()) return Fail(ErrorCode::kIoFailure, "cannot set up masquerade", s);
  }
  hv = host.GetLink(host_name);
  Result<net::Link> brl = host.GetLink(b.bridge);
  result.interfaces = {
      {b.bridge, brl.ok() ? brl->mac.ToString() : "", "", 0},
      {host_name, hv.ok() ? hv->mac.ToString() : "", "", 0},
      {inv.env.ifname, cv->mac.ToString(), inv.env.netns, 0},
  };
  undo.Commit();
  return ResultJson(result, inv.conf.cni_version);
}

std::vector<CniIp> PrevIps(const NetConf& conf) {
  const json::value* prev = conf.raw.if_contains("prevResult");
  if (prev == nullptr) return {};
  CniResult<CniOutput> parsed = ParseResult(json::serialize(*prev));
  if (auto* out = std::get_if<CniOutput>(&parsed)) return out->ips;
  return {};
}

CniResult<std::string> Del(const Invocation& inv, const BridgeConf& b) {
  net::Netlink& host = inv.sys.HostNetlink();
  std::vector<CniIp> ips = PrevIps(inv.conf);
  CniResult<CniOutput> ipam = RunIpamFor(inv, Command::kDel);
  if (auto* e = std::get_if<CniError>(&ipam)) return *e;
  std::string host_name = HostVethName(inv.env.container_id, inv.env.ifname);
  if (Result<net::Link> hv = host.GetLink(host_name); hv.ok()) {
    Status s = host.DeleteLink(hv->index);
    if (!s.ok() && s.code() != StatusCode::kNotFound) {
      return Fail(ErrorCode::kIoFailure, "cannot delete " + host_name, s);
    }
  }
  if (b.ip_masq) {
    for (const CniIp& ip : ips) {
      (void)inv.sys.Nft("delete element ip kelp-cni pods { " + ip.address.address.ToString() +
                        " }\n");
    }
  }
  return std::string();
}

CniResult<std::string> Check(const Invocation& inv, const BridgeConf& b) {
  net::Netlink& host = inv.sys.HostNetlink();
  Result<net::Link> br = host.GetLink(b.bridge);
  if (!br.ok()) return Fail(ErrorCode::kContainerUnknown, "bridge " + b.bridge, br.status());
  Result<net::Link> hv = host.GetLink(HostVethName(inv.env.container_id, inv.env.ifname));
  if (!hv.ok() || hv->master != br->index) {
    return CniError{ErrorCode::kContainerUnknown, "host veth is missing or not on " + b.bridge,
                    ""};
  }
  Result<UniqueFd> netns = inv.sys.OpenNetns(inv.env.netns);
  if (!netns.ok()) return Fail(ErrorCode::kContainerUnknown, "netns", netns.status());
  Result<std::unique_ptr<net::Netlink>> inside = inv.sys.NetlinkIn(netns->get());
  if (!inside.ok()) return Fail(ErrorCode::kIoFailure, "netlink in container", inside.status());
  Result<net::Link> cv = (*inside)->GetLink(inv.env.ifname);
  if (!cv.ok()) return Fail(ErrorCode::kContainerUnknown, inv.env.ifname, cv.status());
  Result<std::vector<net::Address>> addrs = (*inside)->ListAddresses(cv->index);
  for (const CniIp& ip : PrevIps(inv.conf)) {
    net::Address want{cv->index, ip.address};
    if (!addrs.ok() || std::find(addrs->begin(), addrs->end(), want) == addrs->end()) {
      return CniError{ErrorCode::kContainerUnknown,
                      ip.address.ToString() + " is not on " + inv.env.ifname, ""};
    }
  }
  CniResult<CniOutput> ipam = RunIpamFor(inv, Command::kCheck);
  if (auto* e = std::get_if<CniError>(&ipam)) return *e;
  return std::string();
}

}  // namespace

CniResult<std::string> RunBridge(const Invocation& inv) {
  CniResult<BridgeConf> b = ParseBridgeConf(inv.conf);
  if (auto* e = std::get_if<CniError>(&b)) return *e;
  const BridgeConf& bridge = std::get<BridgeConf>(b);
  switch (inv.env.command) {
    case Command::kAdd:
      return Add(inv, bridge);
    case Command::kDel:
      return Del(inv, bridge);
    case Command::kCheck:
      return Check(inv, bridge);
    case Command::kGc:
    case Command::kStatus: {
      CniResult<CniOutput> ipam = RunIpamFor(inv, inv.env.command);
      if (auto* e = std::get_if<CniError>(&ipam)) return *e;
      return std::string();
    }
    case Command::kVersion:
      break;
  }
  return std::string();
}

}  // namespace kelp::cni
