// EndpointsController and EndpointSliceController against the FakeApiClient: ready and
// not-ready addresses, named and numbered target ports, selector-less Services left alone,
// slices of at most 100 endpoints with Kubernetes' labels and conditions, idempotent syncs.
#include "controllers/endpoints.h"

#include "controllers/cluster_test_env.h"
#include "controllers/endpointslice.h"

namespace kelp::controllers {
namespace {

using testing::json::array;
using testing::json::object;

class EndpointsTest : public testing::ClusterTestEnv {
 protected:
  void SeedService() {
    api_.Seed(client::kServices, Parse(R"({"metadata":{"name":"web","namespace":"default",
        "labels":{"tier":"front"}},
        "spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":"http"},
                {"name":"tls","port":443,"targetPort":8443,"protocol":"TCP"}]}})"));
  }
  void SeedPod(const std::string& name, const std::string& ip, bool ready,
               const std::string& app = "web") {
    std::string text = R"({"metadata":{"name":")" + name + R"(","namespace":"default",
        "labels":{"app":")" + app + R"("}},
        "spec":{"nodeName":"n1","containers":[{"name":"c","ports":[{"name":"http","containerPort":8080}]}]},
        "status":{"phase":"Running")";
    if (!ip.empty()) text += R"(,"podIP":")" + ip + R"(")";
    text += R"(,"conditions":[{"type":"Ready","status":")" + std::string(ready ? "True" : "False") +
            R"("}]}})";
    api_.Seed(client::kPods, Parse(text));
  }
  std::string Uid(const client::Resource& resource, const std::string& name) {
    Result<object> got = api_.Get(resource, "default", name);
    return got.ok() ? std::string(got->at("metadata").at("uid").as_string()) : "";
  }
  object Address(const std::string& pod, const std::string& ip) {
    return {{"ip", ip},
            {"nodeName", "n1"},
            {"targetRef", object{{"kind", "Pod"},
                                 {"namespace", "default"},
                                 {"name", pod},
                                 {"uid", Uid(client::kPods, pod)}}}};
  }
};

TEST_F(EndpointsTest, ListsReadyAndNotReadyPodsWithResolvedPorts) {
  SeedService();
  SeedPod("b", "10.244.1.7", true);
  SeedPod("a", "10.244.1.5", true);
  SeedPod("c", "10.244.1.9", false);
  SeedPod("no-ip", "", true);
  SeedPod("other", "10.244.1.11", true, "db");
  EndpointsController& controller = Own(std::make_unique<EndpointsController>(context_));
  StartInformers();

  ASSERT_TRUE(controller.Sync("default/web").ok());
  Result<object> endpoints = api_.Get(client::kEndpoints, "default", "web");
  ASSERT_TRUE(endpoints.ok()) << endpoints.status().ToString();
  const array expected{object{
      {"addresses", array{Address("a", "10.244.1.5"), Address("b", "10.244.1.7")}},
      {"notReadyAddresses", array{Address("c", "10.244.1.9")}},
      {"ports", array{object{{"port", 8080}, {"name", "http"}, {"protocol", "TCP"}},
                      object{{"port", 8443}, {"name", "tls"}, {"protocol", "TCP"}}}}}};
  EXPECT_EQ(endpoints->at("subsets"), expected);
  EXPECT_EQ(endpoints->at("metadata").at("labels"), (object{{"tier", "front"}}));

  api_.ClearActions();
  ASSERT_TRUE(controller.Sync("default/web").ok());
  EXPECT_TRUE(api_.Actions().empty()) << "an unchanged Service must not be rewritten";
}

TEST_F(EndpointsTest, SelectorlessServicesKeepTheirEndpointsAndDeletedServicesLoseThem) {
  api_.Seed(client::kServices,
            Parse(R"({"metadata":{"name":"ext","namespace":"default"},"spec":{"ports":[{"port":80}]}})"));
  api_.Seed(client::kEndpoints, Parse(R"({"metadata":{"name":"ext","namespace":"default"},
      "subsets":[{"addresses":[{"ip":"192.0.2.1"}],"ports":[{"port":80}]}]})"));
  api_.Seed(client::kEndpoints, Parse(R"({"metadata":{"name":"gone","namespace":"default"}})"));
  EndpointsController& controller = Own(std::make_unique<EndpointsController>(context_));
  StartInformers();
  api_.ClearActions();

  ASSERT_TRUE(controller.Sync("default/ext").ok());
  EXPECT_TRUE(api_.Actions().empty());
  ASSERT_TRUE(controller.Sync("default/gone").ok());
  EXPECT_EQ(api_.Get(client::kEndpoints, "default", "gone").status().code(),
            StatusCode::kNotFound);
}

TEST_F(EndpointsTest, SlicesCarryConditionsLabelsAndOwnerAndHoldAtMost100Endpoints) {
  SeedService();
  for (int i = 0; i < 150; ++i) {
    SeedPod("p" + std::to_string(1000 + i), "10.244.2." + std::to_string(i), true);
  }
  SeedPod("slow", "10.244.3.1", false);
  EndpointSliceController& controller = Own(std::make_unique<EndpointSliceController>(context_));
  StartInformers();

  ASSERT_TRUE(controller.Sync("default/web").ok());
  Result<client::ListResult> slices = api_.List(client::kEndpointSlices, "default", {});
  ASSERT_TRUE(slices.ok());
  ASSERT_EQ(slices->items.size(), 2u);
  size_t endpoints = 0;
  for (const object& slice : slices->items) {
    EXPECT_EQ(slice.at("addressType"), "IPv4");
    EXPECT_LE(slice.at("endpoints").as_array().size(), kMaxEndpointsPerSlice);
    endpoints += slice.at("endpoints").as_array().size();
    EXPECT_EQ(slice.at("metadata").at("labels"),
              (object{{"tier", "front"},
                      {"kubernetes.io/service-name", "web"},
                      {"endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io"}}));
    EXPECT_EQ(slice.at("metadata").at("ownerReferences").at(0).at("uid").as_string(),
              Uid(client::kServices, "web"));
    EXPECT_EQ(slice.at("ports"),
              (array{object{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}},
                     object{{"name", "tls"}, {"port", 8443}, {"protocol", "TCP"}}}));
    for (const auto& endpoint : slice.at("endpoints").as_array()) {
      if (endpoint.at("targetRef").at("name") != "slow") continue;
      EXPECT_EQ(endpoint.at("conditions"),
                (object{{"ready", false}, {"serving", false}, {"terminating", false}}));
      EXPECT_EQ(endpoint.at("nodeName"), "n1");
      EXPECT_EQ(endpoint.at("addresses"), (array{"10.244.3.1"}));
    }
  }
  EXPECT_EQ(endpoints, 151u);

  api_.ClearActions();
  ASSERT_TRUE(controller.Sync("default/web").ok());
  EXPECT_TRUE(api_.Actions().empty()) << "an unchanged Service must not be rewritten";
}

TEST_F(EndpointsTest, ATerminatingPodIsServingButNotReadyAndAnEmptyServiceKeepsOneSlice) {
  SeedService();
  api_.Seed(client::kServices,
            Parse(R"({"metadata":{"name":"empty","namespace":"default"},
                      "spec":{"selector":{"app":"none"},"ports":[{"port":80}]}})"));
  SeedPod("a", "10.244.1.5", true);
  ASSERT_TRUE(api_.Delete(client::kPods, "default", "a", {}).ok());  // on a node: graceful
  EndpointSliceController& controller = Own(std::make_unique<EndpointSliceController>(context_));
  StartInformers();

  ASSERT_TRUE(controller.Sync("default/web").ok());
  ASSERT_TRUE(controller.Sync("default/empty").ok());
  client::ListOptions web{.label_selector = "kubernetes.io/service-name=web"};
  Result<client::ListResult> slices = api_.List(client::kEndpointSlices, "default", web);
  ASSERT_TRUE(slices.ok());
  ASSERT_EQ(slices->items.size(), 1u);
  EXPECT_EQ(slices->items[0].at("endpoints").at(0).at("conditions"),
            (object{{"ready", false}, {"serving", true}, {"terminating", true}}));
  client::ListOptions empty{.label_selector = "kubernetes.io/service-name=empty"};
  slices = api_.List(client::kEndpointSlices, "default", empty);
  ASSERT_TRUE(slices.ok());
  ASSERT_EQ(slices->items.size(), 1u);
  EXPECT_TRUE(slices->items[0].at("endpoints").as_array().empty());
}

}  // namespace
}  // namespace kelp::controllers
