// Parsing of Services and EndpointSlices: the fields the proxy uses, the defaults Kubernetes
// gives absent ones, the objects it ignores and the errors for malformed ones.
#include "proxy/service_model.h"

#include <gtest/gtest.h>

#include "common/json.h"

namespace kelp::proxy {
namespace {

boost::json::object Json(std::string_view text) {
  Result<boost::json::object> object = ParseJsonObject(text);
  EXPECT_TRUE(object.ok()) << object.status().ToString();
  return object.ok() ? *object : boost::json::object{};
}

TEST(ParseServiceTest, NodePortServiceWithAffinityAndPolicies) {
  auto service = ParseService(Json(R"({
    "metadata": {"namespace": "shop", "name": "web"},
    "spec": {"type": "NodePort", "clusterIP": "10.96.0.20",
             "ports": [{"name": "http", "port": 80, "nodePort": 30080},
                       {"name": "dns", "protocol": "UDP", "port": 53, "nodePort": 30053},
                       {"name": "weird", "protocol": "ICMP", "port": 7}],
             "sessionAffinity": "ClientIP",
             "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
             "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Cluster"}})"));
  ASSERT_TRUE(service.ok()) << service.status().ToString();
  ASSERT_TRUE(service->has_value());
  const Service& s = **service;
  EXPECT_EQ(s.namespace_name, "shop");
  EXPECT_EQ(s.name, "web");
  EXPECT_EQ(s.cluster_ip.ToString(), "10.96.0.20");
  ASSERT_EQ(s.ports.size(), 2u);  // the ICMP port is not proxied
  EXPECT_EQ(s.ports[0], (ServicePort{"http", Protocol::kTcp, 80, 30080}));
  EXPECT_EQ(s.ports[1], (ServicePort{"dns", Protocol::kUdp, 53, 30053}));
  EXPECT_TRUE(s.affinity_client_ip);
  EXPECT_EQ(s.affinity_timeout_seconds, 60);
  EXPECT_TRUE(s.external_policy_local);
  EXPECT_FALSE(s.internal_policy_local);
}

TEST(ParseServiceTest, ClusterIpServiceIgnoresNodePortAndLocalExternalPolicy) {
  auto service = ParseService(Json(R"({
    "metadata": {"namespace": "default", "name": "api"},
    "spec": {"clusterIP": "10.96.0.1", "ports": [{"port": 443, "nodePort": 31000}],
             "externalTrafficPolicy": "Local"}})"));
  ASSERT_TRUE(service.ok());
  ASSERT_TRUE(service->has_value());
  EXPECT_EQ((*service)->ports[0], (ServicePort{"", Protocol::kTcp, 443, 0}));
  EXPECT_FALSE((*service)->external_policy_local);
  EXPECT_FALSE((*service)->affinity_client_ip);
  EXPECT_EQ((*service)->affinity_timeout_seconds, kDefaultAffinityTimeoutSeconds);
}

TEST(ParseServiceTest, ServicesWithoutAProxiedClusterIpAreSkipped) {
  for (const char* spec :
       {R"({"type": "ExternalName", "externalName": "example.com"})",
        R"({"clusterIP": "None", "ports": [{"port": 80}]})", R"({"ports": [{"port": 80}]})",
        R"({"clusterIP": "fd00::1", "ports": [{"port": 80}]})"}) {
    auto service = ParseService(Json(std::string(R"({"metadata": {"namespace": "a", "name": "b"},
                                                     "spec": )") +
                                     spec + "}"));
    ASSERT_TRUE(service.ok()) << spec << ": " << service.status().ToString();
    EXPECT_FALSE(service->has_value()) << spec;
  }
}

TEST(ParseServiceTest, MalformedServicesAreErrorsNamingTheField) {
  struct Case {
    const char* spec;
    const char* error;
  } cases[] = {
      {R"({"clusterIP": "10.96.0.300"})", "spec.clusterIP"},
      {R"({"clusterIP": "10.96.0.1", "ports": [{"port": 70000}]})", "port"},
      {R"({"clusterIP": "10.96.0.1", "ports": [{"name": "x"}]})", "port: required"},
      {R"({"clusterIP": "10.96.0.1", "ports": ["x"]})", "spec.ports.0"},
      {R"({"clusterIP": "10.96.0.1", "ports": [{"port": "80"}]})", "port"},
      {R"({"clusterIP": "10.96.0.1", "sessionAffinity": "ClientIP",
           "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 0}}})",
       "timeoutSeconds"},
  };
  for (const Case& c : cases) {
    auto service = ParseService(Json(std::string(R"({"metadata": {"namespace": "a", "name": "b"},
                                                     "spec": )") +
                                     c.spec + "}"));
    ASSERT_FALSE(service.ok()) << c.spec;
    EXPECT_EQ(service.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(service.status().message().find(c.error), std::string::npos)
        << service.status().message();
  }
}

TEST(ParseEndpointSliceTest, ConditionsDefaultAsKubernetesDocumentsThem) {
  auto slice = ParseEndpointSlice(Json(R"({
    "metadata": {"namespace": "shop", "name": "web-abc12",
                 "labels": {"kubernetes.io/service-name": "web"}},
    "addressType": "IPv4",
    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "dns", "port": 53, "protocol": "UDP"}],
    "endpoints": [
      {"addresses": ["10.244.1.2"], "conditions": {"ready": true}, "nodeName": "node01"},
      {"addresses": ["10.244.2.2"], "conditions": {"ready": false, "serving": true, "terminating": true}},
      {"addresses": ["10.244.2.3"]},
      {"addresses": []}]})"));
  ASSERT_TRUE(slice.ok()) << slice.status().ToString();
  ASSERT_TRUE(slice->has_value());
  const EndpointSlice& s = **slice;
  EXPECT_EQ(s.service_name, "web");
  ASSERT_EQ(s.ports.size(), 2u);
  EXPECT_EQ(s.ports[1], (SlicePort{"dns", Protocol::kUdp, 53}));
  ASSERT_EQ(s.endpoints.size(), 3u);
  EXPECT_EQ(s.endpoints[0].node_name, "node01");
  EXPECT_TRUE(s.endpoints[0].ready && s.endpoints[0].serving && !s.endpoints[0].terminating);
  EXPECT_TRUE(!s.endpoints[1].ready && s.endpoints[1].serving && s.endpoints[1].terminating);
  EXPECT_TRUE(s.endpoints[2].ready && s.endpoints[2].serving && !s.endpoints[2].terminating);
}

TEST(ParseEndpointSliceTest, IgnoresOtherAddressTypesAndUnlabelledSlices) {
  auto fqdn = ParseEndpointSlice(Json(R"({"metadata": {"namespace": "a", "name": "b",
      "labels": {"kubernetes.io/service-name": "web"}}, "addressType": "FQDN"})"));
  ASSERT_TRUE(fqdn.ok());
  EXPECT_FALSE(fqdn->has_value());
  auto unlabelled = ParseEndpointSlice(
      Json(R"({"metadata": {"namespace": "a", "name": "b"}, "addressType": "IPv4"})"));
  ASSERT_TRUE(unlabelled.ok());
  EXPECT_FALSE(unlabelled->has_value());
}

TEST(ParseEndpointSliceTest, BadAddressIsAnError) {
  auto slice = ParseEndpointSlice(Json(R"({"metadata": {"namespace": "a", "name": "b",
      "labels": {"kubernetes.io/service-name": "web"}}, "addressType": "IPv4",
      "endpoints": [{"addresses": ["10.244.1"]}]})"));
  ASSERT_FALSE(slice.ok());
  EXPECT_NE(slice.status().message().find("endpoints.0.addresses.0"), std::string::npos)
      << slice.status().message();
}

}  // namespace
}  // namespace kelp::proxy
