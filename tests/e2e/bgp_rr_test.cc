// Route reflection end to end (RFC 4456): `kelp bgp` reflects for three iBGP clients — BIRD 2,
// GoBGP and FRR — that peer only with kelp. Each client's prefix must reach the other two
// with ORIGINATOR_ID = the originating client's router id and CLUSTER_LIST = kelp's id.
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"
#include "tests/e2e/bgp_lab.h"

namespace kelp::e2e {
namespace {

using namespace std::chrono_literals;

TEST(BgpRouteReflectorTest, KelpReflectsEachClientsRouteToTheOtherTwo) {
  ASSERT_EQ(::geteuid(), 0u) << "network namespaces need root";
  kelp::testing::ScopedTempDir dir;
  ASSERT_FALSE(dir.path().empty());
  SubprocessRunner runner;
  Lan lan(runner, "kbgp" + std::to_string(::getpid()));
  ASSERT_TRUE(lan.Create().ok());
  ASSERT_TRUE(lan.AddHost("kelp", "192.168.206.10").ok());
  ASSERT_TRUE(lan.AddHost("bird", "192.168.206.20").ok());
  ASSERT_TRUE(lan.AddHost("gobgp", "192.168.206.30").ok());
  ASSERT_TRUE(lan.AddHost("frr", "192.168.206.40").ok());

  KelpDaemon kelp(runner, lan, "kelp", dir.path());
  Status started = kelp.Start(R"(as: 64512
router_id: 192.168.206.10
listen: 192.168.206.10:179
peers:
  - {address: 192.168.206.20, as: 64512, hold_time: 9, route_reflector_client: true}
  - {address: 192.168.206.30, as: 64512, hold_time: 9, route_reflector_client: true}
  - {address: 192.168.206.40, as: 64512, hold_time: 9, route_reflector_client: true}
)");
  ASSERT_TRUE(started.ok()) << started.ToString();
  BirdDaemon bird(runner, lan, "bird", dir.path());
  started = bird.Start(R"(router id 192.168.206.20;
protocol device {}
protocol static static1 {
  ipv4;
  route 10.244.2.0/26 blackhole;
}
protocol bgp kelp {
  local 192.168.206.20 as 64512;
  neighbor 192.168.206.10 as 64512;
  direct;
  ipv4 { import all; export all; gateway direct; };
}
)");
  ASSERT_TRUE(started.ok()) << started.ToString();
  GobgpDaemon gobgp(runner, lan, "gobgp", dir.path());
  started = gobgp.Start(R"([global.config]
  as = 64512
  router-id = "192.168.206.30"
  local-address-list = ["192.168.206.30"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.168.206.10"
    peer-as = 64512
  [neighbors.timers.config]
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
)");
  ASSERT_TRUE(started.ok()) << started.ToString();
  FrrDaemon frr(runner, lan, "frr", dir.path());
  started = frr.Start(R"(frr defaults traditional
hostname frr
router bgp 64512
 bgp router-id 192.168.206.40
 no bgp network import-check
 no bgp default ipv4-unicast
 neighbor 192.168.206.10 remote-as 64512
 neighbor 192.168.206.10 timers connect 1
 address-family ipv4 unicast
  network 10.244.4.0/26
  neighbor 192.168.206.10 activate
 exit-address-family
)");
  ASSERT_TRUE(started.ok()) << started.ToString();

  ASSERT_TRUE(WaitFor(
      [&] {
        std::string status = kelp.Cli({});
        size_t established = 0;
        for (size_t at = status.find("Established"); at != std::string::npos;
             at = status.find("Established", at + 1)) {
          ++established;
        }
        return established == 3;
      },
      60s))
      << kelp.Cli({}) << bird.Cli({"show", "protocols", "all", "kelp"}) << bird.log();
  EXPECT_EQ(gobgp.Cli({"global", "rib", "add", "10.244.3.0/26", "nexthop", "192.168.206.30",
                       "-a", "ipv4"}),
            "");

  // BIRD learns GoBGP's and FRR's prefixes, reflected.
  for (const auto& [prefix, originator] :
       {std::pair{"10.244.3.0/26", "192.168.206.30"}, std::pair{"10.244.4.0/26", "192.168.206.40"}}) {
    EXPECT_TRUE(WaitFor(
        [&] {
          std::string route = bird.Cli({"show", "route", "all", prefix});
          return Contains(route, std::string("BGP.originator_id: ") + originator) &&
                 Contains(route, "BGP.cluster_list: 192.168.206.10");
        },
        30s))
        << bird.Cli({"show", "route", "all", prefix});
  }
  // GoBGP learns BIRD's and FRR's.
  for (const auto& [prefix, originator] :
       {std::pair{"10.244.2.0/26", "192.168.206.20"}, std::pair{"10.244.4.0/26", "192.168.206.40"}}) {
    EXPECT_TRUE(WaitFor(
        [&] {
          std::string route = gobgp.Cli({"global", "rib", "-a", "ipv4", prefix});
          return Contains(route, std::string("{Originator: ") + originator + "}") &&
                 Contains(route, "{ClusterList: [192.168.206.10]}");
        },
        30s))
        << gobgp.Cli({"global", "rib", "-a", "ipv4", prefix});
  }
  // FRR learns BIRD's and GoBGP's.
  for (const auto& [prefix, originator] :
       {std::pair{"10.244.2.0/26", "192.168.206.20"}, std::pair{"10.244.3.0/26", "192.168.206.30"}}) {
    EXPECT_TRUE(WaitFor(
        [&] {
          std::string route = frr.Cli({std::string("show bgp ipv4 unicast ") + prefix});
          return Contains(route, std::string("Originator: ") + originator) &&
                 Contains(route, "Cluster list: 192.168.206.10");
        },
        30s))
        << frr.Cli({std::string("show bgp ipv4 unicast ") + prefix});
  }
  // A withdrawal is reflected too.
  EXPECT_TRUE(Contains(bird.Cli({"disable", "static1"}), "disabled"));
  EXPECT_TRUE(WaitFor(
      [&] { return !Contains(gobgp.Cli({"global", "rib", "-a", "ipv4"}), "10.244.2.0/26"); }, 30s))
      << gobgp.Cli({"global", "rib", "-a", "ipv4"});
  EXPECT_TRUE(WaitFor(
      [&] { return !Contains(frr.Cli({"show bgp ipv4 unicast"}), "10.244.2.0/26"); }, 30s))
      << frr.Cli({"show bgp ipv4 unicast"});
}

}  // namespace
}  // namespace kelp::e2e
