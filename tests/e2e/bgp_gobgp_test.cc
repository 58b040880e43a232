// Interop end to end: `kelp bgp` and GoBGP (gobgpd 3) as iBGP peers on a namespace LAN with
// fast timers (3 s hold, 1 s keepalive): the session comes up on both sides, routes flow both
// ways, and a prefix withdrawn in GoBGP leaves kelp's table.
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"
#include "tests/e2e/bgp_lab.h"

namespace kelp::e2e {
namespace {

using namespace std::chrono_literals;

TEST(BgpGobgpTest, SessionRoutesBothWaysAndWithdrawalAgainstGobgp) {
  ASSERT_EQ(::geteuid(), 0u) << "network namespaces need root";
  kelp::testing::ScopedTempDir dir;
  ASSERT_FALSE(dir.path().empty());
  SubprocessRunner runner;
  Lan lan(runner, "kbgp" + std::to_string(::getpid()));
  ASSERT_TRUE(lan.Create().ok());
  ASSERT_TRUE(lan.AddHost("kelp", "192.168.206.10").ok());
  ASSERT_TRUE(lan.AddHost("gobgp", "192.168.206.30").ok());

  GobgpDaemon gobgp(runner, lan, "gobgp", dir.path());
  Status started = gobgp.Start(R"([global.config]
  as = 64512
  router-id = "192.168.206.30"
  local-address-list = ["192.168.206.30"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.168.206.10"
    peer-as = 64512
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 3
    keepalive-interval = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
)");
  ASSERT_TRUE(started.ok()) << started.ToString();
  KelpDaemon kelp(runner, lan, "kelp", dir.path());
  started = kelp.Start(R"(as: 64512
router_id: 192.168.206.10
listen: 192.168.206.10:179
announce: [10.244.1.0/26]
peers:
  - {address: 192.168.206.30, as: 64512, hold_time: 3, keepalive_time: 1}
)");
  ASSERT_TRUE(started.ok()) << started.ToString();

  ASSERT_TRUE(WaitFor([&] { return Contains(kelp.Cli({}), "Established"); }, 60s))
      << kelp.Cli({}) << kelp.log();
  ASSERT_TRUE(WaitFor(
      [&] { return Contains(gobgp.Cli({"neighbor", "192.168.206.10"}), "BGP state = ESTABLISHED"); },
      30s))
      << gobgp.Cli({"neighbor", "192.168.206.10"});

  // GoBGP → kelp.
  EXPECT_EQ(gobgp.Cli({"global", "rib", "add", "10.244.3.0/26", "nexthop", "192.168.206.30",
                       "-a", "ipv4"}),
            "");
  EXPECT_TRUE(
      WaitFor([&] { return Contains(kelp.Cli({}), "10.244.3.0/26 | 192.168.206.30"); }, 30s))
      << kelp.Cli({});
  // kelp → GoBGP, with kelp's address as the next hop.
  EXPECT_TRUE(WaitFor(
      [&] {
        std::string rib = gobgp.Cli({"global", "rib", "-a", "ipv4"});
        return Contains(rib, "10.244.1.0/26") && Contains(rib, "192.168.206.10");
      },
      30s))
      << gobgp.Cli({"global", "rib", "-a", "ipv4"});

  // A withdrawal in GoBGP removes the route from kelp; kelp's own route stays.
  EXPECT_EQ(gobgp.Cli({"global", "rib", "del", "10.244.3.0/26", "-a", "ipv4"}), "");
  EXPECT_TRUE(WaitFor([&] { return !Contains(kelp.Cli({}), "10.244.3.0/26"); }, 30s))
      << kelp.Cli({});
  EXPECT_TRUE(Contains(kelp.Cli({}), "Established")) << kelp.Cli({});
  EXPECT_TRUE(Contains(gobgp.Cli({"global", "rib", "-a", "ipv4"}), "10.244.1.0/26"));

  // kelp stops: its Cease tells GoBGP at once, which drops kelp's route.
  kelp.Stop();
  EXPECT_TRUE(WaitFor(
      [&] { return !Contains(gobgp.Cli({"global", "rib", "-a", "ipv4"}), "10.244.1.0/26"); },
      30s))
      << gobgp.Cli({"global", "rib", "-a", "ipv4"});
}

}  // namespace
}  // namespace kelp::e2e
