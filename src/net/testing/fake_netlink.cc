// In-memory Netlink that records requests (see fake_netlink.h).
#include "net/testing/fake_netlink.h"

#include <algorithm>

namespace kelp::net::testing {
namespace {

bool SameRouteKey(const Route& a, const Route& b) {
  return a.dst.Network() == b.dst.Network() && a.table == b.table &&
         a.metric.value_or(0) == b.metric.value_or(0);
}

}  // namespace

FakeNetlink::FakeNetlink() {
  int lo = NewLink("lo", "", 65536);
  links_[lo].up = true;
}

void FakeNetlink::FailNext(std::string prefix, Status status) {
  failures_.emplace_back(std::move(prefix), std::move(status));
}

int FakeNetlink::AddExistingLink(const std::string& name, const std::string& kind,
                                 uint32_t mtu) {
  return NewLink(name, kind, mtu);
}

Status FakeNetlink::Record(std::string text) {
  for (auto it = failures_.begin(); it != failures_.end(); ++it) {
    if (text.rfind(it->first, 0) == 0) {
      Status status = it->second;
      failures_.erase(it);
      return status;
    }
  }
  requests_.push_back(std::move(text));
  return Status::Ok();
}

Link* FakeNetlink::FindLink(int index) {
  auto it = links_.find(index);
  return it == links_.end() ? nullptr : &it->second;
}

int FakeNetlink::NewLink(std::string name, std::string kind, uint32_t mtu) {
  int index = next_index_++;
  Link link;
  link.index = index;
  link.name = std::move(name);
  link.kind = std::move(kind);
  link.mtu = mtu;
  link.mac.bytes = {0x02, 0, 0, 0, static_cast<uint8_t>(index >> 8),
                    static_cast<uint8_t>(index)};
  links_[index] = link;
  return index;
}

std::string FakeNetlink::RouteText(const Route& r) {
  std::string text = r.type == RouteType::kBlackhole ? "blackhole " : "";
  text += r.dst.ToString();
  if (r.gateway) text += " via " + r.gateway->ToString();
  if (r.oif != 0) text += " dev " + std::to_string(r.oif);
  text += " table " + std::to_string(r.table) + " proto " + std::to_string(r.protocol) +
          " scope " + std::to_string(r.scope);
  if (r.onlink) text += " onlink";
  if (r.metric) text += " metric " + std::to_string(*r.metric);
  if (r.prefsrc) text += " src " + r.prefsrc->ToString();
  return text;
}

Status FakeNetlink::AddRoute(const Route& route) {
  bool exists = std::any_of(routes_.begin(), routes_.end(),
                            [&](const Route& r) { return SameRouteKey(r, route); });
  if (exists) return AlreadyExistsError("add route " + route.dst.ToString() + ": File exists");
  KELP_RETURN_IF_ERROR(Record("route add " + RouteText(route)));
  routes_.push_back(route);
  return Status::Ok();
}

Status FakeNetlink::ReplaceRoute(const Route& route) {
  KELP_RETURN_IF_ERROR(Record("route replace " + RouteText(route)));
  std::erase_if(routes_, [&](const Route& r) { return SameRouteKey(r, route); });
  routes_.push_back(route);
  return Status::Ok();
}

Status FakeNetlink::DeleteRoute(const Route& route) {
  auto it = std::find_if(routes_.begin(), routes_.end(),
                         [&](const Route& r) { return SameRouteKey(r, route); });
  if (it == routes_.end()) return NotFoundError("delete route " + route.dst.ToString());
  KELP_RETURN_IF_ERROR(Record("route del " + RouteText(route)));
  routes_.erase(it);
  return Status::Ok();
}

std::vector<Status> FakeNetlink::ApplyRouteChanges(std::span<const RouteChange> changes) {
  ++route_batches_;
  return Netlink::ApplyRouteChanges(changes);
}

Result<std::vector<Route>> FakeNetlink::ListRoutes(const RouteFilter& filter) {
  std::vector<Route> out;
  for (const Route& r : routes_) {
    if (filter.table && r.table != *filter.table) continue;
    if (filter.protocol && r.protocol != *filter.protocol) continue;
    out.push_back(r);
  }
  return out;
}

Result<Link> FakeNetlink::GetLink(std::string_view name) {
  for (const auto& [index, link] : links_) {
    if (link.name == name) return link;
  }
  return NotFoundError("get link " + std::string(name) + ": Link not found");
}

Result<Link> FakeNetlink::GetLinkByIndex(int index) {
  Link* link = FindLink(index);
  if (link == nullptr) return NotFoundError("get link " + std::to_string(index));
  return *link;
}

Result<std::vector<Link>> FakeNetlink::ListLinks() {
  std::vector<Link> out;
  for (const auto& [index, link] : links_) out.push_back(link);
  return out;
}

Status FakeNetlink::AddVeth(std::string_view name, std::string_view peer_name, int peer_netns_fd,
                            uint32_t mtu) {
  if (GetLink(name).ok()) return AlreadyExistsError("add veth " + std::string(name));
  KELP_RETURN_IF_ERROR(Record("link add " + std::string(name) + " type veth peer " +
                              std::string(peer_name) +
                              (peer_netns_fd >= 0 ? " netns" : "") + " mtu " +
                              std::to_string(mtu)));
  NewLink(std::string(name), "veth", mtu == 0 ? 1500 : mtu);
  // A peer in another namespace is not visible here.
  if (peer_netns_fd < 0) NewLink(std::string(peer_name), "veth", mtu == 0 ? 1500 : mtu);
  return Status::Ok();
}

Status FakeNetlink::AddBridge(std::string_view name, uint32_t mtu) {
  if (GetLink(name).ok()) return AlreadyExistsError("add bridge " + std::string(name));
  KELP_RETURN_IF_ERROR(
      Record("link add " + std::string(name) + " type bridge mtu " + std::to_string(mtu)));
  NewLink(std::string(name), "bridge", mtu == 0 ? 1500 : mtu);
  return Status::Ok();
}

Status FakeNetlink::AddVxlan(const VxlanSpec& spec) {
  if (GetLink(spec.name).ok()) return AlreadyExistsError("add vxlan " + spec.name);
  std::string text = "link add " + spec.name + " type vxlan id " + std::to_string(spec.vni) +
                     " dstport " + std::to_string(spec.port);
  if (spec.local) text += " local " + spec.local->ToString();
  if (spec.underlay != 0) text += " dev " + std::to_string(spec.underlay);
  text += spec.learning ? " learning" : " nolearning";
  if (spec.mtu != 0) text += " mtu " + std::to_string(spec.mtu);
  if (spec.mac) text += " address " + spec.mac->ToString();
  KELP_RETURN_IF_ERROR(Record(text));
  int index = NewLink(spec.name, "vxlan", spec.mtu == 0 ? 1450 : spec.mtu);
  if (spec.mac) links_[index].mac = *spec.mac;
  return Status::Ok();
}

Status FakeNetlink::DeleteLink(int index) {
  Link* link = FindLink(index);
  if (link == nullptr) return NotFoundError("delete link " + std::to_string(index));
  KELP_RETURN_IF_ERROR(Record("link del " + link->name));
  links_.erase(index);
  std::erase_if(routes_, [&](const Route& r) { return r.oif == index; });
  std::erase_if(addresses_, [&](const Address& a) { return a.index == index; });
  return Status::Ok();
}

#define KELP_FAKE_LINK_OR_RETURN(link, index)                                      \
  Link* link = FindLink(index);                                                    \
  if (link == nullptr) return NotFoundError("link " + std::to_string(index) + " not found")

Status FakeNetlink::SetLinkUp(int index, bool up) {
  KELP_FAKE_LINK_OR_RETURN(link, index);
  KELP_RETURN_IF_ERROR(Record("link set " + link->name + (up ? " up" : " down")));
  link->up = up;
  return Status::Ok();
}

Status FakeNetlink::SetLinkMtu(int index, uint32_t mtu) {
  KELP_FAKE_LINK_OR_RETURN(link, index);
  KELP_RETURN_IF_ERROR(Record("link set " + link->name + " mtu " + std::to_string(mtu)));
  link->mtu = mtu;
  return Status::Ok();
}

Status FakeNetlink::SetLinkMaster(int index, int master_index) {
  KELP_FAKE_LINK_OR_RETURN(link, index);
  Link* master = FindLink(master_index);
  if (master_index != 0 && master == nullptr) return NotFoundError("master not found");
  KELP_RETURN_IF_ERROR(Record("link set " + link->name +
                              (master ? " master " + master->name : std::string(" nomaster"))));
  link->master = master_index;
  return Status::Ok();
}

Status FakeNetlink::SetLinkPromisc(int index, bool on) {
  KELP_FAKE_LINK_OR_RETURN(link, index);
  KELP_RETURN_IF_ERROR(Record("link set " + link->name + (on ? " promisc on" : " promisc off")));
  link->promisc = on;
  return Status::Ok();
}

Status FakeNetlink::SetLinkNetns(int index, int /*netns_fd*/) {
  KELP_FAKE_LINK_OR_RETURN(link, index);
  KELP_RETURN_IF_ERROR(Record("link set " + link->name + " netns"));
  links_.erase(index);
  return Status::Ok();
}

Status FakeNetlink::SetLinkName(int index, std::string_view name) {
  KELP_FAKE_LINK_OR_RETURN(link, index);
  KELP_RETURN_IF_ERROR(Record("link set " + link->name + " name " + std::string(name)));
  link->name = std::string(name);
  return Status::Ok();
}

Status FakeNetlink::SetBridgePortHairpin(int index, bool on) {
  KELP_FAKE_LINK_OR_RETURN(link, index);
  return Record("bridge link set dev " + link->name + (on ? " hairpin on" : " hairpin off"));
}

Status FakeNetlink::AddAddress(const Address& address) {
  if (FindLink(address.index) == nullptr) return NotFoundError("add address: no such device");
  if (std::find(addresses_.begin(), addresses_.end(), address) != addresses_.end()) {
    return AlreadyExistsError("add address " + address.prefix.ToString() + ": File exists");
  }
  KELP_RETURN_IF_ERROR(Record("addr add " + address.prefix.ToString() + " dev " +
                              links_[address.index].name));
  addresses_.push_back(address);
  return Status::Ok();
}

Status FakeNetlink::DeleteAddress(const Address& address) {
  auto it = std::find(addresses_.begin(), addresses_.end(), address);
  if (it == addresses_.end()) return NotFoundError("delete address " + address.prefix.ToString());
  KELP_RETURN_IF_ERROR(Record("addr del " + address.prefix.ToString() + " dev " +
                              links_[address.index].name));
  addresses_.erase(it);
  return Status::Ok();
}

Result<std::vector<Address>> FakeNetlink::ListAddresses(int index) {
  std::vector<Address> out;
  for (const Address& a : addresses_) {
    if (index == 0 || a.index == index) out.push_back(a);
  }
  return out;
}

Status FakeNetlink::ReplaceNeighbour(const Neighbour& n) {
  KELP_RETURN_IF_ERROR(Record("neigh replace " + n.ip.ToString() + " lladdr " + n.mac.ToString() +
                              " dev " + std::to_string(n.index) + " permanent"));
  std::erase_if(neighbours_,
                [&](const Neighbour& x) { return x.index == n.index && x.ip == n.ip; });
  neighbours_.push_back(n);
  return Status::Ok();
}

Status FakeNetlink::DeleteNeighbour(const Neighbour& n) {
  auto it = std::find_if(neighbours_.begin(), neighbours_.end(), [&](const Neighbour& x) {
    return x.index == n.index && x.ip == n.ip;
  });
  if (it == neighbours_.end()) return NotFoundError("delete neighbour " + n.ip.ToString());
  KELP_RETURN_IF_ERROR(
      Record("neigh del " + n.ip.ToString() + " dev " + std::to_string(n.index)));
  neighbours_.erase(it);
  return Status::Ok();
}

Result<std::vector<Neighbour>> FakeNetlink::ListNeighbours(int index) {
  std::vector<Neighbour> out;
  for (const Neighbour& n : neighbours_) {
    if (index == 0 || n.index == index) out.push_back(n);
  }
  return out;
}

Status FakeNetlink::AppendFdb(const FdbEntry& e) {
  if (std::find(fdb_.begin(), fdb_.end(), e) != fdb_.end()) {
    return AlreadyExistsError("append fdb " + e.mac.ToString());
  }
  KELP_RETURN_IF_ERROR(Record("fdb append " + e.mac.ToString() + " dev " +
                              std::to_string(e.index) +
                              (e.dst ? " dst " + e.dst->ToString() : std::string())));
  fdb_.push_back(e);
  return Status::Ok();
}

Status FakeNetlink::DeleteFdb(const FdbEntry& e) {
  auto it = std::find(fdb_.begin(), fdb_.end(), e);
  if (it == fdb_.end()) return NotFoundError("delete fdb " + e.mac.ToString());
  KELP_RETURN_IF_ERROR(Record("fdb del " + e.mac.ToString() + " dev " + std::to_string(e.index) +
                              (e.dst ? " dst " + e.dst->ToString() : std::string())));
  fdb_.erase(it);
  return Status::Ok();
}

Result<std::vector<FdbEntry>> FakeNetlink::ListFdb(int index) {
  std::vector<FdbEntry> out;
  for (const FdbEntry& e : fdb_) {
    if (index == 0 || e.index == index) out.push_back(e);
  }
  return out;
}

}  // namespace kelp::net::testing
