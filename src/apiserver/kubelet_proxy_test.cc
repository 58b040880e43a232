#include "apiserver/kubelet_proxy.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/quantity.h"
#include "apiserver/metrics_api.h"
#include "apiserver/pki.h"
#include "apiserver/rest.h"
#include "common/testing/fake_clock.h"
#include "common/testing/temp_dir.h"
#include "storage/sqlite/sqlite_store.h"

namespace kelp::apiserver {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

json::object Pod(std::string_view extra_spec = "", std::string_view status = "{}") {
  return json::parse(std::string(R"({"metadata":{"name":"web","namespace":"default"},)") +
                     R"("spec":{)" + std::string(extra_spec) +
                     R"("containers":[{"name":"nginx"}]},"status":)" + std::string(status) + "}")
      .as_object();
}

json::object Node(std::string_view address = "10.0.0.5", int port = 0) {
  std::string text = R"({"metadata":{"name":"node01"},"status":{"addresses":[)";
  if (!address.empty())
    text += R"({"type":"InternalIP","address":")" + std::string(address) + R"("})";
  text += "]";
  if (port)
    text += R"(,"daemonEndpoints":{"kubeletEndpoint":{"Port":)" + std::to_string(port) + "}}";
  return json::parse(text + "}}").as_object();
}

HttpRequest Request(std::string target,
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
  return MakeRequest("GET", std::move(target), std::move(headers), "");
}

std::string Message(const HttpResponse& response) {
  return std::string(json::parse(response.body).as_object().at("message").as_string());
}

TEST(KubeletProxyTest, EndpointIsTheInternalIpAndKubeletPort) {
  Result<KubeletEndpoint> endpoint = KubeletEndpointOf(Node("10.0.0.5"));
  ASSERT_TRUE(endpoint.ok());
  EXPECT_EQ(endpoint->host, "10.0.0.5");
  EXPECT_EQ(endpoint->port, 10250);
  EXPECT_EQ(KubeletEndpointOf(Node("10.0.0.5", 12345))->port, 12345);
  EXPECT_EQ(KubeletEndpointOf(Node("")).status().code(), StatusCode::kUnavailable);
}

TEST(KubeletProxyTest, LogsGoToTheKubeletOfTheNode) {
  KubeletConnector connector(UpstreamTls{.ca_pem = "ca"});
  const json::object node = Node("10.0.0.5", 10251);
  HttpResponse response = connector.PodLog(
      Request("/api/v1/namespaces/default/pods/web/log?container=nginx&follow=true&tailLines=2"),
      Pod(R"("nodeName":"node01",)"), &node);
  ASSERT_NE(response.upstream, nullptr) << response.body;
  EXPECT_EQ(response.upstream->host, "10.0.0.5");
  EXPECT_EQ(response.upstream->port, 10251);
  EXPECT_EQ(response.upstream->target, "/containerLogs/default/web/nginx?follow=true&tailLines=2");
  EXPECT_EQ(response.upstream->tls->ca_pem, "ca");
}

TEST(KubeletProxyTest, ExecForwardsTheUpgradeButNotTheCredentials) {
  KubeletConnector connector(UpstreamTls{});
  const json::object node = Node();
  HttpResponse response = connector.PodExec(
      Request("/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&command=exit%203"
              "&container=nginx&stdout=true",
              {{"Authorization", "Bearer secret"},
               {"Upgrade", "websocket"},
               {"Connection", "Upgrade"},
               {"Sec-WebSocket-Key", "abc"},
               {"Sec-WebSocket-Version", "13"},
               {"Sec-WebSocket-Protocol", "v5.channel.k8s.io"}}),
      Pod(R"("nodeName":"node01",)"), &node);
  ASSERT_NE(response.upstream, nullptr) << response.body;
  EXPECT_EQ(response.upstream->target,
            "/exec/default/web/nginx?command=sh&command=-c&command=exit%203&stdout=true");
  std::map<std::string, std::string> headers(response.upstream->headers.begin(),
                                             response.upstream->headers.end());
  EXPECT_EQ(headers["upgrade"], "websocket");
  EXPECT_EQ(headers["sec-websocket-key"], "abc");
  EXPECT_EQ(headers["sec-websocket-protocol"], "v5.channel.k8s.io");
  EXPECT_EQ(headers.count("authorization"), 0u);
}

TEST(KubeletProxyTest, ClearErrorsBeforeAnyKubeletIsCalled) {
  KubeletConnector connector(UpstreamTls{});
  const json::object node = Node();
  HttpResponse unscheduled = connector.PodLog(Request("/x/log"), Pod(), nullptr);
  EXPECT_EQ(unscheduled.status, 400);
  EXPECT_EQ(Message(unscheduled), "pod web does not have a host assigned");

  HttpResponse no_node = connector.PodLog(Request("/x/log"), Pod(R"("nodeName":"gone",)"), nullptr);
  EXPECT_EQ(no_node.status, 503);
  EXPECT_EQ(Message(no_node), "node \"gone\" of pod web is not registered");

  const json::object addressless = Node("");
  HttpResponse no_address = connector.PodExec(Request("/x/exec?command=ls&stdout=1"),
                                              Pod(R"("nodeName":"node01",)"), &addressless);
  EXPECT_EQ(no_address.status, 503);

  HttpResponse wrong_container =
      connector.PodLog(Request("/x/log?container=db"), Pod(R"("nodeName":"node01",)"), &node);
  EXPECT_EQ(wrong_container.status, 400);
  EXPECT_EQ(Message(wrong_container), "container db is not valid for pod web");

  json::object two = Pod(R"("nodeName":"node01",)");
  two["spec"].as_object()["containers"].as_array().push_back(json::object{{"name", "sidecar"}});
  HttpResponse ambiguous = connector.PodLog(Request("/x/log"), two, &node);
  EXPECT_EQ(ambiguous.status, 400);
  EXPECT_EQ(Message(ambiguous),
            "a container name must be specified for pod web, choose one of: [nginx sidecar]");

  HttpResponse waiting = connector.PodLog(
      Request("/x/log"),
      Pod(R"("nodeName":"node01",)",
          R"({"containerStatuses":[{"name":"nginx","state":{"waiting":{"reason":"ErrImageNeverPull"}}}]})"),
      &node);
  EXPECT_EQ(waiting.status, 400);
  EXPECT_EQ(Message(waiting),
            "container \"nginx\" in pod \"web\" is waiting to start: ErrImageNeverPull");

  HttpResponse completed =
      connector.PodExec(Request("/x/exec?command=ls&stdout=1"),
                        Pod(R"("nodeName":"node01",)", R"({"phase":"Succeeded"})"), &node);
  EXPECT_EQ(completed.status, 400);
  EXPECT_EQ(Message(completed),
            "cannot exec into a container in a completed pod; current phase is Succeeded");
}

TEST(KubeletProxyTest, StatsOfAnUnreachableKubeletFailFast) {
  KubeletConnector connector(UpstreamTls{});
  // Port 1 on loopback: nothing listens.
  Result<std::string> summary = connector.StatsSummary(Node("127.0.0.1", 1), 5s);
  EXPECT_EQ(summary.status().code(), StatusCode::kUnavailable) << summary.status().ToString();
}

TEST(KubeletCertificatesTest, SigningRefusesBadRequests) {
  kelp::testing::ScopedTempDir dir;
  ASSERT_TRUE(EnsurePki(dir.path(), {"127.0.0.1"}).ok());
  EXPECT_EQ(SignKubeletServingCertificate(dir.path(), "not a csr", "node01", {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(SignKubeletServingCertificate(dir.path(), "x", "bad name!", {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(SignKubeletServingCertificate(dir.path(), "x", "node01", {"not-an-ip"}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(KubeletCertificatesTest, ClientCertificateIsKeptAcrossStarts) {
  kelp::testing::ScopedTempDir dir;
  Result<PkiFiles> pki = EnsurePki(dir.path(), {"127.0.0.1"});
  ASSERT_TRUE(pki.ok());
  Result<KubeletClientFiles> first = EnsureKubeletClientCertificate(dir.path());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(VerifyCertificateAgainstCa(first->cert_pem, pki->ca_cert_pem).ok());
  Result<KubeletClientFiles> second = EnsureKubeletClientCertificate(dir.path());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->cert_pem, second->cert_pem);
}

std::string Summary(int64_t seconds, uint64_t node_cpu_ns, uint64_t container_cpu_ns) {
  const std::string time = "2024-01-01T00:00:" + std::string(seconds < 10 ? "0" : "") +
                           std::to_string(seconds) + ".000000000Z";
  return R"({"node":{"nodeName":"node01","cpu":{"time":")" + time + R"(","usageCoreNanoSeconds":)" +
         std::to_string(node_cpu_ns) +
         R"(,"usageNanoCores":7},"memory":{"workingSetBytes":2048}},"pods":[{"podRef":{"name":"web","namespace":"default"},"containers":[{"name":"nginx","cpu":{"time":")" +
         time + R"(","usageCoreNanoSeconds":)" + std::to_string(container_cpu_ns) +
         R"(,"usageNanoCores":5},"memory":{"workingSetBytes":1000}}]}]})";
}

TEST(MetricsApiTest, RatesComeFromTheCumulativeCountersBetweenScrapes) {
  std::map<std::string, std::pair<std::chrono::system_clock::time_point, uint64_t>> cumulative;
  MetricsApi::Scrape first;
  ASSERT_TRUE(AddSummaryToScrape(Summary(0, 0, 0), cumulative, first, 15s).ok());
  // The first time: the kubelet's own rate.
  EXPECT_EQ(first.nodes["node01"].usage.nano_cores, 7);
  EXPECT_EQ(first.nodes["node01"].window, 15s);
  EXPECT_EQ(first.pods["default/web"].containers["nginx"].nano_cores, 5);
  EXPECT_EQ(first.pods["default/web"].containers["nginx"].memory_bytes, 1000);

  MetricsApi::Scrape second;
  ASSERT_TRUE(
      AddSummaryToScrape(Summary(10, 5'000'000'000, 1'000'000'000), cumulative, second, 15s).ok());
  EXPECT_EQ(second.nodes["node01"].usage.nano_cores, 500'000'000);  // 5 s of CPU in 10 s
  EXPECT_EQ(second.nodes["node01"].window, 10s);
  EXPECT_EQ(second.nodes["node01"].usage.memory_bytes, 2048);
  EXPECT_EQ(second.pods["default/web"].usage.nano_cores, 100'000'000);
  EXPECT_EQ(AddSummaryToScrape("{", cumulative, second, 15s).code(), StatusCode::kInvalidArgument);
}

class MetricsApiHandleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::sqlite::SqliteStore::Open((dir_.path() / "state.db").string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    rest_ = std::make_unique<RestApi>(*store_, clock_);
    ASSERT_TRUE(rest_->EnsureDefaultNamespaces().ok());
    Create("/api/v1/nodes", R"({"metadata":{"name":"node01","labels":{"zone":"a"}}})");
    Create("/api/v1/nodes", R"({"metadata":{"name":"quiet"}})");
    for (const char* pod : {"web-1", "web-2", "db"}) {
      const std::string app = std::string(pod).starts_with("web") ? "web" : "db";
      Create("/api/v1/namespaces/default/pods",
             R"({"metadata":{"name":")" + std::string(pod) + R"(","labels":{"app":")" + app +
                 R"("}},"spec":{"nodeName":"node01","containers":[{"name":"c","image":"x"}]}})");
    }
    metrics_ = std::make_unique<MetricsApi>(
        *store_,
        [this](const json::object& node) -> Result<std::string> {
          ++fetches_;
          if (node.at("metadata").as_object().at("name") == "quiet") {
            return UnavailableError("no answer");
          }
          return std::string(
              R"({"node":{"nodeName":"node01","cpu":{"usageNanoCores":250000000},)"
              R"("memory":{"workingSetBytes":104857600}},"pods":[)"
              R"({"podRef":{"name":"web-1","namespace":"default"},"containers":[{"name":"c",)"
              R"("cpu":{"usageNanoCores":90000000},"memory":{"workingSetBytes":1048576}}]},)"
              R"({"podRef":{"name":"web-2","namespace":"default"},"containers":[{"name":"c",)"
              R"("cpu":{"usageNanoCores":10000000},"memory":{"workingSetBytes":2097152}}]},)"
              R"({"podRef":{"name":"db","namespace":"default"},"containers":[{"name":"c",)"
              R"("cpu":{"usageNanoCores":5},"memory":{"workingSetBytes":1}}]}]})");
        },
        clock_, MetricsOptions{.resolution = 10s});
  }

  void Create(const std::string& path, const std::string& body) {
    HttpResponse response = rest_->Handle(MakeRequest("POST", path, {}, body));
    ASSERT_EQ(response.status, 201) << response.body;
  }

  HttpResponse Get(const std::string& target) {
    return metrics_->Handle(MakeRequest("GET", target, {}, ""));
  }

  kelp::testing::ScopedTempDir dir_;
  kelp::testing::FakeClock clock_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<RestApi> rest_;
  std::unique_ptr<MetricsApi> metrics_;
  int fetches_ = 0;
};

TEST_F(MetricsApiHandleTest, PodMetricsAsTheHpaReadsThem) {
  HttpResponse response =
      Get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app%3Dweb");
  ASSERT_EQ(response.status, 200) << response.body;
  json::object list = json::parse(response.body).as_object();
  EXPECT_EQ(list["kind"], "PodMetricsList");
  EXPECT_EQ(list["apiVersion"], "metrics.k8s.io/v1beta1");
  const json::array& items = list["items"].as_array();
  ASSERT_EQ(items.size(), 2u);
  const json::object& first = items[0].as_object();
  EXPECT_EQ(first.at("kind"), "PodMetrics");
  EXPECT_EQ(first.at("metadata").as_object().at("name"), "web-1");
  EXPECT_EQ(first.at("metadata").as_object().at("labels").as_object().at("app"), "web");
  EXPECT_EQ(first.at("window"), "10s");
  const json::object& usage =
      first.at("containers").as_array()[0].as_object().at("usage").as_object();
  // What the HPA controller does with it: 90m of CPU.
  Result<long double> cpu = api::ParseQuantity(usage.at("cpu").as_string());
  ASSERT_TRUE(cpu.ok());
  EXPECT_EQ(std::llround(*cpu * 1000), 90);
  EXPECT_EQ(usage.at("memory"), "1024Ki");

  // Cached for the resolution: one scrape per node so far, none more until it passes.
  EXPECT_EQ(fetches_, 2);
  ASSERT_EQ(Get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/db").status, 200);
  EXPECT_EQ(fetches_, 2);
  clock_.Advance(11s);
  ASSERT_EQ(Get("/apis/metrics.k8s.io/v1beta1/pods").status, 200);
  EXPECT_EQ(fetches_, 4);
}

TEST_F(MetricsApiHandleTest, NodeMetricsAndErrors) {
  HttpResponse nodes = Get("/apis/metrics.k8s.io/v1beta1/nodes");
  ASSERT_EQ(nodes.status, 200) << nodes.body;
  const json::value parsed = json::parse(nodes.body);
  const json::array& items = parsed.as_object().at("items").as_array();
  ASSERT_EQ(items.size(), 1u);  // "quiet" did not answer
  EXPECT_EQ(items[0].as_object().at("usage").as_object().at("cpu"), "250000000n");
  EXPECT_EQ(items[0].as_object().at("usage").as_object().at("memory"), "102400Ki");

  HttpResponse quiet = Get("/apis/metrics.k8s.io/v1beta1/nodes/quiet");
  EXPECT_EQ(quiet.status, 404);
  EXPECT_EQ(Message(quiet), "nodes.metrics.k8s.io \"quiet\" not found");
  EXPECT_EQ(Get("/apis/metrics.k8s.io/v1beta1/namespaces/default/nodes").status, 404);
  EXPECT_EQ(Get("/apis/metrics.k8s.io/v1beta1/pods?labelSelector=%3D%3D").status, 400);
  EXPECT_EQ(
      metrics_->Handle(MakeRequest("DELETE", "/apis/metrics.k8s.io/v1beta1/pods", {}, "")).status,
      405);
}

}  // namespace
}  // namespace kelp::apiserver
