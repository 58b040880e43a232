// Scheduler over the FakeApiClient and real informers: binds through pods/binding and spreads
// replicas, never overcommits with parallel workers, reports FailedScheduling with
// PodScheduled=False, and retries when a node arrives.
#include "scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <thread>

#include "client/testing/fake_api_client.h"
#include "common/json.h"
#include "common/testing/fake_clock.h"

namespace kelp::scheduler {
namespace {

namespace json = boost::json;

// Informers and workers run on their own threads: poll until `done` holds. The bound only
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

json::object Node(const std::string& name, const std::string& cpu = "4") {
  return *ParseJsonObject(R"({"metadata":{"name":")" + name + R"("},"status":{"allocatable":)"
                          R"({"cpu":")" + cpu + R"(","memory":"8Gi","pods":"110"},)"
                          R"("conditions":[{"type":"Ready","status":"True"}]}})");
}

json::object Pod(const std::string& name, const std::string& cpu = "100m") {
  return *ParseJsonObject(
      R"({"metadata":{"name":")" + name + R"(","namespace":"default","ownerReferences":)"
      R"([{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web","uid":"rs-1","controller":true}]},)"
      R"("spec":{"containers":[{"name":"c","image":"nginx","resources":{"requests":{"cpu":")" +
      cpu + R"("}}}]}})");
}

class SchedulerTest : public ::testing::Test {
 protected:
  void StartScheduler() {
    scheduler_ = std::make_unique<Scheduler>(context_);
    informers_.Start();
    ASSERT_TRUE(informers_.WaitForSync(std::chrono::seconds(30)));
    scheduler_->Start();
  }
  void TearDown() override {
    if (scheduler_) scheduler_->Stop();
    informers_.Stop();
  }
  std::map<std::string, std::string> NodeOfEachPod() {
    std::map<std::string, std::string> nodes;
    Result<client::ListResult> pods = client_.List(client::kPods, "default", {});
    if (!pods.ok()) return nodes;
    for (const json::object& pod : pods->items) {
      nodes[StringAt(pod, "metadata.name")] = StringAt(pod, "spec.nodeName");
    }
    return nodes;
  }
  int BoundPods() {
    int bound = 0;
    for (const auto& [pod, node] : NodeOfEachPod()) bound += !node.empty();
    return bound;
  }

  kelp::testing::FakeClock clock_;
  client::testing::FakeApiClient client_{clock_};
  client::InformerFactory informers_{client_};
  controllers::ControllerContext context_{
      .client = client_, .informers = informers_, .clock = clock_, .options = {}};
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerTest, BindsReplicasOntoDifferentNodes) {
  for (const char* name : {"n1", "n2", "n3"}) client_.Seed(client::kNodes, Node(name));
  for (const char* name : {"web-a", "web-b", "web-c"}) client_.Seed(client::kPods, Pod(name));
  StartScheduler();
  ASSERT_TRUE(WaitUntil([&] { return BoundPods() == 3; }));
  std::set<std::string> nodes;
  for (const auto& [pod, node] : NodeOfEachPod()) nodes.insert(node);
  EXPECT_EQ(nodes, (std::set<std::string>{"n1", "n2", "n3"}));
  int bindings = 0;
  for (const client::testing::Action& action : client_.Actions()) {
    if (action.verb == "create/binding") ++bindings;
  }
  EXPECT_EQ(bindings, 3);
  // The counter moves once the binding call has returned, just after the pod shows bound.
  EXPECT_TRUE(WaitUntil([&] { return scheduler_->bound_count() == 3; }));
}

TEST_F(SchedulerTest, ParallelDecisionsNeverOvercommitANode) {
  client_.Seed(client::kNodes, Node("n1", "4"));
  for (int i = 0; i < 10; ++i) client_.Seed(client::kPods, Pod("p" + std::to_string(i), "1"));
  StartScheduler();
  ASSERT_TRUE(WaitUntil([&] {
    int pending_reported = 0;
    Result<client::ListResult> pods = client_.List(client::kPods, "default", {});
    for (const json::object& pod : pods->items) {
      pending_reported += StringAt(pod, "status.conditions.0.reason") == "Unschedulable";
    }
    return BoundPods() == 4 && pending_reported == 6;
  }));
}

TEST_F(SchedulerTest, ReportsUnschedulablePodsAndRetriesWhenANodeArrives) {
  for (const char* name : {"n1", "n2", "n3"}) client_.Seed(client::kNodes, Node(name));
  client_.Seed(client::kPods, Pod("big", "6"));
  StartScheduler();
  const std::string message =
      "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No "
      "preemption victims found for incoming pod.";
  ASSERT_TRUE(WaitUntil([&] {
    Result<json::object> pod = client_.Get(client::kPods, "default", "big");
    return pod.ok() && StringAt(*pod, "status.conditions.0.message") == message;
  }));
  json::object pod = *client_.Get(client::kPods, "default", "big");
  EXPECT_EQ(StringAt(pod, "status.conditions.0.type"), "PodScheduled");
  EXPECT_EQ(StringAt(pod, "status.conditions.0.status"), "False");
  EXPECT_EQ(StringAt(pod, "status.conditions.0.reason"), "Unschedulable");
  ASSERT_TRUE(WaitUntil([&] {
    Result<client::ListResult> events = client_.List(client::kEvents, "default", {});
    for (const json::object& event : events->items) {
      if (StringAt(event, "reason") == "FailedScheduling" &&
          StringAt(event, "message") == message && StringAt(event, "type") == "Warning") {
        return true;
      }
    }
    return false;
  }));

  ASSERT_TRUE(client_.Create(client::kNodes, "", Node("n4", "8")).ok());
  ASSERT_TRUE(WaitUntil([&] { return NodeOfEachPod()["big"] == "n4"; }));
}

}  // namespace
}  // namespace kelp::scheduler
