// Interop end to end: `kelp bgp` and FRR's bgpd (8.4, running alone without zebra) as iBGP
// peers on a namespace LAN with fast timers: the session comes up on both sides, routes flow
// both ways, and a network removed from FRR's configuration is withdrawn from kelp.
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"
#include "tests/e2e/bgp_lab.h"

namespace kelp::e2e {
namespace {

using namespace std::chrono_literals;

TEST(BgpFrrTest, SessionRoutesBothWaysAndWithdrawalAgainstFrr) {
  ASSERT_EQ(::geteuid(), 0u) << "network namespaces need root";
  kelp::testing::ScopedTempDir dir;
  ASSERT_FALSE(dir.path().empty());
  SubprocessRunner runner;
  Lan lan(runner, "kbgp" + std::to_string(::getpid()));
  ASSERT_TRUE(lan.Create().ok());
  ASSERT_TRUE(lan.AddHost("kelp", "192.168.206.10").ok());
  ASSERT_TRUE(lan.AddHost("frr", "192.168.206.40").ok());

  FrrDaemon frr(runner, lan, "frr", dir.path());
  // No zebra, so `network` must not wait for the prefix to be in a RIB (import-check).
  Status started = frr.Start(R"(frr defaults traditional
hostname frr
router bgp 64512
 bgp router-id 192.168.206.40
 no bgp network import-check
 no bgp default ipv4-unicast
 neighbor 192.168.206.10 remote-as 64512
 neighbor 192.168.206.10 timers 1 3
 neighbor 192.168.206.10 timers connect 1
 address-family ipv4 unicast
  network 10.244.4.0/26
  neighbor 192.168.206.10 activate
 exit-address-family
)");
  ASSERT_TRUE(started.ok()) << started.ToString();
  KelpDaemon kelp(runner, lan, "kelp", dir.path());
  started = kelp.Start(R"(as: 64512
router_id: 192.168.206.10
listen: 192.168.206.10:179
announce: [10.244.1.0/26]
peers:
  - {address: 192.168.206.40, as: 64512, hold_time: 3, keepalive_time: 1}
)");
  ASSERT_TRUE(started.ok()) << started.ToString();

  ASSERT_TRUE(WaitFor([&] { return Contains(kelp.Cli({}), "Established"); }, 60s))
      << kelp.Cli({}) << kelp.log();
  ASSERT_TRUE(WaitFor(
      [&] {
        return Contains(frr.Cli({"show bgp neighbors 192.168.206.10"}), "BGP state = Established");
      },
      30s))
      << frr.Cli({"show bgp neighbors 192.168.206.10"});

  // FRR → kelp, and kelp → FRR with kelp's address as the next hop.
  EXPECT_TRUE(
      WaitFor([&] { return Contains(kelp.Cli({}), "10.244.4.0/26 | 192.168.206.40"); }, 30s))
      << kelp.Cli({});
  EXPECT_TRUE(WaitFor(
      [&] {
        std::string route = frr.Cli({"show bgp ipv4 unicast 10.244.1.0/26"});
        return Contains(route, "192.168.206.10 from 192.168.206.10");
      },
      30s))
      << frr.Cli({"show bgp ipv4 unicast 10.244.1.0/26"});

  // Removing the network in FRR withdraws it from kelp over the live session.
  frr.Cli({"configure terminal", "router bgp 64512", "address-family ipv4 unicast",
           "no network 10.244.4.0/26"});
  EXPECT_TRUE(WaitFor([&] { return !Contains(kelp.Cli({}), "10.244.4.0/26"); }, 30s))
      << kelp.Cli({});
  EXPECT_TRUE(Contains(kelp.Cli({}), "Established")) << kelp.Cli({});

  // kelp stops: its Cease makes FRR drop kelp's route at once.
  kelp.Stop();
  EXPECT_TRUE(WaitFor(
      [&] { return !Contains(frr.Cli({"show bgp ipv4 unicast"}), "10.244.1.0/26"); }, 30s))
      << frr.Cli({"show bgp ipv4 unicast"});
}

}  // namespace
}  // namespace kelp::e2e
