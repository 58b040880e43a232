// The HPA arithmetic against cases worked out from Kubernetes' replica calculator and
// normalization rules: tolerance, ceil of the usage ratio, pods without samples and unready
// pods in both directions, missing requests, stabilization windows and rate limits.
#include "controllers/hpa_replicas.h"

#include <gtest/gtest.h>

#include "common/json.h"
#include "controllers/object_meta.h"

namespace kelp::controllers {
namespace {

using std::chrono::seconds;
namespace json = boost::json;

const TimePoint kNow = std::chrono::system_clock::from_time_t(1'700'000'000);

// A Running pod started `age` ago, Ready since then, requesting `cpu`.
json::object Pod(const std::string& name, const std::string& cpu = "100m",
                 seconds age = seconds(3600), std::string phase = "Running",
                 std::string ready = "True") {
  const std::string started = FormatRfc3339(kNow - age);
  json::object resources;
  if (!cpu.empty()) resources["requests"] = json::object{{"cpu", cpu}};
  return {{"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"containers", json::array{json::object{{"name", "c"}, {"resources", resources}}}}}},
          {"status",
           {{"phase", phase},
            {"startTime", started},
            {"conditions", json::array{json::object{{"type", "Ready"},
                                                    {"status", ready},
                                                    {"lastTransitionTime", started}}}}}}};
}

PodMetric Usage(int64_t milli) { return {.value_milli = milli, .timestamp = kNow - seconds(5)}; }

TEST(ResourceReplicasTest, ScalesToTheCeilOfTheUsageRatio) {
  // 3 pods at 90m of 100m against 50%: ratio 1.8 → ceil(5.4) = 6.
  auto result = ResourceReplicas(3, 50, "cpu", {Pod("a"), Pod("b"), Pod("c")},
                                 {{"a", Usage(90)}, {"b", Usage(90)}, {"c", Usage(90)}}, kNow);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->replicas, 6);
  EXPECT_EQ(result->utilization, 90);
  EXPECT_EQ(result->average_value_milli, 90);
}

TEST(ResourceReplicasTest, StaysWithinTheTolerance) {
  auto result = ResourceReplicas(2, 50, "cpu", {Pod("a"), Pod("b")},
                                 {{"a", Usage(54)}, {"b", Usage(54)}}, kNow);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->replicas, 2) << "54% against 50% is within 10%";
}

TEST(ResourceReplicasTest, ScalesDownWhenIdle) {
  auto result = ResourceReplicas(4, 50, "cpu", {Pod("a"), Pod("b"), Pod("c"), Pod("d")},
                                 {{"a", Usage(0)}, {"b", Usage(0)}, {"c", Usage(0)}, {"d", Usage(0)}},
                                 kNow);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->replicas, 0) << "min/max are applied by the normalization";
  EXPECT_EQ(result->utilization, 0);
}

TEST(ResourceReplicasTest, PodsWithoutSamplesCountAgainstTheDirection) {
  // Scale-up (ratio 2): the pod without a sample counts as 0%: (100+100+0)/300 = 66% → 1.33 →
  // ceil(4) = 4.
  auto up = ResourceReplicas(3, 50, "cpu", {Pod("a"), Pod("b"), Pod("c")},
                             {{"a", Usage(100)}, {"b", Usage(100)}}, kNow);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->replicas, 4);
  // Scale-down (ratio 0.2): the missing pod counts as 100%: (10+10+100)/300 = 40% → ratio 0.8 →
  // ceil(0.8 × 3) = 3: the pod without a sample keeps the count from going down.
  auto down = ResourceReplicas(3, 50, "cpu", {Pod("a"), Pod("b"), Pod("c")},
                               {{"a", Usage(10)}, {"b", Usage(10)}}, kNow);
  ASSERT_TRUE(down.ok());
  EXPECT_EQ(down->replicas, 3);
}

TEST(ResourceReplicasTest, UnreadyPodsCountAsIdleOnScaleUp) {
  // A pod that just started and is not Ready yet is left out, and on a scale-up counts as 0%.
  auto result = ResourceReplicas(
      3, 50, "cpu", {Pod("a"), Pod("b"), Pod("new", "100m", seconds(10), "Running", "False")},
      {{"a", Usage(100)}, {"b", Usage(100)}, {"new", Usage(100)}}, kNow);
  ASSERT_TRUE(result.ok());
  // (100+100+0)/300 = 66% → 1.33 × 3 = 4.
  EXPECT_EQ(result->replicas, 4);
  EXPECT_EQ(result->utilization, 100) << "the reported utilization is over the ready pods";
}

TEST(ResourceReplicasTest, PendingAndDeletedPodsAreNotSampled) {
  json::object deleted = Pod("gone");
  deleted["metadata"].as_object()["deletionTimestamp"] = FormatRfc3339(kNow);
  auto result = ResourceReplicas(
      2, 50, "cpu", {Pod("a"), Pod("pending", "100m", seconds(1), "Pending"), deleted},
      {{"a", Usage(25)}, {"gone", Usage(1000)}}, kNow);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->utilization, 25);
  EXPECT_EQ(result->replicas, 1);
}

TEST(ResourceReplicasTest, ErrorsAsKubernetesWordsThem) {
  auto no_request = ResourceReplicas(1, 50, "cpu", {Pod("a", "")}, {{"a", Usage(10)}}, kNow);
  EXPECT_EQ(no_request.status().message(), "missing request for cpu in container c of Pod a");
  auto no_metrics = ResourceReplicas(1, 50, "cpu", {Pod("a")}, {}, kNow);
  EXPECT_EQ(no_metrics.status().message(),
            "did not receive metrics for targeted pods (pods might be unready)");
  auto no_pods = ResourceReplicas(1, 50, "cpu", {}, {}, kNow);
  EXPECT_EQ(no_pods.status().message(),
            "no pods returned by selector while calculating replica count");
}

TEST(RawResourceReplicasTest, DividesTotalUsageByTheAverageTarget) {
  auto result = RawResourceReplicas(2, 100, {{"a", Usage(250)}, {"b", Usage(250)}});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->replicas, 5);
  EXPECT_EQ(result->average_value_milli, 250);
}

TEST(ScaleHistoryTest, WithoutBehaviorScaleDownWaitsForTheHighestRecentRecommendation) {
  ScaleHistory history;
  history.RecordInitial(4, kNow);
  NormalizedReplicas first = history.Normalize(4, 1, 1, 10, seconds(300), kNow + seconds(15));
  EXPECT_EQ(first.replicas, 4);
  EXPECT_EQ(first.able_to_scale_reason, "ScaleDownStabilized");
  NormalizedReplicas later = history.Normalize(4, 1, 1, 10, seconds(300), kNow + seconds(316));
  EXPECT_EQ(later.replicas, 1) << "the recommendation of 4 left the window";
  EXPECT_EQ(later.able_to_scale_reason, "ReadyForNewScale");
  EXPECT_FALSE(later.limited);
}

TEST(ScaleHistoryTest, WithoutBehaviorScaleUpIsLimitedToDoubleAndByMax) {
  ScaleHistory history;
  NormalizedReplicas fast = history.Normalize(2, 9, 1, 10, seconds(300), kNow);
  EXPECT_EQ(fast.replicas, 4);
  EXPECT_TRUE(fast.limited);
  EXPECT_EQ(fast.limited_reason, "ScaleUpLimit");
  ScaleHistory other;
  NormalizedReplicas capped = other.Normalize(4, 9, 1, 5, seconds(300), kNow);
  EXPECT_EQ(capped.replicas, 5);
  EXPECT_EQ(capped.limited_reason, "TooManyReplicas");
  ScaleHistory third;
  NormalizedReplicas floor = third.Normalize(3, 0, 1, 5, seconds(0), kNow);
  EXPECT_EQ(floor.replicas, 1);
  EXPECT_EQ(floor.limited_reason, "TooFewReplicas");
}

TEST(ScaleHistoryTest, BehaviorPoliciesLimitTheRatePerPeriod) {
  Result<json::object> spec = ParseJsonObject(
      R"({"scaleUp":{"policies":[{"type":"Pods","value":2,"periodSeconds":60}]},
          "scaleDown":{"stabilizationWindowSeconds":0}})");
  ASSERT_TRUE(spec.ok());
  Result<Behavior> behavior = ParseBehavior(&*spec, seconds(300));
  ASSERT_TRUE(behavior.ok()) << behavior.status().ToString();
  ScaleHistory history;
  NormalizedReplicas first = history.NormalizeWithBehavior(1, 10, 1, 20, *behavior, kNow);
  EXPECT_EQ(first.replicas, 3);
  EXPECT_EQ(first.limited_reason, "ScaleUpLimit");
  history.RecordScale(1, 3, &*behavior, kNow);
  // 30 s later the period still holds the +2: no further scale-up is allowed.
  NormalizedReplicas second =
      history.NormalizeWithBehavior(3, 10, 1, 20, *behavior, kNow + seconds(30));
  EXPECT_EQ(second.replicas, 3);
  NormalizedReplicas third =
      history.NormalizeWithBehavior(3, 10, 1, 20, *behavior, kNow + seconds(61));
  EXPECT_EQ(third.replicas, 5);
}

TEST(ScaleHistoryTest, DefaultBehaviorAllowsTheLargerOfDoubleAndFourPods) {
  Result<Behavior> behavior = ParseBehavior(nullptr, seconds(300));
  ASSERT_TRUE(behavior.ok());
  ScaleHistory history;
  EXPECT_EQ(history.NormalizeWithBehavior(1, 20, 1, 50, *behavior, kNow).replicas, 5);
  ScaleHistory bigger;
  EXPECT_EQ(bigger.NormalizeWithBehavior(10, 50, 1, 50, *behavior, kNow).replicas, 20);
}

TEST(ScaleHistoryTest, BadBehaviorIsRejected) {
  Result<json::object> spec =
      ParseJsonObject(R"({"scaleUp":{"policies":[{"type":"Nodes","value":1,"periodSeconds":1}]}})");
  ASSERT_TRUE(spec.ok());
  EXPECT_FALSE(ParseBehavior(&*spec, seconds(300)).ok());
}

}  // namespace
}  // namespace kelp::controllers
