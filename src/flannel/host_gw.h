// The host-gw backend: no encapsulation, one route per peer, <peer subnet> via <peer node IP>
// dev <uplink> (protocol kRouteProtocol). It needs every peer on the node's own L2 network;
// a peer that is not gets no route and an error in the report (the daemon turns it into a
// Warning event on the Node), as flannel refuses such peers.
#pragma once

#include <optional>

#include "flannel/backend.h"

namespace kelp::flannel {

class HostGwBackend final : public Backend {
 public:
  explicit HostGwBackend(net::Netlink& netlink) : netlink_(netlink) {}

  std::string type() const override { return kBackendHostGw; }
  Result<BackendSetup> Setup(const LocalNode& local) override;
  Result<ReconcileReport> Reconcile(const std::vector<NodeLease>& remotes) override;

 private:
  net::Netlink& netlink_;
  std::optional<Uplink> uplink_;
};

}  // namespace kelp::flannel
