// Unit tests of ClusterIP/NodePort allocation: flag parsing, requested and random values,
// Kubernetes' refusal messages, exhaustion, release on delete, on type change and on an
// uncommitted write, and rebuilding from stored Services without duplicates; then the same
// through RestApi over a SqliteStore (create, patch, delete, namespace deletion, restart).
#include "apiserver/allocator.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "api/defaults.h"
#include "apiserver/rest.h"
#include "common/json.h"
#include "common/testing/fake_clock.h"
#include "common/testing/temp_dir.h"
#include "storage/sqlite/sqlite_store.h"

namespace kelp::apiserver {
namespace {

namespace json = boost::json;

ServiceNetwork Network(std::string_view cidr = "10.96.0.0/12",
                       std::string_view ports = "30000-32767") {
  Result<ServiceNetwork> network = ParseServiceNetwork(cidr, ports);
  EXPECT_TRUE(network.ok()) << network.status().ToString();
  return *network;
}

// A defaulted Service as the REST layer hands it over.
json::object Service(std::string_view type, std::string_view extra_spec = "") {
  std::string text = R"({"metadata":{"name":"s"},"spec":{"type":")" + std::string(type) +
                     R"(","ports":[{"name":"http","port":80,"protocol":"TCP"}])" +
                     std::string(extra_spec) + "}}";
  Result<json::object> object = ParseJsonObject(text);
  EXPECT_TRUE(object.ok()) << text;
  return *object;
}

std::string ClusterIp(const json::object& service) {
  return std::string(service.at("spec").at("clusterIP").as_string());
}

int64_t NodePort(const json::object& service, size_t index = 0) {
  const json::object& port = service.at("spec").at("ports").at(index).as_object();
  return port.contains("nodePort") ? port.at("nodePort").as_int64() : 0;
}

// Admits and commits a create; fails the test when refused.
json::object Created(ServiceAllocator& allocator, json::object service) {
  ServiceAdmission admission = allocator.Admit(service, nullptr);
  EXPECT_TRUE(admission.ok()) << admission.failure.ToString();
  admission.allocation.Commit();
  return service;
}

TEST(ServiceNetworkTest, ParsesFlagsAndRefusesBadValues) {
  ServiceNetwork network = Network();
  EXPECT_EQ(network.service_cidr.ToString(), "10.96.0.0/12");
  EXPECT_EQ(network.node_ports.ToString(), "30000-32767");
  EXPECT_EQ(FormatIpv4Address(KubernetesServiceIp(network.service_cidr)), "10.96.0.1");
  EXPECT_EQ(ParseServiceNetwork("10.96.0.0/33", "30000-32767").status().message(),
            "--service-cidr 10.96.0.0/33: invalid CIDR");
  EXPECT_FALSE(ParseServiceNetwork("10.0.0.0/8", "30000-32767").ok());
  EXPECT_FALSE(ParseServiceNetwork("10.96.0.0", "30000-32767").ok());
  EXPECT_EQ(ParseServiceNetwork("10.96.0.0/12", "32767-30000").status().message(),
            "--service-node-port-range 32767-30000: invalid port range");
  EXPECT_FALSE(ParseServiceNetwork("10.96.0.0/12", "0-70000").ok());
}

TEST(ServiceAllocatorTest, ClusterIpServiceGetsAnAddressAndNoNodePort) {
  ServiceAllocator allocator(Network(), 1);
  json::object service = Created(allocator, Service("ClusterIP"));
  Result<uint32_t> ip = ParseIpv4Address(ClusterIp(service));
  ASSERT_TRUE(ip.ok());
  EXPECT_TRUE(allocator.network().service_cidr.Contains(*ip));
  EXPECT_NE(ClusterIp(service), "10.96.0.0");
  EXPECT_NE(ClusterIp(service), "10.96.0.1");
  EXPECT_EQ(service.at("spec").at("clusterIPs"), (json::array{json::string(ClusterIp(service))}));
  EXPECT_EQ(NodePort(service), 0);
  EXPECT_TRUE(allocator.IsIpAllocated(*ip));
}

TEST(ServiceAllocatorTest, NodePortServiceGetsOnePortPerServicePort) {
  ServiceAllocator allocator(Network(), 2);
  json::object service = Service("NodePort");
  service["spec"].as_object()["ports"].as_array().push_back(
      json::object{{"name", "https"}, {"port", 443}, {"protocol", "TCP"}});
  service = Created(allocator, std::move(service));
  EXPECT_GE(NodePort(service, 0), 30000);
  EXPECT_LE(NodePort(service, 0), 32767);
  EXPECT_GE(NodePort(service, 1), 30000);
  EXPECT_NE(NodePort(service, 0), NodePort(service, 1));
  EXPECT_TRUE(allocator.IsNodePortAllocated(NodePort(service, 1)));
}

TEST(ServiceAllocatorTest, HeadlessServiceAllocatesNothing) {
  ServiceAllocator allocator(Network("10.96.0.0/30"), 3);
  json::object service = Created(allocator, Service("ClusterIP", R"(,"clusterIP":"None")"));
  EXPECT_EQ(ClusterIp(service), "None");
  EXPECT_EQ(service.at("spec").at("clusterIPs"), (json::array{"None"}));
  EXPECT_FALSE(allocator.IsIpAllocated(*ParseIpv4Address("10.96.0.2")));
}

TEST(ServiceAllocatorTest, RequestedValuesAreHonouredOnceWithKubernetesMessages) {
  ServiceAllocator allocator(Network(), 4);
  json::object first = Created(
      allocator, Service("NodePort", R"(,"clusterIP":"10.96.0.5")"));
  EXPECT_EQ(ClusterIp(first), "10.96.0.5");

  json::object again = Service("ClusterIP", R"(,"clusterIP":"10.96.0.5")");
  ServiceAdmission refused = allocator.Admit(again, nullptr);
  ASSERT_EQ(refused.invalid.size(), 1u);
  EXPECT_EQ(api::CauseText(refused.invalid[0]),
            R"(spec.clusterIPs: Invalid value: []string{"10.96.0.5"}: failed to allocate IP )"
            R"(10.96.0.5: provided IP is already allocated)");

  json::object outside = Service("ClusterIP", R"(,"clusterIP":"10.0.0.5")");
  refused = allocator.Admit(outside, nullptr);
  ASSERT_EQ(refused.invalid.size(), 1u);
  EXPECT_EQ(api::CauseText(refused.invalid[0]),
            R"(spec.clusterIPs: Invalid value: []string{"10.0.0.5"}: failed to allocate IP )"
            R"(10.0.0.5: the provided IP (10.0.0.5) is not in the valid range. The range of )"
            R"(valid IPs is 10.96.0.0/12)");

  json::object port = Service("NodePort");
  port["spec"].as_object()["ports"].as_array()[0].as_object()["nodePort"] = 30080;
  port = Created(allocator, std::move(port));
  EXPECT_EQ(NodePort(port), 30080);
  json::object taken = Service("NodePort");
  taken["spec"].as_object()["ports"].as_array()[0].as_object()["nodePort"] = 30080;
  refused = allocator.Admit(taken, nullptr);
  ASSERT_EQ(refused.invalid.size(), 1u);
  EXPECT_EQ(api::CauseText(refused.invalid[0]),
            "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated");

  json::object low = Service("NodePort");
  low["spec"].as_object()["ports"].as_array()[0].as_object()["nodePort"] = 80;
  refused = allocator.Admit(low, nullptr);
  ASSERT_EQ(refused.invalid.size(), 1u);
  EXPECT_EQ(api::CauseText(refused.invalid[0]),
            "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. "
            "The range of valid ports is 30000-32767");
}

TEST(ServiceAllocatorTest, RefusedAdmissionKeepsNothing) {
  ServiceAllocator allocator(Network(), 5);
  json::object service = Service("NodePort", R"(,"clusterIP":"10.96.0.9")");
  service["spec"].as_object()["ports"].as_array()[0].as_object()["nodePort"] = 80;
  EXPECT_FALSE(allocator.Admit(service, nullptr).ok());
  EXPECT_FALSE(allocator.IsIpAllocated(*ParseIpv4Address("10.96.0.9")));
}

TEST(ServiceAllocatorTest, ClusterIpTypeMayNotRequestANodePort) {
  ServiceAllocator allocator(Network(), 6);
  json::object service = Service("ClusterIP");
  service["spec"].as_object()["ports"].as_array()[0].as_object()["nodePort"] = 30001;
  ServiceAdmission refused = allocator.Admit(service, nullptr);
  ASSERT_EQ(refused.invalid.size(), 1u);
  EXPECT_EQ(api::CauseText(refused.invalid[0]),
            "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'");
}

TEST(ServiceAllocatorTest, ExhaustedRangesAnswerRangeIsFull) {
  // 10.96.0.0/30: .1 is kept for `kubernetes`, .2 is the only address handed out at random.
  ServiceAllocator allocator(Network("10.96.0.0/30", "30000-30001"), 7);
  json::object first = Created(allocator, Service("NodePort"));
  EXPECT_EQ(ClusterIp(first), "10.96.0.2");
  json::object second = Service("ClusterIP");
  ServiceAdmission full = allocator.Admit(second, nullptr);
  EXPECT_EQ(full.failure.message(), "failed to allocate a serviceIP: range is full");
  EXPECT_TRUE(full.invalid.empty());

  json::object ports = Service("NodePort", R"(,"clusterIP":"10.96.0.1")");
  ports["spec"].as_object()["ports"].as_array().push_back(
      json::object{{"name", "b"}, {"port", 81}, {"protocol", "TCP"}});
  full = allocator.Admit(ports, nullptr);
  EXPECT_EQ(full.failure.message(), "failed to allocate a nodePort: range is full");
  EXPECT_FALSE(allocator.IsIpAllocated(*ParseIpv4Address("10.96.0.1")));
}

TEST(ServiceAllocatorTest, UncommittedAllocationIsGivenBack) {
  ServiceAllocator allocator(Network(), 8);
  json::object service = Service("NodePort");
  {
    ServiceAdmission admission = allocator.Admit(service, nullptr);
    ASSERT_TRUE(admission.ok());
    EXPECT_TRUE(allocator.IsNodePortAllocated(NodePort(service)));
  }
  EXPECT_FALSE(allocator.IsNodePortAllocated(NodePort(service)));
  EXPECT_FALSE(allocator.IsIpAllocated(*ParseIpv4Address(ClusterIp(service))));
}

TEST(ServiceAllocatorTest, ReleaseOnDeleteFreesEverything) {
  ServiceAllocator allocator(Network(), 9);
  json::object service = Created(allocator, Service("NodePort"));
  allocator.Release(service);
  EXPECT_FALSE(allocator.IsNodePortAllocated(NodePort(service)));
  EXPECT_FALSE(allocator.IsIpAllocated(*ParseIpv4Address(ClusterIp(service))));
  json::object again = Service("NodePort", R"(,"clusterIP":")" + ClusterIp(service) + R"(")");
  again["spec"].as_object()["ports"].as_array()[0].as_object()["nodePort"] = NodePort(service);
  EXPECT_TRUE(allocator.Admit(again, nullptr).ok());
}

TEST(ServiceAllocatorTest, UpdateKeepsValuesAndTypeChangeReleasesNodePorts) {
  ServiceAllocator allocator(Network(), 10);
  const json::object old = Created(allocator, Service("NodePort"));
  const int64_t node_port = NodePort(old);

  // A replace without clusterIP/nodePort keeps both.
  json::object replaced = Service("NodePort");
  ServiceAdmission kept = allocator.Admit(replaced, &old);
  ASSERT_TRUE(kept.ok());
  kept.allocation.Commit();
  EXPECT_EQ(ClusterIp(replaced), ClusterIp(old));
  EXPECT_EQ(NodePort(replaced), node_port);

  // NodePort → ClusterIP with the old nodePort still in the object: it is dropped and freed.
  json::object cluster_ip = replaced;
  cluster_ip["spec"].as_object()["type"] = "ClusterIP";
  ServiceAdmission changed = allocator.Admit(cluster_ip, &replaced);
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(allocator.IsNodePortAllocated(node_port));  // until the store write succeeded
  changed.allocation.Commit();
  EXPECT_EQ(NodePort(cluster_ip), 0);
  EXPECT_FALSE(allocator.IsNodePortAllocated(node_port));
  EXPECT_TRUE(allocator.IsIpAllocated(*ParseIpv4Address(ClusterIp(old))));
}

TEST(ServiceAllocatorTest, RestoredAllocatorNeverHandsOutStoredValues) {
  const ServiceNetwork network = Network("10.96.0.0/29", "30000-30004");
  std::vector<json::object> stored;
  {
    ServiceAllocator before_restart(network, 11);
    for (int i = 0; i < 3; ++i) stored.push_back(Created(before_restart, Service("NodePort")));
  }
  ServiceAllocator after_restart(network, 11);  // same seed: same random choices
  for (const json::object& service : stored) after_restart.Restore(service);
  for (int i = 0; i < 2; ++i) stored.push_back(Created(after_restart, Service("NodePort")));
  std::set<std::string> ips;
  std::set<int64_t> ports;
  for (const json::object& service : stored) {
    ips.insert(ClusterIp(service));
    ports.insert(NodePort(service));
  }
  EXPECT_EQ(ips.size(), 5u);
  EXPECT_EQ(ports.size(), 5u);
  json::object one_more = Service("ClusterIP");
  EXPECT_FALSE(after_restart.Admit(one_more, nullptr).ok());
}

// RestApi with Kubernetes' defaulting and a seeded allocator over a SqliteStore in a temp dir.
class ServiceRestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::sqlite::SqliteStore::Open((dir_.path() / "state.db").string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    Restart();
    ASSERT_TRUE(api_->EnsureDefaultNamespaces().ok());
  }

  // A fresh allocator rebuilt from the store, as `kelp server` does at start.
  void Restart() {
    api_.reset();
    allocator_ = std::make_unique<ServiceAllocator>(Network(), 99);
    ASSERT_TRUE(RestoreServiceAllocations(*store_, *allocator_).ok());
    RestOptions options{.hooks = [](const ResourceInfo& resource) {
                          ResourceHooks hooks;
                          hooks.defaulting = [&resource](json::object& object) {
                            api::ApplyDefaults(resource.group, resource.plural, object);
                          };
                          return hooks;
                        },
                        .service_allocator = allocator_.get()};
    api_ = std::make_unique<RestApi>(*store_, clock_, std::move(options));
  }

  HttpResponse Send(std::string method, std::string target, std::string body = "",
                    std::string content_type = "application/json") {
    return api_->Handle(MakeRequest(std::move(method), std::move(target),
                                    {{"Content-Type", std::move(content_type)}}, std::move(body)));
  }

  // POSTs a NodePort Service `name` to `ns` with optional requested values; returns the reply.
  HttpResponse CreateService(std::string_view ns, std::string_view name,
                             std::string_view cluster_ip = "", int64_t node_port = 0) {
    json::object port{{"port", 80}};
    if (node_port != 0) port["nodePort"] = node_port;
    json::object spec{{"type", "NodePort"}, {"ports", json::array{port}}};
    if (!cluster_ip.empty()) spec["clusterIP"] = cluster_ip;
    json::object service{{"metadata", json::object{{"name", name}}}, {"spec", spec}};
    return Send("POST", "/api/v1/namespaces/" + std::string(ns) + "/services",
                json::serialize(service));
  }

  static json::object Body(const HttpResponse& response) {
    Result<json::object> body = ParseJsonObject(response.body);
    EXPECT_TRUE(body.ok()) << response.body;
    return body.ok() ? *body : json::object();
  }

  kelp::testing::ScopedTempDir dir_;
  kelp::testing::FakeClock clock_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<ServiceAllocator> allocator_;
  std::unique_ptr<RestApi> api_;
};

TEST_F(ServiceRestTest, CreateAllocatesAndConflictsAnswer422) {
  HttpResponse created = CreateService("default", "a");
  ASSERT_EQ(created.status, 201) << created.body;
  const json::object a = Body(created);
  EXPECT_GE(NodePort(a), 30000);
  EXPECT_EQ(a.at("spec").at("ipFamilies"), (json::array{"IPv4"}));
  HttpResponse stored = Send("GET", "/api/v1/namespaces/default/services/a");
  EXPECT_EQ(ClusterIp(Body(stored)), ClusterIp(a));

  HttpResponse conflict = CreateService("default", "b", "", NodePort(a));
  EXPECT_EQ(conflict.status, 422);
  EXPECT_EQ(Body(conflict).at("message").as_string(),
            "Service \"b\" is invalid: spec.ports[0].nodePort: Invalid value: " +
                std::to_string(NodePort(a)) + ": provided port is already allocated");
  conflict = CreateService("default", "c", ClusterIp(a));
  EXPECT_EQ(conflict.status, 422);
  EXPECT_EQ(Body(conflict).at("details").at("causes").at(0).at("field"), "spec.clusterIPs");
}

TEST_F(ServiceRestTest, FailedStoreWriteAndDryRunKeepNothing) {
  ASSERT_EQ(CreateService("default", "a", "10.96.0.10", 30010).status, 201);
  HttpResponse exists = CreateService("default", "a", "10.96.0.11", 30011);
  EXPECT_EQ(exists.status, 409);
  EXPECT_FALSE(allocator_->IsIpAllocated(*ParseIpv4Address("10.96.0.11")));
  EXPECT_FALSE(allocator_->IsNodePortAllocated(30011));
  HttpResponse dry = Send("POST", "/api/v1/namespaces/default/services?dryRun=All",
                          R"({"metadata":{"name":"d"},"spec":{"type":"NodePort",)"
                          R"("ports":[{"port":80,"nodePort":30012}]}})");
  EXPECT_EQ(dry.status, 201);
  EXPECT_FALSE(allocator_->IsNodePortAllocated(30012));
}

TEST_F(ServiceRestTest, DeleteAndTypeChangeRelease) {
  ASSERT_EQ(CreateService("default", "a", "10.96.0.20", 30020).status, 201);
  HttpResponse patched = Send("PATCH", "/api/v1/namespaces/default/services/a",
                              R"({"spec":{"type":"ClusterIP"}})", "application/merge-patch+json");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(NodePort(Body(patched)), 0);
  EXPECT_FALSE(allocator_->IsNodePortAllocated(30020));
  EXPECT_TRUE(allocator_->IsIpAllocated(*ParseIpv4Address("10.96.0.20")));

  ASSERT_EQ(Send("DELETE", "/api/v1/namespaces/default/services/a").status, 200);
  EXPECT_FALSE(allocator_->IsIpAllocated(*ParseIpv4Address("10.96.0.20")));
  EXPECT_EQ(CreateService("default", "a", "10.96.0.20", 30020).status, 201);
}

TEST_F(ServiceRestTest, DeletesInATerminatingNamespaceRelease) {
  ASSERT_EQ(Send("POST", "/api/v1/namespaces", R"({"metadata":{"name":"abc"}})").status, 201);
  ASSERT_EQ(CreateService("abc", "a", "10.96.0.30", 30030).status, 201);
  ASSERT_EQ(Send("DELETE", "/api/v1/namespaces/abc").status, 200);
  EXPECT_TRUE(allocator_->IsNodePortAllocated(30030));
  ASSERT_EQ(Send("DELETE", "/api/v1/namespaces/abc/services/a").status, 200);
  EXPECT_FALSE(allocator_->IsNodePortAllocated(30030));
  EXPECT_FALSE(allocator_->IsIpAllocated(*ParseIpv4Address("10.96.0.30")));
}

TEST_F(ServiceRestTest, RestartRebuildsFromTheStore) {
  HttpResponse created = CreateService("default", "a");
  ASSERT_EQ(created.status, 201);
  const json::object a = Body(created);
  Restart();
  EXPECT_TRUE(allocator_->IsIpAllocated(*ParseIpv4Address(ClusterIp(a))));
  EXPECT_EQ(CreateService("default", "b", ClusterIp(a)).status, 422);
  EXPECT_EQ(CreateService("default", "c", "", NodePort(a)).status, 422);
}

}  // namespace
}  // namespace kelp::apiserver
