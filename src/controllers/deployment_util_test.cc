// Deployment arithmetic: fenceposts, new replica counts, annotations, proportions, conditions.
#include "controllers/deployment_util.h"

#include <gtest/gtest.h>

#include <memory>

#include <boost/json.hpp>

#include "controllers/object_meta.h"

namespace kelp::controllers {
namespace {

boost::json::object Deployment(int64_t replicas, boost::json::value surge,
                               boost::json::value unavailable) {
  return {{"metadata", {{"name", "d"}, {"generation", 1}}},
          {"spec",
           {{"replicas", replicas},
            {"strategy",
             {{"type", "RollingUpdate"},
              {"rollingUpdate", {{"maxSurge", surge}, {"maxUnavailable", unavailable}}}}}}}};
}

client::ObjectPtr ReplicaSet(const std::string& name, int64_t replicas, int64_t available = 0) {
  return std::make_shared<const boost::json::object>(boost::json::object{
      {"metadata", {{"name", name}, {"uid", name}}},
      {"spec", {{"replicas", replicas}}},
      {"status", {{"replicas", replicas}, {"availableReplicas", available}}}});
}

TEST(DeploymentUtilTest, ScaledValueRoundsPercentages) {
  EXPECT_EQ(*ScaledValue(boost::json::value("25%"), 10, true), 3);
  EXPECT_EQ(*ScaledValue(boost::json::value("25%"), 10, false), 2);
  EXPECT_EQ(*ScaledValue(boost::json::value(4), 10, false), 4);
  EXPECT_FALSE(ScaledValue(boost::json::value("25"), 10, false).ok());
  EXPECT_FALSE(ScaledValue(boost::json::value("x%"), 10, false).ok());
}

TEST(DeploymentUtilTest, FencepostsDefaultAndNeverBothZero) {
  boost::json::object deployment = Deployment(10, "25%", "25%");
  EXPECT_EQ(MaxSurge(deployment), 3);
  EXPECT_EQ(MaxUnavailable(deployment), 2);
  boost::json::object tiny = Deployment(1, "25%", "25%");
  EXPECT_EQ(MaxSurge(tiny), 1);
  EXPECT_EQ(MaxUnavailable(tiny), 0);
  boost::json::object zero = Deployment(3, 0, 0);
  EXPECT_EQ(MaxSurge(zero), 0);
  EXPECT_EQ(MaxUnavailable(zero), 1);
  boost::json::object capped = Deployment(2, 0, 5);
  EXPECT_EQ(MaxUnavailable(capped), 2);
  boost::json::object recreate = Deployment(3, 1, 1);
  recreate["spec"].get_object()["strategy"] = {{"type", "Recreate"}};
  EXPECT_EQ(MaxSurge(recreate), 0);
  EXPECT_EQ(MaxUnavailable(recreate), 0);
}

TEST(DeploymentUtilTest, NewReplicaSetGrowsOnlyUpToSurge) {
  boost::json::object deployment = Deployment(10, 3, 2);
  client::ObjectPtr old_rs = ReplicaSet("old", 10, 10);
  client::ObjectPtr new_rs = ReplicaSet("new", 0);
  EXPECT_EQ(NewReplicaSetReplicas(deployment, {old_rs, new_rs}, *new_rs), 3);
  client::ObjectPtr shrunk = ReplicaSet("old", 8, 8);
  client::ObjectPtr grown = ReplicaSet("new", 3);
  EXPECT_EQ(NewReplicaSetReplicas(deployment, {shrunk, grown}, *grown), 5);
  boost::json::object recreate = deployment;
  recreate["spec"].get_object()["strategy"] = {{"type", "Recreate"}};
  EXPECT_EQ(NewReplicaSetReplicas(recreate, {old_rs, new_rs}, *new_rs), 10);
}

TEST(DeploymentUtilTest, RevisionAnnotationsMoveTheOldRevisionToHistory) {
  boost::json::object deployment = Deployment(3, 1, 0);
  deployment["metadata"].get_object()["annotations"] = {
      {"kubernetes.io/change-cause", "kubectl set image"},
      {"kubectl.kubernetes.io/last-applied-configuration", "{}"}};
  boost::json::object rs{{"metadata", {{"annotations", {{kRevisionAnnotation, "2"}}}}}};
  EXPECT_TRUE(SetNewReplicaSetAnnotations(deployment, rs, 5, true));
  EXPECT_EQ(Annotation(rs, kRevisionAnnotation), "5");
  EXPECT_EQ(Annotation(rs, kRevisionHistoryAnnotation), "2");
  EXPECT_EQ(Annotation(rs, "kubernetes.io/change-cause"), "kubectl set image");
  EXPECT_FALSE(Annotation(rs, "kubectl.kubernetes.io/last-applied-configuration"));
  EXPECT_FALSE(Annotation(rs, kDesiredReplicasAnnotation));  // only for a new replica set
  EXPECT_TRUE(SetNewReplicaSetAnnotations(deployment, rs, 7, true));
  EXPECT_EQ(Annotation(rs, kRevisionHistoryAnnotation), "2,5");
  EXPECT_FALSE(SetNewReplicaSetAnnotations(deployment, rs, 7, true));

  boost::json::object fresh{{"metadata", {{"name", "x"}}}};
  EXPECT_TRUE(SetNewReplicaSetAnnotations(deployment, fresh, 1, false));
  EXPECT_EQ(Annotation(fresh, kRevisionAnnotation), "1");
  EXPECT_FALSE(Annotation(fresh, kRevisionHistoryAnnotation));
  EXPECT_EQ(Annotation(fresh, kDesiredReplicasAnnotation), "3");
  EXPECT_EQ(Annotation(fresh, kMaxReplicasAnnotation), "4");
}

TEST(DeploymentUtilTest, ActiveOrLatestAndSaturation) {
  client::ObjectPtr a = ReplicaSet("a", 0);
  client::ObjectPtr b = ReplicaSet("b", 3);
  client::ObjectPtr c = ReplicaSet("c", 2);
  EXPECT_EQ(FindActiveOrLatest(nullptr, {a, b}), b);
  EXPECT_EQ(FindActiveOrLatest(nullptr, {b, c}), nullptr);
  EXPECT_EQ(FindActiveOrLatest(a, {}), a);

  boost::json::object deployment = Deployment(3, 1, 0);
  boost::json::object saturated_rs = *ReplicaSet("n", 3, 3);
  saturated_rs["metadata"].get_object()["annotations"] = {{kDesiredReplicasAnnotation, "3"}};
  EXPECT_TRUE(IsSaturated(deployment, std::make_shared<const boost::json::object>(saturated_rs)));
  EXPECT_FALSE(IsSaturated(deployment, ReplicaSet("n", 3, 2)));
}

TEST(DeploymentUtilTest, ProportionFollowsTheMaxReplicasAnnotation) {
  boost::json::object deployment = Deployment(15, 3, 2);
  boost::json::object rs = *ReplicaSet("old", 8);
  rs["metadata"].get_object()["annotations"] = {{kMaxReplicasAnnotation, "13"}};
  EXPECT_EQ(ScalingProportion(rs, deployment, 7, 0), 3);
  EXPECT_EQ(ScalingProportion(rs, deployment, 7, 6), 1);
  EXPECT_EQ(ScalingProportion(rs, deployment, 0, 0), 0);
  boost::json::object to_zero = Deployment(0, 3, 2);
  EXPECT_EQ(ScalingProportion(rs, to_zero, -11, 0), -8);
}

TEST(DeploymentUtilTest, ConditionsKeepTransitionTimeWhenOnlyTheReasonChanges) {
  const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1704067200));
  const auto t1 = t0 + std::chrono::seconds(30);
  boost::json::object status;
  SetCondition(status, "Progressing", "True", "NewReplicaSetCreated", "created", t0);
  SetCondition(status, "Progressing", "True", "ReplicaSetUpdated", "progressing", t1);
  const boost::json::object* condition = StatusCondition(status, "Progressing");
  ASSERT_NE(condition, nullptr);
  EXPECT_EQ(StringAt(*condition, "reason"), "ReplicaSetUpdated");
  EXPECT_EQ(StringAt(*condition, "lastTransitionTime"), "2024-01-01T00:00:00Z");
  EXPECT_EQ(StringAt(*condition, "lastUpdateTime"), "2024-01-01T00:00:30Z");
  SetCondition(status, "Progressing", "False", "ProgressDeadlineExceeded", "late", t1);
  EXPECT_EQ(StringAt(*StatusCondition(status, "Progressing"), "lastTransitionTime"),
            "2024-01-01T00:00:30Z");
  EXPECT_EQ(status.at("conditions").as_array().size(), 1u);
  RemoveCondition(status, "Progressing");
  EXPECT_EQ(StatusCondition(status, "Progressing"), nullptr);
}

TEST(DeploymentUtilTest, CompleteProgressingAndTimedOut) {
  boost::json::object deployment = Deployment(3, 1, 0);
  deployment["spec"].get_object()["progressDeadlineSeconds"] = 600;
  deployment["status"] = {{"replicas", 3}, {"updatedReplicas", 1}, {"availableReplicas", 2}};
  boost::json::object done{{"replicas", 3}, {"updatedReplicas", 3}, {"availableReplicas", 3},
                           {"observedGeneration", 1}};
  EXPECT_TRUE(DeploymentComplete(deployment, done));
  done["observedGeneration"] = 0;
  EXPECT_FALSE(DeploymentComplete(deployment, done));
  EXPECT_TRUE(DeploymentProgressing(deployment, {{"replicas", 3}, {"updatedReplicas", 2}}));
  EXPECT_FALSE(DeploymentProgressing(
      deployment, {{"replicas", 3}, {"updatedReplicas", 1}, {"availableReplicas", 2}}));

  const auto start = std::chrono::system_clock::time_point(std::chrono::seconds(1704067200));
  boost::json::object status;
  SetCondition(status, "Progressing", "True", "ReplicaSetUpdated", "x", start);
  EXPECT_FALSE(DeploymentTimedOut(deployment, status, start + std::chrono::seconds(600)));
  EXPECT_TRUE(DeploymentTimedOut(deployment, status, start + std::chrono::seconds(601)));
}

}  // namespace
}  // namespace kelp::controllers
