// HollowNodes over the FakeApiClient: node registration, lease creation and renewal, pods
// reported Running/Ready with an address of the node's podCIDR, and finished deletions.
#include "agent/hollow_node.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <functional>
#include <thread>

#include "client/testing/fake_api_client.h"
#include "common/json.h"
#include "common/testing/fake_clock.h"

namespace kelp::agent {
namespace {

namespace json = boost::json;

// Informers deliver on their own threads: poll the fake until `done` holds. The bound only
// keeps a broken build from hanging; the conditions normally hold within milliseconds.
bool WaitUntil(const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

std::string StringAt(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

json::object Pod(std::string_view name, std::string_view node) {
  return *ParseJsonObject(R"({"metadata":{"name":")" + std::string(name) +
                          R"(","namespace":"default"},"spec":{"nodeName":")" + std::string(node) +
                          R"(","containers":[{"name":"web","image":"nginx:1.27"}]}})");
}

class HollowNodeTest : public ::testing::Test {
 protected:
  // node-ipam's part: give `node` a podCIDR.
  void AssignPodCidr(const std::string& node, const std::string& cidr) {
    Result<json::object> patched = client_.Patch(
        client::kNodes, "", node, client::PatchType::kMerge,
        R"({"spec":{"podCIDR":")" + cidr + R"("}})");
    ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  }
  json::object GetPod(const std::string& name) {
    Result<json::object> pod = client_.Get(client::kPods, "default", name);
    return pod.ok() ? *pod : json::object{};
  }

  kelp::testing::FakeClock clock_;
  client::testing::FakeApiClient client_{clock_};
};

TEST_F(HollowNodeTest, RegistersNodeAndLease) {
  HollowNodes nodes(client_, clock_, {.node_name = "hollow", .node_ip = "10.0.0.5"});
  ASSERT_TRUE(nodes.Start().ok());
  Result<json::object> node = client_.Get(client::kNodes, "", "hollow");
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  EXPECT_EQ(StringAt(*node, "status.allocatable.cpu"), "4");
  EXPECT_EQ(StringAt(*node, "status.capacity.pods"), "110");
  EXPECT_EQ(StringAt(*node, "status.addresses.0.type"), "InternalIP");
  EXPECT_EQ(StringAt(*node, "status.addresses.0.address"), "10.0.0.5");
  EXPECT_EQ(StringAt(*node, "status.conditions.3.type"), "Ready");
  EXPECT_EQ(StringAt(*node, "status.conditions.3.status"), "True");
  EXPECT_EQ(StringAt(*node, "status.nodeInfo.kubeletVersion"), "v1.32.0");

  Result<json::object> lease = client_.Get(client::kLeases, "kube-node-lease", "hollow");
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_EQ(StringAt(*lease, "spec.holderIdentity"), "hollow");
  EXPECT_EQ(StringAt(*lease, "spec.renewTime"), "2024-01-01T00:00:00.000000Z");

  clock_.Advance(std::chrono::seconds(10));
  ASSERT_TRUE(nodes.RenewLeases().ok());
  lease = client_.Get(client::kLeases, "kube-node-lease", "hollow");
  EXPECT_EQ(StringAt(*lease, "spec.renewTime"), "2024-01-01T00:00:10.000000Z");
}

TEST_F(HollowNodeTest, ManyNodesGetNumberedNamesAndConsecutiveAddresses) {
  HollowNodes nodes(client_, clock_, {.node_name = "h", .count = 3, .node_ip = "127.0.0.10"});
  ASSERT_TRUE(nodes.Start().ok());
  EXPECT_EQ(nodes.node_names(), (std::vector<std::string>{"h-0", "h-1", "h-2"}));
  Result<json::object> last = client_.Get(client::kNodes, "", "h-2");
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(StringAt(*last, "status.addresses.0.address"), "127.0.0.12");
}

TEST_F(HollowNodeTest, ReportsBoundPodsRunningOnceTheNodeHasAPodCidr) {
  HollowNodes nodes(client_, clock_, {.node_name = "h", .count = 2});
  ASSERT_TRUE(nodes.Start().ok());
  ASSERT_TRUE(client_.Create(client::kPods, "default", Pod("a", "h-1")).ok());
  ASSERT_TRUE(client_.Create(client::kPods, "default", Pod("elsewhere", "other-node")).ok());
  // Without a podCIDR the pod has no address to run with yet.
  AssignPodCidr("h-1", "10.244.7.0/24");
  ASSERT_TRUE(WaitUntil([&] { return StringAt(GetPod("a"), "status.phase") == "Running"; }));
  json::object pod = GetPod("a");
  EXPECT_EQ(StringAt(pod, "status.podIP"), "10.244.7.2");
  EXPECT_EQ(StringAt(pod, "status.hostIP"), "127.0.0.2");
  EXPECT_EQ(StringAt(pod, "status.conditions.2.type"), "Ready");
  EXPECT_EQ(StringAt(pod, "status.conditions.2.status"), "True");
  EXPECT_EQ(StringAt(pod, "status.containerStatuses.0.name"), "web");
  EXPECT_TRUE(FindPath(pod, "status.containerStatuses.0.state.running.startedAt"));
  EXPECT_EQ(StringAt(pod, "status.startTime"), "2024-01-01T00:00:00Z");

  ASSERT_TRUE(client_.Create(client::kPods, "default", Pod("b", "h-1")).ok());
  ASSERT_TRUE(WaitUntil([&] { return StringAt(GetPod("b"), "status.phase") == "Running"; }));
  EXPECT_EQ(StringAt(GetPod("b"), "status.podIP"), "10.244.7.3");
  EXPECT_EQ(StringAt(GetPod("elsewhere"), "status.phase"), "Pending");
}

TEST_F(HollowNodeTest, FinishesGracefulDeletion) {
  HollowNodes nodes(client_, clock_, {.node_name = "h"});
  ASSERT_TRUE(nodes.Start().ok());
  AssignPodCidr("h", "10.244.1.0/24");
  ASSERT_TRUE(client_.Create(client::kPods, "default", Pod("a", "h")).ok());
  ASSERT_TRUE(WaitUntil([&] { return StringAt(GetPod("a"), "status.phase") == "Running"; }));
  // A bound pod with a grace period is only marked; the node finishes the deletion.
  ASSERT_TRUE(client_.Delete(client::kPods, "default", "a", {}).ok());
  ASSERT_TRUE(WaitUntil([&] {
    return client_.Get(client::kPods, "default", "a").status().code() == StatusCode::kNotFound;
  }));
}

TEST_F(HollowNodeTest, RejectsBadOptions) {
  HollowNodes unnamed(client_, clock_, {});
  EXPECT_EQ(unnamed.Start().code(), StatusCode::kInvalidArgument);
  HollowNodes bad_ip(client_, clock_, {.node_name = "h", .node_ip = "nope"});
  EXPECT_EQ(bad_ip.Start().code(), StatusCode::kInvalidArgument);
  HollowNodes no_lease(client_, clock_, {.node_name = "h", .lease_duration_seconds = 0});
  EXPECT_EQ(no_lease.Start().code(), StatusCode::kInvalidArgument);
}

TEST_F(HollowNodeTest, RenewsTheLeaseEveryQuarterOfItsDuration) {
  HollowNodes nodes(client_, clock_, {.node_name = "h", .lease_duration_seconds = 4});
  EXPECT_EQ(nodes.lease_renew_interval(), std::chrono::seconds(1));
  ASSERT_TRUE(nodes.Start().ok());
  Result<json::object> lease = client_.Get(client::kLeases, "kube-node-lease", "h");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(lease->at("spec").at("leaseDurationSeconds"), 4);
}

}  // namespace
}  // namespace kelp::agent
