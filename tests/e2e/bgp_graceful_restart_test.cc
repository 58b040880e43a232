// Graceful restart (RFC 4724) end to end with BIRD 2 on a namespace LAN and kelp installing
// routes into its namespace's kernel (protocol 86). kelp restarts (SIGTERM with graceful
// restart on: no Cease, routes left in place): BIRD keeps kelp's
// route as stale, kelp's kernel keeps BIRD's, and forwarding (TCP handshakes between the
// announced prefixes) never stops. A route BIRD drops
// meanwhile is swept from the kernel after BIRD's End-of-RIB. Then BIRD restarts gracefully
// and kelp, as helper, keeps BIRD's routes (marked stale) until BIRD is back.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"
#include "tests/e2e/bgp_lab.h"

namespace kelp::e2e {
namespace {

using namespace std::chrono_literals;

constexpr char kKelpConfig[] = R"(as: 64512
router_id: 192.168.206.10
listen: 192.168.206.10:179
announce: [10.244.1.0/26]
kernel: {install: true}
graceful_restart: {enabled: true, restart_time: 60}
peers:
  - {address: 192.168.206.20, as: 64512, hold_time: 9, keepalive_time: 3}
)";

// BIRD exports what it learns by BGP into its namespace's kernel, so traffic finds its way.
constexpr char kBirdConfig[] = R"(router id 192.168.206.20;
protocol device {}
protocol kernel {
  ipv4 { export where source = RTS_BGP; };
}
protocol static static1 {
  ipv4;
  route 10.244.2.0/26 blackhole;
}
protocol static static2 {
  ipv4;
  route 10.244.5.0/26 blackhole;
}
protocol bgp kelp {
  local 192.168.206.20 as 64512;
  neighbor 192.168.206.10 as 64512;
  direct;
  hold time 9;
  graceful restart on;
  graceful restart time 60;
  ipv4 { import all; export where source = RTS_STATIC; gateway direct; };
}
)";

class BgpGracefulRestartTest : public ::testing::Test {
 protected:
  std::string KernelRoutes() {
    Result<ProcessResult> result = RunChecked(
        runner_, {"ip", "-n", lan_.Netns("kelp"), "route", "show", "proto", "86"});
    return result.ok() ? result->stdout_data : result.status().ToString();
  }
  // A TCP handshake from `from_address` on host `from` to `to_address` on host `to` within
  // 1 s. Both addresses sit in announced prefixes, so the SYN and the SYN-ACK each need a
  // BGP-learned kernel route: one on BIRD's side, one on kelp's.
  bool Connects(const std::string& from, const char* from_address, const std::string& to,
                const char* to_address) {
    Result<int> listener = lan_.TcpSocketIn(to);
    Result<int> client = lan_.TcpSocketIn(from);
    bool connected = false;
    if (listener.ok() && client.ok()) {
      sockaddr_in listen_at{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {}, .sin_zero = {}};
      sockaddr_in source = listen_at;
      ::inet_pton(AF_INET, to_address, &listen_at.sin_addr);
      ::inet_pton(AF_INET, from_address, &source.sin_addr);
      socklen_t length = sizeof listen_at;
      if (::bind(*listener, reinterpret_cast<sockaddr*>(&listen_at), sizeof listen_at) == 0 &&
          ::listen(*listener, 1) == 0 &&
          ::getsockname(*listener, reinterpret_cast<sockaddr*>(&listen_at), &length) == 0 &&
          ::bind(*client, reinterpret_cast<sockaddr*>(&source), sizeof source) == 0) {
        ::fcntl(*client, F_SETFL, O_NONBLOCK);
        ::connect(*client, reinterpret_cast<sockaddr*>(&listen_at), sizeof listen_at);
        pollfd done{.fd = *client, .events = POLLOUT, .revents = 0};
        int error = -1;
        socklen_t error_length = sizeof error;
        // A black hole never completes the handshake; 5 s leaves room for a loaded machine.
        connected = ::poll(&done, 1, 5000) == 1 &&
                    ::getsockopt(*client, SOL_SOCKET, SO_ERROR, &error, &error_length) == 0 &&
                    error == 0;
      }
    }
    if (listener.ok()) ::close(*listener);
    if (client.ok()) ::close(*client);
    return connected;
  }
  bool Forwarding() { return Connects("bird", "10.244.2.1", "kelp", "10.244.1.1"); }
  // Routes on both sides and whether traffic flows, for failure messages.
  std::string Diagnostics() {
    std::string text = "kelp kernel:\n" + KernelRoutes() + "bird kernel:\n";
    Result<ProcessResult> bird_routes =
        RunChecked(runner_, {"ip", "-n", lan_.Netns("bird"), "route", "show"});
    text += bird_routes.ok() ? bird_routes->stdout_data : bird_routes.status().ToString();
    return text + "TCP 10.244.2.1 -> 10.244.1.1: " + (Forwarding() ? "ok" : "fails");
  }
  bool Established() {
    return Contains(kelp_.Cli({}), "Established") &&
           Contains(bird_.Cli({"show", "protocols", "kelp"}), "Established");
  }

  kelp::testing::ScopedTempDir dir_;
  SubprocessRunner runner_;
  Lan lan_{runner_, "kbgp" + std::to_string(::getpid())};
  KelpDaemon kelp_{runner_, lan_, "kelp", dir_.path()};
  BirdDaemon bird_{runner_, lan_, "bird", dir_.path()};
};

TEST_F(BgpGracefulRestartTest, ForwardingSurvivesRestartsOfKelpAndOfBird) {
  ASSERT_EQ(::geteuid(), 0u) << "network namespaces need root";
  ASSERT_FALSE(dir_.path().empty());
  ASSERT_TRUE(lan_.Create().ok());
  ASSERT_TRUE(lan_.AddHost("kelp", "192.168.206.10").ok());
  ASSERT_TRUE(lan_.AddHost("bird", "192.168.206.20").ok());
  // Traffic endpoints inside the announced prefixes.
  ASSERT_TRUE(RunChecked(runner_, {"ip", "-n", lan_.Netns("kelp"), "addr", "add", "10.244.1.1/32",
                                   "dev", "lo"}).ok());
  ASSERT_TRUE(RunChecked(runner_, {"ip", "-n", lan_.Netns("bird"), "addr", "add", "10.244.2.1/32",
                                   "dev", "lo"}).ok());
  Status started = bird_.Start(kBirdConfig);
  ASSERT_TRUE(started.ok()) << started.ToString();
  started = kelp_.Start(kKelpConfig);
  ASSERT_TRUE(started.ok()) << started.ToString();

  ASSERT_TRUE(WaitFor([&] { return Established(); }, 60s)) << kelp_.Cli({});
  ASSERT_TRUE(WaitFor(
      [&] {
        std::string routes = KernelRoutes();
        return Contains(routes, "10.244.2.0/26 via 192.168.206.20") &&
               Contains(routes, "10.244.5.0/26 via 192.168.206.20");
      },
      30s))
      << KernelRoutes();
  ASSERT_TRUE(WaitFor([&] { return Forwarding(); }, 30s)) << Diagnostics();

  // kelp stops for a restart: no Cease, so BIRD keeps kelp's route; the kernel keeps BIRD's.
  ASSERT_TRUE(kelp_.process()->Signal(SIGTERM).ok());
  ASSERT_TRUE(kelp_.process()->Wait(10s).ok()) << kelp_.log();
  EXPECT_TRUE(WaitFor(
      [&] { return !Contains(bird_.Cli({"show", "protocols", "kelp"}), "Established"); }, 30s));
  EXPECT_TRUE(Contains(bird_.Cli({"show", "route", "10.244.1.0/26"}), "10.244.1.0/26"))
      << bird_.Cli({"show", "route", "all"});
  EXPECT_TRUE(Contains(KernelRoutes(), "10.244.2.0/26 via 192.168.206.20")) << KernelRoutes();
  EXPECT_TRUE(Forwarding()) << "forwarding stopped while kelp was down";
  // BIRD drops one route while kelp is away: the restarted kelp must sweep it.
  EXPECT_TRUE(Contains(bird_.Cli({"disable", "static2"}), "disabled"));

  started = kelp_.Start(kKelpConfig);
  ASSERT_TRUE(started.ok()) << started.ToString();
  EXPECT_TRUE(Forwarding()) << "forwarding stopped while kelp restarted";
  ASSERT_TRUE(WaitFor([&] { return Established(); }, 60s)) << kelp_.Cli({});
  EXPECT_TRUE(WaitFor([&] { return !Contains(KernelRoutes(), "10.244.5.0/26"); }, 30s))
      << KernelRoutes() << kelp_.log();
  EXPECT_TRUE(Contains(KernelRoutes(), "10.244.2.0/26 via 192.168.206.20")) << KernelRoutes();
  EXPECT_TRUE(Contains(kelp_.log(), "graceful restart done (End-of-RIB")) << kelp_.log();
  EXPECT_TRUE(Forwarding());

  // Now BIRD restarts gracefully; kelp is the helper and keeps BIRD's route as stale.
  bird_.Cli({"graceful", "restart"});
  ASSERT_TRUE(bird_.process()->Wait(10s).ok()) << bird_.log();
  EXPECT_TRUE(WaitFor([&] { return Contains(kelp_.Cli({}), "192.168.206.20 (stale)"); }, 30s))
      << kelp_.Cli({});
  EXPECT_TRUE(Contains(KernelRoutes(), "10.244.2.0/26 via 192.168.206.20")) << KernelRoutes();
  EXPECT_TRUE(Forwarding()) << "forwarding stopped while BIRD restarted";
  started = bird_.Start(kBirdConfig);
  ASSERT_TRUE(started.ok()) << started.ToString();
  ASSERT_TRUE(WaitFor([&] { return Established(); }, 60s)) << kelp_.Cli({});
  EXPECT_TRUE(WaitFor([&] { return !Contains(kelp_.Cli({}), "(stale)"); }, 30s))
      << kelp_.Cli({});
  EXPECT_TRUE(Contains(KernelRoutes(), "10.244.2.0/26 via 192.168.206.20")) << KernelRoutes();
  EXPECT_TRUE(WaitFor([&] { return Forwarding(); }, 30s));
}

}  // namespace
}  // namespace kelp::e2e
