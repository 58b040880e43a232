// The vxlan backend, programmed as flannel programs it: device flannel.<VNI> (UDP 8472,
// learning off, local = the node IP on the uplink, MTU = uplink − 50) holding <subnet>.0/32;
// per peer, in this order, a permanent neighbour <peer subnet>.0 → peer VtepMAC, an FDB entry
// VtepMAC → peer public IP, then the route <peer subnet> via <peer subnet>.0 dev flannel.1
// onlink (last, so the kernel never has to ARP). With DirectRouting, peers on the node's own
// L2 network get a host-gw route instead. The VTEP MAC is derived from the node name, so a
// re-created device keeps the address its peers know.
#pragma once

#include <optional>

#include "flannel/backend.h"

namespace kelp::flannel {

class VxlanBackend final : public Backend {
 public:
  VxlanBackend(BackendConfig config, net::Netlink& netlink)
      : config_(std::move(config)), netlink_(netlink) {}

  std::string type() const override { return kBackendVxlan; }
  Result<BackendSetup> Setup(const LocalNode& local) override;
  Result<ReconcileReport> Reconcile(const std::vector<NodeLease>& remotes) override;

  std::string device_name() const { return "flannel." + std::to_string(config_.vni); }
  // A locally administered unicast MAC from a hash of the node name.
  static net::MacAddress VtepMac(const std::string& node_name);

 private:
  BackendConfig config_;
  net::Netlink& netlink_;
  int device_index_ = 0;
  std::optional<Uplink> uplink_;
};

}  // namespace kelp::flannel
