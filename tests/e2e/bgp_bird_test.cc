// Interop end to end: `kelp bgp` and BIRD 2 as iBGP peers (AS 64512) in two network
// namespaces joined by a veth pair. Checks the session comes up on both sides, routes flow
// both ways, a withdrawal reaches kelp, and a frozen BIRD (SIGSTOP) is detected by kelp's 3 s
// hold timer. Namespaces and processes are removed by RAII guards even when a check fails.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/file.h"
#include "common/process.h"
#include "common/testing/temp_dir.h"

namespace kelp {
namespace {

using namespace std::chrono_literals;

constexpr char kBird[] = "/usr/sbin/bird";
constexpr char kBirdc[] = "/usr/sbin/birdc";

// Runs a short command; its output, or "" with a test failure when it cannot run.
ProcessResult RunCommand(ProcessRunner& runner, std::vector<std::string> argv) {
  Result<ProcessResult> result = runner.Run({.argv = std::move(argv), .timeout = 20s});
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? *result : ProcessResult{};
}

// A network namespace that exists exactly as long as this object.
class ScopedNetns {
 public:
  ScopedNetns(ProcessRunner& runner, std::string name) : runner_(runner), name_(std::move(name)) {
    ok_ = RunCommand(runner_, {"ip", "netns", "add", name_}).exit_code == 0;
  }
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;
  ~ScopedNetns() {
    if (ok_) RunCommand(runner_, {"ip", "netns", "del", name_});
  }
  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }

 private:
  ProcessRunner& runner_;
  std::string name_;
  bool ok_ = false;
};

// A started child that is continued (it may be SIGSTOPped) and killed when this goes away.
class ScopedChild {
 public:
  explicit ScopedChild(std::unique_ptr<ChildProcess> child) : child_(std::move(child)) {}
  ScopedChild(const ScopedChild&) = delete;
  ScopedChild& operator=(const ScopedChild&) = delete;
  ~ScopedChild() {
    if (!child_) return;
    (void)child_->Signal(SIGCONT);
    (void)child_->Terminate(5s);
  }
  ChildProcess* get() const { return child_.get(); }

 private:
  std::unique_ptr<ChildProcess> child_;
};

template <typename Predicate>
bool WaitFor(Predicate predicate, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class BgpBirdTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }

  std::string KelpStatus() {
    return RunCommand(runner_, {KELP_BINARY, "bgp", "status", "--control-socket", KelpSocket()})
        .stdout_data;
  }
  std::string Birdc(std::vector<std::string> args) {
    std::vector<std::string> argv = {kBirdc, "-s", BirdSocket()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(runner_, argv).stdout_data;
  }
  std::string KelpSocket() const { return (dir_.path() / "kelp.sock").string(); }
  std::string BirdSocket() const { return (dir_.path() / "bird.ctl").string(); }

  kelp::testing::ScopedTempDir dir_;
  SubprocessRunner runner_;
};

TEST_F(BgpBirdTest, SessionRoutesWithdrawalAndHoldTimerAgainstBird) {
  ASSERT_EQ(::geteuid(), 0u) << "network namespaces need root";
  const std::string suffix = std::to_string(::getpid() % 100000);
  ScopedNetns kelp_ns(runner_, "kelpt-kelp-" + suffix);
  ScopedNetns bird_ns(runner_, "kelpt-bird-" + suffix);
  ASSERT_TRUE(kelp_ns.ok() && bird_ns.ok());
  const std::string kelp_if = "kelpt-k" + suffix, bird_if = "kelpt-b" + suffix;
  // The veth pair is created inside kelp's namespace with its peer end moved straight into
  // BIRD's: nothing is ever added to the root namespace.
  for (std::vector<std::string> argv : std::vector<std::vector<std::string>>{
           {"ip", "-n", kelp_ns.name(), "link", "add", kelp_if, "type", "veth", "peer", "name",
            bird_if, "netns", bird_ns.name()},
           {"ip", "-n", kelp_ns.name(), "addr", "add", "192.168.206.10/24", "dev", kelp_if},
           {"ip", "-n", bird_ns.name(), "addr", "add", "192.168.206.20/24", "dev", bird_if},
           {"ip", "-n", kelp_ns.name(), "link", "set", kelp_if, "up"},
           {"ip", "-n", bird_ns.name(), "link", "set", bird_if, "up"},
           {"ip", "-n", kelp_ns.name(), "link", "set", "lo", "up"},
           {"ip", "-n", bird_ns.name(), "link", "set", "lo", "up"}}) {
    ProcessResult result = RunCommand(runner_, argv);
    ASSERT_EQ(result.exit_code, 0) << argv[3] << ": " << result.stderr_data;
  }

  const auto kelp_config = dir_.path() / "kelp.yaml";
  ASSERT_TRUE(WriteFileAtomic(kelp_config, R"(as: 64512
router_id: 192.168.206.10
listen: 192.168.206.10:179
announce: [10.244.1.0/26]
kernel: {install: false}
peers:
  - {address: 192.168.206.20, as: 64512, hold_time: 3, keepalive_time: 1}
)").ok());
  const auto bird_config = dir_.path() / "bird.conf";
  ASSERT_TRUE(WriteFileAtomic(bird_config, R"(router id 192.168.206.20;
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

  auto bird = runner_.Start({.argv = {"ip", "netns", "exec", bird_ns.name(), kBird, "-f", "-c",
                                      bird_config.string(), "-s", BirdSocket()}});
  ASSERT_TRUE(bird.ok()) << bird.status().ToString();
  ScopedChild bird_guard(std::move(bird).value());
  auto speaker = runner_.Start({.argv = {"ip", "netns", "exec", kelp_ns.name(), KELP_BINARY, "bgp",
                                         "--config", kelp_config.string(), "--control-socket",
                                         KelpSocket()}});
  ASSERT_TRUE(speaker.ok()) << speaker.status().ToString();
  ScopedChild speaker_guard(std::move(speaker).value());

  ASSERT_TRUE(WaitFor([&] { return Contains(KelpStatus(), "Established"); }, 60s))
      << KelpStatus();
  ASSERT_TRUE(WaitFor([&] { return Contains(Birdc({"show", "protocols", "kelp"}), "Established"); },
                      30s))
      << Birdc({"show", "protocols", "all", "kelp"});

  // Routes both ways.
  EXPECT_TRUE(WaitFor([&] { return Contains(KelpStatus(), "10.244.2.0/26 | 192.168.206.20"); },
                      30s))
      << KelpStatus();
  EXPECT_TRUE(WaitFor([&] { return Contains(Birdc({"show", "route"}), "10.244.1.0/26"); }, 30s))
      << Birdc({"show", "route", "all"});

  // A withdrawal in BIRD removes the route from kelp.
  EXPECT_TRUE(Contains(Birdc({"disable", "static1"}), "disabled"));
  EXPECT_TRUE(WaitFor([&] { return !Contains(KelpStatus(), "10.244.2.0/26"); }, 30s))
      << KelpStatus();

  // Freeze BIRD: kelp's hold timer (3 s negotiated) must drop the session.
  ASSERT_TRUE(bird_guard.get()->Signal(SIGSTOP).ok());
  const auto frozen_at = std::chrono::steady_clock::now();
  EXPECT_TRUE(WaitFor([&] { return !Contains(KelpStatus(), "Established"); }, 30s))
      << KelpStatus();
  const auto detection = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - frozen_at);
  std::printf("hold-timer detection of a frozen BIRD: %lld ms\n",
              static_cast<long long>(detection.count()));
  RecordProperty("hold_timer_detection_ms", std::to_string(detection.count()));
  EXPECT_LE(detection, 6s);
  EXPECT_TRUE(Contains(KelpStatus(), "hold timer expired")) << KelpStatus();
}

}  // namespace
}  // namespace kelp
