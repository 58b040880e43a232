// CidrSet arithmetic and NodeIpamController against the FakeApiClient: the next free block,
// blocks already in use learnt from existing nodes, exhaustion and release on node deletion.
#include "controllers/node_ipam.h"

#include "controllers/cluster_test_env.h"

namespace kelp::controllers {
namespace {

using testing::json::array;
using testing::json::object;

TEST(CidrSetTest, SplitsARangeIntoBlocks) {
  Result<CidrSet> cidrs = CidrSet::Create("10.244.0.0/16", 24);
  ASSERT_TRUE(cidrs.ok());
  EXPECT_EQ(cidrs->BlockCount(), 256u);
  EXPECT_EQ(cidrs->Block(0), "10.244.0.0/24");
  EXPECT_EQ(cidrs->Block(255), "10.244.255.0/24");
  EXPECT_EQ(cidrs->IndexOf("10.244.7.0/24"), 7u);
  EXPECT_EQ(cidrs->IndexOf("10.245.0.0/24"), std::nullopt);
  EXPECT_EQ(cidrs->IndexOf("10.244.7.0/25"), std::nullopt);
  EXPECT_EQ(cidrs->IndexOf("junk"), std::nullopt);
  Result<CidrSet> small = CidrSet::Create("192.168.0.0/22", 26);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->Block(5), "192.168.1.64/26");
  EXPECT_EQ(small->IndexOf("192.168.1.64/26"), 5u);
}

TEST(CidrSetTest, RejectsWhatIsNotAnIpv4RangeOfBlocks) {
  EXPECT_EQ(CidrSet::Create("10.244.0.0", 24).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CidrSet::Create("fd00::/64", 80).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CidrSet::Create("10.244.0.0/16", 8).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CidrSet::Create("10.244.0.0/33", 34).status().code(), StatusCode::kInvalidArgument);
}

class NodeIpamTest : public testing::ClusterTestEnv {
 protected:
  void SeedNode(const std::string& name, const std::string& cidr = "") {
    object node{{"metadata", object{{"name", name}}}, {"spec", object()}};
    if (!cidr.empty()) node["spec"].as_object()["podCIDR"] = cidr;
    api_.Seed(client::kNodes, node);
  }
  std::string PodCidr(const std::string& name) {
    Result<object> node = api_.Get(client::kNodes, "", name);
    if (!node.ok()) return "";
    const auto* cidr = node->at("spec").as_object().if_contains("podCIDR");
    return cidr ? std::string(cidr->as_string()) : "";
  }
};

TEST_F(NodeIpamTest, GivesTheNextFreeBlockNeverOneInUse) {
  SeedNode("a", "10.244.0.0/24");
  SeedNode("b", "10.244.2.0/24");
  SeedNode("c");
  SeedNode("d");
  Result<std::unique_ptr<NodeIpamController>> created = NodeIpamController::Create(context_);
  ASSERT_TRUE(created.ok());
  NodeIpamController* controller = &Own(std::move(*created));
  StartInformers();

  ASSERT_TRUE(controller->Sync("c").ok());
  ASSERT_TRUE(controller->Sync("d").ok());
  EXPECT_EQ(PodCidr("c"), "10.244.1.0/24");
  EXPECT_EQ(PodCidr("d"), "10.244.3.0/24");
  EXPECT_EQ(api_.Get(client::kNodes, "", "d")->at("spec").at("podCIDRs"),
            (array{"10.244.3.0/24"}));
  // A sync from a cache that does not show the patch yet must not assign again.
  api_.ClearActions();
  ASSERT_TRUE(controller->Sync("c").ok());
  ASSERT_TRUE(controller->Sync("a").ok());
  EXPECT_TRUE(api_.Actions().empty());
}

TEST_F(NodeIpamTest, AFullRangeRecordsAnEventAndADeletedNodesBlockIsReused) {
  context_.options.cluster_cidr = "10.244.0.0/23";
  SeedNode("a", "10.244.0.0/24");
  SeedNode("b", "10.244.1.0/24");
  SeedNode("c");
  Result<std::unique_ptr<NodeIpamController>> created = NodeIpamController::Create(context_);
  ASSERT_TRUE(created.ok());
  NodeIpamController* controller = &Own(std::move(*created));
  StartInformers();

  EXPECT_FALSE(controller->Sync("c").ok());
  EXPECT_EQ(PodCidr("c"), "");
  controller->FlushEvents();
  EXPECT_EQ(EventReasons("c"), (std::vector<std::string>{"CIDRNotAvailable"}));

  ASSERT_TRUE(api_.Delete(client::kNodes, "", "a", {}).ok());
  ASSERT_TRUE(WaitForCache(client::kNodes, "a", [](const client::ObjectPtr& node) {
    return node == nullptr;
  }));
  ASSERT_TRUE(controller->Sync("c").ok());
  EXPECT_EQ(PodCidr("c"), "10.244.0.0/24");
}

TEST_F(NodeIpamTest, ABadClusterCidrIsAnError) {
  context_.options.cluster_cidr = "not-a-cidr";
  EXPECT_EQ(NodeIpamController::Create(context_).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kelp::controllers
