// Tests for the Boost.JSON helpers: positioned parse errors, dotted paths, and typed
// accessors with field-path error messages.
#include "common/json.h"

#include <gtest/gtest.h>

#include <string>

namespace kelp {
namespace {

namespace json = boost::json;

constexpr std::string_view kDeployment = R"({
  "apiVersion": "apps/v1",
  "kind": "Deployment",
  "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web"}, "uid": null},
  "spec": {
    "replicas": 3,
    "paused": false,
    "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}
  }
})";

json::object ParseOrDie(std::string_view text) {
  Result<json::object> object = ParseJsonObject(text);
  EXPECT_TRUE(object.ok()) << object.status().ToString();
  return object.value_or(json::object());
}

TEST(ParseJsonTest, ParsesDocumentAndRoundTrips) {
  Result<json::value> value = ParseJson(R"( {"a": [1, true, null, "x"]} )");
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  EXPECT_EQ(SerializeJson(*value), R"({"a":[1,true,null,"x"]})");
}

TEST(ParseJsonTest, SyntaxErrorNamesLineAndColumn) {
  Result<json::value> value = ParseJson("{\n  \"a\": 1,\n  \"b\": ]\n}");
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(value.status().message().find("invalid JSON at line 3, column 8"), std::string::npos)
      << value.status().message();
}

TEST(ParseJsonTest, RejectsTrailingDataAndIncompleteDocuments) {
  EXPECT_FALSE(ParseJson(R"({"a": 1} {"b": 2})").ok());
  EXPECT_FALSE(ParseJson(R"({"a": )").ok());
  EXPECT_FALSE(ParseJson("").ok());
  EXPECT_FALSE(ParseJson("\xff").ok());
}

TEST(ParseJsonTest, RejectsExcessiveNestingWithoutCrashing) {
  std::string deep(100000, '[');
  EXPECT_FALSE(ParseJson(deep).ok());
}

TEST(ParseJsonObjectTest, RejectsNonObject) {
  Result<json::object> object = ParseJsonObject("[1]");
  ASSERT_FALSE(object.ok());
  EXPECT_EQ(object.status().message(), "expected a JSON object, got array");
}

TEST(FindPathTest, WalksObjectsAndArrayIndexes) {
  json::object deployment = ParseOrDie(kDeployment);
  const json::value* image = FindPath(deployment, "spec.template.spec.containers.0.image");
  ASSERT_NE(image, nullptr);
  EXPECT_EQ(image->as_string(), "nginx:1.25");

  json::value as_value = deployment;
  EXPECT_EQ(FindPath(as_value, "metadata.name")->as_string(), "web");
  EXPECT_EQ(FindPath(as_value, ""), &as_value);
}

TEST(FindPathTest, MissingOrMistypedSegmentsFindNothing) {
  json::object deployment = ParseOrDie(kDeployment);
  EXPECT_EQ(FindPath(deployment, "spec.missing"), nullptr);
  EXPECT_EQ(FindPath(deployment, "spec.replicas.value"), nullptr);
  EXPECT_EQ(FindPath(deployment, "spec.template.spec.containers.1"), nullptr);
  EXPECT_EQ(FindPath(deployment, "spec.template.spec.containers.x"), nullptr);
  EXPECT_EQ(FindPath(deployment, "spec.template.spec.containers.-1"), nullptr);
  EXPECT_EQ(FindPath(deployment, ""), nullptr);
}

TEST(GetFieldTest, ReturnsTypedValues) {
  json::object deployment = ParseOrDie(kDeployment);
  EXPECT_EQ(GetString(deployment, "metadata.name").value_or(""), "web");
  EXPECT_EQ(GetInt64(deployment, "spec.replicas").value_or(-1), 3);
  EXPECT_EQ(GetBool(deployment, "spec.paused").value_or(true), false);
  Result<const json::object*> labels = GetObject(deployment, "metadata.labels");
  ASSERT_TRUE(labels.ok());
  EXPECT_TRUE((*labels)->contains("app.kubernetes.io/name"));
  Result<const json::array*> containers = GetArray(deployment, "spec.template.spec.containers");
  ASSERT_TRUE(containers.ok());
  EXPECT_EQ((*containers)->size(), 1u);
}

TEST(GetFieldTest, WrongTypeNamesFieldPath) {
  json::object deployment = ParseOrDie(kDeployment);
  Result<std::int64_t> replicas = GetInt64(deployment, "metadata.name");
  ASSERT_FALSE(replicas.ok());
  EXPECT_EQ(replicas.status(), InvalidArgumentError("metadata.name: expected integer, got string"));
  EXPECT_EQ(GetString(deployment, "spec.replicas").status().message(),
            "spec.replicas: expected string, got 3");
  EXPECT_EQ(GetArray(deployment, "spec").status().message(), "spec: expected array, got object");
}

TEST(GetFieldTest, MissingAndNullAreReportedAsMissing) {
  json::object deployment = ParseOrDie(kDeployment);
  EXPECT_EQ(GetString(deployment, "metadata.namespace").status().message(),
            "metadata.namespace: required field is missing");
  EXPECT_EQ(GetString(deployment, "metadata.uid").status().message(),
            "metadata.uid: required field is missing");
}

TEST(GetFieldTest, IntegersMustBeExact) {
  json::object numbers = ParseOrDie(R"({"whole": 3.0, "half": 2.5, "huge": 1e30,
                                        "max": 9223372036854775807, "over": 18446744073709551615})");
  EXPECT_EQ(GetInt64(numbers, "whole").value_or(-1), 3);
  EXPECT_EQ(GetInt64(numbers, "max").value_or(-1), INT64_MAX);
  EXPECT_EQ(GetInt64(numbers, "half").status().message(), "half: expected integer, got 2.5E0");
  EXPECT_FALSE(GetInt64(numbers, "huge").ok());
  EXPECT_FALSE(GetInt64(numbers, "over").ok());
}

TEST(FindFieldTest, AbsentIsNotAnError) {
  json::object deployment = ParseOrDie(kDeployment);
  Result<std::optional<std::string>> ns = FindString(deployment, "metadata.namespace");
  ASSERT_TRUE(ns.ok());
  EXPECT_FALSE(ns->has_value());
  EXPECT_FALSE(FindString(deployment, "metadata.uid")->has_value());
  EXPECT_EQ(FindInt64(deployment, "spec.replicas")->value_or(-1), 3);
  EXPECT_FALSE(FindBool(deployment, "spec.suspend")->has_value());
  EXPECT_EQ(*FindObject(deployment, "spec.selector"), nullptr);
  EXPECT_EQ(*FindArray(deployment, "spec.template.spec.volumes"), nullptr);
  EXPECT_NE(*FindArray(deployment, "spec.template.spec.containers"), nullptr);
}

TEST(FindFieldTest, PresentWithWrongTypeIsAnError) {
  json::object deployment = ParseOrDie(kDeployment);
  EXPECT_EQ(FindBool(deployment, "spec.replicas").status().message(),
            "spec.replicas: expected boolean, got 3");
  EXPECT_EQ(FindObject(deployment, "kind").status().message(), "kind: expected object, got string");
}

}  // namespace
}  // namespace kelp
