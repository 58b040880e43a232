// Tests of the patch engine: the examples of RFC 6902 and RFC 7386 appendix A (written here as
// our own cases), the strategic merge patches kubectl 1.32 sends for scale, edit, apply and
// delete, the merge keys of KubernetesPatchSchema, and the errors and limits.
#include "api/patch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "common/json.h"

namespace kelp::api {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

json::value Json(std::string_view text) {
  Result<json::value> parsed = ParseJson(text);
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString() << " in " << text;
  return parsed.ok() ? *parsed : json::value();
}

void ExpectJsonPatch(std::string_view target, std::string_view patch, std::string_view expected) {
  Result<json::value> result = ApplyJsonPatch(Json(target), patch);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(*result, Json(expected));
}

// Applies a patch that must fail with InvalidArgument; returns the message.
std::string JsonPatchError(std::string_view target, std::string_view patch) {
  Result<json::value> result = ApplyJsonPatch(Json(target), patch);
  EXPECT_FALSE(result.ok()) << "patched into " << SerializeJson(result.value_or(json::value()));
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  return result.status().message();
}

void ExpectMergePatch(std::string_view target, std::string_view patch, std::string_view expected) {
  Result<json::value> result = ApplyMergePatch(Json(target), patch);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(*result, Json(expected));
}

// ---- RFC 6902 appendix A ---------------------------------------------------------------------

TEST(JsonPatchRfcExamples, A1AddsAnObjectMember) {
  ExpectJsonPatch(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])",
                  R"({"baz":"qux","foo":"bar"})");
}

TEST(JsonPatchRfcExamples, A2AddsAnArrayElement) {
  ExpectJsonPatch(R"({"foo":["bar","baz"]})", R"([{"op":"add","path":"/foo/1","value":"qux"}])",
                  R"({"foo":["bar","qux","baz"]})");
}

TEST(JsonPatchRfcExamples, A3RemovesAnObjectMember) {
  ExpectJsonPatch(R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])",
                  R"({"foo":"bar"})");
}

TEST(JsonPatchRfcExamples, A4RemovesAnArrayElement) {
  ExpectJsonPatch(R"({"foo":["bar","qux","baz"]})", R"([{"op":"remove","path":"/foo/1"}])",
                  R"({"foo":["bar","baz"]})");
}

TEST(JsonPatchRfcExamples, A5ReplacesAValue) {
  ExpectJsonPatch(R"({"baz":"qux","foo":"bar"})",
                  R"([{"op":"replace","path":"/baz","value":"boo"}])",
                  R"({"baz":"boo","foo":"bar"})");
}

TEST(JsonPatchRfcExamples, A6MovesAValue) {
  ExpectJsonPatch(R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
                  R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])",
                  R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})");
}

TEST(JsonPatchRfcExamples, A7MovesAnArrayElement) {
  ExpectJsonPatch(R"({"foo":["all","grass","cows","eat"]})",
                  R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])",
                  R"({"foo":["all","cows","eat","grass"]})");
}

TEST(JsonPatchRfcExamples, A8TestsValuesSuccessfully) {
  ExpectJsonPatch(R"({"baz":"qux","foo":["a",2,"c"]})",
                  R"([{"op":"test","path":"/baz","value":"qux"},
                      {"op":"test","path":"/foo/1","value":2}])",
                  R"({"baz":"qux","foo":["a",2,"c"]})");
}

TEST(JsonPatchRfcExamples, A9FailedTestRejectsThePatch) {
  std::string message =
      JsonPatchError(R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])");
  EXPECT_EQ(message, "jsonpatch test operation does not apply: value differs at path: /baz");
}

TEST(JsonPatchRfcExamples, A10AddsANestedMemberObject) {
  ExpectJsonPatch(R"({"foo":"bar"})", R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])",
                  R"({"foo":"bar","child":{"grandchild":{}}})");
}

TEST(JsonPatchRfcExamples, A11IgnoresUnrecognizedMembers) {
  ExpectJsonPatch(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])",
                  R"({"foo":"bar","baz":"qux"})");
}

TEST(JsonPatchRfcExamples, A12AddingToANonexistentTargetFails) {
  std::string message =
      JsonPatchError(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz/bat","value":"qux"}])");
  EXPECT_EQ(message, "jsonpatch add operation does not apply: doc is missing path: /baz/bat");
}

TEST(JsonPatchRfcExamples, A13DuplicateMemberNamesMakeThePatchInvalid) {
  std::string message = JsonPatchError(
      R"({"foo":"bar","baz":1})", R"([{"op":"add","path":"/baz","value":"qux","op":"remove"}])");
  EXPECT_THAT(message, HasSubstr("\"op\" appears twice"));
}

TEST(JsonPatchRfcExamples, A14EscapesAreDecodedInOrder) {
  ExpectJsonPatch(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])",
                  R"({"/":9,"~1":10})");
}

TEST(JsonPatchRfcExamples, A15StringsAndNumbersDiffer) {
  JsonPatchError(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":"10"}])");
}

TEST(JsonPatchRfcExamples, A16AddsAnArrayValue) {
  ExpectJsonPatch(R"({"foo":["bar"]})", R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])",
                  R"({"foo":["bar",["abc","def"]]})");
}

// ---- JSON Patch beyond the RFC examples ------------------------------------------------------

TEST(JsonPatch, CopiesAValue) {
  ExpectJsonPatch(R"({"a":{"b":1}})", R"([{"op":"copy","from":"/a","path":"/c"}])",
                  R"({"a":{"b":1},"c":{"b":1}})");
}

TEST(JsonPatch, ReplacesTheWholeDocumentAtTheEmptyPointer) {
  ExpectJsonPatch(R"({"a":1})", R"([{"op":"replace","path":"","value":{"b":2}}])", R"({"b":2})");
}

TEST(JsonPatch, TestComparesNumbersByValueAndObjectsWithoutOrder) {
  ExpectJsonPatch(R"({"n":1,"o":{"x":1,"y":2}})",
                  R"([{"op":"test","path":"/n","value":1.0},
                      {"op":"test","path":"/o","value":{"y":2,"x":1}}])",
                  R"({"n":1,"o":{"x":1,"y":2}})");
}

TEST(JsonPatch, ReplaceOfAMissingPathNamesThePath) {
  std::string message =
      JsonPatchError(R"({"spec":{}})", R"([{"op":"replace","path":"/spec/foo","value":1}])");
  EXPECT_EQ(message, "jsonpatch replace operation does not apply: doc is missing path: /spec/foo");
}

TEST(JsonPatch, AnyFailedOperationRejectsTheWholePatch) {
  JsonPatchError(R"({"a":1})", R"([{"op":"replace","path":"/a","value":2},
                                   {"op":"remove","path":"/b"}])");
}

TEST(JsonPatch, RejectsBadPointers) {
  EXPECT_THAT(JsonPatchError(R"({"a":1})", R"([{"op":"remove","path":"a"}])"),
              HasSubstr("must start with /"));
  EXPECT_THAT(JsonPatchError(R"({"a~":1})", R"([{"op":"remove","path":"/a~"}])"),
              HasSubstr("~ must be followed by 0 or 1"));
  JsonPatchError(R"({"a":[1,2]})", R"([{"op":"remove","path":"/a/01"}])");
  JsonPatchError(R"({"a":[1,2]})", R"([{"op":"remove","path":"/a/-"}])");
  JsonPatchError(R"({"a":[1,2]})", R"([{"op":"add","path":"/a/3","value":0}])");
}

TEST(JsonPatch, RejectsMalformedOperations) {
  JsonPatchError("{}", R"({"op":"add","path":"/a","value":1})");
  JsonPatchError("{}", R"([{"op":"frobnicate","path":"/a"}])");
  JsonPatchError("{}", R"([{"path":"/a","value":1}])");
  JsonPatchError("{}", R"([{"op":"add","path":"/a"}])");
  JsonPatchError(R"({"a":1})", R"([{"op":"move","path":"/b"}])");
  JsonPatchError("{}", R"([1])");
  JsonPatchError("{}", "[{");
}

TEST(JsonPatch, RejectsRemovingTheRootAndMovingIntoItself) {
  JsonPatchError(R"({"a":1})", R"([{"op":"remove","path":""}])");
  JsonPatchError(R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a/b/c"}])");
}

TEST(JsonPatch, CapsWhatCopyMayDuplicate) {
  std::string patch = R"([{"op":"add","path":"/a","value":[0,0,0,0,0,0,0,0]})";
  for (int i = 0; i < 24; ++i) patch += R"(,{"op":"copy","from":"/a","path":"/a/-"})";
  patch += "]";
  EXPECT_THAT(JsonPatchError("{}", patch), HasSubstr("duplicate more than"));
}

TEST(JsonPatch, CapsTheDepthTheDocumentCanReach) {
  std::string patch = R"([{"op":"add","path":"/a","value":{}})";
  std::string path = "/a";
  for (int i = 0; i < 140; ++i) {
    patch += R"(,{"op":"add","path":")" + path + R"(/a","value":{}})";
    path += "/a";
  }
  patch += "]";
  EXPECT_THAT(JsonPatchError("{}", patch), HasSubstr("deeper than"));
}

// ---- RFC 7386 --------------------------------------------------------------------------------

TEST(MergePatchRfcExamples, AppendixA) {
  ExpectMergePatch(R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})");
  ExpectMergePatch(R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})");
  ExpectMergePatch(R"({"a":"b"})", R"({"a":null})", R"({})");
  ExpectMergePatch(R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})");
  ExpectMergePatch(R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})");
  ExpectMergePatch(R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})");
  ExpectMergePatch(R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})");
  ExpectMergePatch(R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})");
  ExpectMergePatch(R"(["a","b"])", R"(["c","d"])", R"(["c","d"])");
  ExpectMergePatch(R"({"a":"b"})", R"(["c"])", R"(["c"])");
  ExpectMergePatch(R"({"a":"foo"})", "null", "null");
  ExpectMergePatch(R"({"a":"foo"})", R"("bar")", R"("bar")");
  ExpectMergePatch(R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})");
  ExpectMergePatch(R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})");
  ExpectMergePatch(R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})");
}

TEST(MergePatchRfcExamples, Section3Example) {
  ExpectMergePatch(
      R"({"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},
          "tags":["example","sample"],"content":"This will be unchanged"})",
      R"({"title":"Hello!","phoneNumber":"+01-123-456-7890","author":{"familyName":null},
          "tags":["example"]})",
      R"({"title":"Hello!","author":{"givenName":"John"},"tags":["example"],
          "content":"This will be unchanged","phoneNumber":"+01-123-456-7890"})");
}

TEST(MergePatch, KubectlScaleSetsReplicas) {
  ExpectMergePatch(R"({"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}}}})",
                   R"({"spec":{"replicas":1}})",
                   R"({"spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}}}})");
}

TEST(MergePatch, RejectsMalformedJson) {
  Result<json::value> result = ApplyMergePatch(Json("{}"), R"({"spec":)");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
}

// ---- Strategic merge patch -------------------------------------------------------------------

constexpr std::string_view kDeployment = R"({
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "web", "labels": {"app": "web"},
               "finalizers": ["example.com/a", "example.com/b"]},
  "spec": {
    "replicas": 3,
    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
    "template": {"spec": {
      "containers": [
        {"name": "nginx", "image": "nginx:1.22",
         "ports": [{"containerPort": 80, "protocol": "TCP"}],
         "env": [{"name": "A", "value": "1"}]},
        {"name": "sidecar", "image": "busybox", "args": ["sleep", "3600"]}
      ],
      "tolerations": [{"key": "k", "operator": "Exists"}]
    }}
  }
})";

json::value PatchDeployment(std::string_view patch) {
  Result<json::value> result =
      ApplyStrategicMergePatch(Json(kDeployment), patch, KubernetesPatchSchema());
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? *result : json::value();
}

std::string DeploymentPatchError(std::string_view patch) {
  Result<json::value> result =
      ApplyStrategicMergePatch(Json(kDeployment), patch, KubernetesPatchSchema());
  EXPECT_FALSE(result.ok()) << "patched into " << SerializeJson(result.value_or(json::value()));
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  return result.status().message();
}

// The containers of a patched Deployment.
json::value Containers(const json::value& deployment) {
  const json::value* containers = FindPath(deployment, "spec.template.spec.containers");
  return containers == nullptr ? json::value() : *containers;
}

TEST(StrategicMergePatch, KubectlEditChangesOneContainerImage) {
  json::value patched = PatchDeployment(R"({"spec":{"template":{"spec":{
      "$setElementOrder/containers":[{"name":"nginx"},{"name":"sidecar"}],
      "containers":[{"image":"nginx:1.23","name":"nginx"}]}}}})");
  json::value expected = Json(kDeployment);
  expected.at_pointer("/spec/template/spec/containers/0/image") = "nginx:1.23";
  EXPECT_EQ(patched, expected);
}

TEST(StrategicMergePatch, SetElementOrderReordersTheMergedList) {
  json::value patched = PatchDeployment(R"({"spec":{"template":{"spec":{
      "$setElementOrder/containers":[{"name":"sidecar"},{"name":"nginx"}]}}}})");
  EXPECT_EQ(FindPath(patched, "spec.template.spec.containers.0.name")->as_string(), "sidecar");
  EXPECT_EQ(FindPath(patched, "spec.template.spec.containers.1.name")->as_string(), "nginx");
}

TEST(StrategicMergePatch, KubectlApplyAddsAnEnvVarAndAPort) {
  json::value patched = PatchDeployment(R"({"spec":{"template":{"spec":{
      "$setElementOrder/containers":[{"name":"nginx"},{"name":"sidecar"}],
      "containers":[{"$setElementOrder/env":[{"name":"A"},{"name":"B"}],
                     "$setElementOrder/ports":[{"containerPort":80},{"containerPort":443}],
                     "env":[{"name":"B","value":"2"}],
                     "name":"nginx",
                     "ports":[{"containerPort":443}]}]}}}})");
  EXPECT_EQ(Containers(patched), Json(R"([
      {"name":"nginx","image":"nginx:1.22",
       "ports":[{"containerPort":80,"protocol":"TCP"},{"containerPort":443}],
       "env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},
      {"name":"sidecar","image":"busybox","args":["sleep","3600"]}])"));
}

TEST(StrategicMergePatch, PatchDeleteRemovesAContainerByMergeKey) {
  json::value patched = PatchDeployment(R"({"spec":{"template":{"spec":{
      "$setElementOrder/containers":[{"name":"nginx"}],
      "containers":[{"$patch":"delete","name":"sidecar"}]}}}})");
  ASSERT_TRUE(Containers(patched).is_array());
  ASSERT_EQ(Containers(patched).as_array().size(), 1u);
  EXPECT_EQ(FindPath(patched, "spec.template.spec.containers.0.name")->as_string(), "nginx");
}

TEST(StrategicMergePatch, PatchReplaceInAListReplacesTheWholeList) {
  json::value patched = PatchDeployment(R"({"spec":{"template":{"spec":{
      "containers":[{"$patch":"replace"},{"name":"only","image":"x"}]}}}})");
  EXPECT_EQ(Containers(patched), Json(R"([{"name":"only","image":"x"}])"));
}

TEST(StrategicMergePatch, PatchReplaceOnAMapReplacesTheMap) {
  json::value patched =
      PatchDeployment(R"({"spec":{"strategy":{"$patch":"replace","type":"Recreate"}}})");
  EXPECT_EQ(*FindPath(patched, "spec.strategy"), Json(R"({"type":"Recreate"})"));
}

TEST(StrategicMergePatch, PatchDeleteOnAMapEmptiesItAsKubernetesDoes) {
  json::value patched = PatchDeployment(R"({"spec":{"strategy":{"$patch":"delete"}}})");
  EXPECT_EQ(*FindPath(patched, "spec.strategy"), json::object());
}

TEST(StrategicMergePatch, PatchMergeOnAMapMerges) {
  json::value patched =
      PatchDeployment(R"({"metadata":{"labels":{"$patch":"merge","tier":"front"}}})");
  EXPECT_EQ(*FindPath(patched, "metadata.labels"), Json(R"({"app":"web","tier":"front"})"));
}

TEST(StrategicMergePatch, RetainKeysDropsFieldsNotListed) {
  json::value patched = PatchDeployment(
      R"({"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":null,"type":"Recreate"}}})");
  EXPECT_EQ(*FindPath(patched, "spec.strategy"), Json(R"({"type":"Recreate"})"));
}

TEST(StrategicMergePatch, RetainKeysRejectsAPatchedFieldNotListed) {
  EXPECT_THAT(DeploymentPatchError(R"({"spec":{"strategy":{"$retainKeys":["type"],
                  "type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}})"),
              HasSubstr("not listed in $retainKeys"));
}

TEST(StrategicMergePatch, DeleteFromPrimitiveListRemovesAFinalizer) {
  json::value patched =
      PatchDeployment(R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["example.com/a"]}})");
  EXPECT_EQ(*FindPath(patched, "metadata.finalizers"), Json(R"(["example.com/b"])"));
}

TEST(StrategicMergePatch, FinalizersMergeAsASet) {
  json::value patched =
      PatchDeployment(R"({"metadata":{"finalizers":["example.com/b","example.com/c"]}})");
  EXPECT_EQ(*FindPath(patched, "metadata.finalizers"),
            Json(R"(["example.com/a","example.com/b","example.com/c"])"));
}

TEST(StrategicMergePatch, NullLabelsDeleteTheLabels) {
  json::value patched = PatchDeployment(R"({"metadata":{"labels":null}})");
  EXPECT_EQ(FindPath(patched, "metadata.labels"), nullptr);
  EXPECT_EQ(FindPath(patched, "metadata.name")->as_string(), "web");
}

TEST(StrategicMergePatch, ListsWithoutAMergeKeyAreReplaced) {
  json::value patched = PatchDeployment(R"({"spec":{"template":{"spec":{
      "tolerations":[{"key":"other","operator":"Exists"}],
      "containers":[{"name":"sidecar","args":["sleep","1"]}]}}}})");
  EXPECT_EQ(*FindPath(patched, "spec.template.spec.tolerations"),
            Json(R"([{"key":"other","operator":"Exists"}])"));
  EXPECT_EQ(*FindPath(patched, "spec.template.spec.containers.1.args"), Json(R"(["sleep","1"])"));
}

TEST(StrategicMergePatch, NewItemsFollowThePatchItemTheyWereSentAfter) {
  json::value target = Json(R"({"kind":"Pod","spec":{"containers":[
      {"name":"a"},{"name":"b"},{"name":"c"}]}})");
  Result<json::value> patched = ApplyStrategicMergePatch(
      target, R"({"spec":{"containers":[{"name":"b","image":"x"},{"name":"d"}]}})",
      KubernetesPatchSchema());
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ(*FindPath(*patched, "spec.containers"),
            Json(R"([{"name":"a"},{"name":"b","image":"x"},{"name":"d"},{"name":"c"}])"));
}

TEST(StrategicMergePatch, MergedListsKeepThePatchOrderWithStoredOnlyItemsInterleaved) {
  json::value target = Json(R"({"kind":"Pod","metadata":{"finalizers":["1","2","3"]},
      "spec":{"containers":[{"name":"1"},{"name":"2","image":"b"},{"name":"3"}]}})");
  Result<json::value> patched = ApplyStrategicMergePatch(target, R"({
      "metadata":{"finalizers":["3","1"]},
      "spec":{"containers":[{"name":"3","image":"c"},{"name":"1","image":"a"}]}})",
                                                         KubernetesPatchSchema());
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ(*FindPath(*patched, "metadata.finalizers"), Json(R"(["2","3","1"])"));
  EXPECT_EQ(
      *FindPath(*patched, "spec.containers"),
      Json(R"([{"name":"2","image":"b"},{"name":"3","image":"c"},{"name":"1","image":"a"}])"));
}

TEST(StrategicMergePatch, SetElementOrderMayNameItemsTheListDoesNotHave) {
  json::value target = Json(R"({"kind":"Pod","spec":{"containers":[{"name":"1"},{"name":"3"}]}})");
  Result<json::value> patched = ApplyStrategicMergePatch(target, R"({"spec":{
      "$setElementOrder/containers":[{"name":"3"},{"name":"2"},{"name":"1"}],
      "containers":[{"name":"3","image":"c"},{"name":"1","image":"a"}]}})",
                                                         KubernetesPatchSchema());
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ(*FindPath(*patched, "spec.containers"),
            Json(R"([{"name":"3","image":"c"},{"name":"1","image":"a"}])"));
}

TEST(StrategicMergePatch, PatchDeleteRemovesEveryDuplicateOfTheKey) {
  json::value target = Json(R"({"kind":"Pod","spec":{"containers":[
      {"name":"1"},{"name":"1"},{"name":"2","image":"a"},{"name":"3"}]}})");
  Result<json::value> patched = ApplyStrategicMergePatch(target, R"({"spec":{"containers":[
      {"name":"1","$patch":"delete"},{"name":"3","$patch":"delete"}]}})",
                                                         KubernetesPatchSchema());
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ(*FindPath(*patched, "spec.containers"), Json(R"([{"name":"2","image":"a"}])"));
}

TEST(StrategicMergePatch, MergeKeysCompareNumbersByValue) {
  json::value patched = PatchDeployment(R"({"spec":{"template":{"spec":{"containers":[
      {"name":"nginx","ports":[{"containerPort":80.0,"name":"http"}]}]}}}})");
  const json::value* ports = FindPath(patched, "spec.template.spec.containers.0.ports");
  ASSERT_NE(ports, nullptr);
  ASSERT_EQ(ports->as_array().size(), 1u);
  EXPECT_EQ(*FindPath(*ports, "0.protocol"), "TCP");
  EXPECT_EQ(*FindPath(*ports, "0.name"), "http");
}

TEST(StrategicMergePatch, NewListsAndMapsDropDirectivesAndNulls) {
  json::value target = Json(R"({"kind":"Pod","metadata":{"name":"p"},"spec":{}})");
  Result<json::value> patched = ApplyStrategicMergePatch(
      target, R"({"spec":{"containers":[{"name":"a","env":[{"$patch":"delete","name":"x"}],
                                          "image":null}]}})",
      KubernetesPatchSchema());
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ(*FindPath(*patched, "spec.containers"), Json(R"([{"name":"a","env":[]}])"));
}

TEST(StrategicMergePatch, ServicePortsMergeByPort) {
  json::value service = Json(R"({"kind":"Service","spec":{"ports":[
      {"port":80,"targetPort":8080},{"port":443,"targetPort":8443}]}})");
  Result<json::value> patched = ApplyStrategicMergePatch(
      service, R"({"spec":{"ports":[{"port":443,"targetPort":9443}]}})", KubernetesPatchSchema());
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ(*FindPath(*patched, "spec.ports"),
            Json(R"([{"port":80,"targetPort":8080},{"port":443,"targetPort":9443}])"));
}

// Without $setElementOrder, Kubernetes puts patch items that it cannot place relative to the
// stored ones (here the new Hostname address) before the stored-only items.
TEST(StrategicMergePatch, NodeConditionsAndAddressesMergeByType) {
  json::value node = Json(R"({"kind":"Node","status":{
      "conditions":[{"type":"Ready","status":"False"},{"type":"MemoryPressure","status":"False"}],
      "addresses":[{"type":"InternalIP","address":"192.168.206.20"}]}})");
  Result<json::value> patched = ApplyStrategicMergePatch(node, R"({"status":{
      "conditions":[{"type":"Ready","status":"True"}],
      "addresses":[{"type":"Hostname","address":"node01"}]}})",
                                                         KubernetesPatchSchema());
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ(*FindPath(*patched, "status"), Json(R"({
      "conditions":[{"type":"Ready","status":"True"},{"type":"MemoryPressure","status":"False"}],
      "addresses":[{"type":"Hostname","address":"node01"},
                   {"type":"InternalIP","address":"192.168.206.20"}]})"));
}

TEST(StrategicMergePatch, ConfigMapDataMergesAsAPlainMap) {
  json::value config_map = Json(R"({"kind":"ConfigMap","data":{"a":"1","b":"2"}})");
  Result<json::value> patched = ApplyStrategicMergePatch(
      config_map, R"({"data":{"a":null,"c":"3"}})", KubernetesPatchSchema());
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ(*FindPath(*patched, "data"), Json(R"({"b":"2","c":"3"})"));
}

TEST(StrategicMergePatch, RejectsMalformedJson) { DeploymentPatchError(R"({"spec":{)"); }

TEST(StrategicMergePatch, RejectsAPatchThatIsNotAnObject) {
  EXPECT_EQ(DeploymentPatchError(R"([{"op":"add"}])"),
            "strategic merge patch must be a JSON object");
  DeploymentPatchError(R"("spec")");
}

TEST(StrategicMergePatch, RejectsAListItemMissingItsMergeKey) {
  EXPECT_EQ(DeploymentPatchError(
                R"({"spec":{"template":{"spec":{"containers":[{"image":"nginx:1.23"}]}}}})"),
            "spec.template.spec.containers: list item does not contain the merge key \"name\"");
  DeploymentPatchError(
      R"({"spec":{"template":{"spec":{"containers":[{"$patch":"delete","image":"x"}]}}}})");
}

TEST(StrategicMergePatch, RejectsUnknownDirectives) {
  EXPECT_THAT(DeploymentPatchError(R"({"metadata":{"$bogus":1}})"),
              HasSubstr("unknown patch directive \"$bogus\""));
  EXPECT_THAT(DeploymentPatchError(R"({"spec":{"$patch":"explode"}})"),
              HasSubstr("unknown patch directive \"$patch: explode\""));
  DeploymentPatchError(
      R"({"spec":{"template":{"spec":{"containers":[{"$patch":7,"name":"a"}]}}}})");
  DeploymentPatchError(R"({"metadata":{"$setElementOrder/finalizers":"x"}})");
  DeploymentPatchError(R"({"spec":{"strategy":{"$retainKeys":"type"}}})");
}

TEST(StrategicMergePatch, RejectsMixedListElementTypes) {
  DeploymentPatchError(R"({"spec":{"template":{"spec":{"containers":["nginx"]}}}})");
}

// ---- Limits ----------------------------------------------------------------------------------

TEST(PatchLimits, RejectPatchesOverOneMebibyte) {
  std::string big = R"({"a":")" + std::string(kMaxPatchBytes, 'x') + R"("})";
  EXPECT_THAT(ApplyMergePatch(Json("{}"), big).status().message(), HasSubstr("larger than"));
  EXPECT_FALSE(ApplyStrategicMergePatch(Json("{}"), big, KubernetesPatchSchema()).ok());
  EXPECT_FALSE(ApplyJsonPatch(Json("{}"), big).ok());
}

TEST(PatchLimits, RejectPatchesNestedDeeperThanTheLimit) {
  std::string deep;
  for (std::size_t i = 0; i < kMaxPatchDepth + 1; ++i) deep += R"({"a":)";
  deep += "1" + std::string(kMaxPatchDepth + 1, '}');
  Status status = ApplyStrategicMergePatch(Json("{}"), deep, KubernetesPatchSchema()).status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("deeper than 64"));
  EXPECT_FALSE(ApplyMergePatch(Json("{}"), deep).ok());

  std::string at_limit;
  for (std::size_t i = 0; i < kMaxPatchDepth; ++i) at_limit += R"({"a":)";
  at_limit += "1" + std::string(kMaxPatchDepth, '}');
  EXPECT_TRUE(ApplyMergePatch(Json("{}"), at_limit).ok());
}

// ---- Schema ----------------------------------------------------------------------------------

TEST(KubernetesPatchSchema, KnowsTheMergeKeysOfBuiltInKinds) {
  const PatchSchema& schema = KubernetesPatchSchema();
  auto merge_key = [&](std::string_view kind, std::string_view path) -> std::string {
    const ListMergeRule* rule = schema.FindListRule(kind, path);
    return rule == nullptr ? "<replace>" : rule->merge_key;
  };
  EXPECT_EQ(merge_key("Deployment", "spec.template.spec.containers"), "name");
  EXPECT_EQ(merge_key("DaemonSet", "spec.template.spec.initContainers.env"), "name");
  EXPECT_EQ(merge_key("ReplicaSet", "spec.template.spec.containers.ports"), "containerPort");
  EXPECT_EQ(merge_key("Pod", "spec.containers.volumeMounts"), "mountPath");
  EXPECT_EQ(merge_key("Pod", "spec.volumes"), "name");
  EXPECT_EQ(merge_key("Pod", "spec.imagePullSecrets"), "name");
  EXPECT_EQ(merge_key("Service", "spec.ports"), "port");
  EXPECT_EQ(merge_key("Node", "status.addresses"), "type");
  EXPECT_EQ(merge_key("HorizontalPodAutoscaler", "status.conditions"), "type");
  EXPECT_EQ(merge_key("Secret", "metadata.ownerReferences"), "uid");
  EXPECT_EQ(merge_key("ConfigMap", "metadata.finalizers"), "");
  EXPECT_EQ(merge_key("Pod", "spec.tolerations"), "<replace>");
  EXPECT_EQ(merge_key("Pod", "spec.containers.args"), "<replace>");
  EXPECT_EQ(merge_key("Endpoints", "subsets"), "<replace>");
  EXPECT_EQ(merge_key("Pod", "spec.template.spec.containers"), "<replace>");
}

TEST(PatchSchema, AnEmptySchemaReplacesEveryList) {
  Result<json::value> patched = ApplyStrategicMergePatch(
      Json(kDeployment), R"({"spec":{"template":{"spec":{"containers":[{"name":"x"}]}}}})",
      PatchSchema());
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ(Containers(*patched), Json(R"([{"name":"x"}])"));
}

}  // namespace
}  // namespace kelp::api
