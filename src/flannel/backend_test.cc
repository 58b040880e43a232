// The vxlan and host-gw backends on FakeNetlink: golden request sequences (flannel's order:
// neighbour, FDB, then onlink route), idempotent passes, a restart that changes nothing,
// sweeping of stale and foreign-looking state, node removal and IP change, DirectRouting, and
// host-gw's refusal of peers off the L2 network.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "flannel/host_gw.h"
#include "flannel/vxlan.h"
#include "net/testing/fake_netlink.h"

namespace kelp::flannel {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

net::Ipv4Prefix P(const char* text) { return *net::Ipv4Prefix::Parse(text); }
net::Ipv4Address A(const char* text) { return *net::Ipv4Address::Parse(text); }
net::MacAddress M(const char* text) { return *net::MacAddress::Parse(text); }

NodeLease Vx(const char* node, const char* subnet, const char* ip, const char* mac) {
  return {.node = node,
          .subnet = P(subnet),
          .public_ip = A(ip),
          .backend_type = "vxlan",
          .vtep_mac = M(mac),
          .vni = 1};
}
NodeLease Gw(const char* node, const char* subnet, const char* ip) {
  return {.node = node, .subnet = P(subnet), .public_ip = A(ip), .backend_type = "host-gw"};
}

class BackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    eth0_ = netlink_.AddExistingLink("eth0", "veth", 1500);
    ASSERT_TRUE(netlink_.AddAddress({eth0_, P("192.168.206.10/24")}).ok());
    netlink_.ClearRequests();
  }
  LocalNode Local() const {
    return {.name = "master", .subnet = P("10.244.0.0/24"), .public_ip = A("192.168.206.10")};
  }

  net::testing::FakeNetlink netlink_;
  int eth0_ = 0;
};

TEST_F(BackendTest, VxlanSetupMakesFlannelOne) {
  VxlanBackend backend(BackendConfig{}, netlink_);
  Result<BackendSetup> setup = backend.Setup(Local());
  ASSERT_TRUE(setup.ok()) << setup.status().ToString();
  const std::string mac = VxlanBackend::VtepMac("master").ToString();
  EXPECT_EQ(setup->mtu, 1450u);
  EXPECT_EQ(setup->backend_data, R"({"VNI":1,"VtepMAC":")" + mac + R"("})");
  EXPECT_THAT(netlink_.requests(),
              ElementsAre("link add flannel.1 type vxlan id 1 dstport 8472 local 192.168.206.10 "
                          "dev 2 nolearning mtu 1450 address " +
                              mac,
                          "addr add 10.244.0.0/32 dev flannel.1", "link set flannel.1 up"));
  // The MAC is stable per node name, unicast and locally administered.
  EXPECT_EQ(VxlanBackend::VtepMac("master"), VxlanBackend::VtepMac("master"));
  EXPECT_NE(VxlanBackend::VtepMac("master"), VxlanBackend::VtepMac("node01"));
  EXPECT_EQ(VxlanBackend::VtepMac("node01").bytes[0] & 0x03, 0x02);
}

TEST_F(BackendTest, VxlanReconcileProgramsNeighbourThenFdbThenRoute) {
  VxlanBackend backend(BackendConfig{}, netlink_);
  ASSERT_TRUE(backend.Setup(Local()).ok());
  netlink_.ClearRequests();
  std::vector<NodeLease> peers = {
      Vx("node01", "10.244.1.0/24", "192.168.206.20", "0a:00:00:00:00:01"),
      Vx("node02", "10.244.2.0/24", "192.168.206.30", "0a:00:00:00:00:02")};
  Result<ReconcileReport> report = backend.Reconcile(peers);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->added, 6);
  EXPECT_THAT(
      netlink_.requests(),
      ElementsAre(
          "neigh replace 10.244.1.0 lladdr 0a:00:00:00:00:01 dev 3 permanent",
          "neigh replace 10.244.2.0 lladdr 0a:00:00:00:00:02 dev 3 permanent",
          "fdb append 0a:00:00:00:00:01 dev 3 dst 192.168.206.20",
          "fdb append 0a:00:00:00:00:02 dev 3 dst 192.168.206.30",
          "route replace 10.244.1.0/24 via 10.244.1.0 dev 3 table 254 proto 87 scope 0 onlink",
          "route replace 10.244.2.0/24 via 10.244.2.0 dev 3 table 254 proto 87 scope 0 onlink"));

  // The same leases again: nothing to do.
  netlink_.ClearRequests();
  ASSERT_TRUE(backend.Reconcile(peers).ok());
  EXPECT_THAT(netlink_.requests(), IsEmpty());

  // A restart: a new backend finds flannel.1 and every entry in place.
  VxlanBackend restarted(BackendConfig{}, netlink_);
  ASSERT_TRUE(restarted.Setup(Local()).ok());
  ASSERT_TRUE(restarted.Reconcile(peers).ok());
  EXPECT_THAT(netlink_.requests(), IsEmpty());

  // node02 leaves, node01 moves to another address: route first, then FDB, then neighbour.
  netlink_.ClearRequests();
  std::vector<NodeLease> moved = {
      Vx("node01", "10.244.1.0/24", "192.168.206.21", "0a:00:00:00:00:01")};
  report = restarted.Reconcile(moved);
  ASSERT_TRUE(report.ok());
  EXPECT_THAT(
      netlink_.requests(),
      ElementsAre("fdb append 0a:00:00:00:00:01 dev 3 dst 192.168.206.21",
                  "route del 10.244.2.0/24 via 10.244.2.0 dev 3 table 254 proto 87 scope 0 onlink",
                  "fdb del 0a:00:00:00:00:01 dev 3 dst 192.168.206.20",
                  "fdb del 0a:00:00:00:00:02 dev 3 dst 192.168.206.30",
                  "neigh del 10.244.2.0 dev 3"));
}

TEST_F(BackendTest, VxlanSweepsStaleStateButNotOthersRoutes) {
  // Left by an earlier run: a flannel route to a node that is gone, a duplicate, and an
  // address of an old subnet on flannel.1; plus a route someone else owns.
  ASSERT_TRUE(netlink_
                  .AddVxlan({.name = "flannel.1",
                             .port = 8472,
                             .learning = false,
                             .mtu = 1450,
                             .mac = VxlanBackend::VtepMac("master")})
                  .ok());
  const int dev = netlink_.GetLink("flannel.1")->index;
  ASSERT_TRUE(netlink_.AddAddress({dev, P("10.244.7.0/32")}).ok());
  ASSERT_TRUE(netlink_
                  .AddRoute({.dst = P("10.244.9.0/24"),
                             .gateway = A("10.244.9.0"),
                             .oif = dev,
                             .protocol = kRouteProtocol,
                             .onlink = true})
                  .ok());
  ASSERT_TRUE(netlink_.AddRoute({.dst = P("10.99.0.0/16"), .oif = eth0_}).ok());
  ASSERT_TRUE(netlink_.ReplaceNeighbour({dev, A("10.244.9.0"), M("0a:00:00:00:00:09")}).ok());
  ASSERT_TRUE(netlink_.AppendFdb({dev, M("0a:00:00:00:00:09"), A("192.168.206.90")}).ok());
  netlink_.ClearRequests();

  VxlanBackend backend(BackendConfig{}, netlink_);
  ASSERT_TRUE(backend.Setup(Local()).ok());
  ASSERT_TRUE(backend.Reconcile({}).ok());
  EXPECT_THAT(
      netlink_.requests(),
      ElementsAre("addr del 10.244.7.0/32 dev flannel.1", "addr add 10.244.0.0/32 dev flannel.1",
                  "link set flannel.1 up",
                  "route del 10.244.9.0/24 via 10.244.9.0 dev 3 table 254 proto 87 scope 0 onlink",
                  "fdb del 0a:00:00:00:00:09 dev 3 dst 192.168.206.90",
                  "neigh del 10.244.9.0 dev 3"));
  Result<std::vector<net::Route>> routes = netlink_.ListRoutes({});
  ASSERT_TRUE(routes.ok());
  ASSERT_EQ(routes->size(), 1u);
  EXPECT_EQ(routes->front().dst.ToString(), "10.99.0.0/16");
}

TEST_F(BackendTest, VxlanReplacesAForeignDeviceAndFixesMtu) {
  netlink_.AddExistingLink("flannel.1", "dummy", 1500);
  netlink_.ClearRequests();
  VxlanBackend backend(BackendConfig{}, netlink_);
  ASSERT_TRUE(backend.Setup(Local()).ok());
  ASSERT_FALSE(netlink_.requests().empty());
  EXPECT_EQ(netlink_.requests().front(), "link del flannel.1");
  EXPECT_EQ(netlink_.GetLink("flannel.1")->kind, "vxlan");
}

TEST_F(BackendTest, VxlanDirectRoutingUsesHostGwRoutesOnTheSameL2) {
  BackendConfig config;
  config.direct_routing = true;
  VxlanBackend backend(config, netlink_);
  ASSERT_TRUE(backend.Setup(Local()).ok());
  netlink_.ClearRequests();
  ASSERT_TRUE(backend
                  .Reconcile({Vx("near", "10.244.1.0/24", "192.168.206.20", "0a:00:00:00:00:01"),
                              Vx("far", "10.244.2.0/24", "10.9.0.30", "0a:00:00:00:00:02")})
                  .ok());
  EXPECT_THAT(
      netlink_.requests(),
      ElementsAre(
          "neigh replace 10.244.2.0 lladdr 0a:00:00:00:00:02 dev 3 permanent",
          "fdb append 0a:00:00:00:00:02 dev 3 dst 10.9.0.30",
          "route replace 10.244.1.0/24 via 192.168.206.20 dev 2 table 254 proto 87 scope 0",
          "route replace 10.244.2.0/24 via 10.244.2.0 dev 3 table 254 proto 87 scope 0 onlink"));
}

TEST_F(BackendTest, VxlanNeedsTheNodeIpOnAnInterface) {
  VxlanBackend backend(BackendConfig{}, netlink_);
  LocalNode local = Local();
  local.public_ip = A("192.168.99.1");
  Result<BackendSetup> setup = backend.Setup(local);
  ASSERT_FALSE(setup.ok());
  EXPECT_EQ(setup.status().code(), StatusCode::kNotFound);
  EXPECT_NE(setup.status().message().find("192.168.99.1"), std::string::npos);
  local = Local();
  local.uplink = "eth9";
  EXPECT_EQ(backend.Setup(local).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(backend.Reconcile({}).status().code(), StatusCode::kInternal);
}

TEST_F(BackendTest, HostGwRoutesViaPeersAndRefusesPeersOffTheL2) {
  HostGwBackend backend(netlink_);
  Result<BackendSetup> setup = backend.Setup(Local());
  ASSERT_TRUE(setup.ok());
  EXPECT_EQ(setup->mtu, 1500u);
  EXPECT_EQ(setup->backend_data, "null");
  netlink_.ClearRequests();
  Result<ReconcileReport> report = backend.Reconcile(
      {Gw("node01", "10.244.1.0/24", "192.168.206.20"), Gw("remote", "10.244.5.0/24", "10.9.0.5")});
  ASSERT_TRUE(report.ok());
  EXPECT_THAT(
      netlink_.requests(),
      ElementsAre(
          "route replace 10.244.1.0/24 via 192.168.206.20 dev 2 table 254 proto 87 scope 0"));
  ASSERT_EQ(report->errors.size(), 1u);
  EXPECT_NE(report->errors[0].find("node remote (10.9.0.5) is not on this node's L2 network "
                                   "192.168.206.0/24"),
            std::string::npos)
      << report->errors[0];

  // node01 changes its address: the route is replaced in place.
  netlink_.ClearRequests();
  ASSERT_TRUE(backend.Reconcile({Gw("node01", "10.244.1.0/24", "192.168.206.21")}).ok());
  EXPECT_THAT(
      netlink_.requests(),
      ElementsAre(
          "route replace 10.244.1.0/24 via 192.168.206.21 dev 2 table 254 proto 87 scope 0"));
  netlink_.ClearRequests();
  ASSERT_TRUE(backend.Reconcile({}).ok());
  EXPECT_THAT(
      netlink_.requests(),
      ElementsAre("route del 10.244.1.0/24 via 192.168.206.21 dev 2 table 254 proto 87 scope 0"));
}

TEST_F(BackendTest, ASwitchOfBackendOrVniRemovesTheOldDevice) {
  VxlanBackend vxlan(BackendConfig{}, netlink_);
  ASSERT_TRUE(vxlan.Setup(Local()).ok());
  netlink_.AddExistingLink("flannel.x", "dummy");  // not a vxlan device: not ours
  BackendConfig vni2;
  vni2.vni = 2;
  VxlanBackend other_vni(vni2, netlink_);
  netlink_.ClearRequests();
  ASSERT_TRUE(other_vni.Setup(Local()).ok());
  ASSERT_FALSE(netlink_.requests().empty());
  EXPECT_EQ(netlink_.requests().front(), "link del flannel.1");
  HostGwBackend host_gw(netlink_);
  netlink_.ClearRequests();
  ASSERT_TRUE(host_gw.Setup(Local()).ok());
  EXPECT_THAT(netlink_.requests(), ElementsAre("link del flannel.2"));
  EXPECT_TRUE(netlink_.GetLink("flannel.x").ok());
}

TEST_F(BackendTest, KernelErrorsAreReturned) {
  VxlanBackend backend(BackendConfig{}, netlink_);
  ASSERT_TRUE(backend.Setup(Local()).ok());
  netlink_.FailNext("fdb append", IoError("no buffer space"));
  Result<ReconcileReport> report =
      backend.Reconcile({Vx("node01", "10.244.1.0/24", "192.168.206.20", "0a:00:00:00:00:01")});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kIoError);
  // The next pass completes what the failed one could not.
  netlink_.ClearRequests();
  ASSERT_TRUE(
      backend.Reconcile({Vx("node01", "10.244.1.0/24", "192.168.206.20", "0a:00:00:00:00:01")})
          .ok());
  EXPECT_THAT(
      netlink_.requests(),
      ElementsAre(
          "fdb append 0a:00:00:00:00:01 dev 3 dst 192.168.206.20",
          "route replace 10.244.1.0/24 via 10.244.1.0 dev 3 table 254 proto 87 scope 0 onlink"));
}

}  // namespace
}  // namespace kelp::flannel
