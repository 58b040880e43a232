// ServiceProxy over FakeApiClient + FakeNftables: the table is built once both informers
// have listed, Service and EndpointSlice events become small incremental transactions,
// changes close together are coalesced into one sync, deletions are cleaned up after the
// delay, the periodic resync rewrites the table, and a failed sync is retried as a rebuild.
#include "proxy/service_proxy.h"

#include <thread>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/testing/fake_api_client.h"
#include "common/testing/fake_clock.h"
#include "proxy/testing/fake_conntrack.h"
#include "proxy/testing/fake_nftables.h"

namespace kelp::proxy {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr auto kWait = std::chrono::seconds(30);

json::object ServiceObject(std::string_view name, std::string_view cluster_ip) {
  return {
      {"metadata", json::object{{"namespace", "default"}, {"name", name}}},
      {"spec", json::object{{"clusterIP", cluster_ip},
                            {"ports", json::array{json::object{
                                          {"name", "http"}, {"port", 80}, {"protocol", "TCP"}}}}}}};
}

json::object SliceObject(std::string_view name, std::string_view service,
                         std::vector<std::string_view> addresses) {
  json::array endpoints;
  for (std::string_view address : addresses) {
    endpoints.push_back(json::object{{"addresses", json::array{json::string(address)}},
                                     {"conditions", json::object{{"ready", true}}},
                                     {"nodeName", "node02"}});
  }
  return {
      {"metadata", json::object{{"namespace", "default"},
                                {"name", name},
                                {"labels", json::object{{std::string(kServiceNameLabel),
                                                         json::string(service)}}}}},
      {"addressType", "IPv4"},
      {"ports", json::array{json::object{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}},
      {"endpoints", std::move(endpoints)}};
}

class ServiceProxyTest : public ::testing::Test {
 protected:
  ServiceProxyTest() : client_(clock_), informers_(client_) {}
  ~ServiceProxyTest() override {
    if (proxy_) proxy_->Stop();
    informers_.Stop();
  }

  void StartProxy(std::chrono::milliseconds min_sync_interval = 0ms) {
    ServiceProxyOptions options;
    options.proxier.ruleset.node_name = "node01";
    options.proxier.ruleset.nodeport_addresses = {*net::Ipv4Address::Parse("192.168.206.20")};
    options.min_sync_interval = min_sync_interval;
    options.sync_period = std::chrono::hours(1);
    proxy_ = std::make_unique<ServiceProxy>(informers_, nft_, conntrack_, clock_, options);
    informers_.Start();
    proxy_->Start();
  }

  // Waits for transaction number `count` (1-based) and returns it.
  std::string WaitForTransaction(size_t count) {
    EXPECT_TRUE(nft_.WaitForTransactions(count, kWait)) << "no transaction #" << count;
    std::vector<std::string> all = nft_.transactions();
    return all.size() >= count ? all[count - 1] : "";
  }

  // Waits until the informer of `resource` holds `key` (or no longer does).
  void WaitForCache(const client::Resource& resource, const std::string& key, bool present) {
    client::Informer& informer = informers_.For(resource);
    for (int i = 0; i < 6000 && (informer.Get(key) != nullptr) != present; ++i) {
      std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ(informer.Get(key) != nullptr, present) << key;
  }

  kelp::testing::FakeClock clock_;
  client::testing::FakeApiClient client_;
  client::InformerFactory informers_;
  testing::FakeNftables nft_;
  testing::FakeConntrack conntrack_;
  std::unique_ptr<ServiceProxy> proxy_;
};

TEST_F(ServiceProxyTest, BuildsTheTableFromTheApiThenAppliesEventsIncrementally) {
  client_.Seed(client::kServices, ServiceObject("web", "10.96.0.20"));
  client_.Seed(client::kEndpointSlices, SliceObject("web-1", "web", {"10.244.2.2", "10.244.2.3"}));
  StartProxy();

  const std::string first = WaitForTransaction(1);
  EXPECT_THAT(first, HasSubstr("delete table ip kelp-proxy\n"));
  EXPECT_THAT(first, HasSubstr("\tchain svc-default/web/tcp/http {\n\t\tnumgen inc mod 2 0 meta "
                               "l4proto tcp dnat to 10.244.2.2:8080\n\t\tmeta l4proto tcp dnat to "
                               "10.244.2.3:8080\n\t}\n"));
  for (int i = 0; i < 6000 && !proxy_->HasSynced(); ++i) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(proxy_->HasSynced());

  // A third endpoint (on another node): only the Service's chain changes.
  ASSERT_TRUE(client_
                  .Update(client::kEndpointSlices,
                          SliceObject("web-1", "web", {"10.244.2.2", "10.244.2.3", "10.244.2.4"}))
                  .ok());
  EXPECT_EQ(WaitForTransaction(2), R"nft(flush chain ip kelp-proxy svc-default/web/tcp/http
add chain ip kelp-proxy svc-default/web/tcp/http {
	numgen inc mod 3 0 meta l4proto tcp dnat to 10.244.2.2:8080
	numgen inc mod 2 0 meta l4proto tcp dnat to 10.244.2.3:8080
	meta l4proto tcp dnat to 10.244.2.4:8080
}
)nft");

  // A new Service whose slice arrives later: first rejected, then served.
  ASSERT_TRUE(
      client_.Create(client::kServices, "default", ServiceObject("api", "10.96.0.21")).ok());
  EXPECT_EQ(WaitForTransaction(3),
            R"nft(add set ip kelp-proxy cluster-ips { type ipv4_addr; elements = { 10.96.0.21 } }
add map ip kelp-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict; elements = { 10.96.0.21 . tcp . 80 : goto reject-connection } }
)nft");
  ASSERT_TRUE(
      client_
          .Create(client::kEndpointSlices, "default", SliceObject("api-1", "api", {"10.244.2.9"}))
          .ok());
  EXPECT_THAT(WaitForTransaction(4),
              HasSubstr("add map ip kelp-proxy service-ips { type ipv4_addr . inet_proto . "
                        "inet_service : verdict; elements = { 10.96.0.21 . tcp . 80 : goto "
                        "svc-default/api/tcp/http } }\n"));

  // The Service goes: rules now, its chain a second later.
  ASSERT_TRUE(client_.Delete(client::kServices, "default", "api", {}).ok());
  EXPECT_THAT(WaitForTransaction(5),
              HasSubstr("flush chain ip kelp-proxy svc-default/api/tcp/http\n"));
  clock_.Advance(1s);
  EXPECT_EQ(WaitForTransaction(6), "delete chain ip kelp-proxy svc-default/api/tcp/http\n");
  EXPECT_EQ(proxy_->counts().services, 1u);
}

TEST_F(ServiceProxyTest, ChangesCloseTogetherGoIntoOneTransaction) {
  client_.Seed(client::kServices, ServiceObject("web", "10.96.0.20"));
  StartProxy(/*min_sync_interval=*/10s);
  WaitForTransaction(1);

  ASSERT_TRUE(
      client_
          .Create(client::kEndpointSlices, "default", SliceObject("web-1", "web", {"10.244.2.2"}))
          .ok());
  ASSERT_TRUE(client_.Create(client::kServices, "default", ServiceObject("a", "10.96.0.31")).ok());
  ASSERT_TRUE(client_.Create(client::kServices, "default", ServiceObject("b", "10.96.0.32")).ok());
  WaitForCache(client::kEndpointSlices, "default/web-1", true);
  WaitForCache(client::kServices, "default/a", true);
  WaitForCache(client::kServices, "default/b", true);
  // The informers have delivered all three; no sync may run before the interval is over.
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(nft_.transactions().size(), 1u);

  clock_.Advance(10s);
  const std::string merged = WaitForTransaction(2);
  EXPECT_THAT(merged,
              HasSubstr("service-ips { type ipv4_addr . inet_proto . inet_service : verdict; "
                        "elements = { 10.96.0.20 . tcp . 80 : goto svc-default/web/tcp/http } }"));
  EXPECT_THAT(merged, HasSubstr("10.96.0.31 . tcp . 80 : goto reject-connection"));
  EXPECT_THAT(merged, HasSubstr("10.96.0.32 . tcp . 80 : goto reject-connection"));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(nft_.transactions().size(), 2u);
}

TEST_F(ServiceProxyTest, PeriodicResyncRewritesTheTableInPlace) {
  client_.Seed(client::kServices, ServiceObject("web", "10.96.0.20"));
  client_.Seed(client::kEndpointSlices, SliceObject("web-1", "web", {"10.244.2.2"}));
  StartProxy();
  WaitForTransaction(1);
  clock_.Advance(std::chrono::hours(1));
  const std::string resync = WaitForTransaction(2);
  EXPECT_THAT(resync, Not(HasSubstr("delete table")));
  EXPECT_THAT(resync, HasSubstr("flush map ip kelp-proxy service-ips\n"));
  EXPECT_THAT(resync, HasSubstr("flush chain ip kelp-proxy svc-default/web/tcp/http\n"));
  // The build and the resync at least (syncs that find nothing to change count too).
  for (int i = 0; i < 6000 && proxy_->sync_count() < 2; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_GE(proxy_->sync_count(), 2u);
}

TEST_F(ServiceProxyTest, AFailedSyncIsRetriedAsARebuild) {
  client_.Seed(client::kServices, ServiceObject("web", "10.96.0.20"));
  StartProxy();
  WaitForTransaction(1);
  nft_.FailNext(1, IoError("nft: Could not process rule: No buffer space available"));
  ASSERT_TRUE(
      client_
          .Create(client::kEndpointSlices, "default", SliceObject("web-1", "web", {"10.244.2.2"}))
          .ok());
  EXPECT_THAT(WaitForTransaction(2), Not(HasSubstr("delete table")));
  // The retry waits for its backoff on the clock.
  clock_.Advance(1s);
  const std::string retry = WaitForTransaction(3);
  EXPECT_THAT(retry, HasSubstr("delete table ip kelp-proxy\n"));
  EXPECT_THAT(retry, HasSubstr("meta l4proto tcp dnat to 10.244.2.2:8080"));
}

TEST_F(ServiceProxyTest, MalformedObjectsAreSkippedNotFatal) {
  json::object bad = ServiceObject("bad", "10.96.0.400");
  client_.Seed(client::kServices, bad);
  client_.Seed(client::kServices, ServiceObject("web", "10.96.0.20"));
  StartProxy();
  const std::string first = WaitForTransaction(1);
  EXPECT_THAT(first, HasSubstr("10.96.0.20 . tcp . 80 : goto reject-connection"));
  EXPECT_THAT(first, Not(HasSubstr("10.96.0.400")));
}

TEST_F(ServiceProxyTest, StopsPromptlyBeforeTheInformersHaveListed) {
  ServiceProxyOptions options;
  proxy_ = std::make_unique<ServiceProxy>(informers_, nft_, conntrack_, clock_, options);
  proxy_->Start();  // the informers are never started
  proxy_->Stop();
  EXPECT_TRUE(nft_.transactions().empty());
  EXPECT_FALSE(proxy_->HasSynced());
}

}  // namespace
}  // namespace kelp::proxy
