// FlannelNode over fakes (FakeApiClient, FakeNetlink, FakeNftables): what Start() publishes
// and writes (annotations, NetworkUnavailable=False, subnet.env, conflist, plugin links,
// masquerade), peers reconciled from Node objects, a podCIDR renumbering, a Warning event for
// a host-gw peer off the L2 network, and clear errors when the ConfigMap or podCIDR is missing.
#include "flannel/flannel_node.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <boost/json.hpp>

#include "client/testing/fake_api_client.h"
#include "common/file.h"
#include "common/json.h"
#include "common/testing/fake_clock.h"
#include "common/testing/temp_dir.h"
#include "flannel/node_lease.h"
#include "flannel/vxlan.h"
#include "net/testing/fake_netlink.h"
#include "proxy/testing/fake_nftables.h"

namespace kelp::flannel {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

json::object NodeObject(const std::string& name, const std::string& pod_cidr) {
  json::object node{
      {"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", json::object{{"name", name}}}};
  if (!pod_cidr.empty()) node["spec"] = json::object{{"podCIDR", pod_cidr}};
  return node;
}

json::object PeerNode(const std::string& name, const std::string& pod_cidr, const std::string& ip,
                      const std::string& backend, const std::string& data) {
  json::object node = NodeObject(name, pod_cidr);
  node["metadata"].as_object()["annotations"] =
      json::object{{kAnnotationBackendType, backend},
                   {kAnnotationBackendData, data},
                   {kAnnotationPublicIp, ip},
                   {kAnnotationKubeSubnetManager, "true"}};
  return node;
}

class FlannelNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    eth0_ = netlink_.AddExistingLink("eth0", "veth", 1500);
    ASSERT_TRUE(netlink_.AddAddress({eth0_, *net::Ipv4Prefix::Parse("192.168.206.20/24")}).ok());
    netlink_.ClearRequests();
    ASSERT_TRUE(WriteFileAtomic(dir_.path() / "kelp-cni", "#!/bin/true\n", 0755).ok());
  }
  void SeedConfig(const std::string& backend) {
    api_.Seed(client::kConfigMaps,
              json::object{
                  {"metadata",
                   json::object{{"name", kConfigMapName}, {"namespace", kConfigMapNamespace}}},
                  {"data", json::object{{kNetConfKey, *MakeNetConf("10.244.0.0/16", backend)}}}});
  }
  FlannelOptions Options() const {
    FlannelOptions options;
    options.node_name = "node01";
    options.node_ip = "192.168.206.20";
    options.subnet_file = dir_.path() / "run" / "subnet.env";
    options.cni = {.conf_dir = dir_.path() / "net.d",
                   .bin_dir = dir_.path() / "bin",
                   .kelp_cni_binary = dir_.path() / "kelp-cni"};
    options.start_timeout = std::chrono::milliseconds(0);
    options.run_loop = false;
    return options;
  }
  std::vector<client::ObjectPtr> Nodes() {
    std::vector<client::ObjectPtr> nodes;
    Result<client::ListResult> list = api_.List(client::kNodes, "", {});
    for (json::object& n : list->items) {
      nodes.push_back(std::make_shared<json::object>(std::move(n)));
    }
    return nodes;
  }
  std::vector<std::string> Routes() {
    std::vector<std::string> out;
    Result<std::vector<net::Route>> routes = netlink_.ListRoutes({.protocol = kRouteProtocol});
    for (const net::Route& r : *routes) {
      out.push_back(net::testing::FakeNetlink::RouteText(r));
    }
    return out;
  }

  kelp::testing::ScopedTempDir dir_;
  kelp::testing::FakeClock clock_;
  client::testing::FakeApiClient api_{clock_};
  net::testing::FakeNetlink netlink_;
  proxy::testing::FakeNftables nft_;
  int eth0_ = 0;
};

TEST_F(FlannelNodeTest, StartPublishesWritesAndReconcilesPeers) {
  SeedConfig("vxlan");
  api_.Seed(client::kNodes, NodeObject("node01", "10.244.1.0/24"));
  api_.Seed(client::kNodes, PeerNode("master", "10.244.0.0/24", "192.168.206.10", "vxlan",
                                     R"({"VNI":1,"VtepMAC":"0a:00:00:00:00:10"})"));
  api_.Seed(client::kNodes, NodeObject("node02", ""));  // no podCIDR yet: ignored

  FlannelNode node(api_, netlink_, nft_, clock_, Options());
  ASSERT_TRUE(node.Start().ok());
  EXPECT_EQ(node.subnet().ToString(), "10.244.1.0/24");

  EXPECT_EQ(*ReadFile(dir_.path() / "run" / "subnet.env"),
            "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\n"
            "FLANNEL_IPMASQ=true\n");
  EXPECT_EQ(*ReadFile(dir_.path() / "net.d" / kConflistName), FlannelConflist());
  for (const char* plugin : {"kelp-flannel", "kelp-bridge", "kelp-ipam"}) {
    EXPECT_EQ(std::filesystem::read_symlink(dir_.path() / "bin" / plugin),
              dir_.path() / "kelp-cni");
  }
  ASSERT_EQ(nft_.transactions().size(), 1u);
  EXPECT_THAT(nft_.transactions()[0], HasSubstr("ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 "
                                                "masquerade fully-random"));

  json::object own = *api_.Get(client::kNodes, "", "node01");
  EXPECT_TRUE(HasAnnotations(own, "vxlan", VxlanBackendData(1, VxlanBackend::VtepMac("node01")),
                             *net::Ipv4Address::Parse("192.168.206.20")));
  EXPECT_TRUE(NetworkAvailable(own));

  EXPECT_THAT(Routes(),
              ::testing::ElementsAre(
                  "10.244.0.0/24 via 10.244.0.0 dev 3 table 254 proto 87 scope 0 onlink"));

  // node02 gets its lease; a second pass adds it and republishes nothing.
  ASSERT_TRUE(
      api_.Update(client::kNodes, PeerNode("node02", "10.244.2.0/24", "192.168.206.30", "vxlan",
                                           R"({"VNI":1,"VtepMAC":"0a:00:00:00:00:30"})"))
          .ok());
  api_.ClearActions();
  ASSERT_TRUE(node.Reconcile(Nodes()).ok());
  EXPECT_TRUE(api_.Actions().empty());
  EXPECT_EQ(Routes().size(), 2u);

  // The master is deleted: its route, neighbour and FDB entry go.
  ASSERT_TRUE(api_.Delete(client::kNodes, "", "master", {}).ok());
  ASSERT_TRUE(node.Reconcile(Nodes()).ok());
  EXPECT_THAT(Routes(),
              ::testing::ElementsAre(
                  "10.244.2.0/24 via 10.244.2.0 dev 3 table 254 proto 87 scope 0 onlink"));
  EXPECT_EQ(netlink_.ListNeighbours(3)->size(), 1u);
  EXPECT_EQ(netlink_.ListFdb(3)->size(), 1u);
}

TEST_F(FlannelNodeTest, RenumberedNodeIsSetUpAgain) {
  SeedConfig("vxlan");
  api_.Seed(client::kNodes, NodeObject("node01", "10.244.1.0/24"));
  FlannelNode node(api_, netlink_, nft_, clock_, Options());
  ASSERT_TRUE(node.Start().ok());
  json::object own = *api_.Get(client::kNodes, "", "node01");
  own["spec"].as_object()["podCIDR"] = "10.244.9.0/24";
  ASSERT_TRUE(api_.Update(client::kNodes, own).ok());
  ASSERT_TRUE(node.Reconcile(Nodes()).ok());
  EXPECT_EQ(node.subnet().ToString(), "10.244.9.0/24");
  EXPECT_THAT(*ReadFile(dir_.path() / "run" / "subnet.env"),
              HasSubstr("FLANNEL_SUBNET=10.244.9.1/24"));
  std::vector<net::Address> addresses = *netlink_.ListAddresses(3);
  ASSERT_EQ(addresses.size(), 1u);
  EXPECT_EQ(addresses[0].prefix.ToString(), "10.244.9.0/32");
}

TEST_F(FlannelNodeTest, HostGwPeerOffTheL2IsAWarningEvent) {
  SeedConfig("host-gw");
  api_.Seed(client::kNodes, NodeObject("node01", "10.244.1.0/24"));
  api_.Seed(client::kNodes, PeerNode("far", "10.244.5.0/24", "10.9.0.5", "host-gw", "null"));
  api_.Seed(client::kNodes, PeerNode("near", "10.244.6.0/24", "192.168.206.60", "host-gw", "null"));
  FlannelNode node(api_, netlink_, nft_, clock_, Options());
  ASSERT_TRUE(node.Start().ok());
  EXPECT_EQ(*ReadFile(dir_.path() / "run" / "subnet.env"),
            "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1500\n"
            "FLANNEL_IPMASQ=true\n");
  EXPECT_THAT(Routes(), ::testing::ElementsAre(
                            "10.244.6.0/24 via 192.168.206.60 dev 2 table 254 proto 87 scope 0"));
  ASSERT_EQ(node.peer_errors().size(), 1u);
  node.Stop();  // flushes the event
  Result<client::ListResult> events = api_.List(client::kEvents, "", {});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->items.size(), 1u);
  EXPECT_EQ(GetString(events->items[0], "reason").value_or(""), "FlannelPeerUnreachable");
  EXPECT_EQ(GetString(events->items[0], "type").value_or(""), "Warning");
  EXPECT_EQ(GetString(events->items[0], "involvedObject.name").value_or(""), "node01");
  EXPECT_THAT(std::string(GetString(events->items[0], "message").value_or("")),
              HasSubstr("node far (10.9.0.5) is not on this node's L2 network"));
}

TEST_F(FlannelNodeTest, PeersOfAnotherBackendAreIgnored) {
  SeedConfig("host-gw");
  api_.Seed(client::kNodes, NodeObject("node01", "10.244.1.0/24"));
  api_.Seed(client::kNodes, PeerNode("vx", "10.244.3.0/24", "192.168.206.30", "vxlan",
                                     R"({"VNI":1,"VtepMAC":"0a:00:00:00:00:30"})"));
  FlannelNode node(api_, netlink_, nft_, clock_, Options());
  ASSERT_TRUE(node.Start().ok());
  EXPECT_TRUE(Routes().empty());
}

TEST_F(FlannelNodeTest, ClearErrorsWhenTheClusterIsNotReady) {
  api_.Seed(client::kNodes, NodeObject("node01", ""));
  {
    FlannelNode node(api_, netlink_, nft_, clock_, Options());
    Status status = node.Start();
    EXPECT_EQ(status.code(), StatusCode::kNotFound);
    EXPECT_THAT(status.message(), HasSubstr("kube-system/kube-flannel-cfg"));
  }
  SeedConfig("vxlan");
  {
    FlannelNode node(api_, netlink_, nft_, clock_, Options());
    Status status = node.Start();
    EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded);
    EXPECT_THAT(status.message(), HasSubstr("node node01 got no spec.podCIDR"));
  }
  FlannelOptions bad = Options();
  bad.node_ip = "192.168.206.300";
  FlannelNode node(api_, netlink_, nft_, clock_, bad);
  EXPECT_EQ(node.Start().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(netlink_.requests().empty());
}

// The agent stopping while flannel still waits for its podCIDR (the fake clock never reaches
// the deadline here): Start() gives up at once with kCancelled instead of waiting it out.
TEST_F(FlannelNodeTest, CancelEndsTheWaitForThePodCidr) {
  SeedConfig("vxlan");
  api_.Seed(client::kNodes, NodeObject("node01", ""));
  std::atomic<bool> cancel{false};
  FlannelOptions options = Options();
  options.start_timeout = std::chrono::hours(1);
  options.cancel = &cancel;
  FlannelNode node(api_, netlink_, nft_, clock_, options);
  std::thread stopper([&] { cancel = true; });
  Status status = node.Start();
  stopper.join();
  EXPECT_EQ(status.code(), StatusCode::kCancelled) << status.ToString();
  EXPECT_TRUE(netlink_.requests().empty());
}

TEST_F(FlannelNodeTest, PodCidrOutsideTheNetworkIsRefused) {
  SeedConfig("vxlan");
  api_.Seed(client::kNodes, NodeObject("node01", "10.99.1.0/24"));
  FlannelNode node(api_, netlink_, nft_, clock_, Options());
  Status status = node.Start();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("outside the flannel network"));
}

}  // namespace
}  // namespace kelp::flannel
