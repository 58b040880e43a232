// HorizontalPodAutoscalerController over the FakeApiClient: busy pods scale the Deployment up
// through its scale subresource with a SuccessfulRescale event and the status kubectl shows,
// idle pods scale it down after the stabilization window, min/max bound it, and missing
// metrics or requests leave it alone with ScalingActive=False.
#include "controllers/hpa.h"

#include "controllers/cluster_test_env.h"
#include "controllers/object_meta.h"

namespace kelp::controllers {
namespace {

using std::chrono::seconds;
using testing::json::array;
using testing::json::object;

class HpaTest : public testing::ClusterTestEnv {
 protected:
  void SetUp() override {
    api_.Seed(client::kDeployments, Parse(R"({"metadata":{"name":"web","namespace":"default",
        "generation":1},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}}},
        "status":{"replicas":2}})"));
    SeedPod("web-a", "100m");
    SeedPod("web-b", "100m");
    api_.Seed(client::kHorizontalPodAutoscalers, Parse(R"({"metadata":{"name":"web",
        "namespace":"default","generation":1},"spec":{"scaleTargetRef":{"apiVersion":"apps/v1",
        "kind":"Deployment","name":"web"},"minReplicas":1,"maxReplicas":5,"metrics":[{"type":
        "Resource","resource":{"name":"cpu","target":{"type":"Utilization",
        "averageUtilization":50}}}]}})"));
    controller_ = &Own(std::make_unique<HorizontalPodAutoscalerController>(context_));
    StartInformers();
  }
  void SeedPod(const std::string& name, const std::string& cpu) {
    const std::string started = FormatRfc3339(clock_.WallNow() - seconds(3600));
    const std::string resources =
        cpu.empty() ? "{}" : R"({"requests":{"cpu":")" + cpu + R"("}})";
    api_.Seed(client::kPods, Parse(R"({"metadata":{"name":")" + name +
                                   R"(","namespace":"default","labels":{"app":"web"}},
        "spec":{"containers":[{"name":"nginx","resources":)" + resources + R"(}]},
        "status":{"phase":"Running","startTime":")" + started + R"(","conditions":[{"type":"Ready",
        "status":"True","lastTransitionTime":")" + started + R"("}]}})"));
  }
  // PodMetrics as the apiserver serves them.
  void SetUsage(const std::string& pod, const std::string& cpu) {
    api_.Seed(kPodMetrics,
              Parse(R"({"metadata":{"name":")" + pod + R"(","namespace":"default",
        "labels":{"app":"web"}},"timestamp":")" + FormatRfc3339(clock_.WallNow()) +
                    R"(","window":"15s","containers":[{"name":"nginx","usage":{"cpu":")" + cpu +
                    R"(","memory":"10Mi"}}]})"));
  }
  int64_t Replicas() { return IntAt(*api_.Get(client::kDeployments, "default", "web"), "spec.replicas"); }
  object Hpa() { return *api_.Get(client::kHorizontalPodAutoscalers, "default", "web"); }
  std::string Condition(const std::string& type) {
    const object hpa = Hpa();
    const object* condition = FindCondition(hpa, type);
    return condition ? StringAt(*condition, "status") + "/" + StringAt(*condition, "reason") : "";
  }
  Status Sync() {
    // The controller reads pods from its informer: wait until it holds the seeded ones.
    EXPECT_TRUE(WaitForCache(client::kPods, "default/web-b",
                             [](const client::ObjectPtr& pod) { return pod != nullptr; }));
    // ... and the HPA as last written (its status is written conditionally).
    const std::string version = StringAt(Hpa(), "metadata.resourceVersion");
    EXPECT_TRUE(WaitForCache(client::kHorizontalPodAutoscalers, "default/web",
                             [&](const client::ObjectPtr& hpa) {
                               return hpa && StringAt(*hpa, "metadata.resourceVersion") == version;
                             }));
    Status status = controller_->Sync("default/web");
    controller_->FlushEvents();
    return status;
  }

  HorizontalPodAutoscalerController* controller_ = nullptr;
};

TEST_F(HpaTest, BusyPodsScaleTheTargetUpAndStatusShowsTheUtilization) {
  SetUsage("web-a", "90m");
  SetUsage("web-b", "90m");
  ASSERT_TRUE(Sync().ok());
  // 90% against 50%: ceil(1.8 × 2) = 4.
  EXPECT_EQ(Replicas(), 4);
  const object hpa = Hpa();
  EXPECT_EQ(IntAt(hpa, "status.desiredReplicas"), 4);
  EXPECT_EQ(IntAt(hpa, "status.currentReplicas"), 2);
  EXPECT_FALSE(StringAt(hpa, "status.lastScaleTime").empty());
  EXPECT_EQ(hpa.at("status").at("currentMetrics"),
            (array{object{{"type", "Resource"},
                          {"resource", object{{"name", "cpu"},
                                              {"current", object{{"averageValue", "90m"},
                                                                 {"averageUtilization", 90}}}}}}}));
  EXPECT_EQ(Condition("AbleToScale"), "True/SucceededRescale");
  EXPECT_EQ(Condition("ScalingActive"), "True/ValidMetricFound");
  EXPECT_EQ(Condition("ScalingLimited"), "False/DesiredWithinRange");
  EXPECT_EQ(EventReasons("web"), (std::vector<std::string>{"SuccessfulRescale"}));
  Result<client::ListResult> events = api_.List(client::kEvents, "default", {});
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(StringAt(events->items.at(0), "message"),
            "New size: 4; reason: cpu resource utilization (percentage of request) above target");
}

TEST_F(HpaTest, OneStepAtMostDoublesTheTarget) {
  SetUsage("web-a", "500m");
  SetUsage("web-b", "500m");
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(Replicas(), 4) << "at most double the current count in one step";
  EXPECT_EQ(Condition("ScalingLimited"), "True/ScaleUpLimit");
}

TEST_F(HpaTest, IdlePodsScaleDownOnlyAfterTheStabilizationWindow) {
  SetUsage("web-a", "0");
  SetUsage("web-b", "0");
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(Replicas(), 2) << "the initial recommendation (2) is still in the window";
  EXPECT_EQ(Condition("AbleToScale"), "True/ScaleDownStabilized");
  clock_.Advance(seconds(301));
  SetUsage("web-a", "0");
  SetUsage("web-b", "0");
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(Replicas(), 1) << "minReplicas";
  EXPECT_EQ(Condition("ScalingLimited"), "True/TooFewReplicas");
  Result<client::ListResult> events = api_.List(client::kEvents, "default", {});
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(StringAt(events->items.back(), "message"),
            "New size: 1; reason: All metrics below target");
}

TEST_F(HpaTest, WithoutMetricsNothingScalesAndTheReasonIsShown) {
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(Replicas(), 2);
  EXPECT_EQ(Condition("ScalingActive"), "False/FailedGetResourceMetric");
  const object hpa = Hpa();
  const object* condition = FindCondition(hpa, "ScalingActive");
  ASSERT_NE(condition, nullptr);
  EXPECT_EQ(StringAt(*condition, "message"),
            "the HPA was unable to compute the replica count: did not receive metrics for "
            "targeted pods (pods might be unready)");
  EXPECT_EQ(EventReasons("web"), (std::vector<std::string>{"FailedGetResourceMetric",
                                                           "FailedComputeMetricsReplicas"}));
}

TEST_F(HpaTest, AMissingTargetIsReported) {
  ASSERT_TRUE(api_.Delete(client::kDeployments, "default", "web", {}).ok());
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(Condition("AbleToScale"), "False/FailedGetScale");
}

}  // namespace
}  // namespace kelp::controllers
