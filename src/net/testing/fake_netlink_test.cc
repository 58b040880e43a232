#include "net/testing/fake_netlink.h"

#include <gtest/gtest.h>

namespace kelp::net::testing {
namespace {

Route OnlinkRoute() {
  Route r;
  r.dst = *Ipv4Prefix::Parse("10.244.2.0/24");
  r.gateway = *Ipv4Address::Parse("10.244.2.0");
  r.oif = 5;
  r.protocol = 200;
  r.onlink = true;
  return r;
}

TEST(FakeNetlinkTest, RecordsRouteRequestsAsGoldenText) {
  FakeNetlink nl;
  ASSERT_TRUE(nl.AddRoute(OnlinkRoute()).ok());
  EXPECT_EQ(nl.AddRoute(OnlinkRoute()).code(), StatusCode::kAlreadyExists);
  Route replaced = OnlinkRoute();
  replaced.metric = 100;
  ASSERT_TRUE(nl.ReplaceRoute(replaced).ok());
  EXPECT_EQ(nl.ListRoutes({.protocol = 200})->size(), 2u);  // different metric, new route
  EXPECT_EQ(nl.ListRoutes({.protocol = 3})->size(), 0u);
  ASSERT_TRUE(nl.DeleteRoute(OnlinkRoute()).ok());
  EXPECT_EQ(nl.DeleteRoute(OnlinkRoute()).code(), StatusCode::kNotFound);
  EXPECT_EQ(nl.requests(),
            (std::vector<std::string>{
                "route add 10.244.2.0/24 via 10.244.2.0 dev 5 table 254 proto 200 scope 0 onlink",
                "route replace 10.244.2.0/24 via 10.244.2.0 dev 5 table 254 proto 200 scope 0 "
                "onlink metric 100",
                "route del 10.244.2.0/24 via 10.244.2.0 dev 5 table 254 proto 200 scope 0 onlink",
            }));
}

TEST(FakeNetlinkTest, LinksKeepStateAndInjectedFailuresAreNotApplied) {
  FakeNetlink nl;
  ASSERT_TRUE(nl.AddBridge("cni0", 1450).ok());
  Result<Link> bridge = nl.GetLink("cni0");
  ASSERT_TRUE(bridge.ok());
  EXPECT_EQ(bridge->mtu, 1450u);
  nl.FailNext("link set cni0 up", IoError("boom"));
  EXPECT_FALSE(nl.SetLinkUp(bridge->index, true).ok());
  EXPECT_FALSE(nl.GetLink("cni0")->up);
  ASSERT_TRUE(nl.SetLinkUp(bridge->index, true).ok());
  EXPECT_TRUE(nl.GetLink("cni0")->up);
  EXPECT_EQ(nl.AddBridge("cni0", 0).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(nl.GetLink("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(nl.requests(),
            (std::vector<std::string>{"link add cni0 type bridge mtu 1450", "link set cni0 up"}));
}

}  // namespace
}  // namespace kelp::net::testing
