// KernelRouteSink against net::testing::FakeNetlink: golden request text for install,
// replace and remove, changes held until Flush and sent as one batch with the last change per
// prefix, a refused route that leaves the rest of its batch applied, and only kelp-protocol
// routes as leftovers.
#include "bgp/kernel_routes.h"

#include <gtest/gtest.h>

#include "net/testing/fake_netlink.h"

namespace kelp::bgp {
namespace {

Ipv4Prefix P(const char* text) { return *Ipv4Prefix::Parse(text); }

TEST(KernelRouteSinkTest, InstallsReplacesAndRemovesWithKelpsProtocol) {
  net::testing::FakeNetlink netlink;
  KernelRouteSink sink(netlink);
  sink.Install(P("10.244.2.0/26"), 0xc0a8ce14);  // via 192.168.206.20
  sink.Flush();
  sink.Install(P("10.244.2.0/26"), 0xc0a8ce1e);  // a better path via .30
  sink.Flush();
  sink.Remove(P("10.244.2.0/26"));
  sink.Flush();
  sink.Remove(P("10.244.2.0/26"));  // already gone (NotFound, not recorded): fine
  sink.Flush();
  EXPECT_EQ(netlink.requests(),
            (std::vector<std::string>{
                "route replace 10.244.2.0/26 via 192.168.206.20 table 254 proto 86 scope 0",
                "route replace 10.244.2.0/26 via 192.168.206.30 table 254 proto 86 scope 0",
                "route del 10.244.2.0/26 table 254 proto 86 scope 0"}));
  EXPECT_EQ(netlink.route_batches(), 4u);
  EXPECT_TRUE(sink.Leftovers().empty());
}

TEST(KernelRouteSinkTest, ChangesWaitForFlushAndTheLastOnePerPrefixCounts) {
  net::testing::FakeNetlink netlink;
  KernelRouteSink sink(netlink);
  sink.Install(P("10.244.2.0/26"), 0xc0a8ce14);
  sink.Install(P("10.244.3.0/26"), 0xc0a8ce14);
  sink.Remove(P("10.244.2.0/26"));
  sink.Install(P("10.244.4.0/26"), 0xc0a8ce14);
  sink.Install(P("10.244.2.0/26"), 0xc0a8ce1e);  // back, via .30
  sink.Remove(P("10.244.4.0/26"));               // gone again before it was sent
  EXPECT_TRUE(netlink.requests().empty());
  EXPECT_EQ(sink.pending(), 3u);
  sink.Flush();
  EXPECT_EQ(netlink.route_batches(), 1u);
  // 10.244.4.0/26 is deleted (NotFound, which the fake does not record), never installed.
  EXPECT_EQ(netlink.requests(),
            (std::vector<std::string>{
                "route replace 10.244.2.0/26 via 192.168.206.30 table 254 proto 86 scope 0",
                "route replace 10.244.3.0/26 via 192.168.206.20 table 254 proto 86 scope 0"}));
  EXPECT_EQ(sink.pending(), 0u);
  sink.Flush();  // nothing held: no batch
  EXPECT_EQ(netlink.route_batches(), 1u);
}

TEST(KernelRouteSinkTest, AWholeTableGoesInOneBatch) {
  net::testing::FakeNetlink netlink;
  KernelRouteSink sink(netlink);
  for (uint32_t i = 0; i < 5000; ++i) {
    sink.Install(*Ipv4Prefix::Create((20u << 24) + (i << 8), 24), 0xc0a8ce1e);
  }
  sink.Flush();
  EXPECT_EQ(netlink.route_batches(), 1u);
  EXPECT_EQ(netlink.requests().size(), 5000u);
  EXPECT_EQ(sink.Leftovers().size(), 5000u);
  for (uint32_t i = 0; i < 5000; ++i) sink.Remove(*Ipv4Prefix::Create((20u << 24) + (i << 8), 24));
  sink.Flush();
  EXPECT_EQ(netlink.route_batches(), 2u);
  EXPECT_TRUE(sink.Leftovers().empty());
}

TEST(KernelRouteSinkTest, ARefusedRouteIsLoggedAndTheRestOfItsBatchApplies) {
  net::testing::FakeNetlink netlink;
  netlink.FailNext("route replace 10.244.3.0/26", UnavailableError("Network is unreachable"));
  KernelRouteSink sink(netlink);
  sink.Install(P("10.244.2.0/26"), 0xc0a8ce14);
  sink.Install(P("10.244.3.0/26"), 0xc0a8ce14);
  sink.Install(P("10.244.4.0/26"), 0xc0a8ce14);
  sink.Flush();
  EXPECT_EQ(netlink.route_batches(), 1u);
  EXPECT_EQ(sink.Leftovers(), (std::vector<Ipv4Prefix>{P("10.244.2.0/26"), P("10.244.4.0/26")}));
  // Nothing of the failed batch is held back or retried by itself; the next change applies.
  sink.Flush();
  EXPECT_EQ(netlink.route_batches(), 1u);
  sink.Install(P("10.244.3.0/26"), 0xc0a8ce14);
  sink.Flush();
  EXPECT_EQ(sink.Leftovers().size(), 3u);
}

TEST(KernelRouteSinkTest, LeftoversAreOnlyKelpsRoutes) {
  net::testing::FakeNetlink netlink;
  ASSERT_TRUE(netlink
                  .AddRoute({.dst = *net::Ipv4Prefix::Parse("10.244.9.0/24"),
                             .gateway = *net::Ipv4Address::Parse("192.168.206.99")})
                  .ok());  // someone else's (proto boot)
  KernelRouteSink sink(netlink);
  sink.Install(P("10.244.2.0/26"), 0xc0a8ce14);
  sink.Install(P("10.244.3.0/26"), 0xc0a8ce1e);
  sink.Flush();
  EXPECT_EQ(sink.Leftovers(), (std::vector<Ipv4Prefix>{P("10.244.2.0/26"), P("10.244.3.0/26")}));
}

}  // namespace
}  // namespace kelp::bgp
