// ReplicaSet controller against the FakeApiClient: scaling, replacement, expectations,
// deletion order, slow start, adoption/release, status and events.
#include "controllers/replicaset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "controllers/controller_ref.h"
#include "controllers/testing/workloads_cluster.h"

namespace kelp::controllers {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;
using testing::ReplicaSetObject;
using testing::WorkloadsCluster;

int CountActions(WorkloadsCluster& cluster, std::string_view verb, std::string_view resource) {
  int count = 0;
  for (const auto& action : cluster.client().Actions()) {
    if (action.verb == verb && action.resource == resource) ++count;
  }
  return count;
}

// A pod owned by `rs`, labelled app=web, in the given state.
boost::json::object OwnedPod(const boost::json::object& rs, const std::string& name,
                             const std::string& node, const std::string& phase, bool ready) {
  boost::json::object pod{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name},
        {"namespace", "default"},
        {"labels", {{"app", "web"}}},
        {"ownerReferences", {MakeControllerRef(rs, "apps/v1", "ReplicaSet")}}}},
      {"spec", {{"containers", {{{"name", "main"}, {"image", "nginx:1.25"}}}}}},
      {"status", {{"phase", phase}}}};
  if (!node.empty()) pod["spec"].get_object()["nodeName"] = node;
  if (ready) {
    pod["status"].get_object()["conditions"] = {
        {{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", "2023-12-31T23:00:00Z"}}};
  }
  return pod;
}

TEST(ReplicaSetControllerTest, CreatesPodsFromTheTemplateWithControllerReference) {
  WorkloadsCluster cluster;
  boost::json::object rs = cluster.Create(client::kReplicaSets, ReplicaSetObject("web", 3));
  ASSERT_TRUE(cluster.SyncReplicaSet("web").ok());

  std::vector<boost::json::object> pods = cluster.LivePods();
  ASSERT_THAT(pods, SizeIs(3));
  const std::regex generated("web-[bcdfghjklmnpqrstvwxz2456789]{5}");
  for (const boost::json::object& pod : pods) {
    EXPECT_TRUE(std::regex_match(Name(pod), generated)) << Name(pod);
    EXPECT_EQ(StringAt(pod, "metadata.labels.app"), "web");
    EXPECT_EQ(StringAt(pod, "spec.containers.0.image"), "nginx:1.25");
    const boost::json::object* owner = ControllerRefOf(pod);
    ASSERT_NE(owner, nullptr);
    EXPECT_EQ(StringAt(*owner, "uid"), Uid(rs));
    EXPECT_EQ(StringAt(*owner, "kind"), "ReplicaSet");
    EXPECT_EQ(StringAt(*owner, "apiVersion"), "apps/v1");
    EXPECT_TRUE(BoolAt(*owner, "blockOwnerDeletion"));
  }
  std::vector<std::string> events = cluster.Events();
  for (const boost::json::object& pod : pods) {
    EXPECT_THAT(events, Contains("SuccessfulCreate: Created pod: " + Name(pod)));
  }
}

TEST(ReplicaSetControllerTest, ExpectationsStopASecondSyncFromCreatingAgain) {
  WorkloadsCluster cluster;
  cluster.Create(client::kReplicaSets, ReplicaSetObject("web", 3));
  cluster.WaitForCaches();
  // Two syncs back to back: the second may run before the informer saw the first's pods.
  ASSERT_TRUE(cluster.replica_set_controller().Sync("default/web").ok());
  ASSERT_TRUE(cluster.replica_set_controller().Sync("default/web").ok());
  ASSERT_TRUE(cluster.SyncReplicaSet("web").ok());
  EXPECT_EQ(CountActions(cluster, "create", "pods"), 3);
  EXPECT_THAT(cluster.LivePods(), SizeIs(3));
}

TEST(ReplicaSetControllerTest, ScalesUpAndDown) {
  WorkloadsCluster cluster;
  cluster.Create(client::kReplicaSets, ReplicaSetObject("web", 2));
  cluster.Settle();
  EXPECT_THAT(cluster.LivePods(), SizeIs(2));
  cluster.Modify(client::kReplicaSets, "web",
                 [](boost::json::object& rs) { rs["spec"].get_object()["replicas"] = 5; });
  cluster.Settle();
  EXPECT_THAT(cluster.LivePods(), SizeIs(5));
  cluster.Modify(client::kReplicaSets, "web",
                 [](boost::json::object& rs) { rs["spec"].get_object()["replicas"] = 1; });
  cluster.Settle();
  EXPECT_THAT(cluster.LivePods(), SizeIs(1));
  EXPECT_EQ(CountActions(cluster, "delete", "pods") >= 4, true);
  boost::json::object rs = cluster.Get(client::kReplicaSets, "web");
  EXPECT_EQ(IntAt(rs, "status.replicas"), 1);
}

TEST(ReplicaSetControllerTest, ReplacesADeletedPodAtOnce) {
  WorkloadsCluster cluster;
  cluster.Create(client::kReplicaSets, ReplicaSetObject("web", 2));
  cluster.Settle();
  std::vector<boost::json::object> before = cluster.LivePods();
  ASSERT_THAT(before, SizeIs(2));
  const std::string victim = Name(before[0]);
  // A pod on a node is only marked for deletion; it no longer counts.
  ASSERT_TRUE(cluster.client().Delete(client::kPods, "default", victim, {}).ok());
  ASSERT_TRUE(cluster.SyncReplicaSet("web").ok());
  std::vector<boost::json::object> after = cluster.LivePods();
  ASSERT_THAT(after, SizeIs(2));
  for (const boost::json::object& pod : after) EXPECT_NE(Name(pod), victim);
  // Status counts what the sync started from; the next sync sees the replacement.
  ASSERT_TRUE(cluster.SyncReplicaSet("web").ok());
  boost::json::object rs = cluster.Get(client::kReplicaSets, "web");
  EXPECT_EQ(IntAt(rs, "status.replicas"), 2);
}

TEST(ReplicaSetControllerTest, DeletesUnscheduledThenPendingThenNotReadyFirst) {
  WorkloadsCluster cluster;
  boost::json::object rs = cluster.Create(client::kReplicaSets, ReplicaSetObject("web", 5));
  auto seed = [&](boost::json::object pod) { cluster.client().Seed(client::kPods, std::move(pod)); };
  seed(OwnedPod(rs, "ready-a", "node01", "Running", true));
  seed(OwnedPod(rs, "ready-b", "node02", "Running", true));
  seed(OwnedPod(rs, "not-ready", "node01", "Running", false));
  seed(OwnedPod(rs, "pending", "node02", "Pending", false));
  seed(OwnedPod(rs, "unscheduled", "", "Pending", false));
  ASSERT_TRUE(cluster.SyncReplicaSet("web").ok());
  EXPECT_EQ(CountActions(cluster, "create", "pods"), 0);
  cluster.client().ClearActions();

  cluster.Modify(client::kReplicaSets, "web",
                 [](boost::json::object& object) { object["spec"].get_object()["replicas"] = 2; });
  ASSERT_TRUE(cluster.SyncReplicaSet("web").ok());
  std::set<std::string> deleted;
  for (const auto& action : cluster.client().Actions()) {
    if (action.verb == "delete" && action.resource == "pods") deleted.insert(action.name);
  }
  EXPECT_THAT(deleted, UnorderedElementsAre("unscheduled", "pending", "not-ready"));
}

TEST(ReplicaSetControllerTest, SlowStartStopsAtTheFirstFailedBatch) {
  WorkloadsCluster cluster;
  cluster.Create(client::kReplicaSets, ReplicaSetObject("web", 10));
  cluster.WaitForCaches();
  cluster.client().ClearActions();
  cluster.client().FailNext(1, UnavailableError("etcd is down"));
  Status synced = cluster.replica_set_controller().Sync("default/web");
  EXPECT_EQ(synced.code(), StatusCode::kUnavailable);
  // The first batch has one pod; it failed, so nothing else was tried.
  EXPECT_EQ(CountActions(cluster, "create", "pods"), 1);
  EXPECT_THAT(cluster.LivePods(), IsEmpty());
  boost::json::object rs = cluster.Get(client::kReplicaSets, "web");
  const boost::json::object* failure = FindCondition(rs, "ReplicaFailure");
  ASSERT_NE(failure, nullptr);
  EXPECT_EQ(StringAt(*failure, "reason"), "FailedCreate");
  EXPECT_THAT(cluster.Events(), Contains("FailedCreate: Error creating: etcd is down"));

  // The failed create was not expected any more, so the retry creates all ten (1+2+4+3).
  ASSERT_TRUE(cluster.SyncReplicaSet("web").ok());
  EXPECT_THAT(cluster.LivePods(), SizeIs(10));
  ASSERT_TRUE(cluster.SyncReplicaSet("web").ok());
  EXPECT_EQ(FindCondition(cluster.Get(client::kReplicaSets, "web"), "ReplicaFailure"), nullptr);
}

TEST(ReplicaSetControllerTest, AdoptsMatchingOrphansAndReleasesPodsThatStopMatching) {
  WorkloadsCluster cluster;
  boost::json::object rs = cluster.Create(client::kReplicaSets, ReplicaSetObject("web", 1));
  boost::json::object orphan = OwnedPod(rs, "orphan", "node01", "Running", true);
  orphan["metadata"].get_object().erase("ownerReferences");
  cluster.client().Seed(client::kPods, orphan);
  boost::json::object relabelled = OwnedPod(rs, "relabelled", "node01", "Running", true);
  relabelled["metadata"].get_object()["labels"] = {{"app", "debug"}};
  cluster.client().Seed(client::kPods, relabelled);
  boost::json::object stranger = OwnedPod(rs, "stranger", "node01", "Running", true);
  stranger["metadata"].get_object()["ownerReferences"] = {
      {{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "other"}, {"uid", "other-uid"},
       {"controller", true}}};
  cluster.client().Seed(client::kPods, stranger);

  ASSERT_TRUE(cluster.SyncReplicaSet("web").ok());
  const boost::json::object orphan_now = cluster.Get(client::kPods, "orphan");
  const boost::json::object* adopted = ControllerRefOf(orphan_now);
  ASSERT_NE(adopted, nullptr);
  EXPECT_EQ(StringAt(*adopted, "uid"), Uid(rs));
  EXPECT_EQ(ControllerRefOf(cluster.Get(client::kPods, "relabelled")), nullptr);
  EXPECT_EQ(StringAt(*ControllerRefOf(cluster.Get(client::kPods, "stranger")), "uid"), "other-uid");
  EXPECT_EQ(CountActions(cluster, "create", "pods"), 0);
  EXPECT_EQ(CountActions(cluster, "delete", "pods"), 0);
}

TEST(ReplicaSetControllerTest, StatusCountsReadyAndAvailableAfterMinReadySeconds) {
  WorkloadsCluster cluster;
  boost::json::object object = ReplicaSetObject("web", 2);
  object["spec"].get_object()["minReadySeconds"] = 10;
  cluster.Create(client::kReplicaSets, object);
  ASSERT_TRUE(cluster.SyncReplicaSet("web").ok());
  cluster.RunKubelet();
  ASSERT_TRUE(cluster.SyncReplicaSet("web").ok());
  boost::json::object rs = cluster.Get(client::kReplicaSets, "web");
  EXPECT_EQ(IntAt(rs, "status.replicas"), 2);
  EXPECT_EQ(IntAt(rs, "status.fullyLabeledReplicas"), 2);
  EXPECT_EQ(IntAt(rs, "status.readyReplicas"), 2);
  EXPECT_EQ(IntAt(rs, "status.availableReplicas"), 0);
  EXPECT_EQ(IntAt(rs, "status.observedGeneration"), IntAt(rs, "metadata.generation"));

  cluster.clock().Advance(std::chrono::seconds(11));
  ASSERT_TRUE(cluster.SyncReplicaSet("web").ok());
  rs = cluster.Get(client::kReplicaSets, "web");
  EXPECT_EQ(IntAt(rs, "status.availableReplicas"), 2);
}

TEST(ReplicaSetControllerTest, WorkersReconcileFromInformerEvents) {
  WorkloadsCluster cluster;
  cluster.replica_set_controller().Start();
  cluster.Create(client::kReplicaSets, ReplicaSetObject("web", 3));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (cluster.LivePods().size() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_THAT(cluster.LivePods(), SizeIs(3));
  cluster.replica_set_controller().Stop();
}

}  // namespace
}  // namespace kelp::controllers
