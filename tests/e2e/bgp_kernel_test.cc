// Kernel route install end to end: `kelp bgp` with `kernel: {install: true}` against BIRD 2
// on a namespace LAN. BIRD's routes appear in `ip route show proto 86` in kelp's namespace,
// leave it on withdrawal and when the session is lost, and a stale protocol-86 route left by
// an "earlier run" is swept at start while a route of another protocol stays untouched. The
// speaker runs as kelp-bgp, which `kelp bgp` execs.
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"
#include "tests/e2e/bgp_lab.h"

namespace kelp::e2e {
namespace {

using namespace std::chrono_literals;

TEST(BgpKernelTest, BestRoutesAreInstalledRemovedAndSweptUnderProtocol86) {
  ASSERT_EQ(::geteuid(), 0u) << "network namespaces need root";
  kelp::testing::ScopedTempDir dir;
  ASSERT_FALSE(dir.path().empty());
  SubprocessRunner runner;
  Lan lan(runner, "kbgp" + std::to_string(::getpid()));
  ASSERT_TRUE(lan.Create().ok());
  ASSERT_TRUE(lan.AddHost("kelp", "192.168.206.10").ok());
  ASSERT_TRUE(lan.AddHost("bird", "192.168.206.20").ok());
  auto routes = [&](std::vector<std::string> filter) {
    std::vector<std::string> argv = {"ip", "-n", lan.Netns("kelp"), "route", "show"};
    argv.insert(argv.end(), filter.begin(), filter.end());
    Result<ProcessResult> result = RunChecked(runner, argv);
    return result.ok() ? result->stdout_data : result.status().ToString();
  };
  // What an earlier run left (kelp's protocol) and what someone else owns (static).
  for (std::vector<std::string> argv : std::vector<std::vector<std::string>>{
           {"ip", "-n", lan.Netns("kelp"), "route", "add", "10.244.77.0/24", "via",
            "192.168.206.20", "proto", "86"},
           {"ip", "-n", lan.Netns("kelp"), "route", "add", "10.244.88.0/24", "via",
            "192.168.206.20", "proto", "static"}}) {
    ASSERT_TRUE(RunChecked(runner, argv).ok());
  }

  BirdDaemon bird(runner, lan, "bird", dir.path());
  Status started = bird.Start(R"(router id 192.168.206.20;
protocol device {}
protocol static static1 {
  ipv4;
  route 10.244.2.0/26 blackhole;
  route 10.244.3.0/26 blackhole;
}
protocol bgp kelp {
  local 192.168.206.20 as 64512;
  neighbor 192.168.206.10 as 64512;
  direct;
  hold time 9;
  ipv4 { import all; export all; gateway direct; };
}
)");
  ASSERT_TRUE(started.ok()) << started.ToString();
  KelpDaemon kelp(runner, lan, "kelp", dir.path());
  started = kelp.Start(R"(as: 64512
router_id: 192.168.206.10
listen: 192.168.206.10:179
announce: [10.244.1.0/26]
kernel: {install: true}
peers:
  - {address: 192.168.206.20, as: 64512, hold_time: 3, keepalive_time: 1}
)");
  ASSERT_TRUE(started.ok()) << started.ToString();
  // `kelp bgp` replaced itself by the slim kelp-bgp beside it (same process).
  std::error_code ignored;
  EXPECT_EQ(std::filesystem::read_symlink(
                "/proc/" + std::to_string(kelp.process()->pid()) + "/exe", ignored)
                .filename(),
            "kelp-bgp");

  // Swept at start: the leftover goes, the static route stays.
  EXPECT_TRUE(WaitFor([&] { return !Contains(routes({"proto", "86"}), "10.244.77.0/24"); }, 30s))
      << routes({});
  EXPECT_TRUE(Contains(routes({"proto", "static"}), "10.244.88.0/24")) << routes({});

  ASSERT_TRUE(WaitFor([&] { return Contains(kelp.Cli({}), "Established"); }, 60s))
      << kelp.Cli({});
  EXPECT_TRUE(WaitFor(
      [&] {
        std::string ours = routes({"proto", "86"});
        return Contains(ours, "10.244.2.0/26 via 192.168.206.20 dev eth0") &&
               Contains(ours, "10.244.3.0/26 via 192.168.206.20 dev eth0");
      },
      30s))
      << routes({});
  // kelp's own announcement is not a kernel route of its own.
  EXPECT_FALSE(Contains(routes({}), "10.244.1.0/26")) << routes({});

  // Withdrawal removes the kernel route.
  EXPECT_TRUE(Contains(bird.Cli({"disable", "static1"}), "disabled"));
  EXPECT_TRUE(WaitFor([&] { return routes({"proto", "86"}).empty(); }, 30s)) << routes({});
  EXPECT_TRUE(Contains(bird.Cli({"enable", "static1"}), "enabled"));
  EXPECT_TRUE(WaitFor([&] { return Contains(routes({"proto", "86"}), "10.244.2.0/26"); }, 30s))
      << routes({});

  // Session loss (BIRD gone) removes them too.
  bird.Stop();
  EXPECT_TRUE(WaitFor([&] { return routes({"proto", "86"}).empty(); }, 30s)) << routes({});
  EXPECT_TRUE(Contains(routes({"proto", "static"}), "10.244.88.0/24")) << routes({});
}

}  // namespace
}  // namespace kelp::e2e
