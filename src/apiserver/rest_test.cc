// Unit tests of the REST handlers and discovery against a real SqliteStore in a temp dir and a
// FakeClock: requests go straight to RestApi::Handle / the Router, no network.
#include "apiserver/rest.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "apiserver/discovery.h"
#include "apiserver/objects.h"
#include "common/testing/fake_clock.h"
#include "common/testing/temp_dir.h"
#include "storage/sqlite/sqlite_store.h"

namespace kelp::apiserver {
namespace {

namespace json = boost::json;

constexpr const char* kDeployment = R"({"apiVersion":"apps/v1","kind":"Deployment",
  "metadata":{"name":"nginx1","labels":{"app":"nginx1"}},
  "spec":{"replicas":3,"selector":{"matchLabels":{"app":"nginx1"}},
          "template":{"metadata":{"labels":{"app":"nginx1"}},
                      "spec":{"containers":[{"name":"nginx","image":"nginx:1.22"}]}}}})";

class RestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::sqlite::SqliteStore::Open((dir_.path() / "state.db").string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    api_ = std::make_unique<RestApi>(*store_, clock_);
    ASSERT_TRUE(api_->EnsureDefaultNamespaces().ok());
  }

  HttpResponse Send(std::string method, std::string target, std::string body = "",
                    std::string content_type = "application/json") {
    return api_->Handle(MakeRequest(std::move(method), std::move(target),
                                    {{"Content-Type", std::move(content_type)}}, std::move(body)));
  }

  static json::object Body(const HttpResponse& response) {
    boost::system::error_code error;
    json::value value = json::parse(response.body, error);
    EXPECT_FALSE(error) << response.body;
    return value.is_object() ? value.as_object() : json::object();
  }

  void CreateNamespace(const std::string& name) {
    HttpResponse created = Send("POST", "/api/v1/namespaces",
                                R"({"metadata":{"name":")" + name + R"("}})");
    ASSERT_EQ(created.status, 201) << created.body;
  }

  kelp::testing::ScopedTempDir dir_;
  kelp::testing::FakeClock clock_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<RestApi> api_;
};

TEST_F(RestTest, DefaultNamespacesAreActiveWithTheKubernetesFinalizer) {
  json::object list = Body(Send("GET", "/api/v1/namespaces"));
  EXPECT_EQ(list.at("kind"), "NamespaceList");
  std::vector<std::string> names;
  for (const json::value& item : list.at("items").as_array()) {
    names.push_back(std::string(item.at("metadata").at("name").as_string()));
    EXPECT_EQ(item.at("status").at("phase"), "Active");
    EXPECT_EQ(item.at("spec").at("finalizers"), (json::array{"kubernetes"}));
  }
  EXPECT_EQ(names, (std::vector<std::string>{"default", "kube-node-lease", "kube-public",
                                             "kube-system"}));
}

TEST_F(RestTest, CreateSetsServerMetadataAndGetReturnsTheObject) {
  CreateNamespace("abc");
  HttpResponse created = Send("POST", "/apis/apps/v1/namespaces/abc/deployments", kDeployment);
  ASSERT_EQ(created.status, 201) << created.body;
  json::object object = Body(created);
  const json::object& metadata = object.at("metadata").as_object();
  EXPECT_EQ(metadata.at("namespace"), "abc");
  EXPECT_EQ(metadata.at("creationTimestamp"), "2024-01-01T00:00:00Z");
  EXPECT_EQ(metadata.at("generation"), 1);
  EXPECT_EQ(metadata.at("uid").as_string().size(), 36u);
  EXPECT_EQ(metadata.at("uid").as_string()[14], '4');

  HttpResponse got = Send("GET", "/apis/apps/v1/namespaces/abc/deployments/nginx1");
  ASSERT_EQ(got.status, 200);
  json::object read = Body(got);
  EXPECT_EQ(read.at("apiVersion"), "apps/v1");
  EXPECT_EQ(read.at("kind"), "Deployment");
  EXPECT_EQ(read.at("metadata").at("resourceVersion"), metadata.at("resourceVersion"));
  EXPECT_EQ(read.at("spec").at("replicas"), 3);
}

TEST_F(RestTest, StoredValueHasNoResourceVersion) {
  ASSERT_EQ(Send("POST", "/api/v1/namespaces/default/configmaps",
                 R"({"metadata":{"name":"c","resourceVersion":"99"},"data":{"a":"b"}})")
                .status,
            201);
  Result<storage::KeyValue> kv = store_->Get("/registry/core/configmaps/default/c");
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(kv->value.find("resourceVersion"), std::string::npos) << kv->value;
}

TEST_F(RestTest, CreateOfAnExistingNameIsAlreadyExists) {
  CreateNamespace("abc");
  ASSERT_EQ(Send("POST", "/apis/apps/v1/namespaces/abc/deployments", kDeployment).status, 201);
  HttpResponse again = Send("POST", "/apis/apps/v1/namespaces/abc/deployments", kDeployment);
  EXPECT_EQ(again.status, 409);
  json::object status = Body(again);
  EXPECT_EQ(status.at("reason"), "AlreadyExists");
  EXPECT_EQ(status.at("message"), R"(deployments.apps "nginx1" already exists)");
  EXPECT_EQ(status.at("details").at("group"), "apps");
  EXPECT_EQ(status.at("details").at("kind"), "deployments");
}

TEST_F(RestTest, CreateInAMissingNamespaceIsNotFound) {
  HttpResponse response = Send("POST", "/api/v1/namespaces/nope/configmaps",
                               R"({"metadata":{"name":"c"}})");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(Body(response).at("message"), R"(namespaces "nope" not found)");
}

TEST_F(RestTest, CreateInATerminatingNamespaceIsForbidden) {
  CreateNamespace("abc");
  // A finalizer keeps the namespace Terminating after the delete.
  ASSERT_EQ(Send("PATCH", "/api/v1/namespaces/abc", R"({"metadata":{"finalizers":["test/hold"]}})",
                 "application/merge-patch+json")
                .status,
            200);
  ASSERT_EQ(Send("DELETE", "/api/v1/namespaces/abc").status, 200);
  HttpResponse response = Send("POST", "/api/v1/namespaces/abc/configmaps",
                               R"({"metadata":{"name":"c"}})");
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(Body(response).at("message"),
            R"(configmaps "c" is forbidden: unable to create new content in namespace abc )"
            "because it is being terminated");
}

TEST_F(RestTest, GenerateNameAddsAFiveCharacterSuffix) {
  HttpResponse created = Send("POST", "/api/v1/namespaces/default/configmaps",
                              R"({"metadata":{"generateName":"cfg-"}})");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string name(Body(created).at("metadata").at("name").as_string());
  ASSERT_EQ(name.size(), 9u);
  EXPECT_EQ(name.rfind("cfg-", 0), 0u);
  EXPECT_EQ(name.substr(4).find_first_not_of("bcdfghjklmnpqrstvwxz2456789"), std::string::npos);
}

TEST_F(RestTest, MissingNameIsInvalid) {
  HttpResponse response = Send("POST", "/api/v1/namespaces/default/configmaps", R"({"data":{}})");
  EXPECT_EQ(response.status, 422);
  EXPECT_EQ(Body(response).at("details").at("causes").at(0).at("field"), "metadata.name");
}

TEST_F(RestTest, UnknownContentTypeIsUnsupportedMediaType) {
  HttpResponse response = Send("POST", "/api/v1/namespaces", "x: y", "text/csv");
  EXPECT_EQ(response.status, 415);
  EXPECT_EQ(Body(response).at("reason"), "UnsupportedMediaType");
}

TEST_F(RestTest, ProtobufBodyWithAnUnknownKindIsUnsupportedMediaType) {
  // Magic, then runtime.Unknown{typeMeta{apiVersion "v1", kind "Nope"}}.
  std::string body("k8s\0\x0a\x0a\x0a\x02v1\x12\x04Nope", 16);
  HttpResponse response =
      Send("POST", "/api/v1/namespaces", body, "application/vnd.kubernetes.protobuf");
  EXPECT_EQ(response.status, 415) << response.body;
}

TEST_F(RestTest, UpdateWithAStaleResourceVersionIsConflict) {
  CreateNamespace("abc");
  json::object created = Body(Send("POST", "/apis/apps/v1/namespaces/abc/deployments", kDeployment));
  json::object update = created;
  update["spec"].as_object()["replicas"] = 5;
  HttpResponse updated =
      Send("PUT", "/apis/apps/v1/namespaces/abc/deployments/nginx1", json::serialize(update));
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(Body(updated).at("metadata").at("generation"), 2);

  HttpResponse stale =
      Send("PUT", "/apis/apps/v1/namespaces/abc/deployments/nginx1", json::serialize(update));
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(Body(stale).at("message"),
            "Operation cannot be fulfilled on deployments.apps \"nginx1\": the object has been "
            "modified; please apply your changes to the latest version and try again");
}

TEST_F(RestTest, StatusSubresourceChangesOnlyStatus) {
  CreateNamespace("abc");
  ASSERT_EQ(Send("POST", "/apis/apps/v1/namespaces/abc/deployments", kDeployment).status, 201);
  HttpResponse response = Send("PUT", "/apis/apps/v1/namespaces/abc/deployments/nginx1/status",
                               R"({"spec":{"replicas":9},"status":{"replicas":2}})");
  ASSERT_EQ(response.status, 200) << response.body;
  json::object object = Body(response);
  EXPECT_EQ(object.at("spec").at("replicas"), 3);
  EXPECT_EQ(object.at("status").at("replicas"), 2);
  EXPECT_EQ(object.at("metadata").at("generation"), 1);
}

TEST_F(RestTest, ScaleReadsAndMergePatchesReplicas) {
  CreateNamespace("abc");
  ASSERT_EQ(Send("POST", "/apis/apps/v1/namespaces/abc/deployments", kDeployment).status, 201);
  json::object scale = Body(Send("GET", "/apis/apps/v1/namespaces/abc/deployments/nginx1/scale"));
  EXPECT_EQ(scale.at("apiVersion"), "autoscaling/v1");
  EXPECT_EQ(scale.at("kind"), "Scale");
  EXPECT_EQ(scale.at("spec").at("replicas"), 3);
  EXPECT_EQ(scale.at("status").at("selector"), "app=nginx1");

  HttpResponse patched = Send("PATCH", "/apis/apps/v1/namespaces/abc/deployments/nginx1/scale",
                              R"({"spec":{"replicas":1}})", "application/merge-patch+json");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(Body(patched).at("spec").at("replicas"), 1);
  json::object deployment = Body(Send("GET", "/apis/apps/v1/namespaces/abc/deployments/nginx1"));
  EXPECT_EQ(deployment.at("spec").at("replicas"), 1);
  EXPECT_EQ(deployment.at("metadata").at("generation"), 2);
}

TEST_F(RestTest, BindingSetsNodeNameAndPodScheduledTrue) {
  ASSERT_EQ(Send("POST", "/api/v1/namespaces/default/pods",
                 R"({"metadata":{"name":"web"},"spec":{"containers":[{"name":"c","image":"i"}]},
                     "status":{"conditions":[{"type":"PodScheduled","status":"False",
                       "reason":"Unschedulable","message":"0/1 nodes are available"}]}})")
                .status,
            201);
  HttpResponse bound = Send("POST", "/api/v1/namespaces/default/pods/web/binding",
                            R"({"metadata":{"name":"web"},"target":{"kind":"Node","name":"n1"}})");
  ASSERT_EQ(bound.status, 201) << bound.body;
  json::object pod = Body(Send("GET", "/api/v1/namespaces/default/pods/web"));
  EXPECT_EQ(pod.at("spec").at("nodeName"), "n1");
  const json::array& conditions = pod.at("status").at("conditions").as_array();
  ASSERT_EQ(conditions.size(), 1u) << pod;
  EXPECT_EQ(conditions[0].at("type"), "PodScheduled");
  EXPECT_EQ(conditions[0].at("status"), "True");
  EXPECT_FALSE(conditions[0].as_object().contains("reason"));
  EXPECT_EQ(Send("POST", "/api/v1/namespaces/default/pods/web/binding",
                 R"({"metadata":{"name":"web"},"target":{"kind":"Node","name":"n2"}})")
                .status,
            409);
}

TEST_F(RestTest, StrategicMergePatchMerges) {
  HttpResponse response = Send("PATCH", "/api/v1/namespaces/default",
                               R"({"metadata":{"labels":{"team":"net"}}})",
                               "application/strategic-merge-patch+json");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(Body(response).at("metadata").at("labels").at("team"), "net");
  EXPECT_EQ(Body(response).at("metadata").at("name"), "default");
}

TEST_F(RestTest, ServerSideApplyCreatesWhenAbsentThenMergesIntoTheLiveObject) {
  const std::string target =
      "/api/v1/namespaces/default/configmaps/settings?fieldManager=kubectl&fieldValidation=Strict";
  HttpResponse created = Send("PATCH", target, R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
  size: "3"
)", "application/apply-patch+yaml");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Body(created).at("metadata").at("namespace"), "default");
  EXPECT_FALSE(Body(created).at("metadata").at("uid").as_string().empty());

  HttpResponse updated = Send("PATCH", target + "&force=true",
                              R"({"apiVersion":"v1","kind":"ConfigMap",
                                  "metadata":{"name":"settings","labels":{"team":"net"}},
                                  "data":{"color":"green"}})",
                              "application/apply-patch+yaml");
  ASSERT_EQ(updated.status, 200) << updated.body;
  HttpResponse got = Send("GET", "/api/v1/namespaces/default/configmaps/settings");
  json::object config = Body(got);
  EXPECT_EQ(config.at("data").at("color"), "green");
  EXPECT_EQ(config.at("data").at("size"), "3");  // no field ownership: other keys stay
  EXPECT_EQ(config.at("metadata").at("labels").at("team"), "net");
  EXPECT_EQ(config.at("metadata").at("uid"), Body(created).at("metadata").at("uid"));
}

TEST_F(RestTest, ServerSideApplyOfAnotherNameOrKindIsBadRequest) {
  const std::string target = "/api/v1/namespaces/default/configmaps/settings";
  EXPECT_EQ(Send("PATCH", target, R"({"kind":"ConfigMap","metadata":{"name":"other"}})",
                 "application/apply-patch+yaml").status,
            400);
  EXPECT_EQ(Send("PATCH", target, R"({"apiVersion":"apps/v1","kind":"Deployment"})",
                 "application/apply-patch+yaml").status,
            400);
  EXPECT_EQ(Send("PATCH", target, "- not a map", "application/apply-patch+yaml").status, 400);
  EXPECT_EQ(Send("GET", target).status, 404);
}

TEST_F(RestTest, HpaIsStoredAsV2AndServedInTheVersionAsked) {
  CreateNamespace("abc");
  HttpResponse created = Send("POST", "/apis/autoscaling/v1/namespaces/abc/horizontalpodautoscalers",
      R"({"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler",
          "metadata":{"name":"nginx1"},
          "spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"nginx1"},
                  "minReplicas":1,"maxReplicas":5,"targetCPUUtilizationPercentage":50}})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Body(created).at("spec").at("targetCPUUtilizationPercentage"), 50);

  Result<storage::KeyValue> kv =
      store_->Get("/registry/autoscaling/horizontalpodautoscalers/abc/nginx1");
  ASSERT_TRUE(kv.ok());
  json::object stored = json::parse(kv->value).as_object();
  EXPECT_EQ(stored.at("apiVersion"), "autoscaling/v2");
  EXPECT_EQ(stored.at("spec").at("metrics").at(0).at("resource").at("target")
                .at("averageUtilization"), 50);

  HttpResponse v2 = Send("GET", "/apis/autoscaling/v2/namespaces/abc/horizontalpodautoscalers");
  ASSERT_EQ(v2.status, 200) << v2.body;
  json::object item = Body(v2).at("items").at(0).as_object();
  EXPECT_EQ(item.at("apiVersion"), "autoscaling/v2");
  EXPECT_EQ(item.at("spec").at("metrics").at(0).at("resource").at("name"), "cpu");
  EXPECT_FALSE(item.at("spec").as_object().contains("targetCPUUtilizationPercentage"));

  // A v1 write over the v2 object keeps the conversion on both sides.
  HttpResponse patched = Send(
      "PATCH", "/apis/autoscaling/v1/namespaces/abc/horizontalpodautoscalers/nginx1",
      R"({"spec":{"targetCPUUtilizationPercentage":70}})", "application/merge-patch+json");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(Body(patched).at("apiVersion"), "autoscaling/v1");
  HttpResponse v1 = Send("GET", "/apis/autoscaling/v1/namespaces/abc/horizontalpodautoscalers/nginx1");
  EXPECT_EQ(Body(v1).at("spec").at("targetCPUUtilizationPercentage"), 70);
  HttpResponse again = Send("GET", "/apis/autoscaling/v2/namespaces/abc/horizontalpodautoscalers/nginx1");
  EXPECT_EQ(Body(again).at("spec").at("metrics").as_array().size(), 1u);
  EXPECT_EQ(Body(again).at("spec").at("metrics").at(0).at("resource").at("target")
                .at("averageUtilization"), 70);
}

TEST_F(RestTest, DeleteReturnsTheObjectAndThenItIsGone) {
  ASSERT_EQ(Send("POST", "/api/v1/namespaces/default/configmaps", R"({"metadata":{"name":"c"}})")
                .status,
            201);
  HttpResponse deleted = Send("DELETE", "/api/v1/namespaces/default/configmaps/c",
                              R"({"propagationPolicy":"Background"})");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(Body(deleted).at("metadata").at("name"), "c");
  HttpResponse gone = Send("GET", "/api/v1/namespaces/default/configmaps/c");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(Body(gone).at("message"), R"(configmaps "c" not found)");
}

TEST_F(RestTest, FinalizersDelayDeletionUntilTheLastIsRemoved) {
  ASSERT_EQ(Send("POST", "/api/v1/namespaces/default/configmaps",
                 R"({"metadata":{"name":"c","finalizers":["example.com/x"]}})")
                .status,
            201);
  HttpResponse pending = Send("DELETE", "/api/v1/namespaces/default/configmaps/c");
  ASSERT_EQ(pending.status, 200);
  EXPECT_TRUE(Body(pending).at("metadata").as_object().contains("deletionTimestamp"));
  ASSERT_EQ(Send("GET", "/api/v1/namespaces/default/configmaps/c").status, 200);

  ASSERT_EQ(Send("PATCH", "/api/v1/namespaces/default/configmaps/c",
                 R"({"metadata":{"finalizers":null}})", "application/merge-patch+json")
                .status,
            200);
  EXPECT_EQ(Send("GET", "/api/v1/namespaces/default/configmaps/c").status, 404);
}

TEST_F(RestTest, ScheduledPodGetsAGracePeriodUnscheduledPodGoesAtOnce) {
  ASSERT_EQ(Send("POST", "/api/v1/namespaces/default/pods",
                 R"({"metadata":{"name":"a"},"spec":{"nodeName":"n1","containers":[]}})")
                .status,
            201);
  ASSERT_EQ(Send("POST", "/api/v1/namespaces/default/pods",
                 R"({"metadata":{"name":"b"},"spec":{"containers":[]}})")
                .status,
            201);
  json::object a = Body(Send("DELETE", "/api/v1/namespaces/default/pods/a"));
  EXPECT_EQ(a.at("metadata").at("deletionGracePeriodSeconds"), 30);
  EXPECT_EQ(a.at("metadata").at("deletionTimestamp"), "2024-01-01T00:00:30Z");
  EXPECT_EQ(Send("GET", "/api/v1/namespaces/default/pods/a").status, 200);
  ASSERT_EQ(Send("DELETE", "/api/v1/namespaces/default/pods/b").status, 200);
  EXPECT_EQ(Send("GET", "/api/v1/namespaces/default/pods/b").status, 404);
}

TEST_F(RestTest, DeletingANamespaceLeavesItTerminatingUntilFinalized) {
  CreateNamespace("abc");
  ASSERT_EQ(Send("POST", "/api/v1/namespaces/abc/configmaps", R"({"metadata":{"name":"c"}})")
                .status,
            201);
  HttpResponse deleted = Send("DELETE", "/api/v1/namespaces/abc");
  ASSERT_EQ(deleted.status, 200);
  EXPECT_EQ(Body(deleted).at("status").at("phase"), "Terminating");
  // Emptying it is the namespace controller's work.
  json::object terminating = Body(Send("GET", "/api/v1/namespaces/abc"));
  EXPECT_EQ(terminating.at("metadata").at("deletionTimestamp"), "2024-01-01T00:00:00Z");
  EXPECT_EQ(terminating.at("spec").at("finalizers"), (json::array{"kubernetes"}));
  EXPECT_EQ(Send("GET", "/api/v1/namespaces/abc/configmaps/c").status, 200);

  HttpResponse finalized = Send("PUT", "/api/v1/namespaces/abc/finalize",
                                R"({"metadata":{"name":"abc"},"spec":{"finalizers":[]}})");
  ASSERT_EQ(finalized.status, 200) << finalized.body;
  EXPECT_EQ(Send("GET", "/api/v1/namespaces/abc").status, 404);
}

TEST_F(RestTest, FinalizeChangesOnlySpecFinalizersAndNeedsAnExistingNamespace) {
  CreateNamespace("abc");
  HttpResponse finalized =
      Send("PUT", "/api/v1/namespaces/abc/finalize",
           R"({"metadata":{"name":"abc","labels":{"x":"y"}},"spec":{"finalizers":["example.com/a"]},
               "status":{"phase":"Terminating"}})");
  ASSERT_EQ(finalized.status, 200) << finalized.body;
  json::object ns = Body(Send("GET", "/api/v1/namespaces/abc"));
  EXPECT_EQ(ns.at("spec").at("finalizers"), (json::array{"example.com/a"}));
  EXPECT_FALSE(ns.at("metadata").as_object().contains("labels"));
  EXPECT_EQ(ns.at("status").at("phase"), "Active");
  EXPECT_EQ(Send("PUT", "/api/v1/namespaces/nope/finalize",
                 R"({"metadata":{"name":"nope"},"spec":{"finalizers":[]}})")
                .status,
            404);
  EXPECT_EQ(Send("POST", "/api/v1/namespaces/abc/finalize", "{}").status, 405);
}

TEST_F(RestTest, ANamespaceWaitsForItsMetadataFinalizersToo) {
  CreateNamespace("abc");
  ASSERT_EQ(Send("PATCH", "/api/v1/namespaces/abc", R"({"metadata":{"finalizers":["test/hold"]}})",
                 "application/merge-patch+json")
                .status,
            200);
  ASSERT_EQ(Send("DELETE", "/api/v1/namespaces/abc").status, 200);
  ASSERT_EQ(Send("PUT", "/api/v1/namespaces/abc/finalize",
                 R"({"metadata":{"name":"abc"},"spec":{"finalizers":[]}})")
                .status,
            200);
  EXPECT_EQ(Send("GET", "/api/v1/namespaces/abc").status, 200);
  ASSERT_EQ(Send("PATCH", "/api/v1/namespaces/abc", R"({"metadata":{"finalizers":null}})",
                 "application/merge-patch+json")
                .status,
            200);
  EXPECT_EQ(Send("GET", "/api/v1/namespaces/abc").status, 404);
}

TEST_F(RestTest, ANamespaceWithoutFinalizersGoesAtOnce) {
  ASSERT_EQ(Send("POST", "/api/v1/namespaces",
                 R"({"metadata":{"name":"abc"},"spec":{"finalizers":[]}})")
                .status,
            201);
  ASSERT_EQ(Send("DELETE", "/api/v1/namespaces/abc").status, 200);
  EXPECT_EQ(Send("GET", "/api/v1/namespaces/abc").status, 404);
}

TEST_F(RestTest, ForegroundDeletionWaitsBehindTheForegroundDeletionFinalizer) {
  ASSERT_EQ(Send("POST", "/apis/apps/v1/namespaces/default/deployments", kDeployment).status, 201);
  HttpResponse deleted = Send("DELETE", "/apis/apps/v1/namespaces/default/deployments/nginx1",
                              R"({"propagationPolicy":"Foreground"})");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  json::object pending = Body(Send("GET", "/apis/apps/v1/namespaces/default/deployments/nginx1"));
  EXPECT_EQ(pending.at("metadata").at("finalizers"), (json::array{"foregroundDeletion"}));
  EXPECT_EQ(pending.at("metadata").at("deletionTimestamp"), "2024-01-01T00:00:00Z");
  // The garbage collector removes the finalizer once the dependents are gone.
  ASSERT_EQ(Send("PATCH", "/apis/apps/v1/namespaces/default/deployments/nginx1",
                 R"({"metadata":{"finalizers":null}})", "application/merge-patch+json")
                .status,
            200);
  EXPECT_EQ(Send("GET", "/apis/apps/v1/namespaces/default/deployments/nginx1").status, 404);
}

TEST_F(RestTest, OrphanDeletionWaitsBehindTheOrphanFinalizer) {
  for (const char* name : {"a", "b"}) {
    ASSERT_EQ(Send("POST", "/apis/apps/v1/namespaces/default/replicasets",
                   std::string(R"({"metadata":{"name":")") + name +
                       R"("},"spec":{"selector":{"matchLabels":{"app":"x"}},
                           "template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[]}}}})")
                  .status,
              201);
  }
  ASSERT_EQ(Send("DELETE", "/apis/apps/v1/namespaces/default/replicasets/a?propagationPolicy=Orphan")
                .status,
            200);
  ASSERT_EQ(Send("DELETE", "/apis/apps/v1/namespaces/default/replicasets/b",
                 R"({"orphanDependents":true})")
                .status,
            200);
  for (const char* name : {"a", "b"}) {
    json::object pending =
        Body(Send("GET", std::string("/apis/apps/v1/namespaces/default/replicasets/") + name));
    EXPECT_EQ(pending.at("metadata").at("finalizers"), (json::array{"orphan"})) << name;
  }
}

TEST_F(RestTest, BackgroundDeletionRemovesTheOwnerAtOnce) {
  ASSERT_EQ(Send("POST", "/apis/apps/v1/namespaces/default/deployments", kDeployment).status, 201);
  ASSERT_EQ(Send("DELETE", "/apis/apps/v1/namespaces/default/deployments/nginx1",
                 R"({"propagationPolicy":"Background"})")
                .status,
            200);
  EXPECT_EQ(Send("GET", "/apis/apps/v1/namespaces/default/deployments/nginx1").status, 404);
}

TEST_F(RestTest, ForegroundDeletionOfAPodOnANodeKeepsItsGracePeriod) {
  ASSERT_EQ(Send("POST", "/api/v1/namespaces/default/pods",
                 R"({"metadata":{"name":"a"},"spec":{"nodeName":"n1","containers":[]}})")
                .status,
            201);
  ASSERT_EQ(Send("DELETE", "/api/v1/namespaces/default/pods/a",
                 R"({"propagationPolicy":"Foreground"})")
                .status,
            200);
  ASSERT_EQ(Send("PATCH", "/api/v1/namespaces/default/pods/a",
                 R"({"metadata":{"finalizers":null}})", "application/merge-patch+json")
                .status,
            200);
  json::object terminating = Body(Send("GET", "/api/v1/namespaces/default/pods/a"));
  EXPECT_EQ(terminating.at("metadata").at("deletionGracePeriodSeconds"), 30);
  // The kubelet's final delete.
  ASSERT_EQ(Send("DELETE", "/api/v1/namespaces/default/pods/a?gracePeriodSeconds=0").status, 200);
  EXPECT_EQ(Send("GET", "/api/v1/namespaces/default/pods/a").status, 404);
}

TEST_F(RestTest, ListFiltersByLabelSelector) {
  for (const char* body : {R"({"metadata":{"name":"a","labels":{"app":"x"}}})",
                           R"({"metadata":{"name":"b","labels":{"app":"y"}}})",
                           R"({"metadata":{"name":"c"}})"}) {
    ASSERT_EQ(Send("POST", "/api/v1/namespaces/default/configmaps", body).status, 201);
  }
  json::object selected = Body(Send("GET", "/api/v1/namespaces/default/configmaps?labelSelector=app%3Dx"));
  ASSERT_EQ(selected.at("items").as_array().size(), 1u);
  EXPECT_EQ(selected.at("items").at(0).at("metadata").at("name"), "a");
  json::object negated = Body(Send("GET", "/api/v1/namespaces/default/configmaps?labelSelector=app!%3Dx"));
  EXPECT_EQ(negated.at("items").as_array().size(), 2u);
  json::object set_based =
      Body(Send("GET", "/api/v1/namespaces/default/configmaps?labelSelector=app+in+(x,y)"));
  EXPECT_EQ(set_based.at("items").as_array().size(), 2u);
  EXPECT_EQ(Send("GET", "/api/v1/namespaces/default/configmaps?labelSelector=app+in+(x").status,
            400);
  EXPECT_EQ(Send("GET", "/api/v1/namespaces/default/configmaps?fieldSelector=spec.nodeName%3Dn")
                .status,
            400);
}

TEST_F(RestTest, ListPagesWithLimitAndContinueAtOneRevision) {
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_EQ(Send("POST", "/api/v1/namespaces/default/configmaps",
                   std::string(R"({"metadata":{"name":")") + name + R"("}})")
                  .status,
              201);
  }
  json::object first = Body(Send("GET", "/api/v1/namespaces/default/configmaps?limit=2"));
  ASSERT_EQ(first.at("items").as_array().size(), 2u);
  std::string token(first.at("metadata").at("continue").as_string());
  // Written after the first page: the continued list still reflects the first page's revision.
  ASSERT_EQ(Send("POST", "/api/v1/namespaces/default/configmaps", R"({"metadata":{"name":"d"}})")
                .status,
            201);
  json::object second =
      Body(Send("GET", "/api/v1/namespaces/default/configmaps?limit=2&continue=" + token));
  ASSERT_EQ(second.at("items").as_array().size(), 1u);
  EXPECT_EQ(second.at("items").at(0).at("metadata").at("name"), "c");
  EXPECT_FALSE(second.at("metadata").as_object().contains("continue"));
  EXPECT_EQ(second.at("metadata").at("resourceVersion"), first.at("metadata").at("resourceVersion"));
}

TEST_F(RestTest, ContinueFromACompactedRevisionIsExpired) {
  for (const char* name : {"a", "b"}) {
    ASSERT_EQ(Send("POST", "/api/v1/namespaces/default/configmaps",
                   std::string(R"({"metadata":{"name":")") + name + R"("}})")
                  .status,
              201);
  }
  json::object first = Body(Send("GET", "/api/v1/namespaces/default/configmaps?limit=1"));
  std::string token(first.at("metadata").at("continue").as_string());
  ASSERT_EQ(Send("DELETE", "/api/v1/namespaces/default/configmaps/b").status, 200);
  ASSERT_TRUE(store_->Compact(store_->CurrentRevision()).ok());
  HttpResponse expired =
      Send("GET", "/api/v1/namespaces/default/configmaps?limit=1&continue=" + token);
  EXPECT_EQ(expired.status, 410);
  EXPECT_EQ(Body(expired).at("reason"), "Expired");
  EXPECT_EQ(Send("GET", "/api/v1/namespaces/default/configmaps?continue=garbage").status, 400);
}

TEST_F(RestTest, WatchFromZeroSendsCurrentObjectsThenChanges) {
  HttpResponse response = Send("GET", "/api/v1/namespaces?watch=true&resourceVersion=0");
  ASSERT_EQ(response.status, 200);
  ASSERT_NE(response.stream, nullptr);
  std::optional<std::string> initial = response.stream->Next();
  ASSERT_TRUE(initial);
  EXPECT_NE(initial->find(R"({"type":"ADDED","object":{)"), std::string::npos);
  EXPECT_NE(initial->find(R"("name":"kube-system")"), std::string::npos);

  CreateNamespace("abc");
  std::optional<std::string> added;
  while (!added || added->empty()) added = response.stream->Next();
  EXPECT_NE(added->find(R"("type":"ADDED")"), std::string::npos);
  EXPECT_NE(added->find(R"("name":"abc")"), std::string::npos);
  EXPECT_EQ(added->back(), '\n');
}

TEST_F(RestTest, WatchFiltersByFieldSelectorAndSeesDeletion) {
  CreateNamespace("abc");
  const std::string from = std::to_string(store_->CurrentRevision());
  HttpResponse response = Send("GET", "/api/v1/namespaces?watch=true&resourceVersion=" + from +
                                          "&fieldSelector=metadata.name%3Dabc");
  ASSERT_NE(response.stream, nullptr);
  CreateNamespace("other");
  ASSERT_EQ(Send("DELETE", "/api/v1/namespaces/abc").status, 200);
  ASSERT_EQ(Send("PUT", "/api/v1/namespaces/abc/finalize",
                 R"({"metadata":{"name":"abc"},"spec":{"finalizers":[]}})")
                .status,
            200);
  std::string events;
  while (events.find("DELETED") == std::string::npos) {
    std::optional<std::string> chunk = response.stream->Next();
    ASSERT_TRUE(chunk);
    events += *chunk;
  }
  EXPECT_EQ(events.find(R"("name":"other")"), std::string::npos) << events;
  EXPECT_NE(events.find(R"({"type":"MODIFIED")"), std::string::npos) << events;
}

TEST_F(RestTest, WatchFromACompactedRevisionGetsAnExpiredErrorEvent) {
  CreateNamespace("abc");
  CreateNamespace("def");
  ASSERT_TRUE(store_->Compact(store_->CurrentRevision()).ok());
  HttpResponse response = Send("GET", "/api/v1/namespaces?watch=true&resourceVersion=1");
  EXPECT_EQ(response.status, 200);
  EXPECT_NE(response.body.find(R"("type":"ERROR")"), std::string::npos) << response.body;
  EXPECT_NE(response.body.find(R"("code":410)"), std::string::npos) << response.body;
}

TEST_F(RestTest, WatchEndsAtItsTimeout) {
  HttpResponse response =
      Send("GET", "/api/v1/namespaces?watch=true&resourceVersion=1&timeoutSeconds=0");
  ASSERT_NE(response.stream, nullptr);
  EXPECT_FALSE(response.stream->Next());
}

TEST_F(RestTest, LogAndExecAnswerServiceUnavailable) {
  EXPECT_EQ(Send("GET", "/api/v1/namespaces/default/pods/p/log").status, 503);
  EXPECT_EQ(Send("POST", "/api/v1/namespaces/default/pods/p/exec").status, 503);
}

TEST_F(RestTest, UnknownResourcesAndVerbsAreRejected) {
  EXPECT_EQ(Send("GET", "/api/v1/widgets").status, 404);
  EXPECT_EQ(Send("DELETE", "/api/v1/namespaces").status, 405);
  EXPECT_EQ(Send("GET", "/api/v1/namespaces/default/configmaps/..").status, 400);
}

TEST(DiscoveryTest, AggregatedDiscoveryListsResourcesWithResponseKinds) {
  Router router;
  AddDiscoveryRoutes(router);
  HttpResponse response = router.Handle(MakeRequest(
      "GET", "/apis",
      {{"Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                  "application/json"}},
      ""));
  EXPECT_EQ(response.content_type, kAggregatedDiscoveryContentType);
  json::value body = json::parse(response.body);
  const json::value& apps = body.at("items").at(0);
  EXPECT_EQ(apps.at("metadata").at("name"), "apps");
  const json::value& deployments = apps.at("versions").at(0).at("resources").at(0);
  EXPECT_EQ(deployments.at("resource"), "deployments");
  EXPECT_EQ(deployments.at("scope"), "Namespaced");
  EXPECT_EQ(deployments.at("shortNames"), (json::array{"deploy"}));
  EXPECT_EQ(deployments.at("subresources").at(0).at("responseKind").at("kind"), "Scale");

  HttpResponse legacy = router.Handle(MakeRequest("GET", "/api/v1", {}, ""));
  EXPECT_EQ(legacy.content_type, "application/json");
  EXPECT_NE(legacy.body.find(R"("name":"pods/status")"), std::string::npos);
}

TEST(ApplyPatchTest, DispatchesOnTheMediaType) {
  json::object deployment = json::parse(R"({"kind":"Deployment","spec":{"replicas":3,
      "template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.22"},
                                        {"name":"side","image":"busybox"}]}}}})").as_object();

  Result<json::object> merged =
      ApplyPatch("application/merge-patch+json", deployment, R"({"spec":{"replicas":1}})");
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(merged->at("spec").at("replicas"), 1);

  // Strategic merge keeps the other container: containers merge by name.
  Result<json::object> strategic =
      ApplyPatch("application/strategic-merge-patch+json", deployment,
                 R"({"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.23"}]}}}})");
  ASSERT_TRUE(strategic.ok()) << strategic.status().ToString();
  const json::array& containers =
      strategic->at("spec").at("template").at("spec").at("containers").as_array();
  ASSERT_EQ(containers.size(), 2u);
  EXPECT_EQ(containers[0].at("image"), "nginx:1.23");
  EXPECT_EQ(containers[1].at("image"), "busybox");

  Result<json::object> json_patch = ApplyPatch(
      "application/json-patch+json", deployment,
      R"([{"op":"replace","path":"/spec/replicas","value":5}])");
  ASSERT_TRUE(json_patch.ok()) << json_patch.status().ToString();
  EXPECT_EQ(json_patch->at("spec").at("replicas"), 5);

  Result<json::object> applied = ApplyPatch("application/apply-patch+yaml", deployment,
                                            "spec:\n  replicas: 2\n");
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(applied->at("spec").at("replicas"), 2);
  EXPECT_EQ(ApplyPatch("application/xml", deployment, "{}").status().code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(ApplyPatch("application/merge-patch+json", deployment, "[1]").status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ContinueTokenTest, RoundTripsAndRejectsGarbage) {
  std::string token = EncodeContinueToken({.revision = 12, .last_key = "/registry/core/x/a"});
  Result<ContinueToken> decoded = DecodeContinueToken(token);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->revision, 12);
  EXPECT_EQ(decoded->last_key, "/registry/core/x/a");
  EXPECT_FALSE(DecodeContinueToken("not-base64!").ok());
}

}  // namespace
}  // namespace kelp::apiserver
