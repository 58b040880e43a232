// Deployment controller with the ReplicaSet controller and a pretend kubelet on the
// FakeApiClient: new replica sets, rolling updates within maxSurge/maxUnavailable, Recreate,
// undo, pause, history cleanup, proportional scaling, conditions and events.
#include "controllers/deployment.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "controllers/controller_ref.h"
#include "controllers/pod_state.h"
#include "controllers/pod_template.h"
#include "controllers/testing/workloads_cluster.h"

namespace kelp::controllers {
namespace {

using ::testing::Contains;
using ::testing::SizeIs;
using testing::DeploymentObject;
using testing::WorkloadsCluster;

// Replica sets by revision annotation.
std::map<int64_t, boost::json::object> ReplicaSetsByRevision(WorkloadsCluster& cluster) {
  std::map<int64_t, boost::json::object> by_revision;
  for (boost::json::object& rs : cluster.List(client::kReplicaSets)) {
    by_revision[Revision(rs)] = std::move(rs);
  }
  return by_revision;
}

void SetImage(WorkloadsCluster& cluster, const std::string& name, const std::string& image) {
  cluster.Modify(client::kDeployments, name, [&](boost::json::object& deployment) {
    MutableObjectAt(deployment, "spec.template.spec")["containers"] = {
        {{"name", "main"}, {"image", image}}};
    api::ApplyDefaults("apps", "deployments", deployment);
  });
}

void SetSpec(WorkloadsCluster& cluster, const std::string& name, std::string_view field,
             boost::json::value value) {
  cluster.Modify(client::kDeployments, name, [&](boost::json::object& deployment) {
    MutableObjectAt(deployment, "spec")[field] = value;
  });
}

std::string ConditionReason(const boost::json::object& deployment, std::string_view type) {
  const boost::json::object* condition = FindCondition(deployment, type);
  return condition ? StringAt(*condition, "status") + "/" + StringAt(*condition, "reason") : "";
}

TEST(DeploymentControllerTest, CreatesAReplicaSetNamedByTemplateHash) {
  WorkloadsCluster cluster;
  boost::json::object deployment = cluster.Create(client::kDeployments, DeploymentObject("nginx", 3));
  ASSERT_TRUE(cluster.SyncDeployment("nginx").ok());

  std::vector<boost::json::object> sets = cluster.List(client::kReplicaSets);
  ASSERT_THAT(sets, SizeIs(1));
  const boost::json::object& rs = sets[0];
  const std::string hash = StringAt(rs, "metadata.labels.pod-template-hash");
  EXPECT_EQ(hash, ComputeTemplateHash(*ObjectAt(deployment, "spec.template"), std::nullopt));
  EXPECT_EQ(Name(rs), "nginx-" + hash);
  EXPECT_EQ(StringAt(rs, "spec.selector.matchLabels.pod-template-hash"), hash);
  EXPECT_EQ(StringAt(rs, "spec.template.metadata.labels.pod-template-hash"), hash);
  EXPECT_EQ(SpecReplicas(rs), 3);
  EXPECT_EQ(Annotation(rs, kRevisionAnnotation), "1");
  EXPECT_EQ(Annotation(rs, kDesiredReplicasAnnotation), "3");
  EXPECT_EQ(Annotation(rs, kMaxReplicasAnnotation), "4");
  EXPECT_EQ(StringAt(*ControllerRefOf(rs), "uid"), Uid(deployment));

  boost::json::object updated = cluster.Get(client::kDeployments, "nginx");
  EXPECT_EQ(Annotation(updated, kRevisionAnnotation), "1");
  EXPECT_EQ(ConditionReason(updated, "Progressing"), "True/NewReplicaSetCreated");
  EXPECT_THAT(cluster.Events(),
              Contains("ScalingReplicaSet: Scaled up replica set " + Name(rs) + " from 0 to 3"));
}

TEST(DeploymentControllerTest, ReportsAvailableAndCompleteOnceThePodsAreReady) {
  WorkloadsCluster cluster;
  cluster.Create(client::kDeployments, DeploymentObject("nginx", 3));
  ASSERT_TRUE(cluster.SyncDeployment("nginx").ok());
  cluster.SyncAll();
  boost::json::object deployment = cluster.Get(client::kDeployments, "nginx");
  EXPECT_EQ(ConditionReason(deployment, "Available"), "False/MinimumReplicasUnavailable");

  cluster.Settle();
  deployment = cluster.Get(client::kDeployments, "nginx");
  EXPECT_EQ(IntAt(deployment, "status.observedGeneration"), IntAt(deployment, "metadata.generation"));
  EXPECT_EQ(IntAt(deployment, "status.replicas"), 3);
  EXPECT_EQ(IntAt(deployment, "status.updatedReplicas"), 3);
  EXPECT_EQ(IntAt(deployment, "status.readyReplicas"), 3);
  EXPECT_EQ(IntAt(deployment, "status.availableReplicas"), 3);
  EXPECT_EQ(IntAt(deployment, "status.unavailableReplicas"), 0);
  EXPECT_EQ(ConditionReason(deployment, "Available"), "True/MinimumReplicasAvailable");
  EXPECT_EQ(ConditionReason(deployment, "Progressing"), "True/NewReplicaSetAvailable");
  EXPECT_THAT(cluster.LivePods(), SizeIs(3));
}

TEST(DeploymentControllerTest, RollingUpdateStaysWithinSurgeAndUnavailability) {
  WorkloadsCluster cluster;
  // 4 replicas with the default 25%/25%: at most 5 pods, at least 3 available.
  cluster.Create(client::kDeployments, DeploymentObject("nginx", 4));
  cluster.Settle();
  SetImage(cluster, "nginx", "nginx:1.26");

  int64_t peak_replicas = 0;
  int64_t lowest_ready = 4;
  cluster.Settle(true, [&] {
    int64_t total = 0;
    for (const boost::json::object& rs : cluster.List(client::kReplicaSets)) total += SpecReplicas(rs);
    int64_t ready = 0;
    for (const boost::json::object& pod : cluster.LivePods()) ready += IsPodReady(pod) ? 1 : 0;
    peak_replicas = std::max(peak_replicas, total);
    lowest_ready = std::min(lowest_ready, ready);
  });
  EXPECT_EQ(peak_replicas, 5);
  EXPECT_GE(lowest_ready, 3);

  std::map<int64_t, boost::json::object> sets = ReplicaSetsByRevision(cluster);
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(SpecReplicas(sets[1]), 0);
  EXPECT_EQ(SpecReplicas(sets[2]), 4);
  for (const boost::json::object& pod : cluster.LivePods()) {
    EXPECT_EQ(StringAt(pod, "spec.containers.0.image"), "nginx:1.26");
  }
  boost::json::object deployment = cluster.Get(client::kDeployments, "nginx");
  EXPECT_EQ(Annotation(deployment, kRevisionAnnotation), "2");
  EXPECT_EQ(ConditionReason(deployment, "Progressing"), "True/NewReplicaSetAvailable");
  EXPECT_EQ(IntAt(deployment, "status.updatedReplicas"), 4);
  EXPECT_EQ(IntAt(deployment, "status.replicas"), 4);
  EXPECT_THAT(cluster.Events(), Contains("ScalingReplicaSet: Scaled down replica set " +
                                         Name(sets[1]) + " from 4 to 3"));
}

TEST(DeploymentControllerTest, RollingUpdateFirstStepsFollowKubernetes) {
  WorkloadsCluster cluster;
  boost::json::object object = DeploymentObject("nginx", 10);
  MutableObjectAt(object, "spec.strategy") = {
      {"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", 3}, {"maxUnavailable", "20%"}}}};
  cluster.Create(client::kDeployments, object);
  cluster.Settle();
  SetImage(cluster, "nginx", "nginx:1.26");
  // One sync: the new set surges to 3 (13 in all), then the old one goes down by 2 — min
  // available is 8 and the 3 new pods are not available yet.
  ASSERT_TRUE(cluster.SyncDeployment("nginx").ok());
  std::map<int64_t, boost::json::object> sets = ReplicaSetsByRevision(cluster);
  EXPECT_EQ(SpecReplicas(sets[2]), 3);
  EXPECT_EQ(SpecReplicas(sets[1]), 8);
  // The next sync uses the surge room the old set's scale-down freed (3 + 8 < 13): the new set
  // grows to 5, as NewRSNewReplicas does; the old set stays at 8 while no new pod is available
  // (13 pods - 8 minimum available - 5 unavailable new ones = nothing to scale down).
  ASSERT_TRUE(cluster.SyncDeployment("nginx").ok());
  sets = ReplicaSetsByRevision(cluster);
  EXPECT_EQ(SpecReplicas(sets[2]), 5);
  EXPECT_EQ(SpecReplicas(sets[1]), 8);
  // Pods are created and counted, but none becomes available (no kubelet): nothing more moves.
  cluster.SyncAll();
  cluster.SyncAll();
  ASSERT_TRUE(cluster.SyncDeployment("nginx").ok());
  sets = ReplicaSetsByRevision(cluster);
  EXPECT_EQ(SpecReplicas(sets[1]), 8);
  EXPECT_EQ(SpecReplicas(sets[2]), 5);
  boost::json::object deployment = cluster.Get(client::kDeployments, "nginx");
  EXPECT_EQ(IntAt(deployment, "status.updatedReplicas"), 5);
  EXPECT_EQ(ConditionReason(deployment, "Progressing"), "True/ReplicaSetUpdated");
  EXPECT_EQ(ConditionReason(deployment, "Available"), "True/MinimumReplicasAvailable");
}

TEST(DeploymentControllerTest, RecreateRemovesEveryOldPodBeforeCreatingNewOnes) {
  WorkloadsCluster cluster;
  boost::json::object object = DeploymentObject("nginx", 3);
  MutableObjectAt(object, "spec.strategy") = {{"type", "Recreate"}};
  cluster.Create(client::kDeployments, object);
  cluster.Settle();
  SetImage(cluster, "nginx", "nginx:1.26");

  bool mixed = false;
  cluster.Settle(true, [&] {
    std::set<std::string> images;
    for (const boost::json::object& pod : cluster.List(client::kPods)) {
      images.insert(StringAt(pod, "spec.containers.0.image"));
    }
    mixed = mixed || images.size() > 1;
  });
  EXPECT_FALSE(mixed) << "old and new pods existed at the same time";
  std::vector<boost::json::object> pods = cluster.LivePods();
  ASSERT_THAT(pods, SizeIs(3));
  for (const boost::json::object& pod : pods) {
    EXPECT_EQ(StringAt(pod, "spec.containers.0.image"), "nginx:1.26");
  }
  EXPECT_EQ(ConditionReason(cluster.Get(client::kDeployments, "nginx"), "Progressing"),
            "True/NewReplicaSetAvailable");
}

TEST(DeploymentControllerTest, UndoByRestoringTheOldTemplateReusesItsReplicaSet) {
  WorkloadsCluster cluster;
  boost::json::object object = DeploymentObject("nginx", 2);
  MutableObjectAt(object, "metadata.annotations")["kubernetes.io/change-cause"] = "first";
  cluster.Create(client::kDeployments, object);
  cluster.Settle();
  cluster.Modify(client::kDeployments, "nginx", [](boost::json::object& deployment) {
    MutableObjectAt(deployment, "metadata.annotations")["kubernetes.io/change-cause"] = "second";
  });
  SetImage(cluster, "nginx", "nginx:1.26");
  cluster.Settle();
  std::map<int64_t, boost::json::object> sets = ReplicaSetsByRevision(cluster);
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(Annotation(sets[1], "kubernetes.io/change-cause"), "first");
  EXPECT_EQ(Annotation(sets[2], "kubernetes.io/change-cause"), "second");
  const std::string first_name = Name(sets[1]);

  // What `kubectl rollout undo` does: copy revision 1's template (minus the hash label) back.
  boost::json::object old_template = *ObjectAt(sets[1], "spec.template");
  MutableObjectAt(old_template, "metadata.labels").erase("pod-template-hash");
  cluster.Modify(client::kDeployments, "nginx", [&](boost::json::object& deployment) {
    deployment["spec"].get_object()["template"] = old_template;
  });
  cluster.Settle();

  sets = ReplicaSetsByRevision(cluster);
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(Name(sets[3]), first_name);
  EXPECT_EQ(SpecReplicas(sets[3]), 2);
  EXPECT_EQ(Annotation(sets[3], kRevisionHistoryAnnotation), "1");
  EXPECT_EQ(SpecReplicas(sets[2]), 0);
  EXPECT_EQ(Annotation(cluster.Get(client::kDeployments, "nginx"), kRevisionAnnotation), "3");
  for (const boost::json::object& pod : cluster.LivePods()) {
    EXPECT_EQ(StringAt(pod, "spec.containers.0.image"), "nginx:1.25");
  }
}

TEST(DeploymentControllerTest, PausedDeploymentScalesButDoesNotRollOut) {
  WorkloadsCluster cluster;
  cluster.Create(client::kDeployments, DeploymentObject("nginx", 3));
  cluster.Settle();
  SetSpec(cluster, "nginx", "paused", true);
  SetImage(cluster, "nginx", "nginx:1.26");
  cluster.Settle();
  EXPECT_THAT(cluster.List(client::kReplicaSets), SizeIs(1));
  EXPECT_EQ(ConditionReason(cluster.Get(client::kDeployments, "nginx"), "Progressing"),
            "Unknown/DeploymentPaused");

  SetSpec(cluster, "nginx", "replicas", 5);
  cluster.Settle();
  std::vector<boost::json::object> sets = cluster.List(client::kReplicaSets);
  ASSERT_THAT(sets, SizeIs(1));
  EXPECT_EQ(SpecReplicas(sets[0]), 5);
  EXPECT_EQ(Annotation(sets[0], kDesiredReplicasAnnotation), "5");
  EXPECT_THAT(cluster.LivePods(), SizeIs(5));

  SetSpec(cluster, "nginx", "paused", false);
  cluster.Settle();
  EXPECT_THAT(cluster.List(client::kReplicaSets), SizeIs(2));
  for (const boost::json::object& pod : cluster.LivePods()) {
    EXPECT_EQ(StringAt(pod, "spec.containers.0.image"), "nginx:1.26");
  }
}

TEST(DeploymentControllerTest, KeepsOnlyRevisionHistoryLimitOldReplicaSets) {
  WorkloadsCluster cluster;
  boost::json::object object = DeploymentObject("nginx", 1);
  object["spec"].get_object()["revisionHistoryLimit"] = 1;
  cluster.Create(client::kDeployments, object);
  cluster.Settle();
  for (const char* image : {"nginx:1.26", "nginx:1.27", "nginx:1.28"}) {
    SetImage(cluster, "nginx", image);
    cluster.Settle();
  }
  std::map<int64_t, boost::json::object> sets = ReplicaSetsByRevision(cluster);
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_TRUE(sets.contains(3));
  EXPECT_TRUE(sets.contains(4));
}

TEST(DeploymentControllerTest, ScalingDuringARolloutIsSharedProportionally) {
  WorkloadsCluster cluster;
  boost::json::object object = DeploymentObject("nginx", 10);
  MutableObjectAt(object, "spec.strategy") = {
      {"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", 3}, {"maxUnavailable", 2}}}};
  cluster.Create(client::kDeployments, object);
  cluster.Settle();
  SetImage(cluster, "nginx", "nginx:1.26");
  // Without the kubelet the new pods never get ready: the rollout stops at 8 old + 5 new (13 =
  // 10 + surge 3; 8 = 10 - maxUnavailable 2).
  cluster.Settle(false);
  std::map<int64_t, boost::json::object> sets = ReplicaSetsByRevision(cluster);
  ASSERT_EQ(SpecReplicas(sets[1]), 8);
  ASSERT_EQ(SpecReplicas(sets[2]), 5);

  SetSpec(cluster, "nginx", "replicas", 15);
  ASSERT_TRUE(cluster.SyncDeployment("nginx").ok());
  sets = ReplicaSetsByRevision(cluster);
  // 18 allowed (15 + surge 3): 5 more, shared by size against the sets' max-replicas of 13
  // (8*18/13 -> 11, 5*18/13 -> 7), as getReplicaSetFraction rounds.
  EXPECT_EQ(SpecReplicas(sets[1]) + SpecReplicas(sets[2]), 18);
  EXPECT_EQ(SpecReplicas(sets[1]), 11);
  EXPECT_EQ(SpecReplicas(sets[2]), 7);
  EXPECT_EQ(Annotation(sets[1], kDesiredReplicasAnnotation), "15");
  EXPECT_EQ(Annotation(sets[2], kMaxReplicasAnnotation), "18");
}

TEST(DeploymentControllerTest, AvailableConditionFollowsMaxUnavailable) {
  WorkloadsCluster cluster;
  cluster.Create(client::kDeployments, DeploymentObject("nginx", 4));
  cluster.Settle();
  // Two of four pods fail their readiness: 2 < 4 - 1 available.
  int made_unready = 0;
  for (boost::json::object pod : cluster.LivePods()) {
    if (made_unready++ == 2) break;
    pod["status"].get_object()["conditions"] = {{{"type", "Ready"}, {"status", "False"}}};
    ASSERT_TRUE(cluster.client().Update(client::kPods, pod, "status").ok());
  }
  cluster.Settle(false);
  boost::json::object deployment = cluster.Get(client::kDeployments, "nginx");
  EXPECT_EQ(ConditionReason(deployment, "Available"), "False/MinimumReplicasUnavailable");
  EXPECT_EQ(IntAt(deployment, "status.unavailableReplicas"), 2);
}

}  // namespace
}  // namespace kelp::controllers
