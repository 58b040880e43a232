// KernelRouteSink against net::testing::FakeNetlink: golden request text for install,
// replace and remove, only kelp-protocol routes as leftovers, and failures that are logged
// rather than fatal.
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
  sink.Install(P("10.244.2.0/26"), 0xc0a8ce1e);  // a better path via .30
  sink.Remove(P("10.244.2.0/26"));
  sink.Remove(P("10.244.2.0/26"));  // already gone: fine
  ASSERT_GE(netlink.requests().size(), 3u);
  EXPECT_EQ(netlink.requests()[0],
            "route replace 10.244.2.0/26 via 192.168.206.20 table 254 proto 86 scope 0");
  EXPECT_EQ(netlink.requests()[1],
            "route replace 10.244.2.0/26 via 192.168.206.30 table 254 proto 86 scope 0");
  EXPECT_EQ(netlink.requests()[2], "route del 10.244.2.0/26 table 254 proto 86 scope 0");
  EXPECT_TRUE(sink.Leftovers().empty());
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
  EXPECT_EQ(sink.Leftovers(), (std::vector<Ipv4Prefix>{P("10.244.2.0/26"), P("10.244.3.0/26")}));
}

TEST(KernelRouteSinkTest, AFailedInstallIsLoggedNotFatal) {
  net::testing::FakeNetlink netlink;
  netlink.FailNext("route replace", UnavailableError("Network is unreachable"));
  KernelRouteSink sink(netlink);
  sink.Install(P("10.244.2.0/26"), 0xc0a8ce14);
  EXPECT_TRUE(sink.Leftovers().empty());
  sink.Install(P("10.244.2.0/26"), 0xc0a8ce14);
  EXPECT_EQ(sink.Leftovers().size(), 1u);
}

}  // namespace
}  // namespace kelp::bgp
