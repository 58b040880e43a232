// Two real speakers over loopback (127.0.0.1 and 127.0.0.2, distinct peers): the session
// comes up, each learns the other's announced prefix, the status report shows both, and a
// stop sends Cease so the other side withdraws the routes. Waits are bounded polls.
#include "bgp/speaker.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "common/testing/temp_dir.h"

namespace kelp::bgp {
namespace {

using namespace std::chrono_literals;

// Batches like KernelRouteSink: changes show in routes() only once the speaker flushes.
class RecordingSink final : public RouteSink {
 public:
  void Install(const Ipv4Prefix& prefix, uint32_t next_hop) override {
    std::lock_guard lock(mutex_);
    pending_[prefix] = next_hop;
  }
  void Remove(const Ipv4Prefix& prefix) override {
    std::lock_guard lock(mutex_);
    pending_[prefix] = std::nullopt;
  }
  void Flush() override {
    std::lock_guard lock(mutex_);
    for (const auto& [prefix, next_hop] : pending_) {
      if (next_hop) {
        routes_[prefix] = *next_hop;
      } else {
        routes_.erase(prefix);
      }
    }
    pending_.clear();
  }
  std::map<Ipv4Prefix, uint32_t> routes() const {
    std::lock_guard lock(mutex_);
    return routes_;
  }

 private:
  mutable std::mutex mutex_;  // guards pending_ and routes_ (written on the speaker's thread)
  std::map<Ipv4Prefix, std::optional<uint32_t>> pending_;
  std::map<Ipv4Prefix, uint32_t> routes_;
};

template <typename Predicate>
bool WaitFor(Predicate predicate, std::chrono::seconds timeout = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

SpeakerConfig Config(const char* address, const char* prefix) {
  SpeakerConfig config;
  config.as = 64512;
  config.router_id = *ParseIpv4(address);
  config.listen_address = *ParseIpv4(address);
  config.listen_port = 0;
  config.announce = {*Ipv4Prefix::Parse(prefix)};
  return config;
}

TEST(SpeakerTest, TwoSpeakersExchangeRoutesOverLoopback) {
  kelp::testing::ScopedTempDir dir;
  ASSERT_FALSE(dir.path().empty());
  RealClock clock;
  RecordingSink sink_a, sink_b;
  const Ipv4Prefix prefix_a = *Ipv4Prefix::Parse("10.244.1.0/26");
  const Ipv4Prefix prefix_b = *Ipv4Prefix::Parse("10.244.2.0/26");

  SpeakerConfig config_a = Config("127.0.0.1", "10.244.1.0/26");
  config_a.peers = {PeerConfig{.address = *ParseIpv4("127.0.0.2"), .as = 64512, .hold_time = 3,
                               .keepalive_time = 1, .passive = true}};
  std::string socket_a = (dir.path() / "a.sock").string();
  auto a = Speaker::Create(config_a, socket_a, sink_a, clock);
  ASSERT_TRUE(a.ok()) << a.status().ToString();

  SpeakerConfig config_b = Config("127.0.0.2", "10.244.2.0/26");
  config_b.peers = {PeerConfig{.address = *ParseIpv4("127.0.0.1"), .as = 64512,
                               .port = (*a)->listen_port(), .hold_time = 3, .keepalive_time = 1}};
  auto b = Speaker::Create(config_b, "", sink_b, clock);
  ASSERT_TRUE(b.ok()) << b.status().ToString();

  std::thread thread_a([&] { (*a)->Run(false); });
  std::thread thread_b([&] { (*b)->Run(false); });
  struct Joiner {
    Speaker& a;
    Speaker& b;
    std::thread& ta;
    std::thread& tb;
    ~Joiner() {
      a.Stop();
      b.Stop();
      if (ta.joinable()) ta.join();
      if (tb.joinable()) tb.join();
    }
  } joiner{**a, **b, thread_a, thread_b};

  EXPECT_TRUE(WaitFor([&] { return sink_a.routes().contains(prefix_b); }));
  EXPECT_TRUE(WaitFor([&] { return sink_b.routes().contains(prefix_a); }));
  EXPECT_EQ(sink_a.routes()[prefix_b], *ParseIpv4("127.0.0.2")) << "NEXT_HOP is B's address";

  Result<std::string> status = QueryStatus(socket_a);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_NE(status->find("| 127.0.0.2    | node-to-node mesh | up    |"), std::string::npos)
      << *status;
  EXPECT_NE(status->find("Established"), std::string::npos) << *status;
  EXPECT_NE(status->find("10.244.2.0/26 | 127.0.0.2"), std::string::npos) << *status;

  // B stops with a Cease: A withdraws B's route at once, without waiting for the hold timer.
  (*b)->Stop();
  thread_b.join();
  EXPECT_TRUE(WaitFor([&] { return !sink_a.routes().contains(prefix_b); }));
  EXPECT_TRUE(WaitFor([&] {
    Result<std::string> now = QueryStatus(socket_a);
    return now.ok() && now->find("Established") == std::string::npos;
  }));
}

TEST(SpeakerTest, BindFailuresAreReported) {
  RealClock clock;
  LoggingRouteSink sink;
  SpeakerConfig config = Config("127.0.0.1", "10.244.1.0/26");
  auto first = Speaker::Create(config, "", sink, clock);
  ASSERT_TRUE(first.ok());
  config.listen_port = (*first)->listen_port();
  auto second = Speaker::Create(config, "", sink, clock);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("listen 127.0.0.1:"), std::string::npos)
      << second.status().ToString();
  auto bad_socket = Speaker::Create(Config("127.0.0.1", "10.244.1.0/26"),
                                    "/nonexistent-dir/x.sock", sink, clock);
  ASSERT_FALSE(bad_socket.ok());
  EXPECT_NE(bad_socket.status().message().find("control socket /nonexistent-dir/x.sock"),
            std::string::npos);
}

TEST(SpeakerTest, QueryStatusWithoutSpeakerSaysSo) {
  Result<std::string> status = QueryStatus("/nonexistent-dir/x.sock");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.status().message().find("is `kelp bgp` running?"), std::string::npos);
}

}  // namespace
}  // namespace kelp::bgp
