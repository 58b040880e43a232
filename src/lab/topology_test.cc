// The lab's names and addresses: the classic three nodes, more nodes continuing the pattern,
// and the options kelp refuses.
#include "lab/topology.h"

#include <gtest/gtest.h>

namespace kelp::lab {
namespace {

TEST(TopologyTest, TheClassicThreeNodeLab) {
  Result<LabTopology> lab = MakeTopology({});
  ASSERT_TRUE(lab.ok()) << lab.status().ToString();
  ASSERT_EQ(lab->nodes.size(), 3u);
  EXPECT_EQ(lab->nodes[0].name, "master");
  EXPECT_EQ(lab->nodes[0].address, "192.168.206.10");
  EXPECT_TRUE(lab->nodes[0].server);
  EXPECT_EQ(lab->nodes[1].name, "node01");
  EXPECT_EQ(lab->nodes[1].address, "192.168.206.20");
  EXPECT_EQ(lab->nodes[2].name, "node02");
  EXPECT_EQ(lab->nodes[2].address, "192.168.206.30");
  EXPECT_EQ(lab->nodes[2].netns, "kelp-node02");
  EXPECT_EQ(lab->underlay_netns, "kelp-underlay");
  EXPECT_EQ(lab->host_address, "192.168.206.1");
  EXPECT_EQ(lab->host_link, "kelp-lab0");
  EXPECT_EQ(lab->ServerUrl(), "https://192.168.206.10:6443");
  EXPECT_EQ(lab->kubeconfig, "/var/lib/kelp-lab/kubeconfig.yaml");
  EXPECT_EQ(lab->nodes[1].mount_ns, "/var/lib/kelp-lab/ns/node01.mnt");
}

TEST(TopologyTest, MoreNodesContinueThePatternOnAnotherSubnet) {
  Result<LabTopology> lab =
      MakeTopology({.nodes = 5, .subnet = "10.99.7.0/24", .prefix = "t42", .dir = "/tmp/l"});
  ASSERT_TRUE(lab.ok());
  EXPECT_EQ(lab->nodes[4].name, "node04");
  EXPECT_EQ(lab->nodes[4].address, "10.99.7.50");
  EXPECT_EQ(lab->nodes[4].netns, "t42-node04");
  EXPECT_EQ(lab->host_link, "t42-lab0");
  std::vector<NodeMount> mounts = NodeMounts(lab->nodes[4]);
  ASSERT_FALSE(mounts.empty());
  EXPECT_EQ(mounts[0].target, "/run");
  EXPECT_EQ(mounts[0].source, "/tmp/l/nodes/node04/run");
}

TEST(TopologyTest, RefusesWhatItCannotLayOut) {
  EXPECT_FALSE(MakeTopology({.nodes = 0}).ok());
  EXPECT_FALSE(MakeTopology({.nodes = 25}).ok());
  EXPECT_FALSE(MakeTopology({.flannel_backend = "ipip"}).ok());
  EXPECT_FALSE(MakeTopology({.subnet = "192.168.206.0/16"}).ok());
  EXPECT_FALSE(MakeTopology({.subnet = "192.168.206.5/24"}).ok());
  EXPECT_FALSE(MakeTopology({.prefix = "Has-Dash"}).ok());
  EXPECT_FALSE(MakeTopology({.prefix = "muchtoolong"}).ok());
}

}  // namespace
}  // namespace kelp::lab
