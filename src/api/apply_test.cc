// Tests of server-side apply's pieces: YAML and JSON applied configurations with YAML 1.2 core
// scalar types, the limits on hostile bodies, and the merge into a live object.
#include "api/apply.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "common/json.h"

namespace kelp::api {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

json::object Object(std::string_view text) {
  Result<json::object> parsed = ParseJsonObject(text);
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString() << " in " << text;
  return parsed.ok() ? *parsed : json::object();
}

TEST(ApplyTest, YamlScalarsTakeCoreSchemaTypes) {
  Result<json::object> parsed = ParseApplyConfiguration(R"(
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {tier: "1"}
data:
  count: "50"
  plain: hello world
spec:
  replicas: 3
  ratio: 0.5
  paused: false
  nothing: ~
  list: [a, 2]
)");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, Object(R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"settings","labels":{"tier":"1"}},
      "data":{"count":"50","plain":"hello world"},
      "spec":{"replicas":3,"ratio":0.5,"paused":false,"nothing":null,"list":["a",2]}})"));
}

TEST(ApplyTest, JsonBodiesAreTakenAsTheyAre) {
  Result<json::object> parsed = ParseApplyConfiguration(R"({"kind":"ConfigMap","data":{"a":"1"}})");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, Object(R"({"kind":"ConfigMap","data":{"a":"1"}})"));
}

TEST(ApplyTest, BodiesThatAreNotOneMapAreRejected) {
  for (std::string_view body : {"- a\n- b\n", "just text", "a: [unclosed", "[1, 2]"}) {
    Result<json::object> parsed = ParseApplyConfiguration(body);
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << body;
  }
}

TEST(ApplyTest, HostileBodiesAreRejectedNotExpanded) {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "[";
  EXPECT_EQ(ParseApplyConfiguration("a: " + deep).status().code(), StatusCode::kInvalidArgument);
  // Each level doubles the values an alias expands to: 2^30 values from a few hundred bytes.
  std::string laughs = "l0: &l0 [x, x]\n";
  for (int i = 1; i <= 30; ++i) {
    laughs += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [*l" +
              std::to_string(i - 1) + ", *l" + std::to_string(i - 1) + "]\n";
  }
  Result<json::object> parsed = ParseApplyConfiguration(laughs);
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("too large"));
  EXPECT_EQ(ParseApplyConfiguration(std::string(kMaxPatchBytes + 1, ' ')).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ApplyTest, AppliedConfigurationMergesIntoTheLiveObjectByMergeKeys) {
  json::object live = Object(R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"web","labels":{"app":"web"}},
      "spec":{"replicas":1,"template":{"spec":{"containers":[
        {"name":"web","image":"nginx:1.22","ports":[{"containerPort":80}]},
        {"name":"sidecar","image":"busybox"}]}}}})");
  json::object applied = Object(R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"web"},
      "spec":{"replicas":2,"template":{"spec":{"containers":[
        {"name":"web","image":"nginx:1.23"}]}}}})");
  Result<json::object> merged = MergeApplyConfiguration(live, applied, KubernetesPatchSchema());
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(FindPath(*merged, "spec.replicas")->as_int64(), 2);
  EXPECT_EQ(*FindPath(*merged, "spec.template.spec.containers.0.image"), "nginx:1.23");
  EXPECT_EQ(FindPath(*merged, "spec.template.spec.containers.0.ports.0.containerPort")->as_int64(),
            80);
  EXPECT_EQ(*FindPath(*merged, "spec.template.spec.containers.1.name"), "sidecar");
  EXPECT_EQ(*FindPath(*merged, "metadata.labels.app"), "web");
}

}  // namespace
}  // namespace kelp::api
