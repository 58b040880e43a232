// Tests for FakeClock: it stands still, advances both clocks together, and is safe to use
// from several threads.
#include "common/testing/fake_clock.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace kelp::testing {
namespace {

using namespace std::chrono_literals;

TEST(FakeClockTest, StandsStillUntilAdvanced) {
  FakeClock clock;
  auto start = clock.Now();
  EXPECT_EQ(clock.Now(), start);
  EXPECT_EQ(clock.WallNow(), FakeClock::kDefaultWallStart);
}

TEST(FakeClockTest, AdvanceMovesMonotonicAndWallClockTogether) {
  FakeClock clock;
  auto start = clock.Now();
  clock.Advance(1500ms);
  EXPECT_EQ(clock.Now() - start, 1500ms);
  EXPECT_EQ(clock.WallNow() - FakeClock::kDefaultWallStart, 1500ms);
}

TEST(FakeClockTest, SetWallNowDoesNotMoveMonotonicTime) {
  FakeClock clock;
  auto start = clock.Now();
  clock.SetWallNow(FakeClock::kDefaultWallStart - 1h);
  EXPECT_EQ(clock.WallNow(), FakeClock::kDefaultWallStart - 1h);
  EXPECT_EQ(clock.Now(), start);
  clock.SetNow(start + 5s);
  EXPECT_EQ(clock.Now() - start, 5s);
}

TEST(FakeClockTest, ConcurrentAdvancesAllCount) {
  FakeClock clock;
  auto start = clock.Now();
  constexpr int kThreads = 4;
  constexpr int kAdvancesPerThread = 1000;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&clock] {
      for (int j = 0; j < kAdvancesPerThread; ++j) {
        clock.Advance(1ms);
        (void)clock.WallNow();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(clock.Now() - start, std::chrono::milliseconds(kThreads * kAdvancesPerThread));
}

}  // namespace
}  // namespace kelp::testing
