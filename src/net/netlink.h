// The Netlink seam: every kernel networking object kelp programs (links, addresses, IPv4
// routes, neighbours, bridge FDB entries) goes through this interface. LibnlNetlink
// (netlink_libnl.h) is the real one, optionally bound to a network namespace;
// testing::FakeNetlink records requests for golden tests. Errors follow the kernel: adding
// what exists is AlreadyExists, deleting what is absent is NotFound.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "net/ip.h"

namespace kelp::net {

inline constexpr uint32_t kMainTable = 254;      // RT_TABLE_MAIN
inline constexpr uint8_t kProtoBoot = 3;         // RTPROT_BOOT, what `ip route add` uses
inline constexpr uint8_t kProtoKernel = 2;       // RTPROT_KERNEL, connected routes
inline constexpr uint8_t kScopeUniverse = 0;     // RT_SCOPE_UNIVERSE
inline constexpr uint8_t kScopeLink = 253;       // RT_SCOPE_LINK
inline constexpr uint8_t kScopeHost = 254;       // RT_SCOPE_HOST

enum class RouteType : uint8_t { kUnicast = 1, kBlackhole = 6 };  // RTN_* values

struct Route {
  Ipv4Prefix dst;                      // 0.0.0.0/0 is the default route
  std::optional<Ipv4Address> gateway;  // via
  int oif = 0;                         // dev (interface index), 0 for none
  uint32_t table = kMainTable;
  uint8_t protocol = kProtoBoot;
  uint8_t scope = kScopeUniverse;
  RouteType type = RouteType::kUnicast;
  bool onlink = false;
  std::optional<uint32_t> metric;      // priority
  std::optional<Ipv4Address> prefsrc;
  bool operator==(const Route&) const = default;
};

// One change of a batch (Netlink::ApplyRouteChanges): `ip route replace` or `ip route del`.
struct RouteChange {
  enum class Op : uint8_t { kReplace, kDelete };
  Op op = Op::kReplace;
  Route route;
};

struct RouteFilter {
  std::optional<uint32_t> table;    // nullopt: every table
  std::optional<uint8_t> protocol;  // nullopt: every protocol
};

struct Link {
  int index = 0;
  std::string name;
  std::string kind;  // "veth", "bridge", "vxlan", ... ("" for a plain device such as lo)
  uint32_t mtu = 0;
  MacAddress mac;
  bool up = false;  // administratively up (IFF_UP)
  bool promisc = false;
  int master = 0;  // index of the bridge it is enslaved to, 0 for none
};

struct VxlanSpec {
  std::string name;
  uint32_t vni = 1;
  uint16_t port = 4789;
  std::optional<Ipv4Address> local;
  int underlay = 0;  // dev index, 0 for none
  bool learning = true;
  uint32_t mtu = 0;  // 0: kernel default
  std::optional<MacAddress> mac;
};

struct Address {
  int index = 0;
  Ipv4Prefix prefix;  // "10.244.1.1/24"
  uint8_t scope = kScopeUniverse;
  bool operator==(const Address&) const = default;
};

struct Neighbour {
  int index = 0;
  Ipv4Address ip;
  MacAddress mac;
  bool operator==(const Neighbour&) const = default;
};

// A bridge/vxlan forwarding entry: frames for `mac` go to remote VTEP `dst`.
struct FdbEntry {
  int index = 0;
  MacAddress mac;
  std::optional<Ipv4Address> dst;
  bool operator==(const FdbEntry&) const = default;
};

class Netlink {
 public:
  virtual ~Netlink() = default;

  // Routes (IPv4).
  virtual Status AddRoute(const Route& route) = 0;      // AlreadyExists if present
  virtual Status ReplaceRoute(const Route& route) = 0;  // creates or replaces
  virtual Status DeleteRoute(const Route& route) = 0;   // NotFound if absent
  virtual Result<std::vector<Route>> ListRoutes(const RouteFilter& filter) = 0;
  // Applies `changes` in order; returns one Status per change (same index), each what
  // ReplaceRoute/DeleteRoute would have returned, so a failed change never hides or stops the
  // others. LibnlNetlink sends many requests per sendmsg and asks the kernel to answer only
  // errors and the last request of each; this default applies them one at a time.
  virtual std::vector<Status> ApplyRouteChanges(std::span<const RouteChange> changes) {
    std::vector<Status> results;
    results.reserve(changes.size());
    for (const RouteChange& change : changes) {
      results.push_back(change.op == RouteChange::Op::kReplace ? ReplaceRoute(change.route)
                                                               : DeleteRoute(change.route));
    }
    return results;
  }

  // Links.
  virtual Result<Link> GetLink(std::string_view name) = 0;  // NotFound if absent
  virtual Result<Link> GetLinkByIndex(int index) = 0;
  virtual Result<std::vector<Link>> ListLinks() = 0;
  // A veth pair; the peer is created directly in the network namespace open at `peer_netns_fd`
  // (-1: this namespace). `mtu` 0 keeps the kernel default.
  virtual Status AddVeth(std::string_view name, std::string_view peer_name, int peer_netns_fd,
                         uint32_t mtu) = 0;
  virtual Status AddBridge(std::string_view name, uint32_t mtu) = 0;
  virtual Status AddVxlan(const VxlanSpec& spec) = 0;
  virtual Status DeleteLink(int index) = 0;
  virtual Status SetLinkUp(int index, bool up) = 0;
  virtual Status SetLinkMtu(int index, uint32_t mtu) = 0;
  virtual Status SetLinkMaster(int index, int master_index) = 0;  // 0 releases it
  virtual Status SetLinkPromisc(int index, bool on) = 0;
  virtual Status SetLinkNetns(int index, int netns_fd) = 0;
  virtual Status SetLinkName(int index, std::string_view name) = 0;
  // Hairpin mode of a bridge port (frames may leave through the port they came in on).
  virtual Status SetBridgePortHairpin(int index, bool on) = 0;

  // Addresses (IPv4).
  virtual Status AddAddress(const Address& address) = 0;  // AlreadyExists if present
  virtual Status DeleteAddress(const Address& address) = 0;
  virtual Result<std::vector<Address>> ListAddresses(int index) = 0;  // 0: every link

  // Permanent IPv4 neighbours (ARP entries).
  virtual Status ReplaceNeighbour(const Neighbour& neighbour) = 0;
  virtual Status DeleteNeighbour(const Neighbour& neighbour) = 0;
  virtual Result<std::vector<Neighbour>> ListNeighbours(int index) = 0;  // permanent ones

  // Bridge FDB (`bridge fdb append`): permanent entries on a vxlan or bridge port.
  virtual Status AppendFdb(const FdbEntry& entry) = 0;
  virtual Status DeleteFdb(const FdbEntry& entry) = 0;
  virtual Result<std::vector<FdbEntry>> ListFdb(int index) = 0;  // permanent ones
};

}  // namespace kelp::net
