// The host-gw backend (see host_gw.h).
#include "flannel/host_gw.h"

#include <fmt/format.h>

namespace kelp::flannel {

Result<BackendSetup> HostGwBackend::Setup(const LocalNode& local) {
  KELP_ASSIGN_OR_RETURN(Uplink uplink, FindUplink(netlink_, local.uplink, local.public_ip));
  KELP_RETURN_IF_ERROR(RemoveOtherVxlanDevices(netlink_, ""));
  uplink_ = uplink;
  return BackendSetup{.backend_data = "null", .mtu = uplink.link.mtu};
}

Result<ReconcileReport> HostGwBackend::Reconcile(const std::vector<NodeLease>& remotes) {
  if (!uplink_) return InternalError("host-gw: Reconcile before Setup");
  ReconcileReport report;
  std::vector<net::Route> routes;
  for (const NodeLease& lease : remotes) {
    if (!uplink_->address.Contains(lease.public_ip)) {
      report.errors.push_back(fmt::format(
          "host-gw: node {} ({}) is not on this node's L2 network {} (dev {}); its pods are "
          "unreachable: put the nodes on one subnet or use the vxlan backend",
          lease.node, lease.public_ip.ToString(), uplink_->address.Network().ToString(),
          uplink_->link.name));
      continue;
    }
    routes.push_back({.dst = lease.subnet,
                      .gateway = lease.public_ip,
                      .oif = uplink_->link.index,
                      .protocol = kRouteProtocol});
  }
  KELP_RETURN_IF_ERROR(SyncRoutes(netlink_, routes, report));
  return report;
}

}  // namespace kelp::flannel
