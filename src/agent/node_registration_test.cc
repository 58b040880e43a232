// The Node object every kelp agent registers, DescribeMachine on this machine, and Lease
// creation then renewal over the FakeApiClient.
#include "agent/node_registration.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "client/testing/fake_api_client.h"
#include "common/json.h"
#include "common/testing/fake_clock.h"

namespace kelp::agent {
namespace {

std::string StringAt(const boost::json::object& object, std::string_view path) {
  const boost::json::value* value = FindPath(object, path);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

TEST(NodeRegistrationTest, NodeObjectCarriesCapacityAddressesAndConditions) {
  NodeDescription node{.name = "n1",
                       .internal_ip = "10.0.0.5",
                       .cpu = "2",
                       .memory = "4000Ki",
                       .extra_labels = {{"kelp.dev/role", "x"}}};
  boost::json::object object = NodeObject(node, std::chrono::system_clock::time_point{});
  EXPECT_EQ(StringAt(object, "status.capacity.cpu"), "2");
  EXPECT_EQ(StringAt(object, "status.allocatable.memory"), "4000Ki");
  EXPECT_EQ(StringAt(object, "status.capacity.pods"), "110");
  EXPECT_EQ(StringAt(object, "status.addresses.0.type"), "InternalIP");
  EXPECT_EQ(StringAt(object, "status.addresses.0.address"), "10.0.0.5");
  EXPECT_EQ(StringAt(object, "status.addresses.1.address"), "n1");
  EXPECT_EQ(StringAt(object, "status.conditions.3.type"), "Ready");
  EXPECT_EQ(StringAt(object, "status.conditions.3.status"), "True");
  EXPECT_EQ(object.at("metadata").at("labels").at("kelp.dev/role").as_string(), "x");
  EXPECT_EQ(StringAt(object, "status.nodeInfo.machineID"), "n1");  // defaults to the name
  EXPECT_EQ(StringAt(object, "status.conditions.0.lastHeartbeatTime"), "1970-01-01T00:00:00Z");
}

TEST(NodeRegistrationTest, DescribeMachineReadsThisMachine) {
  Result<NodeDescription> node = DescribeMachine("me", "10.1.2.3");
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  EXPECT_EQ(node->cpu, std::to_string(sysconf(_SC_NPROCESSORS_ONLN)));
  EXPECT_TRUE(node->memory.ends_with("Ki")) << node->memory;
  EXPECT_GT(std::stoll(node->memory), 0);
  EXPECT_NE(node->kernel_version, "unknown");
}

TEST(NodeRegistrationTest, RegisterTakesOverAnExistingNodeAndLeasesRenew) {
  kelp::testing::FakeClock clock;
  client::testing::FakeApiClient api(clock);
  NodeDescription node{.name = "n1", .internal_ip = "10.0.0.5"};
  ASSERT_TRUE(RegisterNode(api, NodeObject(node, clock.WallNow())).ok());
  node.cpu = "8";
  ASSERT_TRUE(RegisterNode(api, NodeObject(node, clock.WallNow())).ok());
  Result<boost::json::object> stored = api.Get(client::kNodes, "", "n1");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(StringAt(*stored, "status.capacity.cpu"), "8");

  NodeLeases leases(api, clock, 40);
  ASSERT_TRUE(leases.Renew("n1").ok());
  Result<boost::json::object> lease = api.Get(client::kLeases, "kube-node-lease", "n1");
  ASSERT_TRUE(lease.ok());
  const std::string first = StringAt(*lease, "spec.renewTime");
  clock.Advance(std::chrono::seconds(10));
  ASSERT_TRUE(leases.Renew("n1").ok());
  lease = api.Get(client::kLeases, "kube-node-lease", "n1");
  EXPECT_NE(StringAt(*lease, "spec.renewTime"), first);
  EXPECT_EQ(StringAt(*lease, "spec.holderIdentity"), "n1");
}

}  // namespace
}  // namespace kelp::agent
