// LibnlNetlink: the real Netlink seam on libnl-route-3. One rtnetlink socket, opened in the
// caller's network namespace or in the one open at a given fd (the socket stays bound to that
// namespace for its life). Not thread-safe: one LibnlNetlink per thread.
#pragma once

#include <memory>

#include "net/netlink.h"

struct nl_sock;

namespace kelp::net {

class LibnlNetlink final : public Netlink {
 public:
  // `netns_fd` -1: the caller's namespace; otherwise an fd of /run/netns/<name> or
  // /proc/<pid>/ns/net.
  static Result<std::unique_ptr<LibnlNetlink>> Open(int netns_fd = -1);
  ~LibnlNetlink() override;
  LibnlNetlink(const LibnlNetlink&) = delete;
  LibnlNetlink& operator=(const LibnlNetlink&) = delete;

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

 private:
  explicit LibnlNetlink(nl_sock* sock) : sock_(sock) {}
  // Up to kRouteBatch changes in one sendmsg; their answers go to `results`.
  void ApplyRouteBatch(std::span<const RouteChange> batch, std::vector<Status>& results);

  nl_sock* sock_;
  uint32_t batch_sequence_ = 1;  // ApplyRouteChanges numbers its requests itself
};

}  // namespace kelp::net
