// NodeLifecycleController against the FakeApiClient and a FakeClock: a node whose lease stops
// being renewed turns Unknown and gets the unreachable taint after the grace period, its pods
// are evicted when their tolerations run out, and a renewed lease with Ready=True lifts it.
#include "controllers/node_lifecycle.h"

#include "controllers/cluster_test_env.h"
#include "controllers/object_meta.h"

namespace kelp::controllers {
namespace {

using std::chrono::seconds;
using testing::json::array;
using testing::json::object;

TEST(TolerationTest, MatchesKeyOperatorValueAndEffect) {
  const object taint{{"key", "node.kubernetes.io/unreachable"}, {"effect", "NoExecute"}};
  EXPECT_TRUE(Tolerates(object{{"operator", "Exists"}}, taint));
  EXPECT_TRUE(Tolerates(object{{"key", "node.kubernetes.io/unreachable"}, {"operator", "Exists"},
                               {"effect", "NoExecute"}},
                        taint));
  EXPECT_FALSE(Tolerates(object{{"key", "node.kubernetes.io/unreachable"},
                                {"operator", "Exists"}, {"effect", "NoSchedule"}},
                         taint));
  EXPECT_FALSE(Tolerates(object{{"key", "other"}, {"operator", "Exists"}}, taint));
  const object valued{{"key", "k"}, {"value", "v"}, {"effect", "NoExecute"}};
  EXPECT_TRUE(Tolerates(object{{"key", "k"}, {"value", "v"}}, valued));
  EXPECT_FALSE(Tolerates(object{{"key", "k"}, {"operator", "Equal"}, {"value", "w"}}, valued));
}

class NodeLifecycleTest : public testing::ClusterTestEnv {
 protected:
  void SetUp() override {
    context_.options.node_monitor_grace_period = seconds(40);
    const std::string now = "2024-01-01T00:00:00Z";
    api_.Seed(client::kNodes, Parse(R"({"metadata":{"name":"n1"},"spec":{},
        "status":{"conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":")" + now +
                                    R"(","reason":"KubeletReady"}]}})"));
    api_.Seed(client::kLeases, Parse(R"({"metadata":{"name":"n1","namespace":"kube-node-lease"},
        "spec":{"holderIdentity":"n1","leaseDurationSeconds":40,"renewTime":")" + now + R"("}})"));
    // n2 stays healthy (Monitor() renews its lease), so n1 failing is no full disruption.
    api_.Seed(client::kNodes, Parse(R"({"metadata":{"name":"n2"},"spec":{},
        "status":{"conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":")" + now +
                                    R"(","reason":"KubeletReady"}]}})"));
    api_.Seed(client::kLeases, Parse(R"({"metadata":{"name":"n2","namespace":"kube-node-lease"},
        "spec":{"holderIdentity":"n2","leaseDurationSeconds":40,"renewTime":")" + now + R"("}})"));
    SeedPod("defaulted", R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists",
        "effect":"NoExecute","tolerationSeconds":300}])");
    SeedPod("intolerant", "[]");
    SeedPod("forever", R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists",
        "effect":"NoExecute"}])");
  }
  void SeedPod(const std::string& name, const std::string& tolerations) {
    api_.Seed(client::kPods, Parse(R"({"metadata":{"name":")" + name + R"(","namespace":"default"},
        "spec":{"nodeName":"n1","containers":[],"tolerations":)" + tolerations + R"(},
        "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}})"));
  }
  object Node(const std::string& name = "n1") { return *api_.Get(client::kNodes, "", name); }
  // Renews n2's lease (as its agent would), waits until the cache shows it, then one pass.
  Status Monitor(NodeLifecycleController& controller) {
    object lease = *api_.Get(client::kLeases, "kube-node-lease", "n2");
    const std::string renewed = FormatRfc3339(clock_.WallNow());
    lease["spec"].as_object()["renewTime"] = renewed;
    EXPECT_TRUE(api_.Update(client::kLeases, lease).ok());
    EXPECT_TRUE(WaitForCache(client::kLeases, "kube-node-lease/n2", [&](const client::ObjectPtr& l) {
      return l && l->at("spec").at("renewTime") == boost::json::value(renewed);
    }));
    return controller.MonitorNodes();
  }
  std::string ReadyStatus() {
    const object node = Node();
    for (const auto& condition : node.at("status").at("conditions").as_array()) {
      if (condition.at("type").as_string() == "Ready") return std::string(condition.at("status").as_string());
    }
    return "";
  }
  bool PodDeleting(const std::string& name) {
    Result<object> pod = api_.Get(client::kPods, "default", name);
    return !pod.ok() || pod->at("metadata").as_object().contains("deletionTimestamp");
  }
  // The controller reads its caches: wait until they show what the fake holds.
  void WaitForCaches() {
    const std::string node_version = std::string(Node().at("metadata").at("resourceVersion").as_string());
    ASSERT_TRUE(WaitForCache(client::kNodes, "n1", [&](const client::ObjectPtr& node) {
      return node && node->at("metadata").at("resourceVersion").as_string() == node_version;
    }));
    Result<client::ListResult> pods = api_.List(client::kPods, "default", {});
    for (const object& pod : pods->items) {
      const std::string key = "default/" + std::string(pod.at("metadata").at("name").as_string());
      const auto version = pod.at("metadata").at("resourceVersion");
      ASSERT_TRUE(WaitForCache(client::kPods, key, [&](const client::ObjectPtr& cached) {
        return cached && cached->at("metadata").at("resourceVersion") == version;
      }));
    }
  }
};

TEST_F(NodeLifecycleTest, AnUnrenewedLeaseMakesTheNodeUnknownTaintedAndItsPodsEvicted) {
  NodeLifecycleController& controller = Own(std::make_unique<NodeLifecycleController>(context_));
  StartInformers();

  ASSERT_TRUE(Monitor(controller).ok());
  clock_.Advance(seconds(40));
  ASSERT_TRUE(Monitor(controller).ok());
  EXPECT_EQ(ReadyStatus(), "True") << "within the grace period";

  clock_.Advance(seconds(1));
  ASSERT_TRUE(Monitor(controller).ok());
  EXPECT_EQ(ReadyStatus(), "Unknown");
  const object node = Node();
  // As tryUpdateNodeHealth: the condition the kubelet posted is "stopped posting"; the ones
  // it never posted are added as "never posted".
  for (const auto& condition : node.at("status").at("conditions").as_array()) {
    EXPECT_EQ(condition.at("status"), "Unknown") << condition;
    if (condition.at("type") == "Ready") {
      EXPECT_EQ(condition.at("reason"), "NodeStatusUnknown") << condition;
      EXPECT_EQ(condition.at("message"), "Kubelet stopped posting node status.") << condition;
    } else {
      EXPECT_EQ(condition.at("reason"), "NodeStatusNeverUpdated") << condition;
      EXPECT_EQ(condition.at("message"), "Kubelet never posted node status.") << condition;
    }
  }
  EXPECT_EQ(node.at("spec").at("taints"),
            (array{object{{"key", "node.kubernetes.io/unreachable"}, {"effect", "NoSchedule"}},
                   object{{"key", "node.kubernetes.io/unreachable"},
                          {"effect", "NoExecute"},
                          {"timeAdded", "2024-01-01T00:00:41Z"}}}));
  EXPECT_TRUE(PodDeleting("intolerant")) << "no toleration: evicted at once";
  EXPECT_FALSE(PodDeleting("defaulted"));
  EXPECT_EQ(api_.Get(client::kPods, "default", "defaulted")
                ->at("status").at("conditions").at(0).at("status"),
            "False");

  WaitForCaches();
  clock_.Advance(seconds(299));
  ASSERT_TRUE(Monitor(controller).ok());
  EXPECT_FALSE(PodDeleting("defaulted"));
  clock_.Advance(seconds(1));
  ASSERT_TRUE(Monitor(controller).ok());
  EXPECT_TRUE(PodDeleting("defaulted")) << "300 s after the taint was added";
  EXPECT_FALSE(PodDeleting("forever"));

  controller.FlushEvents();
  EXPECT_EQ(EventReasons("n1"), (std::vector<std::string>{"RegisteredNode", "NodeNotReady"}));
  EXPECT_EQ(EventReasons("defaulted"), (std::vector<std::string>{"TaintManagerEviction"}));
}

TEST_F(NodeLifecycleTest, ARenewedLeaseAndReadyNodeLoseTheTaint) {
  NodeLifecycleController& controller = Own(std::make_unique<NodeLifecycleController>(context_));
  StartInformers();
  ASSERT_TRUE(Monitor(controller).ok());
  clock_.Advance(seconds(41));
  ASSERT_TRUE(Monitor(controller).ok());
  ASSERT_EQ(ReadyStatus(), "Unknown");

  object lease = *api_.Get(client::kLeases, "kube-node-lease", "n1");
  lease["spec"].as_object()["renewTime"] = "2024-01-01T00:00:45Z";
  ASSERT_TRUE(api_.Update(client::kLeases, lease).ok());
  ASSERT_TRUE(WaitForCache(client::kLeases, "kube-node-lease/n1", [](const client::ObjectPtr& l) {
    return l && l->at("spec").at("renewTime") == "2024-01-01T00:00:45Z";
  }));
  WaitForCaches();
  ASSERT_TRUE(Monitor(controller).ok());
  EXPECT_TRUE(Node().at("spec").as_object().contains("taints"))
      << "the node has not reported Ready yet";

  object node = Node();
  node["status"].as_object()["conditions"] =
      array{object{{"type", "Ready"}, {"status", "True"},
                   {"lastHeartbeatTime", "2024-01-01T00:00:45Z"}}};
  ASSERT_TRUE(api_.Update(client::kNodes, node, "status").ok());
  WaitForCaches();
  ASSERT_TRUE(Monitor(controller).ok());
  EXPECT_FALSE(Node().at("spec").as_object().contains("taints"));
}

TEST_F(NodeLifecycleTest, ANodeReportingNotReadyIsTaintedNotReady) {
  NodeLifecycleController& controller = Own(std::make_unique<NodeLifecycleController>(context_));
  object node = Node();
  node["status"].as_object()["conditions"] =
      array{object{{"type", "Ready"}, {"status", "False"}, {"reason", "KubeletNotReady"},
                   {"lastHeartbeatTime", "2024-01-01T00:00:01Z"}}};
  ASSERT_TRUE(api_.Update(client::kNodes, node, "status").ok());
  StartInformers();
  ASSERT_TRUE(Monitor(controller).ok());
  EXPECT_EQ(Node().at("spec").at("taints"),
            (array{object{{"key", "node.kubernetes.io/not-ready"}, {"effect", "NoSchedule"}},
                   object{{"key", "node.kubernetes.io/not-ready"},
                          {"effect", "NoExecute"},
                          {"timeAdded", "2024-01-01T00:00:00Z"}}}));
  EXPECT_FALSE(Node("n2").at("spec").as_object().contains("taints"));
  EXPECT_TRUE(PodDeleting("intolerant")) << "not-ready is not tolerated";
}

TEST_F(NodeLifecycleTest, FullDisruptionEvictsNothingAndLiftsTheNoExecuteTaints) {
  NodeLifecycleController& controller = Own(std::make_unique<NodeLifecycleController>(context_));
  StartInformers();
  ASSERT_TRUE(controller.MonitorNodes().ok());
  clock_.Advance(seconds(41));
  // Neither lease was renewed: every node is unreachable.
  ASSERT_TRUE(controller.MonitorNodes().ok());
  EXPECT_EQ(ReadyStatus(), "Unknown");
  for (const std::string name : {"n1", "n2"}) {
    EXPECT_EQ(Node(name).at("spec").at("taints"),
              (array{object{{"key", "node.kubernetes.io/unreachable"}, {"effect", "NoSchedule"}}}))
        << name;
  }
  EXPECT_FALSE(PodDeleting("intolerant")) << "no eviction in full disruption";

  // n2 comes back: the disruption is partial now and n1's pods are evicted.
  WaitForCaches();
  object n2 = Node("n2");
  n2["status"].as_object()["conditions"] =
      array{object{{"type", "Ready"}, {"status", "True"},
                   {"lastHeartbeatTime", "2024-01-01T00:00:41Z"}}};
  ASSERT_TRUE(api_.Update(client::kNodes, n2, "status").ok());
  const std::string n2_version =
      std::string(Node("n2").at("metadata").at("resourceVersion").as_string());
  ASSERT_TRUE(WaitForCache(client::kNodes, "n2", [&](const client::ObjectPtr& cached) {
    return cached && cached->at("metadata").at("resourceVersion").as_string() == n2_version;
  }));
  ASSERT_TRUE(Monitor(controller).ok());
  EXPECT_FALSE(Node("n2").at("spec").as_object().contains("taints"));
  EXPECT_EQ(Node().at("spec").at("taints").as_array().size(), 2u);
  EXPECT_TRUE(PodDeleting("intolerant"));
}

}  // namespace
}  // namespace kelp::controllers
