// Tests of HPA autoscaling/v1 ↔ v2 conversion: the CPU target and current utilization, what
// v1 carries in annotations, round trips, and kinds without a conversion.
#include "api/conversion.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string_view>

#include "common/json.h"

namespace kelp::api {
namespace {

namespace json = boost::json;

json::object Object(std::string_view text) {
  Result<json::object> parsed = ParseJsonObject(text);
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString() << " in " << text;
  return parsed.ok() ? *parsed : json::object();
}

constexpr std::string_view kV1Hpa = R"({
  "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
  "metadata": {"name": "nginx1", "namespace": "abc"},
  "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "nginx1"},
           "minReplicas": 1, "maxReplicas": 5, "targetCPUUtilizationPercentage": 50},
  "status": {"currentReplicas": 2, "desiredReplicas": 2, "currentCPUUtilizationPercentage": 12}
})";

constexpr std::string_view kV2Hpa = R"({
  "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
  "metadata": {"name": "nginx1", "namespace": "abc"},
  "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "nginx1"},
           "minReplicas": 1, "maxReplicas": 5,
           "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 50}}}]},
  "status": {"currentReplicas": 2, "desiredReplicas": 2,
             "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu",
                                 "current": {"averageUtilization": 12}}}]}
})";

TEST(ConversionTest, StorageVersionOfHpasIsV2AndOthersAreStoredAsServed) {
  EXPECT_EQ(StorageApiVersion("autoscaling", "HorizontalPodAutoscaler", "autoscaling/v1"),
            "autoscaling/v2");
  EXPECT_EQ(StorageApiVersion("apps", "Deployment", "apps/v1"), "apps/v1");
}

TEST(ConversionTest, HpaV1CpuTargetAndCurrentBecomeV2Metrics) {
  EXPECT_EQ(ConvertToVersion(Object(kV1Hpa), "autoscaling/v2"), Object(kV2Hpa));
}

TEST(ConversionTest, HpaV2CpuUtilizationMetricsBecomeV1Fields) {
  EXPECT_EQ(ConvertToVersion(Object(kV2Hpa), "autoscaling/v1"), Object(kV1Hpa));
}

TEST(ConversionTest, HpaV2MetricsV1CannotExpressTravelInAnnotationsAndComeBack) {
  json::object v2 = Object(R"({
    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "web"},
    "spec": {"maxReplicas": 3,
             "metrics": [{"type": "Resource", "resource": {"name": "memory",
                          "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                         {"type": "Resource", "resource": {"name": "cpu",
                          "target": {"type": "Utilization", "averageUtilization": 70}}}],
             "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}},
    "status": {"desiredReplicas": 1,
               "conditions": [{"type": "AbleToScale", "status": "True"}]}
  })");
  json::object v1 = ConvertToVersion(v2, "autoscaling/v1");
  EXPECT_EQ(FindPath(v1, "spec.targetCPUUtilizationPercentage")->as_int64(), 70);
  EXPECT_EQ(FindPath(v1, "spec.metrics"), nullptr);
  EXPECT_EQ(FindPath(v1, "spec.behavior"), nullptr);
  EXPECT_EQ(FindPath(v1, "status.conditions"), nullptr);
  const json::object& annotations = FindPath(v1, "metadata.annotations")->as_object();
  EXPECT_EQ(annotations.at(kHpaMetricsAnnotation),
            R"([{"type":"Resource","resource":{"name":"memory","target":{"type":"AverageValue","averageValue":"100Mi"}}}])");
  EXPECT_TRUE(annotations.contains(kHpaBehaviorAnnotation));
  EXPECT_TRUE(annotations.contains(kHpaConditionsAnnotation));
  // Back in v2 the other metric comes first and the CPU metric last, as in Kubernetes.
  EXPECT_EQ(ConvertToVersion(v1, "autoscaling/v2"), v2);
}

TEST(ConversionTest, HpaV1WithoutCpuTargetHasNoV2Metrics) {
  json::object v1 = Object(R"({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                               "metadata": {"name": "a"}, "spec": {"maxReplicas": 2}})");
  json::object v2 = ConvertToVersion(v1, "autoscaling/v2");
  EXPECT_EQ(v2, Object(R"({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                            "metadata": {"name": "a"}, "spec": {"maxReplicas": 2}})"));
}

TEST(ConversionTest, MistypedFieldsAndBadAnnotationsAreCarriedOrDroppedNeverFatal) {
  json::object v1 = Object(R"({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
      "metadata": {"annotations": {"autoscaling.alpha.kubernetes.io/metrics": "not json"}},
      "spec": "oops", "status": {"currentMetrics": 3}})");
  json::object v2 = ConvertToVersion(v1, "autoscaling/v2");
  EXPECT_EQ(v2.at("spec"), "oops");
  EXPECT_EQ(FindPath(v2, "metadata.annotations"), nullptr);
  json::object back = ConvertToVersion(v2, "autoscaling/v1");
  EXPECT_EQ(FindPath(back, "status.currentMetrics"), nullptr);
}

TEST(ConversionTest, KindsWithoutAConversionOnlyGetTheTargetApiVersion) {
  json::object deployment = Object(R"({"apiVersion": "apps/v1", "kind": "Deployment",
                                       "spec": {"replicas": 3}})");
  json::object converted = ConvertToVersion(deployment, "apps/v1");
  EXPECT_EQ(converted, deployment);
  json::object unstamped = Object(R"({"kind": "ConfigMap"})");
  EXPECT_EQ(ConvertToVersion(unstamped, "v1").at("apiVersion"), "v1");
}

}  // namespace
}  // namespace kelp::api
