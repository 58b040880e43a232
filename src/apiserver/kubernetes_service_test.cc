// Tests of the `kubernetes` Service, Endpoints and EndpointSlice written at server start,
// through RestApi over a real SqliteStore with the Service allocator.
#include "apiserver/kubernetes_service.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "apiserver/allocator.h"
#include "common/testing/fake_clock.h"
#include "common/testing/temp_dir.h"
#include "storage/sqlite/sqlite_store.h"

namespace kelp::apiserver {
namespace {

namespace json = boost::json;

class KubernetesServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::sqlite::SqliteStore::Open((dir_.path() / "state.db").string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    auto network = ParseServiceNetwork("10.96.0.0/12", "30000-32767");
    ASSERT_TRUE(network.ok());
    network_ = *network;
    allocator_ = std::make_unique<ServiceAllocator>(network_, 1);
    api_ = std::make_unique<RestApi>(*store_, clock_,
                                     RestOptions{.service_allocator = allocator_.get()});
    ASSERT_TRUE(api_->EnsureDefaultNamespaces().ok());
  }

  json::object Get(const std::string& path) {
    HttpResponse response = api_->Handle(MakeRequest("GET", path, {}, ""));
    EXPECT_EQ(response.status, 200) << path << ": " << response.body;
    boost::system::error_code error;
    json::value value = json::parse(response.body, error);
    return !error && value.is_object() ? value.as_object() : json::object();
  }

  kelp::testing::ScopedTempDir dir_;
  kelp::testing::FakeClock clock_;
  std::unique_ptr<storage::Store> store_;
  ServiceNetwork network_;
  std::unique_ptr<ServiceAllocator> allocator_;
  std::unique_ptr<RestApi> api_;
};

TEST_F(KubernetesServiceTest, ServiceHoldsTheFirstAddressAndPointsAtTheServer) {
  ASSERT_TRUE(EnsureKubernetesService(*api_, network_, "192.168.206.10", 6443).ok());
  json::object service = Get("/api/v1/namespaces/default/services/kubernetes");
  EXPECT_EQ(service.at("spec").at("clusterIP"), "10.96.0.1");
  EXPECT_EQ(service.at("spec").at("type"), "ClusterIP");
  const json::object& port = service.at("spec").at("ports").at(0).as_object();
  EXPECT_EQ(port.at("name"), "https");
  EXPECT_EQ(port.at("port"), 443);
  EXPECT_EQ(port.at("targetPort"), 6443);
  EXPECT_EQ(service.at("metadata").at("labels").at("provider"), "kubernetes");
  EXPECT_TRUE(allocator_->IsIpAllocated(KubernetesServiceIp(network_.service_cidr)));

  json::object endpoints = Get("/api/v1/namespaces/default/endpoints/kubernetes");
  const json::object& subset = endpoints.at("subsets").at(0).as_object();
  EXPECT_EQ(subset.at("addresses").at(0).at("ip"), "192.168.206.10");
  EXPECT_EQ(subset.at("ports").at(0).at("port"), 6443);

  json::object slice =
      Get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes");
  EXPECT_EQ(slice.at("metadata").at("labels").at("kubernetes.io/service-name"), "kubernetes");
  EXPECT_EQ(slice.at("endpoints").at(0).at("addresses"), (json::array{"192.168.206.10"}));
  EXPECT_EQ(slice.at("ports").at(0).at("port"), 6443);
}

TEST_F(KubernetesServiceTest, AnotherServiceCannotTakeItsAddress) {
  ASSERT_TRUE(EnsureKubernetesService(*api_, network_, "127.0.0.1", 6443).ok());
  HttpResponse taken = api_->Handle(MakeRequest(
      "POST", "/api/v1/namespaces/default/services", {{"Content-Type", "application/json"}},
      R"({"metadata":{"name":"mine"},"spec":{"clusterIP":"10.96.0.1",
          "ports":[{"port":80}]}})"));
  EXPECT_EQ(taken.status, 422) << taken.body;
}

TEST_F(KubernetesServiceTest, ARestartWithAnotherAddressRepointsTheEndpoints) {
  ASSERT_TRUE(EnsureKubernetesService(*api_, network_, "127.0.0.1", 6443).ok());
  // The allocator as a restarted server rebuilds it from the store.
  allocator_ = std::make_unique<ServiceAllocator>(network_, 2);
  ASSERT_TRUE(RestoreServiceAllocations(*store_, *allocator_).ok());
  api_ = std::make_unique<RestApi>(*store_, clock_,
                                   RestOptions{.service_allocator = allocator_.get()});
  ASSERT_TRUE(EnsureKubernetesService(*api_, network_, "192.168.206.10", 7443).ok());
  json::object service = Get("/api/v1/namespaces/default/services/kubernetes");
  EXPECT_EQ(service.at("spec").at("clusterIP"), "10.96.0.1");
  EXPECT_EQ(service.at("spec").at("ports").at(0).at("targetPort"), 7443);
  json::object endpoints = Get("/api/v1/namespaces/default/endpoints/kubernetes");
  EXPECT_EQ(endpoints.at("subsets").as_array().size(), 1u);
  EXPECT_EQ(endpoints.at("subsets").at(0).at("addresses"),
            (json::array{json::object{{"ip", "192.168.206.10"}}}));
  json::object slice =
      Get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes");
  EXPECT_EQ(slice.at("endpoints").as_array().size(), 1u);
  EXPECT_EQ(slice.at("endpoints").at(0).at("addresses"), (json::array{"192.168.206.10"}));
}

}  // namespace
}  // namespace kelp::apiserver
