// ClusterView's filters, scores, accounting and Kubernetes' FailedScheduling wording.
#include "scheduler/cluster_view.h"

#include <gtest/gtest.h>

#include "common/json.h"

namespace kelp::scheduler {
namespace {

namespace json = boost::json;

json::object Parse(std::string_view text) { return *ParseJsonObject(text); }

json::object Node(std::string_view name, std::string_view extra_spec = "",
                  std::string_view ready = "True", std::string_view labels = "{}") {
  return Parse("{\"metadata\":{\"name\":\"" + std::string(name) + "\",\"labels\":" +
               std::string(labels) + "},\"spec\":{" + std::string(extra_spec) +
               "},\"status\":{\"allocatable\":{\"cpu\":\"4\",\"memory\":\"8Gi\","
               "\"pods\":\"110\"},\"conditions\":[{\"type\":\"Ready\",\"status\":\"" +
               std::string(ready) + "\"}]}}");
}

json::object Pod(std::string_view name, std::string_view cpu = "", std::string_view extra_spec = "",
                 std::string_view owner_uid = "") {
  std::string resources = cpu.empty() ? "{}" : "{\"requests\":{\"cpu\":\"" + std::string(cpu) + "\"}}";
  std::string owners = owner_uid.empty()
                           ? "[]"
                           : "[{\"kind\":\"ReplicaSet\",\"name\":\"rs\",\"controller\":true,\"uid\":\"" +
                                 std::string(owner_uid) + "\"}]";
  std::string text = "{\"metadata\":{\"name\":\"" + std::string(name) +
                     "\",\"namespace\":\"default\",\"ownerReferences\":" + owners +
                     "},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\",\"resources\":" +
                     resources + "}]" + std::string(extra_spec) + "}}";
  return Parse(text);
}

TEST(ClusterViewTest, NoNodesSaysSo) {
  ClusterView view;
  ScheduleDecision decision = view.Schedule(Pod("a"));
  EXPECT_FALSE(decision.node);
  EXPECT_EQ(decision.failure_message, "no nodes available to schedule pods");
}

TEST(ClusterViewTest, SkipsNotReadyAndUnschedulableNodes) {
  ClusterView view;
  view.UpsertNode(Node("n1", "", "False"));
  view.UpsertNode(Node("n2", "\"unschedulable\":true"));
  view.UpsertNode(Node("n3"));
  EXPECT_EQ(view.Schedule(Pod("a")).node, "n3");
}

TEST(ClusterViewTest, FailureMessageCountsReasonsAsKubernetesDoes) {
  ClusterView view;
  view.UpsertNode(Node("n1", R"("taints":[{"key":"node-role.kubernetes.io/control-plane","effect":"NoSchedule"}])"));
  view.UpsertNode(Node("n2"));
  view.UpsertNode(Node("n3"));
  ScheduleDecision decision = view.Schedule(Pod("big", "5"));
  ASSERT_FALSE(decision.node);
  EXPECT_EQ(decision.failure_message,
            "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint "
            "{node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are available: "
            "2 No preemption victims found for incoming pod, 1 Preemption is not helpful for "
            "scheduling.");
}

TEST(ClusterViewTest, TolerationsLetPodsOntoTaintedNodes) {
  ClusterView view;
  view.UpsertNode(Node("n1", R"("taints":[{"key":"dedicated","value":"db","effect":"NoSchedule"}])"));
  EXPECT_FALSE(view.Schedule(Pod("a")).node);
  EXPECT_EQ(view.Schedule(Pod("b", "", R"(,"tolerations":[{"key":"dedicated","operator":"Equal","value":"db","effect":"NoSchedule"}])")).node,
            "n1");
  EXPECT_EQ(view.Schedule(Pod("c", "", R"(,"tolerations":[{"operator":"Exists"}])")).node, "n1");
  EXPECT_FALSE(view.Schedule(Pod("d", "", R"(,"tolerations":[{"key":"dedicated","value":"web"}])")).node);
}

TEST(ClusterViewTest, NodeSelectorMatchesLabels) {
  ClusterView view;
  view.UpsertNode(Node("n1", "", "True", R"({"disk":"hdd"})"));
  view.UpsertNode(Node("n2", "", "True", R"({"disk":"ssd"})"));
  EXPECT_EQ(view.Schedule(Pod("a", "", R"(,"nodeSelector":{"disk":"ssd"})")).node, "n2");
  ScheduleDecision none = view.Schedule(Pod("b", "", R"(,"nodeSelector":{"disk":"nvme"})"));
  EXPECT_FALSE(none.node);
  EXPECT_EQ(none.failure_message,
            "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. "
            "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.");
}

TEST(ClusterViewTest, HostPortsConflict) {
  ClusterView view;
  view.UpsertNode(Node("n1"));
  json::object first = Pod("a");
  first["spec"].as_object()["containers"] =
      Parse(R"({"c":[{"name":"c","ports":[{"containerPort":80,"hostPort":8080}]}]})")["c"];
  ScheduleDecision decision = view.Schedule(first);
  ASSERT_EQ(decision.node, "n1");
  view.AddPod("default/a", "n1", PodRequest::FromPod(first));
  ScheduleDecision second = view.Schedule(first);
  EXPECT_FALSE(second.node);
  EXPECT_NE(second.failure_message.find(
                "1 node(s) didn't have free ports for the requested pod ports"),
            std::string::npos);
}

TEST(ClusterViewTest, AssumedPodsUseUpAllocatable) {
  ClusterView view;
  view.UpsertNode(Node("n1"));
  view.AddPod("default/a", "n1", PodRequest::FromPod(Pod("a", "3")));
  EXPECT_FALSE(view.Schedule(Pod("b", "2")).node);
  EXPECT_EQ(view.Schedule(Pod("c", "1")).node, "n1");
  view.RemovePod("default/a");
  EXPECT_EQ(view.Schedule(Pod("b", "2")).node, "n1");
}

TEST(ClusterViewTest, PodsSeenBeforeTheirNodeAreCounted) {
  ClusterView view;
  view.AddPod("default/a", "n1", PodRequest::FromPod(Pod("a", "4")));
  view.UpsertNode(Node("n1"));
  EXPECT_FALSE(view.Schedule(Pod("b", "1")).node);
}

TEST(ClusterViewTest, SpreadsOneOwnersPodsAcrossNodes) {
  ClusterView view;
  view.UpsertNode(Node("n1"));
  view.UpsertNode(Node("n2"));
  view.UpsertNode(Node("n3"));
  // Other pods make n1 the least allocated node...
  view.AddPod("default/x", "n2", PodRequest::FromPod(Pod("x", "100m")));
  view.AddPod("default/y", "n3", PodRequest::FromPod(Pod("y", "100m")));
  std::set<std::string> used;
  for (int i = 0; i < 3; ++i) {
    json::object pod = Pod("web-" + std::to_string(i), "", "", "rs-uid");
    ScheduleDecision decision = view.Schedule(pod);
    ASSERT_TRUE(decision.node);
    used.insert(*decision.node);
    view.AddPod("default/web-" + std::to_string(i), *decision.node, PodRequest::FromPod(pod));
  }
  // ...but three replicas still land on three nodes.
  EXPECT_EQ(used.size(), 3u);
}

TEST(ClusterViewTest, TooManyPods) {
  ClusterView view;
  json::object node = Node("n1");
  node["status"].as_object()["allocatable"].as_object()["pods"] = "1";
  view.UpsertNode(node);
  view.AddPod("default/a", "n1", PodRequest::FromPod(Pod("a")));
  ScheduleDecision decision = view.Schedule(Pod("b"));
  EXPECT_FALSE(decision.node);
  EXPECT_NE(decision.failure_message.find("1 Too many pods"), std::string::npos);
}

}  // namespace
}  // namespace kelp::scheduler
