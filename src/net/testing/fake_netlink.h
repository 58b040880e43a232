// FakeNetlink: an in-memory Netlink for unit tests. It keeps links, addresses, routes,
// neighbours and FDB entries like a kernel would (exists → AlreadyExists, absent → NotFound)
// and records every mutating request as one line of `ip`-like text for golden tests:
//   "route add 10.244.2.0/24 via 10.244.2.0 dev 5 table 254 proto 3 scope 0 onlink"
// FailNext("route add") makes the next request starting with that text fail. A batch of
// route changes is applied one change at a time and counted in route_batches().
#pragma once

#include <map>
#include <string>
#include <vector>

#include "net/netlink.h"

namespace kelp::net::testing {

class FakeNetlink final : public Netlink {
 public:
  FakeNetlink();  // starts with "lo" (index 1, up)

  // Every mutating request so far, in order.
  const std::vector<std::string>& requests() const { return requests_; }
  void ClearRequests() { requests_.clear(); }
  // The next request whose text starts with `prefix` fails with `status` (not applied).
  void FailNext(std::string prefix, Status status);
  // ApplyRouteChanges calls so far (each change is also recorded in requests()).
  size_t route_batches() const { return route_batches_; }
  // Adds a link directly (as if made by someone else); returns its index.
  int AddExistingLink(const std::string& name, const std::string& kind, uint32_t mtu = 1500);

  Status AddRoute(const Route& route) override;
  Status ReplaceRoute(const Route& route) override;
  Status DeleteRoute(const Route& route) override;
  Result<std::vector<Route>> ListRoutes(const RouteFilter& filter) override;
  std::vector<Status> ApplyRouteChanges(std::span<const RouteChange> changes) override;

  Result<Link> GetLink(std::string_view name) override;
  Result<Link> GetLinkByIndex(int index) override;
  Result<std::vector<Link>> ListLinks() override;
  Status AddVeth(std::string_view name, std::string_view peer_name, int peer_netns_fd,
                 uint32_t mtu) override;
  Status AddBridge(std::string_view name, uint32_t mtu) override;
  Status AddVxlan(const VxlanSpec& spec) override;
  Status DeleteLink(int index) override;
  Status SetLinkUp(int index, bool up) override;
  Status SetLinkMtu(int index, uint32_t mtu) override;
  Status SetLinkMaster(int index, int master_index) override;
  Status SetLinkPromisc(int index, bool on) override;
  Status SetLinkNetns(int index, int netns_fd) override;
  Status SetLinkName(int index, std::string_view name) override;
  Status SetBridgePortHairpin(int index, bool on) override;

  Status AddAddress(const Address& address) override;
  Status DeleteAddress(const Address& address) override;
  Result<std::vector<Address>> ListAddresses(int index) override;

  Status ReplaceNeighbour(const Neighbour& neighbour) override;
  Status DeleteNeighbour(const Neighbour& neighbour) override;
  Result<std::vector<Neighbour>> ListNeighbours(int index) override;

  Status AppendFdb(const FdbEntry& entry) override;
  Status DeleteFdb(const FdbEntry& entry) override;
  Result<std::vector<FdbEntry>> ListFdb(int index) override;

  // Text form of a route as recorded in requests().
  static std::string RouteText(const Route& route);

 private:
  // Records `text`; returns the injected failure if one matches.
  Status Record(std::string text);
  Link* FindLink(int index);
  int NewLink(std::string name, std::string kind, uint32_t mtu);

  std::vector<std::string> requests_;
  size_t route_batches_ = 0;
  std::vector<std::pair<std::string, Status>> failures_;
  std::map<int, Link> links_;
  int next_index_ = 1;
  std::vector<Route> routes_;
  std::vector<Address> addresses_;
  std::vector<Neighbour> neighbours_;
  std::vector<FdbEntry> fdb_;
};

}  // namespace kelp::net::testing
