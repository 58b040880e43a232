// Golden tests of the Proxier over FakeNftables: the transaction text it applies for each
// situation (ClusterIP round robin, NodePort, no endpoints, affinity, traffic policies,
// terminating endpoints) and how small the incremental ones stay when a Service or an endpoint
// changes, how deletions are staged, and how resync and failures rebuild the table.
#include "proxy/proxier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/fake_clock.h"
#include "proxy/testing/fake_conntrack.h"
#include "proxy/testing/fake_nftables.h"

namespace kelp::proxy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

net::Ipv4Address Ip(std::string_view text) { return *net::Ipv4Address::Parse(text); }

Service MakeService(std::string name, std::string_view cluster_ip, std::vector<ServicePort> ports) {
  Service service;
  service.namespace_name = "default";
  service.name = std::move(name);
  service.cluster_ip = Ip(cluster_ip);
  service.ports = std::move(ports);
  return service;
}

Endpoint Ready(std::string_view address, std::string node = "node02") {
  return {.address = Ip(address), .node_name = std::move(node)};
}

Endpoint Terminating(std::string_view address, bool serving, std::string node = "node02") {
  return {.address = Ip(address),
          .ready = false,
          .serving = serving,
          .terminating = true,
          .node_name = std::move(node)};
}

EndpointSlice MakeSlice(std::string service, std::vector<SlicePort> ports,
                        std::vector<Endpoint> endpoints, std::string name = "") {
  EndpointSlice slice;
  slice.namespace_name = "default";
  slice.name = name.empty() ? service + "-abcde" : name;
  slice.service_name = std::move(service);
  slice.ports = std::move(ports);
  slice.endpoints = std::move(endpoints);
  return slice;
}

const SlicePort kHttp8080{"http", Protocol::kTcp, 8080};

class ProxierTest : public ::testing::Test {
 protected:
  ProxierTest() : proxier_(nft_, conntrack_, clock_, Options()) {}

  static ProxierOptions Options() {
    ProxierOptions options;
    options.ruleset.node_name = "node01";
    options.ruleset.nodeport_addresses = {Ip("192.168.206.20")};
    options.ruleset.cluster_cidr = *net::Ipv4Prefix::Parse("10.244.0.0/16");
    return options;
  }

  // Syncs an empty table first, so that the next transaction shows only what a test adds.
  void StartEmpty() {
    ASSERT_TRUE(proxier_.Sync().ok());
    nft_.Clear();
  }

  // Syncs and returns the one transaction it applied.
  std::string SyncOnce() {
    const size_t before = nft_.transactions().size();
    Status status = proxier_.Sync();
    EXPECT_TRUE(status.ok()) << status.ToString();
    std::vector<std::string> all = nft_.transactions();
    EXPECT_EQ(all.size(), before + 1);
    return all.size() > before ? all.back() : "";
  }

  void Set(const Service& service, std::vector<EndpointSlice> slices) {
    proxier_.SetService("default/" + service.name, service, std::move(slices));
  }

  testing::FakeNftables nft_;
  testing::FakeConntrack conntrack_;
  kelp::testing::FakeClock clock_;
  Proxier proxier_;
};

constexpr const char* kFixedTable =
    R"nft(	comment "rules of the kelp Service proxy; do not edit"
	set cluster-ips {
		type ipv4_addr
		comment "every ClusterIP: ports without a Service are rejected"
	}
	set nodeport-ips {
		type ipv4_addr
		comment "node addresses that accept NodePort traffic"
	}
	set hairpin {
		type ipv4_addr . ipv4_addr
		comment "endpoint . endpoint: a pod that reached itself through a Service is masqueraded"
	}
	map service-ips {
		type ipv4_addr . inet_proto . inet_service : verdict
		comment "ClusterIP . protocol . port: the Service's chain"
	}
	map service-nodeports {
		type inet_proto . inet_service : verdict
		comment "NodePorts with externalTrafficPolicy Cluster (masqueraded)"
	}
	set masqueraded-nodeports {
		type inet_proto . inet_service
		comment "the NodePorts of service-nodeports: their traffic is masqueraded"
	}
	map local-nodeports {
		type inet_proto . inet_service : verdict
		comment "NodePorts with externalTrafficPolicy Local"
	}
	map no-endpoint-services {
		type ipv4_addr . inet_proto . inet_service : verdict
		comment "ClusterIP ports without usable endpoints: reject (or drop)"
	}
	map no-endpoint-nodeports {
		type inet_proto . inet_service : verdict
		comment "NodePorts without usable endpoints: reject (or drop)"
	}
	chain nat-prerouting {
		type nat hook prerouting priority -100; policy accept;
		jump services
	}
	chain nat-output {
		type nat hook output priority -100; policy accept;
		jump services
	}
	chain nat-postrouting {
		type nat hook postrouting priority 100; policy accept;
		jump masquerading
	}
	chain filter-input {
		type filter hook input priority -110; policy accept;
		ct state new jump endpoints-check
	}
	chain filter-forward {
		type filter hook forward priority -110; policy accept;
		ct state new jump endpoints-check
		ct state new jump cluster-ips-check
	}
	chain filter-output {
		type filter hook output priority -90; policy accept;
		ct state new jump endpoints-check
		ct state new jump cluster-ips-check
	}
	chain services {
		ip saddr != 10.244.0.0/16 ip daddr @cluster-ips jump mark-for-masquerade
		ip daddr . meta l4proto . th dport vmap @service-ips
		ip daddr @nodeport-ips jump nodeports
	}
	chain nodeports {
		meta l4proto . th dport vmap @local-nodeports
		meta l4proto . th dport @masqueraded-nodeports jump mark-for-masquerade
		meta l4proto . th dport vmap @service-nodeports
	}
	chain endpoints-check {
		ip daddr . meta l4proto . th dport vmap @no-endpoint-services
		ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports
	}
	chain cluster-ips-check {
		ip daddr @cluster-ips goto reject-connection
	}
	chain reject-connection {
		meta l4proto tcp reject with tcp reset
		reject
	}
	chain mark-for-masquerade {
		meta mark set meta mark | 0x00004000
	}
	chain masquerading {
		ct status dnat ip saddr . ip daddr @hairpin masquerade
		meta mark & 0x00004000 == 0x00000000 return
		meta mark set meta mark ^ 0x00004000
		masquerade fully-random
	}
)nft";

TEST_F(ProxierTest, FirstSyncRebuildsTheTableWithARoundRobinClusterIp) {
  Set(MakeService("web", "10.96.0.20", {{"http", Protocol::kTcp, 80, 0}}),
      {MakeSlice("web", {kHttp8080},
                 {Ready("10.244.2.2"), Ready("10.244.1.2", "node01"), Ready("10.244.1.3")})});
  EXPECT_EQ(SyncOnce(), std::string(R"nft(add table ip kelp-proxy
delete table ip kelp-proxy
table ip kelp-proxy {
)nft") + kFixedTable + R"nft(	chain svc-default/web/tcp/http {
		numgen inc mod 3 0 meta l4proto tcp dnat to 10.244.1.2:8080
		numgen inc mod 2 0 meta l4proto tcp dnat to 10.244.1.3:8080
		meta l4proto tcp dnat to 10.244.2.2:8080
	}
}
add set ip kelp-proxy cluster-ips { type ipv4_addr; elements = { 10.96.0.20 } }
add set ip kelp-proxy hairpin { type ipv4_addr . ipv4_addr; elements = { 10.244.1.2 . 10.244.1.2 } }
add set ip kelp-proxy nodeport-ips { type ipv4_addr; elements = { 192.168.206.20 } }
add map ip kelp-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict; elements = { 10.96.0.20 . tcp . 80 : goto svc-default/web/tcp/http } }
)nft");
  EXPECT_EQ(proxier_.counts().services, 1u);
  EXPECT_EQ(proxier_.counts().chains, 1u);
}

TEST_F(ProxierTest, NodePortWithClusterPolicyIsMasqueradedToAnyEndpoint) {
  StartEmpty();
  Set(MakeService("web", "10.96.0.20", {{"http", Protocol::kTcp, 80, 30080}}),
      {MakeSlice("web", {kHttp8080}, {Ready("10.244.1.2", "node01"), Ready("10.244.2.2")})});
  EXPECT_EQ(SyncOnce(), R"nft(add chain ip kelp-proxy svc-default/web/tcp/http
add chain ip kelp-proxy svc-default/web/tcp/http {
	numgen inc mod 2 0 meta l4proto tcp dnat to 10.244.1.2:8080
	meta l4proto tcp dnat to 10.244.2.2:8080
}
add set ip kelp-proxy cluster-ips { type ipv4_addr; elements = { 10.96.0.20 } }
add set ip kelp-proxy hairpin { type ipv4_addr . ipv4_addr; elements = { 10.244.1.2 . 10.244.1.2 } }
add set ip kelp-proxy masqueraded-nodeports { type inet_proto . inet_service; elements = { tcp . 30080 } }
add map ip kelp-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict; elements = { 10.96.0.20 . tcp . 80 : goto svc-default/web/tcp/http } }
add map ip kelp-proxy service-nodeports { type inet_proto . inet_service : verdict; elements = { tcp . 30080 : goto svc-default/web/tcp/http } }
)nft");
}

TEST_F(ProxierTest, ServiceWithoutEndpointsRejectsInsteadOfBlackHoling) {
  StartEmpty();
  Set(MakeService("empty", "10.96.0.30",
                  {{"http", Protocol::kTcp, 80, 30081}, {"dns", Protocol::kUdp, 53, 0}}),
      {});
  EXPECT_EQ(SyncOnce(),
            R"nft(add set ip kelp-proxy cluster-ips { type ipv4_addr; elements = { 10.96.0.30 } }
add map ip kelp-proxy no-endpoint-nodeports { type inet_proto . inet_service : verdict; elements = { tcp . 30081 : goto reject-connection } }
add map ip kelp-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict; elements = {
	10.96.0.30 . tcp . 80 : goto reject-connection,
	10.96.0.30 . udp . 53 : goto reject-connection
} }
)nft");

  // The first endpoint replaces the reject with the Service's chain in the same transaction.
  Set(MakeService("empty", "10.96.0.30",
                  {{"http", Protocol::kTcp, 80, 30081}, {"dns", Protocol::kUdp, 53, 0}}),
      {MakeSlice("empty", {kHttp8080}, {Ready("10.244.2.9")})});
  EXPECT_EQ(SyncOnce(), R"nft(add chain ip kelp-proxy svc-default/empty/tcp/http
add chain ip kelp-proxy svc-default/empty/tcp/http {
	meta l4proto tcp dnat to 10.244.2.9:8080
}
delete element ip kelp-proxy no-endpoint-nodeports { tcp . 30081 }
delete element ip kelp-proxy no-endpoint-services { 10.96.0.30 . tcp . 80 }
add set ip kelp-proxy masqueraded-nodeports { type inet_proto . inet_service; elements = { tcp . 30081 } }
add map ip kelp-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict; elements = { 10.96.0.30 . tcp . 80 : goto svc-default/empty/tcp/http } }
add map ip kelp-proxy service-nodeports { type inet_proto . inet_service : verdict; elements = { tcp . 30081 : goto svc-default/empty/tcp/http } }
)nft");
}

TEST_F(ProxierTest, ClientIpAffinitySendsAKnownClientBackToItsEndpoint) {
  StartEmpty();
  Service service = MakeService("sticky", "10.96.0.40", {{"http", Protocol::kTcp, 80, 0}});
  service.affinity_client_ip = true;
  service.affinity_timeout_seconds = 600;
  Set(service, {MakeSlice("sticky", {kHttp8080}, {Ready("10.244.1.2"), Ready("10.244.1.3")})});
  EXPECT_EQ(
      SyncOnce(),
      R"nft(add set ip kelp-proxy affinity-default/sticky/tcp/http/10.244.1.2/8080 { type ipv4_addr; flags dynamic,timeout; timeout 600s; }
add set ip kelp-proxy affinity-default/sticky/tcp/http/10.244.1.3/8080 { type ipv4_addr; flags dynamic,timeout; timeout 600s; }
add chain ip kelp-proxy svc-default/sticky/tcp/http
add chain ip kelp-proxy svc-default/sticky/tcp/http {
	ip saddr @affinity-default/sticky/tcp/http/10.244.1.2/8080 meta l4proto tcp update @affinity-default/sticky/tcp/http/10.244.1.2/8080 { ip saddr } dnat to 10.244.1.2:8080
	ip saddr @affinity-default/sticky/tcp/http/10.244.1.3/8080 meta l4proto tcp update @affinity-default/sticky/tcp/http/10.244.1.3/8080 { ip saddr } dnat to 10.244.1.3:8080
	numgen inc mod 2 0 meta l4proto tcp update @affinity-default/sticky/tcp/http/10.244.1.2/8080 { ip saddr } dnat to 10.244.1.2:8080
	meta l4proto tcp update @affinity-default/sticky/tcp/http/10.244.1.3/8080 { ip saddr } dnat to 10.244.1.3:8080
}
add set ip kelp-proxy cluster-ips { type ipv4_addr; elements = { 10.96.0.40 } }
add map ip kelp-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict; elements = { 10.96.0.40 . tcp . 80 : goto svc-default/sticky/tcp/http } }
)nft");

  // An endpoint that goes takes its affinity set (and the clients it held) with it. The set
  // that stays is declared again (unchanged) so that the rewritten chain's rules can name it.
  Set(service, {MakeSlice("sticky", {kHttp8080}, {Ready("10.244.1.3")})});
  EXPECT_EQ(
      SyncOnce(),
      R"nft(add set ip kelp-proxy affinity-default/sticky/tcp/http/10.244.1.3/8080 { type ipv4_addr; flags dynamic,timeout; timeout 600s; }
flush chain ip kelp-proxy svc-default/sticky/tcp/http
add chain ip kelp-proxy svc-default/sticky/tcp/http {
	ip saddr @affinity-default/sticky/tcp/http/10.244.1.3/8080 meta l4proto tcp update @affinity-default/sticky/tcp/http/10.244.1.3/8080 { ip saddr } dnat to 10.244.1.3:8080
	meta l4proto tcp update @affinity-default/sticky/tcp/http/10.244.1.3/8080 { ip saddr } dnat to 10.244.1.3:8080
}
delete set ip kelp-proxy affinity-default/sticky/tcp/http/10.244.1.2/8080
)nft");
}

TEST_F(ProxierTest, ExternalTrafficPolicyLocalKeepsNodePortTrafficOnThisNode) {
  StartEmpty();
  Service service = MakeService("local", "10.96.0.50", {{"http", Protocol::kTcp, 80, 30090}});
  service.external_policy_local = true;
  Set(service, {MakeSlice("local", {kHttp8080},
                          {Ready("10.244.1.2", "node01"), Ready("10.244.2.2", "node02")})});
  EXPECT_EQ(SyncOnce(), R"nft(add chain ip kelp-proxy ext-default/local/tcp/http
add chain ip kelp-proxy local-default/local/tcp/http
add chain ip kelp-proxy svc-default/local/tcp/http
add chain ip kelp-proxy ext-default/local/tcp/http {
	fib saddr type local jump mark-for-masquerade
	fib saddr type local goto svc-default/local/tcp/http
	ip saddr 10.244.0.0/16 goto svc-default/local/tcp/http
	goto local-default/local/tcp/http
}
add chain ip kelp-proxy local-default/local/tcp/http {
	meta l4proto tcp dnat to 10.244.1.2:8080
}
add chain ip kelp-proxy svc-default/local/tcp/http {
	numgen inc mod 2 0 meta l4proto tcp dnat to 10.244.1.2:8080
	meta l4proto tcp dnat to 10.244.2.2:8080
}
add set ip kelp-proxy cluster-ips { type ipv4_addr; elements = { 10.96.0.50 } }
add set ip kelp-proxy hairpin { type ipv4_addr . ipv4_addr; elements = { 10.244.1.2 . 10.244.1.2 } }
add map ip kelp-proxy local-nodeports { type inet_proto . inet_service : verdict; elements = { tcp . 30090 : goto ext-default/local/tcp/http } }
add map ip kelp-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict; elements = { 10.96.0.50 . tcp . 80 : goto svc-default/local/tcp/http } }
)nft");

  // No endpoint left on this node: outside traffic to the NodePort is dropped (as kube-proxy
  // does, so a load balancer's health check moves on), the node and pods still get through.
  Set(service, {MakeSlice("local", {kHttp8080}, {Ready("10.244.2.2", "node02")})});
  EXPECT_EQ(SyncOnce(), R"nft(flush chain ip kelp-proxy ext-default/local/tcp/http
add chain ip kelp-proxy ext-default/local/tcp/http {
	fib saddr type local jump mark-for-masquerade
	fib saddr type local goto svc-default/local/tcp/http
	ip saddr 10.244.0.0/16 goto svc-default/local/tcp/http
}
flush chain ip kelp-proxy svc-default/local/tcp/http
add chain ip kelp-proxy svc-default/local/tcp/http {
	meta l4proto tcp dnat to 10.244.2.2:8080
}
delete element ip kelp-proxy hairpin { 10.244.1.2 . 10.244.1.2 }
add map ip kelp-proxy no-endpoint-nodeports { type inet_proto . inet_service : verdict; elements = { tcp . 30090 : drop } }
flush chain ip kelp-proxy local-default/local/tcp/http
)nft");
}

TEST_F(ProxierTest, InternalTrafficPolicyLocalDropsWithoutALocalEndpoint) {
  StartEmpty();
  Service service = MakeService("node-local", "10.96.0.60", {{"dns", Protocol::kUdp, 53, 0}});
  service.internal_policy_local = true;
  Set(service,
      {MakeSlice("node-local", {{"dns", Protocol::kUdp, 5353}}, {Ready("10.244.2.2", "node02")})});
  EXPECT_EQ(SyncOnce(),
            R"nft(add set ip kelp-proxy cluster-ips { type ipv4_addr; elements = { 10.96.0.60 } }
add map ip kelp-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict; elements = { 10.96.0.60 . udp . 53 : drop } }
)nft");
  Set(service, {MakeSlice("node-local", {{"dns", Protocol::kUdp, 5353}},
                          {Ready("10.244.1.7", "node01"), Ready("10.244.2.2", "node02")})});
  EXPECT_EQ(SyncOnce(), R"nft(add chain ip kelp-proxy local-default/node-local/udp/dns
add chain ip kelp-proxy local-default/node-local/udp/dns {
	meta l4proto udp dnat to 10.244.1.7:5353
}
delete element ip kelp-proxy no-endpoint-services { 10.96.0.60 . udp . 53 }
add set ip kelp-proxy hairpin { type ipv4_addr . ipv4_addr; elements = { 10.244.1.7 . 10.244.1.7 } }
add map ip kelp-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict; elements = { 10.96.0.60 . udp . 53 : goto local-default/node-local/udp/dns } }
)nft");
}

TEST_F(ProxierTest, TerminatingEndpointsOnlyServeWhenNoneIsReady) {
  StartEmpty();
  Service service = MakeService("drain", "10.96.0.70", {{"http", Protocol::kTcp, 80, 0}});
  Set(service,
      {MakeSlice("drain", {kHttp8080}, {Ready("10.244.1.2"), Terminating("10.244.1.3", true)})});
  EXPECT_THAT(SyncOnce(), HasSubstr("add chain ip kelp-proxy svc-default/drain/tcp/http {\n\tmeta "
                                    "l4proto tcp dnat to 10.244.1.2:8080\n}\n"));
  EXPECT_THAT(nft_.last_applied(), Not(HasSubstr("10.244.1.3")));

  // The last ready endpoint goes: the ones still serving while terminating take the traffic.
  Set(service, {MakeSlice("drain", {kHttp8080},
                          {Terminating("10.244.1.2", true), Terminating("10.244.1.3", true),
                           Terminating("10.244.1.4", false)})});
  EXPECT_EQ(SyncOnce(), R"nft(flush chain ip kelp-proxy svc-default/drain/tcp/http
add chain ip kelp-proxy svc-default/drain/tcp/http {
	numgen inc mod 2 0 meta l4proto tcp dnat to 10.244.1.2:8080
	meta l4proto tcp dnat to 10.244.1.3:8080
}
)nft");

  // Not serving any more either: rejected.
  Set(service, {MakeSlice("drain", {kHttp8080}, {Terminating("10.244.1.2", false)})});
  EXPECT_EQ(SyncOnce(), R"nft(delete element ip kelp-proxy service-ips { 10.96.0.70 . tcp . 80 }
add map ip kelp-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict; elements = { 10.96.0.70 . tcp . 80 : goto reject-connection } }
flush chain ip kelp-proxy svc-default/drain/tcp/http
)nft");
}

TEST_F(ProxierTest, AnEndpointChangeRewritesOnlyThatServicesChain) {
  Set(MakeService("web", "10.96.0.20", {{"http", Protocol::kTcp, 80, 0}}),
      {MakeSlice("web", {kHttp8080}, {Ready("10.244.1.2"), Ready("10.244.1.3")})});
  Set(MakeService("api", "10.96.0.21", {{"http", Protocol::kTcp, 80, 0}}),
      {MakeSlice("api", {kHttp8080}, {Ready("10.244.1.9")})});
  SyncOnce();

  Set(MakeService("web", "10.96.0.20", {{"http", Protocol::kTcp, 80, 0}}),
      {MakeSlice("web", {kHttp8080},
                 {Ready("10.244.1.2"), Ready("10.244.1.3"), Ready("10.244.2.4")})});
  EXPECT_EQ(SyncOnce(), R"nft(flush chain ip kelp-proxy svc-default/web/tcp/http
add chain ip kelp-proxy svc-default/web/tcp/http {
	numgen inc mod 3 0 meta l4proto tcp dnat to 10.244.1.2:8080
	numgen inc mod 2 0 meta l4proto tcp dnat to 10.244.1.3:8080
	meta l4proto tcp dnat to 10.244.2.4:8080
}
)nft");

  Set(MakeService("web", "10.96.0.20", {{"http", Protocol::kTcp, 80, 0}}),
      {MakeSlice("web", {kHttp8080}, {Ready("10.244.1.3"), Ready("10.244.2.4")})});
  EXPECT_EQ(SyncOnce(), R"nft(flush chain ip kelp-proxy svc-default/web/tcp/http
add chain ip kelp-proxy svc-default/web/tcp/http {
	numgen inc mod 2 0 meta l4proto tcp dnat to 10.244.1.3:8080
	meta l4proto tcp dnat to 10.244.2.4:8080
}
)nft");
}

// "add rule" and "add element" make libnftables 1.0.6 fetch every chain of the ruleset before
// it evaluates a script (about 10 ms with 10k Services); chain and set commands carry rules and
// elements without that. Only deletions may still need it.
TEST_F(ProxierTest, IncrementalSyncsAvoidCommandsThatFetchTheWholeRuleset) {
  StartEmpty();
  Service service = MakeService("web", "10.96.0.20", {{"http", Protocol::kTcp, 80, 30080}});
  service.external_policy_local = true;
  Set(service, {MakeSlice("web", {kHttp8080}, {Ready("10.244.1.2", "node01")})});
  std::string text = SyncOnce();
  Set(service, {MakeSlice("web", {kHttp8080},
                          {Ready("10.244.1.2", "node01"), Ready("10.244.2.2", "node02")})});
  text += SyncOnce();
  EXPECT_THAT(text, Not(HasSubstr("add rule ")));
  EXPECT_THAT(text, Not(HasSubstr("add element ")));
  EXPECT_THAT(text, Not(HasSubstr("delete ")));
}

TEST_F(ProxierTest, NothingChangedAppliesNothing) {
  Service service = MakeService("web", "10.96.0.20", {{"http", Protocol::kTcp, 80, 0}});
  Set(service, {MakeSlice("web", {kHttp8080}, {Ready("10.244.1.2")})});
  SyncOnce();
  Set(service, {MakeSlice("web", {kHttp8080}, {Ready("10.244.1.2")})});
  ASSERT_TRUE(proxier_.Sync().ok());
  EXPECT_EQ(nft_.transactions().size(), 1u);
}

TEST_F(ProxierTest, HairpinElementsCoverLocalEndpointsAndOutliveOneOfTheirServices) {
  StartEmpty();
  Set(MakeService("a", "10.96.0.81", {{"http", Protocol::kTcp, 80, 0}}),
      {MakeSlice("a", {kHttp8080}, {Ready("10.244.1.2", "node01"), Ready("10.244.2.2")})});
  Set(MakeService("b", "10.96.0.82", {{"http", Protocol::kTcp, 80, 0}}),
      {MakeSlice("b", {kHttp8080}, {Ready("10.244.1.2", "node01"), Ready("10.244.1.8", "")})});
  // Only pods of this node (or of no known node) can reach themselves through its rules.
  EXPECT_THAT(
      SyncOnce(),
      HasSubstr(R"nft(add set ip kelp-proxy hairpin { type ipv4_addr . ipv4_addr; elements = {
	10.244.1.2 . 10.244.1.2,
	10.244.1.8 . 10.244.1.8
} }
)nft"));
  Set(MakeService("a", "10.96.0.81", {{"http", Protocol::kTcp, 80, 0}}), {});
  EXPECT_THAT(SyncOnce(), Not(HasSubstr("hairpin")));
}

TEST_F(ProxierTest, DeletingAServiceFlushesItsChainsAndDeletesThemASecondLater) {
  StartEmpty();
  Set(MakeService("web", "10.96.0.20", {{"http", Protocol::kTcp, 80, 30080}}),
      {MakeSlice("web", {kHttp8080}, {Ready("10.244.1.2")})});
  SyncOnce();
  proxier_.SetService("default/web", std::nullopt, {});
  EXPECT_EQ(SyncOnce(), R"nft(delete element ip kelp-proxy cluster-ips { 10.96.0.20 }
delete element ip kelp-proxy masqueraded-nodeports { tcp . 30080 }
delete element ip kelp-proxy service-ips { 10.96.0.20 . tcp . 80 }
delete element ip kelp-proxy service-nodeports { tcp . 30080 }
flush chain ip kelp-proxy svc-default/web/tcp/http
)nft");
  ASSERT_TRUE(proxier_.NextCleanup().has_value());
  EXPECT_EQ(*proxier_.NextCleanup(), clock_.Now() + std::chrono::seconds(1));

  // Too early: nothing to do yet.
  ASSERT_TRUE(proxier_.Sync().ok());
  EXPECT_EQ(nft_.transactions().size(), 2u);

  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(SyncOnce(), "delete chain ip kelp-proxy svc-default/web/tcp/http\n");
  EXPECT_FALSE(proxier_.NextCleanup().has_value());
  EXPECT_EQ(proxier_.counts().chains, 0u);
}

TEST_F(ProxierTest, AChainThatComesBackBeforeItsDeletionIsReused) {
  StartEmpty();
  Service service = MakeService("web", "10.96.0.20", {{"http", Protocol::kTcp, 80, 0}});
  Set(service, {MakeSlice("web", {kHttp8080}, {Ready("10.244.1.2")})});
  SyncOnce();
  Set(service, {});
  SyncOnce();
  clock_.Advance(std::chrono::seconds(5));
  Set(service, {MakeSlice("web", {kHttp8080}, {Ready("10.244.1.2")})});
  const std::string transaction = SyncOnce();
  EXPECT_THAT(transaction, HasSubstr("add chain ip kelp-proxy svc-default/web/tcp/http\n"));
  EXPECT_THAT(transaction, Not(HasSubstr("delete chain")));
  EXPECT_FALSE(proxier_.NextCleanup().has_value());
}

TEST_F(ProxierTest, ResyncRewritesEverythingInPlaceAndKeepsAffinitySets) {
  Service service = MakeService("sticky", "10.96.0.40", {{"http", Protocol::kTcp, 80, 0}});
  service.affinity_client_ip = true;
  Set(service, {MakeSlice("sticky", {kHttp8080}, {Ready("10.244.1.2")})});
  Set(MakeService("gone", "10.96.0.41", {{"http", Protocol::kTcp, 80, 0}}),
      {MakeSlice("gone", {kHttp8080}, {Ready("10.244.1.5")})});
  SyncOnce();
  proxier_.SetService("default/gone", std::nullopt, {});
  ASSERT_TRUE(proxier_.Resync().ok());
  const std::string text = nft_.last_applied();
  EXPECT_THAT(text, Not(HasSubstr("delete table")));
  EXPECT_THAT(text, HasSubstr("add table ip kelp-proxy { comment"));
  EXPECT_THAT(text, HasSubstr("add chain ip kelp-proxy nat-prerouting { type nat hook prerouting "
                              "priority -100; policy accept; }\n"));
  EXPECT_THAT(text, HasSubstr("flush chain ip kelp-proxy nat-prerouting\nadd chain ip kelp-proxy "
                              "nat-prerouting {\n\ttype nat hook prerouting priority -100; policy "
                              "accept;\n\tjump services\n}\n"));
  EXPECT_THAT(text, HasSubstr("add map ip kelp-proxy service-ips { type ipv4_addr . inet_proto . "
                              "inet_service : verdict;"));
  EXPECT_THAT(text, HasSubstr("flush map ip kelp-proxy service-ips\n"));
  // The affinity set is declared again but never flushed: clients keep their endpoint.
  EXPECT_THAT(text, HasSubstr("add set ip kelp-proxy affinity-default/sticky/tcp/http/10.244.1.2/"
                              "8080 { type ipv4_addr; flags dynamic,timeout; timeout 10800s; }\n"));
  EXPECT_THAT(text, Not(HasSubstr("flush set ip kelp-proxy affinity-")));
  EXPECT_THAT(text, HasSubstr("flush chain ip kelp-proxy svc-default/sticky/tcp/http\nadd chain "
                              "ip kelp-proxy svc-default/sticky/tcp/http {\n"));
  EXPECT_THAT(text, HasSubstr("add map ip kelp-proxy service-ips { type ipv4_addr . inet_proto . "
                              "inet_service : verdict; elements = { 10.96.0.40 . tcp . 80 : goto "
                              "svc-default/sticky/tcp/http } }\n"));
  // The deleted Service's chain is flushed now and deleted later.
  EXPECT_THAT(text, HasSubstr("flush chain ip kelp-proxy svc-default/gone/tcp/http\n"));
  EXPECT_THAT(text, Not(HasSubstr("10.96.0.41")));
  EXPECT_TRUE(proxier_.NextCleanup().has_value());
}

TEST_F(ProxierTest, AFailedInPlaceResyncFallsBackToARebuild) {
  Set(MakeService("web", "10.96.0.20", {{"http", Protocol::kTcp, 80, 0}}),
      {MakeSlice("web", {kHttp8080}, {Ready("10.244.1.2")})});
  SyncOnce();
  nft_.FailNext(1, IoError("nft: Could not process rule: Device or resource busy"));
  ASSERT_TRUE(proxier_.Resync().ok());
  std::vector<std::string> transactions = nft_.transactions();
  ASSERT_EQ(transactions.size(), 3u);
  EXPECT_THAT(transactions[1], HasSubstr("add table ip kelp-proxy {"));
  EXPECT_THAT(transactions[2], HasSubstr("delete table ip kelp-proxy\n"));
  EXPECT_THAT(transactions[2], HasSubstr("chain svc-default/web/tcp/http {"));
}

TEST_F(ProxierTest, AFailedSyncRebuildsTheTableNextTime) {
  StartEmpty();
  Set(MakeService("web", "10.96.0.20", {{"http", Protocol::kTcp, 80, 0}}),
      {MakeSlice("web", {kHttp8080}, {Ready("10.244.1.2")})});
  nft_.FailNext(1, InvalidArgumentError("nft: syntax error"));
  EXPECT_FALSE(proxier_.Sync().ok());
  EXPECT_EQ(proxier_.counts().services, 0u);
  const std::string retry = SyncOnce();
  EXPECT_THAT(retry, HasSubstr("delete table ip kelp-proxy\n"));
  EXPECT_THAT(retry, HasSubstr("chain svc-default/web/tcp/http {"));
  EXPECT_EQ(proxier_.counts().services, 1u);
}

TEST_F(ProxierTest, NewNodePortAddressesRewriteTheTable) {
  StartEmpty();
  RulesetOptions options = Options().ruleset;
  options.nodeport_all_local = true;
  proxier_.SetOptions(options);
  const std::string text = SyncOnce();
  EXPECT_THAT(text, HasSubstr("\tfib daddr type local ip daddr != 127.0.0.0/8 jump nodeports\n"));
  EXPECT_THAT(text, Not(HasSubstr("nodeport-ips")));
}

TEST_F(ProxierTest, RemovedUdpEndpointsLoseTheirConntrackEntries) {
  StartEmpty();
  Service dns = MakeService("dns", "10.96.0.10", {{"dns", Protocol::kUdp, 53, 30053}});
  const SlicePort dns_port{"dns", Protocol::kUdp, 53};
  Set(dns, {MakeSlice("dns", {dns_port}, {Ready("10.244.1.2"), Ready("10.244.2.2")})});
  SyncOnce();
  // The port just got endpoints: flows that went around the Service before are cleared.
  EXPECT_THAT(conntrack_.deletions(),
              ElementsAre("udp 10.96.0.10:53 not natted", "udp *:30053 not natted"));
  conntrack_.Clear();

  Set(dns, {MakeSlice("dns", {dns_port}, {Ready("10.244.2.2")})});
  SyncOnce();
  EXPECT_THAT(conntrack_.deletions(),
              ElementsAre("udp 10.96.0.10:53 via 10.244.1.2:53", "udp *:30053 via 10.244.1.2:53"));
  conntrack_.Clear();

  // TCP needs no help: nothing is deleted for it.
  Set(MakeService("web", "10.96.0.20", {{"http", Protocol::kTcp, 80, 0}}),
      {MakeSlice("web", {kHttp8080}, {Ready("10.244.1.2")})});
  SyncOnce();
  Set(MakeService("web", "10.96.0.20", {{"http", Protocol::kTcp, 80, 0}}), {});
  SyncOnce();
  EXPECT_THAT(conntrack_.deletions(), IsEmpty());
}

TEST_F(ProxierTest, EndpointsListedInTwoSlicesCountOnceAndPortsMatchByName) {
  StartEmpty();
  Set(MakeService("multi", "10.96.0.90",
                  {{"http", Protocol::kTcp, 80, 0}, {"metrics", Protocol::kTcp, 9090, 0}}),
      {MakeSlice("multi", {kHttp8080, {"metrics", Protocol::kTcp, 9100}},
                 {Ready("10.244.1.2"), Terminating("10.244.1.3", true)}, "multi-1"),
       MakeSlice("multi", {kHttp8080, {"metrics", Protocol::kTcp, 9100}}, {Ready("10.244.1.3")},
                 "multi-2")});
  const std::string text = SyncOnce();
  EXPECT_THAT(text, HasSubstr("add chain ip kelp-proxy svc-default/multi/tcp/http {\n\tnumgen inc "
                              "mod 2 0 meta l4proto tcp dnat to 10.244.1.2:8080\n\tmeta l4proto "
                              "tcp dnat to 10.244.1.3:8080\n}\n"));
  EXPECT_THAT(text, HasSubstr("add chain ip kelp-proxy svc-default/multi/tcp/metrics {\n\tnumgen "
                              "inc mod 2 0 meta l4proto tcp dnat to 10.244.1.2:9100\n\tmeta "
                              "l4proto tcp dnat to 10.244.1.3:9100\n}\n"));
}

}  // namespace
}  // namespace kelp::proxy
