// The Proxier's transactions against the real kernel through LibNftables, always inside a
// network namespace the test creates (and removes, even on failure): the generated table is
// accepted, `nft list table ip kelp-proxy` parses back and round-trips, every incremental
// transaction of a Service's life applies, staged chain deletion works, a table kelp does not
// own is left alone; and NetfilterConntrack deletes exactly the UDP entries it is asked to.
#include "proxy/libnftables.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/fake_clock.h"
#include "net/netns.h"
#include "proxy/conntrack_netfilter.h"
#include "proxy/proxier.h"
#include "proxy/testing/fake_conntrack.h"

namespace kelp::proxy {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

net::Ipv4Address Ip(std::string_view text) { return *net::Ipv4Address::Parse(text); }

std::string UniqueNetns() {
  static std::atomic<int> counter{0};
  return "kpx-nft-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

Endpoint Ready(std::string_view address, std::string node = "node02") {
  return {.address = Ip(address), .node_name = std::move(node)};
}

EndpointSlice Slice(const std::string& service, std::vector<SlicePort> ports,
                    std::vector<Endpoint> endpoints) {
  return {.namespace_name = "default",
          .name = service + "-x1",
          .service_name = service,
          .ports = std::move(ports),
          .endpoints = std::move(endpoints)};
}

Service MakeService(std::string name, std::string_view ip, std::vector<ServicePort> ports) {
  return {.namespace_name = "default",
          .name = std::move(name),
          .cluster_ip = Ip(ip),
          .ports = std::move(ports)};
}

class RealNftablesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ns = net::NamedNetns::Create(UniqueNetns());
    ASSERT_TRUE(ns.ok()) << ns.status().ToString();
    ns_ = std::move(ns).value();
    // libnftables binds its socket to the namespace it is created in.
    ASSERT_TRUE(net::RunInNetns(ns_->fd(), [&]() -> Status {
                  KELP_ASSIGN_OR_RETURN(nft_, LibNftables::Create());
                  return Status::Ok();
                }).ok());
    ProxierOptions options;
    options.ruleset.node_name = "node01";
    options.ruleset.nodeport_addresses = {Ip("192.168.206.20")};
    options.ruleset.cluster_cidr = *net::Ipv4Prefix::Parse("10.244.0.0/16");
    proxier_ = std::make_unique<Proxier>(*nft_, conntrack_, clock_, options);
  }

  void Set(const Service& service, std::vector<EndpointSlice> slices) {
    proxier_->SetService(service.namespace_name + "/" + service.name, service, std::move(slices));
  }

  // Every kind of Service the proxy programs.
  void SetEveryKindOfService() {
    const SlicePort http{"http", Protocol::kTcp, 8080};
    Set(MakeService("web", "10.96.0.20", {{"http", Protocol::kTcp, 80, 30080}}),
        {Slice("web", {http},
               {Ready("10.244.1.2", "node01"), Ready("10.244.1.3"), Ready("10.244.2.2")})});
    Set(MakeService("empty", "10.96.0.30", {{"http", Protocol::kTcp, 80, 30081}}), {});
    Service sticky = MakeService("sticky", "10.96.0.40", {{"http", Protocol::kTcp, 80, 0}});
    sticky.affinity_client_ip = true;
    Set(sticky, {Slice("sticky", {http}, {Ready("10.244.1.2"), Ready("10.244.1.3")})});
    Service local = MakeService("local", "10.96.0.50", {{"http", Protocol::kTcp, 80, 30090}});
    local.external_policy_local = true;
    Set(local, {Slice("local", {http}, {Ready("10.244.1.2", "node01"), Ready("10.244.2.2")})});
    Service remote = MakeService("remote", "10.96.0.51", {{"http", Protocol::kTcp, 80, 30091}});
    remote.external_policy_local = true;
    remote.internal_policy_local = true;
    Set(remote, {Slice("remote", {http}, {Ready("10.244.2.2")})});
    Set(MakeService("dns", "10.96.0.10",
                    {{"dns", Protocol::kUdp, 53, 0}, {"dns-tcp", Protocol::kTcp, 53, 0}}),
        {Slice("dns", {{"dns", Protocol::kUdp, 53}, {"dns-tcp", Protocol::kTcp, 53}},
               {Ready("10.244.1.9")})});
    Set(MakeService("sctp", "10.96.0.60", {{"", Protocol::kSctp, 9999, 0}}),
        {Slice("sctp", {{"", Protocol::kSctp, 9999}}, {Ready("10.244.1.9")})});
  }

  Result<std::string> ListTable() { return nft_->List("list table ip kelp-proxy"); }

  std::unique_ptr<net::NamedNetns> ns_;
  std::unique_ptr<LibNftables> nft_;
  testing::FakeConntrack conntrack_;
  kelp::testing::FakeClock clock_;
  std::unique_ptr<Proxier> proxier_;
};

TEST_F(RealNftablesTest, GeneratedTableAppliesListsAndRoundTrips) {
  SetEveryKindOfService();
  Status synced = proxier_->Sync();
  ASSERT_TRUE(synced.ok()) << synced.ToString();

  Result<std::string> listed = ListTable();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_THAT(*listed, HasSubstr("numgen inc mod 3 0 meta l4proto tcp dnat to 10.244.1.2:8080"));
  EXPECT_THAT(*listed, HasSubstr("chain svc-default/web/tcp/http {"));
  EXPECT_THAT(*listed, HasSubstr("10.96.0.30 . tcp . 80 : goto reject-connection"));
  EXPECT_THAT(*listed, HasSubstr("set affinity-default/sticky/tcp/http/10.244.1.3/8080 {"));
  EXPECT_THAT(*listed, HasSubstr("tcp . 30091 : drop"));
  EXPECT_THAT(*listed, HasSubstr("meta l4proto sctp dnat to 10.244.1.9:9999"));

  // What nft prints parses again and prints the same.
  Status reapplied = nft_->Apply("add table ip kelp-proxy\ndelete table ip kelp-proxy\n" + *listed);
  ASSERT_TRUE(reapplied.ok()) << reapplied.ToString();
  Result<std::string> relisted = ListTable();
  ASSERT_TRUE(relisted.ok());
  EXPECT_EQ(*relisted, *listed);
}

TEST_F(RealNftablesTest, EveryIncrementalTransactionOfAServicesLifeApplies) {
  ASSERT_TRUE(proxier_->Sync().ok());
  SetEveryKindOfService();
  Status status = proxier_->Sync();
  ASSERT_TRUE(status.ok()) << status.ToString();

  const SlicePort http{"http", Protocol::kTcp, 8080};
  Service web = MakeService("web", "10.96.0.20", {{"http", Protocol::kTcp, 80, 30080}});
  // Endpoints come and go, the last one goes, one comes back.
  for (std::vector<Endpoint> endpoints :
       {std::vector<Endpoint>{Ready("10.244.1.2", "node01"), Ready("10.244.2.2")},
        std::vector<Endpoint>{Ready("10.244.2.2")}, std::vector<Endpoint>{},
        std::vector<Endpoint>{Ready("10.244.2.7")}}) {
    Set(web, {Slice("web", {http}, endpoints)});
    status = proxier_->Sync();
    ASSERT_TRUE(status.ok()) << status.ToString() << "\n" << proxier_->last_transaction();
  }
  // Policy and affinity flip on a live Service.
  web.external_policy_local = true;
  web.affinity_client_ip = true;
  Set(web, {Slice("web", {http}, {Ready("10.244.1.2", "node01"), Ready("10.244.2.7")})});
  status = proxier_->Sync();
  ASSERT_TRUE(status.ok()) << status.ToString() << "\n" << proxier_->last_transaction();
  web.affinity_timeout_seconds = 60;
  Set(web, {Slice("web", {http}, {Ready("10.244.1.2", "node01"), Ready("10.244.2.7")})});
  status = proxier_->Sync();
  ASSERT_TRUE(status.ok()) << status.ToString() << "\n" << proxier_->last_transaction();
  EXPECT_THAT(nft_->List("list set ip kelp-proxy affinity-default/web/tcp/http/10.244.2.7/8080")
                  .value_or(""),
              HasSubstr("timeout 1m"));
  // An endpoint joins the sticky Service: its chain is rewritten and names the affinity sets of
  // the others, which exist already (libnftables must still resolve them).
  Set(web, {Slice("web", {http},
                  {Ready("10.244.1.2", "node01"), Ready("10.244.2.7"), Ready("10.244.2.8")})});
  status = proxier_->Sync();
  ASSERT_TRUE(status.ok()) << status.ToString() << "\n" << proxier_->last_transaction();

  // The Service goes: its chains are emptied now and deleted once the delay has passed.
  proxier_->SetService("default/web", std::nullopt, {});
  status = proxier_->Sync();
  ASSERT_TRUE(status.ok()) << status.ToString() << "\n" << proxier_->last_transaction();
  EXPECT_THAT(ListTable().value_or(""), HasSubstr("chain svc-default/web/tcp/http {\n\t}"));
  clock_.Advance(std::chrono::seconds(1));
  status = proxier_->Sync();
  ASSERT_TRUE(status.ok()) << status.ToString() << "\n" << proxier_->last_transaction();
  const std::string listed = ListTable().value_or("");
  EXPECT_THAT(listed, Not(HasSubstr("default/web/")));
  EXPECT_THAT(listed, HasSubstr("chain svc-default/sticky/tcp/http {"));

  // A periodic resync rewrites everything in place on top of that.
  status = proxier_->Resync();
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(ListTable().value_or(""), listed);
}

TEST_F(RealNftablesTest, TablesKelpDoesNotOwnAreLeftAlone) {
  ASSERT_TRUE(nft_->Apply("table ip other {\n\tchain input {\n\t\ttype filter hook input "
                          "priority filter; policy accept;\n\t\ttcp dport 22 counter accept\n"
                          "\t}\n}\n")
                  .ok());
  const std::string before = nft_->List("list table ip other").value_or("missing");
  SetEveryKindOfService();
  ASSERT_TRUE(proxier_->Sync().ok());
  proxier_->SetService("default/web", std::nullopt, {});
  ASSERT_TRUE(proxier_->Sync().ok());
  ASSERT_TRUE(proxier_->Resync().ok());
  EXPECT_THAT(before, HasSubstr("tcp dport 22 counter"));
  EXPECT_EQ(nft_->List("list table ip other").value_or(""), before);
}

TEST_F(RealNftablesTest, ListingAMissingTableIsNotFound) {
  EXPECT_EQ(ListTable().status().code(), StatusCode::kNotFound);
  Status bad = nft_->Apply("add rule ip kelp-proxy nowhere accept");
  EXPECT_FALSE(bad.ok());
}

// Creates a UDP conntrack entry client:40000 → dst:port whose reply comes from reply_src.
Status AddUdpEntry(nfct_handle* handle, std::string_view dst, uint16_t port,
                   std::string_view reply_src, uint16_t reply_port) {
  nf_conntrack* ct = nfct_new();
  nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
  nfct_set_attr_u8(ct, ATTR_L4PROTO, IPPROTO_UDP);
  nfct_set_attr_u8(ct, ATTR_REPL_L3PROTO, AF_INET);
  nfct_set_attr_u8(ct, ATTR_REPL_L4PROTO, IPPROTO_UDP);
  nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_SRC, htonl(Ip("192.168.206.99").value));
  nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_DST, htonl(Ip(dst).value));
  nfct_set_attr_u16(ct, ATTR_ORIG_PORT_SRC, htons(40000));
  nfct_set_attr_u16(ct, ATTR_ORIG_PORT_DST, htons(port));
  nfct_set_attr_u32(ct, ATTR_REPL_IPV4_SRC, htonl(Ip(reply_src).value));
  nfct_set_attr_u32(ct, ATTR_REPL_IPV4_DST, htonl(Ip("192.168.206.99").value));
  nfct_set_attr_u16(ct, ATTR_REPL_PORT_SRC, htons(reply_port));
  nfct_set_attr_u16(ct, ATTR_REPL_PORT_DST, htons(40000));
  nfct_set_attr_u32(ct, ATTR_TIMEOUT, 120);
  int rc = nfct_query(handle, NFCT_Q_CREATE, ct);
  int error = errno;
  nfct_destroy(ct);
  if (rc != 0) return ErrnoError("conntrack create", error);
  return Status::Ok();
}

TEST_F(RealNftablesTest, ConntrackDeletesOnlyTheSelectedUdpEntries) {
  // The proxy's NAT hooks make the namespace track connections.
  ASSERT_TRUE(proxier_->Sync().ok());
  std::unique_ptr<NetfilterConntrack> conntrack;
  Status status = net::RunInNetns(ns_->fd(), [&]() -> Status {
    nfct_handle* handle = nfct_open(CONNTRACK, 0);
    if (handle == nullptr) return ErrnoError("nfct_open", errno);
    // To the endpoint being removed, to another endpoint, and one that bypassed the Service.
    Status s = AddUdpEntry(handle, "10.96.0.10", 53, "10.244.1.2", 53);
    if (s.ok()) s = AddUdpEntry(handle, "10.96.0.11", 53, "10.244.1.3", 53);
    if (s.ok()) s = AddUdpEntry(handle, "10.96.0.12", 53, "10.96.0.12", 53);
    nfct_close(handle);
    KELP_RETURN_IF_ERROR(s);
    KELP_ASSIGN_OR_RETURN(conntrack, NetfilterConntrack::Create());
    return Status::Ok();
  });
  ASSERT_TRUE(status.ok()) << status.ToString();

  Result<int> deleted = conntrack->DeleteUdpFlows(
      {{.destination = Ip("10.96.0.10"),
        .port = 53,
        .endpoint = std::make_pair(Ip("10.244.1.2"), uint16_t{53})},
       {.destination = Ip("10.96.0.12"), .port = 53},
       {.destination = Ip("10.96.0.11"), .port = 53}});  // NATed: not "not natted"
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 2);

  // Only the entry to 10.96.0.11 is left.
  Result<int> again = conntrack->DeleteUdpFlows(
      {{.port = 53, .endpoint = std::make_pair(Ip("10.244.1.3"), uint16_t{53})}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 1);
  Result<int> none = conntrack->DeleteUdpFlows(
      {{.port = 53, .endpoint = std::make_pair(Ip("10.244.1.2"), uint16_t{53})}});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0);
}

}  // namespace
}  // namespace kelp::proxy
