// FakeApiClient behaves like the apiserver where controllers depend on it: server-owned
// metadata, optimistic concurrency, selectors, patches, subresources, deletion with finalizers
// and grace, watch from a resourceVersion, recorded actions and injected failures.
#include "client/testing/fake_api_client.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/json.h"
#include "common/testing/fake_clock.h"

namespace kelp::client::testing {
namespace {

namespace json = boost::json;

json::object Pod(std::string_view name, json::object labels = {}) {
  return {{"metadata", json::object{{"name", name}, {"labels", std::move(labels)}}},
          {"spec", json::object{{"containers", json::array{json::object{{"name", "c"},
                                                                        {"image", "nginx"}}}}}}};
}

std::string Str(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  return value && value->is_string() ? std::string(value->as_string()) : "";
}

class FakeApiClientTest : public ::testing::Test {
 protected:
  kelp::testing::FakeClock clock_;
  FakeApiClient client_{clock_};
};

TEST_F(FakeApiClientTest, CreateFillsServerOwnedMetadata) {
  Result<json::object> created = client_.Create(kPods, "default", Pod("web"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(Str(*created, "kind"), "Pod");
  EXPECT_EQ(Str(*created, "apiVersion"), "v1");
  EXPECT_EQ(Str(*created, "metadata.namespace"), "default");
  EXPECT_EQ(Str(*created, "metadata.uid").size(), 36u);
  EXPECT_EQ(Str(*created, "metadata.creationTimestamp"), "2024-01-01T00:00:00Z");
  EXPECT_FALSE(Str(*created, "metadata.resourceVersion").empty());
  EXPECT_EQ(Str(*created, "status.phase"), "Pending");
  EXPECT_EQ(FindPath(*created, "metadata.generation")->as_int64(), 1);

  Result<json::object> again = client_.Create(kPods, "default", Pod("web"));
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  Result<json::object> got = client_.Get(kPods, "default", "web");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, *created);
  EXPECT_EQ(client_.Get(kPods, "other", "web").status().code(), StatusCode::kNotFound);
}

TEST_F(FakeApiClientTest, GenerateNameMakesAUniqueName) {
  json::object pod = Pod("");
  pod["metadata"].as_object().erase("name");
  pod["metadata"].as_object()["generateName"] = "web-";
  Result<json::object> a = client_.Create(kPods, "default", pod);
  Result<json::object> b = client_.Create(kPods, "default", pod);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(Str(*a, "metadata.name").starts_with("web-"));
  EXPECT_EQ(Str(*a, "metadata.name").size(), 9u);
  EXPECT_NE(Str(*a, "metadata.name"), Str(*b, "metadata.name"));
}

TEST_F(FakeApiClientTest, UpdateIsConditionalAndBumpsGenerationOnSpecChange) {
  json::object created = *client_.Create(kDeployments, "default",
                                         {{"metadata", json::object{{"name", "d"}}},
                                          {"spec", json::object{{"replicas", 1}}}});
  json::object changed = created;
  changed["spec"].as_object()["replicas"] = 3;
  changed["status"] = json::object{{"replicas", 7}};
  Result<json::object> updated = client_.Update(kDeployments, changed);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(FindPath(*updated, "metadata.generation")->as_int64(), 2);
  EXPECT_EQ(FindPath(*updated, "status.replicas"), nullptr) << "status belongs to /status";
  EXPECT_NE(Str(*updated, "metadata.resourceVersion"), Str(created, "metadata.resourceVersion"));

  Result<json::object> stale = client_.Update(kDeployments, changed);
  EXPECT_EQ(stale.status().code(), StatusCode::kConflict);

  json::object status = *updated;
  status["status"] = json::object{{"replicas", 3}};
  status["spec"].as_object()["replicas"] = 9;
  Result<json::object> with_status = client_.Update(kDeployments, status, "status");
  ASSERT_TRUE(with_status.ok()) << with_status.status().ToString();
  EXPECT_EQ(FindPath(*with_status, "status.replicas")->as_int64(), 3);
  EXPECT_EQ(FindPath(*with_status, "spec.replicas")->as_int64(), 3) << "spec is not /status's";
  EXPECT_EQ(FindPath(*with_status, "metadata.generation")->as_int64(), 2);
}

TEST_F(FakeApiClientTest, ListFiltersBySelectorsAndPages) {
  for (int i = 0; i < 5; ++i) {
    json::object labels{{"app", i % 2 == 0 ? "web" : "db"}};
    ASSERT_TRUE(client_.Create(kPods, "default", Pod("p" + std::to_string(i), labels)).ok());
  }
  ASSERT_TRUE(client_.Create(kPods, "other", Pod("q", {{"app", "web"}})).ok());

  ListResult web = *client_.List(kPods, "default", {.label_selector = "app=web"});
  ASSERT_EQ(web.items.size(), 3u);
  EXPECT_EQ(Str(web.items[0], "metadata.name"), "p0");
  EXPECT_EQ(client_.List(kPods, "", {.label_selector = "app=web"})->items.size(), 4u);
  EXPECT_EQ(client_.List(kPods, "", {.field_selector = "metadata.namespace=other"})->items.size(),
            1u);
  EXPECT_EQ(client_.List(kPods, "", {.label_selector = "app in (("}).status().code(),
            StatusCode::kInvalidArgument);

  std::vector<std::string> names;
  ListOptions page{.limit = 2};
  do {
    ListResult result = *client_.List(kPods, "default", page);
    EXPECT_LE(result.items.size(), 2u);
    for (const json::object& item : result.items) names.push_back(Str(item, "metadata.name"));
    page.continue_token = result.continue_token;
  } while (!page.continue_token.empty());
  EXPECT_EQ(names, (std::vector<std::string>{"p0", "p1", "p2", "p3", "p4"}));
}

TEST_F(FakeApiClientTest, PatchesUseTheApiserversEngines) {
  ASSERT_TRUE(client_.Create(kPods, "default", Pod("web", {{"app", "web"}})).ok());
  Result<json::object> merged = client_.Patch(kPods, "default", "web", PatchType::kMerge,
                                              R"({"metadata":{"labels":{"tier":"front"}}})");
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(Str(*merged, "metadata.labels.tier"), "front");
  EXPECT_EQ(Str(*merged, "metadata.labels.app"), "web");

  Result<json::object> strategic = client_.Patch(
      kPods, "default", "web", PatchType::kStrategicMerge,
      R"({"spec":{"containers":[{"name":"side","image":"busybox"}]}})");
  ASSERT_TRUE(strategic.ok()) << strategic.status().ToString();
  EXPECT_EQ(FindPath(*strategic, "spec.containers")->as_array().size(), 2u)
      << "containers merge by name";

  Result<json::object> json_patch = client_.Patch(
      kPods, "default", "web", PatchType::kJson,
      R"([{"op":"replace","path":"/metadata/labels/app","value":"api"}])");
  ASSERT_TRUE(json_patch.ok()) << json_patch.status().ToString();
  EXPECT_EQ(Str(*json_patch, "metadata.labels.app"), "api");

  Result<json::object> status = client_.Patch(kPods, "default", "web", PatchType::kMerge,
                                              R"({"status":{"phase":"Running"}})", "status");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(Str(*status, "status.phase"), "Running");

  EXPECT_EQ(client_.Patch(kPods, "default", "web", PatchType::kJson,
                          R"([{"op":"test","path":"/metadata/name","value":"x"}])")
                .status()
                .code(),
            StatusCode::kInvalidArgument);

  Result<json::object> applied =
      client_.Patch(kConfigMaps, "default", "cfg", PatchType::kApply,
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: b\n");
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(Str(*applied, "data.a"), "b");
}

TEST_F(FakeApiClientTest, BindingSetsNodeNameOnce) {
  ASSERT_TRUE(client_.Create(kPods, "default", Pod("web")).ok());
  json::object binding{{"metadata", json::object{{"name", "web"}}},
                       {"target", json::object{{"kind", "Node"}, {"name", "node01"}}}};
  ASSERT_TRUE(client_.CreateSubresource(kPods, "default", "web", "binding", binding).ok());
  EXPECT_EQ(Str(*client_.Get(kPods, "default", "web"), "spec.nodeName"), "node01");
  EXPECT_EQ(client_.CreateSubresource(kPods, "default", "web", "binding", binding).status().code(),
            StatusCode::kConflict);
  std::vector<Action> actions = client_.Actions();
  ASSERT_EQ(actions.size(), 3u);
  EXPECT_EQ(actions[1].verb, "create/binding");
  EXPECT_EQ(actions[1].name, "web");
}

TEST_F(FakeApiClientTest, DeleteHonoursFinalizersGraceAndPreconditions) {
  json::object cm{{"metadata", json::object{{"name", "cfg"},
                                            {"finalizers", json::array{"example.com/x"}}}}};
  json::object created = *client_.Create(kConfigMaps, "default", cm);
  EXPECT_EQ(client_.Delete(kConfigMaps, "default", "cfg", {.precondition_uid = "nope"}).code(),
            StatusCode::kConflict);
  ASSERT_TRUE(client_.Delete(kConfigMaps, "default", "cfg", {}).ok());
  json::object marked = *client_.Get(kConfigMaps, "default", "cfg");
  EXPECT_FALSE(Str(marked, "metadata.deletionTimestamp").empty());
  marked["metadata"].as_object()["finalizers"] = json::array();
  ASSERT_TRUE(client_.Update(kConfigMaps, marked).ok());
  EXPECT_EQ(client_.Get(kConfigMaps, "default", "cfg").status().code(), StatusCode::kNotFound);

  json::object pod = Pod("web");
  pod["spec"].as_object()["nodeName"] = "node01";
  ASSERT_TRUE(client_.Create(kPods, "default", pod).ok());
  ASSERT_TRUE(client_.Delete(kPods, "default", "web", {}).ok());
  json::object terminating = *client_.Get(kPods, "default", "web");
  EXPECT_EQ(Str(terminating, "metadata.deletionTimestamp"), "2024-01-01T00:00:30Z");
  ASSERT_TRUE(client_.Delete(kPods, "default", "web", {.grace_period_seconds = 0}).ok());
  EXPECT_EQ(client_.Get(kPods, "default", "web").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(client_.Delete(kPods, "default", "web", {}).code(), StatusCode::kNotFound);
}

TEST_F(FakeApiClientTest, NamespaceTerminatesUntilFinalized) {
  ASSERT_TRUE(client_.Create(kNamespaces, "", {{"metadata", json::object{{"name", "abc"}}}}).ok());
  ASSERT_TRUE(client_.Delete(kNamespaces, "", "abc", {}).ok());
  json::object ns = *client_.Get(kNamespaces, "", "abc");
  EXPECT_EQ(Str(ns, "status.phase"), "Terminating");
  EXPECT_EQ(client_.Create(kPods, "abc", Pod("p")).status().code(),
            StatusCode::kPermissionDenied);
  ns["spec"].as_object()["finalizers"] = json::array();
  ASSERT_TRUE(client_.Update(kNamespaces, ns, "finalize").ok());
  EXPECT_EQ(client_.Get(kNamespaces, "", "abc").status().code(), StatusCode::kNotFound);
}

TEST_F(FakeApiClientTest, WatchFromAResourceVersionReplaysLaterChanges) {
  json::object a = *client_.Create(kPods, "default", Pod("a", {{"app", "web"}}));
  std::string from = Str(a, "metadata.resourceVersion");
  ASSERT_TRUE(client_.Create(kPods, "default", Pod("b", {{"app", "web"}})).ok());
  ASSERT_TRUE(client_.Create(kServices, "default", {{"metadata", json::object{{"name", "s"}}}}).ok());

  auto watch = client_.Watch(kPods, "", {.label_selector = "app=web", .resource_version = from});
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  auto first = (*watch)->Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->type, WatchEvent::Type::kAdded);
  EXPECT_EQ(Str((*first)->object, "metadata.name"), "b");

  ASSERT_TRUE(client_.Patch(kPods, "default", "a", PatchType::kMerge,
                            R"({"metadata":{"labels":{"app":"db"}}})")
                  .ok());
  auto left = (*watch)->Next();
  ASSERT_TRUE(left.ok() && left->has_value());
  EXPECT_EQ((*left)->type, WatchEvent::Type::kDeleted) << "a left the selection";
  EXPECT_EQ(Str((*left)->object, "metadata.name"), "a");

  ASSERT_TRUE(client_.Delete(kPods, "default", "b", {}).ok());
  auto deleted = (*watch)->Next();
  ASSERT_TRUE(deleted.ok() && deleted->has_value());
  EXPECT_EQ((*deleted)->type, WatchEvent::Type::kDeleted);
  EXPECT_EQ(Str((*deleted)->object, "metadata.name"), "b");

  client_.EndWatches();
  auto end = (*watch)->Next();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
}

TEST_F(FakeApiClientTest, WatchWithoutVersionStartsWithTheCurrentState) {
  ASSERT_TRUE(client_.Create(kPods, "default", Pod("a")).ok());
  auto watch = client_.Watch(kPods, "default", {});
  ASSERT_TRUE(watch.ok());
  auto first = (*watch)->Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->type, WatchEvent::Type::kAdded);
  EXPECT_EQ(client_.OpenWatches(), 1u);
  (*watch)->Cancel();
  EXPECT_EQ((*watch)->Next().status().code(), StatusCode::kCancelled);
  EXPECT_EQ(client_.OpenWatches(), 0u);
}

TEST_F(FakeApiClientTest, WatchFromACompactedVersionExpires) {
  json::object a = *client_.Create(kPods, "default", Pod("a"));
  ASSERT_TRUE(client_.Create(kPods, "default", Pod("b")).ok());
  client_.CompactHistory();
  auto watch = client_.Watch(kPods, "", {.resource_version = Str(a, "metadata.resourceVersion")});
  ASSERT_TRUE(watch.ok());
  EXPECT_EQ((*watch)->Next().status().code(), StatusCode::kExpired);
}

TEST_F(FakeApiClientTest, FailNextFailsWritesAndRecordsThem) {
  client_.FailNext(1, UnavailableError("injected"));
  EXPECT_EQ(client_.Create(kPods, "default", Pod("a")).status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(client_.Create(kPods, "default", Pod("a")).ok());
  std::vector<Action> actions = client_.Actions();
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[0].verb, "create");
  EXPECT_EQ(actions[0].resource, "pods");
  EXPECT_EQ(actions[0].namespace_name, "default");
  client_.ClearActions();
  EXPECT_TRUE(client_.Actions().empty());
  client_.Seed(kPods, Pod("seeded"));
  EXPECT_TRUE(client_.Actions().empty());
  EXPECT_TRUE(client_.Get(kPods, "default", "seeded").ok());
}

}  // namespace
}  // namespace kelp::client::testing
