// A flannel backend: how pods of one node reach the pod subnets of the others. Setup() makes
// the node's own devices (idempotently: a restart finds and keeps them) and says what peers
// must know (backend-data) and the pod MTU; Reconcile() makes the kernel's per-peer state
// (routes, neighbours, FDB entries) exactly match the given leases — adding what is missing,
// replacing what changed and deleting what is stale — and touches only what kelp made (route
// protocol kRouteProtocol, the backend's own device). Backends program the kernel through the
// Netlink seam only, so unit tests run them on testing::FakeNetlink.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "flannel/net_conf.h"
#include "flannel/node_lease.h"
#include "net/netlink.h"

namespace kelp::flannel {

// rtm_protocol of every route flannel installs ("proto 87" in `ip route`); kelp's BGP uses 86.
inline constexpr uint8_t kRouteProtocol = 87;

struct LocalNode {
  std::string name;
  net::Ipv4Prefix subnet;      // this node's pod subnet (network form)
  net::Ipv4Prefix network;     // the whole flannel network (udp: flannel0's prefix)
  net::Ipv4Address public_ip;  // the node's address on the underlay
  std::string uplink;          // interface of public_ip; "" finds it by the address
};

struct BackendSetup {
  std::string backend_data = "null";  // the backend-data annotation (JSON text)
  uint32_t mtu = 1500;                // FLANNEL_MTU
};

// What a Reconcile pass did and what it could not do (per peer, e.g. host-gw to a peer that
// is not on this node's L2 network): peers in `errors` are skipped, the others programmed.
struct ReconcileReport {
  int added = 0;
  int removed = 0;
  std::vector<std::string> errors;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string type() const = 0;
  virtual Result<BackendSetup> Setup(const LocalNode& local) = 0;
  // `remotes` are the other nodes' leases of this backend type. Setup() must have succeeded.
  virtual Result<ReconcileReport> Reconcile(const std::vector<NodeLease>& remotes) = 0;
};

// The backend for `config.type` (vxlan, host-gw, udp), programming through `netlink`.
Result<std::unique_ptr<Backend>> MakeBackend(const BackendConfig& config, net::Netlink& netlink);

// The uplink: the link named `name`, or (name "") the one that holds `address`, with that
// address' prefix (the node's L2 network). NotFound with a clear message otherwise.
struct Uplink {
  net::Link link;
  net::Ipv4Prefix address;  // e.g. 192.168.206.20/24
};
Result<Uplink> FindUplink(net::Netlink& netlink, const std::string& name, net::Ipv4Address address);

// Deletes vxlan links named flannel.<n> other than `keep` (left by a run with another
// backend or VNI; their neighbours and FDB entries go with them).
Status RemoveOtherVxlanDevices(net::Netlink& netlink, const std::string& keep);

// Makes the flannel-protocol routes in the main table exactly `desired` (matched on
// destination; a route whose gateway, device or onlink flag differ is replaced). Counts into
// `report`.
Status SyncRoutes(net::Netlink& netlink, const std::vector<net::Route>& desired,
                  ReconcileReport& report);

}  // namespace kelp::flannel
