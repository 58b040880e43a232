// Interop end to end: `kelp bgp` and BIRD 2 as iBGP peers (AS 64512) on a namespace LAN.
// Checks the session comes up on both sides, routes flow both ways, a withdrawal reaches
// kelp, and a frozen BIRD (SIGSTOP) is detected by kelp's 3 s hold timer.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"
#include "tests/e2e/bgp_lab.h"

namespace kelp::e2e {
namespace {

using namespace std::chrono_literals;

TEST(BgpBirdTest, SessionRoutesWithdrawalAndHoldTimerAgainstBird) {
  ASSERT_EQ(::geteuid(), 0u) << "network namespaces need root";
  kelp::testing::ScopedTempDir dir;
  ASSERT_FALSE(dir.path().empty());
  SubprocessRunner runner;
  Lan lan(runner, "kbgp" + std::to_string(::getpid()));
  ASSERT_TRUE(lan.Create().ok());
  ASSERT_TRUE(lan.AddHost("kelp", "192.168.206.10").ok());
  ASSERT_TRUE(lan.AddHost("bird", "192.168.206.20").ok());

  KelpDaemon kelp(runner, lan, "kelp", dir.path());
  BirdDaemon bird(runner, lan, "bird", dir.path());
  ASSERT_TRUE(bird.Start(R"(router id 192.168.206.20;
protocol device {}
protocol static static1 {
  ipv4;
  route 10.244.2.0/26 blackhole;
}
protocol bgp kelp {
  local 192.168.206.20 as 64512;
  neighbor 192.168.206.10 as 64512;
  direct;
  hold time 9;
  ipv4 { import all; export all; gateway direct; };
}
)").ok());
  Status started = kelp.Start(R"(as: 64512
router_id: 192.168.206.10
listen: 192.168.206.10:179
announce: [10.244.1.0/26]
kernel: {install: false}
peers:
  - {address: 192.168.206.20, as: 64512, hold_time: 3, keepalive_time: 1}
)");
  ASSERT_TRUE(started.ok()) << started.ToString();

  ASSERT_TRUE(WaitFor([&] { return Contains(kelp.Cli({}), "Established"); }, 60s))
      << kelp.Cli({});
  ASSERT_TRUE(WaitFor(
      [&] { return Contains(bird.Cli({"show", "protocols", "kelp"}), "Established"); }, 30s))
      << bird.Cli({"show", "protocols", "all", "kelp"});

  // Routes both ways.
  EXPECT_TRUE(
      WaitFor([&] { return Contains(kelp.Cli({}), "10.244.2.0/26 | 192.168.206.20"); }, 30s))
      << kelp.Cli({});
  EXPECT_TRUE(WaitFor([&] { return Contains(bird.Cli({"show", "route"}), "10.244.1.0/26"); }, 30s))
      << bird.Cli({"show", "route", "all"});

  // A withdrawal in BIRD removes the route from kelp.
  EXPECT_TRUE(Contains(bird.Cli({"disable", "static1"}), "disabled"));
  EXPECT_TRUE(WaitFor([&] { return !Contains(kelp.Cli({}), "10.244.2.0/26"); }, 30s))
      << kelp.Cli({});

  // Freeze BIRD: kelp's hold timer (3 s negotiated) must drop the session.
  ASSERT_TRUE(bird.process()->Signal(SIGSTOP).ok());
  const auto frozen_at = std::chrono::steady_clock::now();
  EXPECT_TRUE(WaitFor([&] { return !Contains(kelp.Cli({}), "Established"); }, 30s))
      << kelp.Cli({});
  const auto detection = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - frozen_at);
  std::printf("hold-timer detection of a frozen BIRD: %lld ms\n",
              static_cast<long long>(detection.count()));
  ::testing::Test::RecordProperty("hold_timer_detection_ms", std::to_string(detection.count()));
  // 3 s of hold time plus the status polls (a process each, slow on a loaded machine); a
  // longer hold time (BIRD's 240 s default, or 9 s) would not fit.
  EXPECT_LE(detection, 8s);
  EXPECT_TRUE(Contains(kelp.Cli({}), "hold timer expired")) << kelp.Cli({});
}

}  // namespace
}  // namespace kelp::e2e
