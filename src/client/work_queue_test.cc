// WorkQueue: dedupe, the dirty/processing sets, delays and per-key exponential backoff, driven
// by a FakeClock.
#include "client/work_queue.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

#include "common/testing/fake_clock.h"

namespace kelp::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(WorkQueueTest, AddTwiceQueuesOnce) {
  testing::FakeClock clock;
  WorkQueue queue(clock);
  queue.Add("ns/a");
  queue.Add("ns/a");
  queue.Add("ns/b");
  EXPECT_EQ(queue.Len(), 2u);
  EXPECT_EQ(queue.Get(), "ns/a");
  EXPECT_EQ(queue.Get(), "ns/b");
  EXPECT_EQ(queue.Len(), 0u);
}

TEST(WorkQueueTest, KeyAddedWhileProcessingIsRequeuedOnDone) {
  testing::FakeClock clock;
  WorkQueue queue(clock);
  queue.Add("a");
  ASSERT_EQ(queue.Get(), "a");
  queue.Add("a");
  EXPECT_EQ(queue.Len(), 0u) << "a second worker must not get a key being processed";
  queue.Done("a");
  EXPECT_EQ(queue.Len(), 1u);
  EXPECT_EQ(queue.Get(), "a");
  queue.Done("a");
  EXPECT_EQ(queue.Len(), 0u);
}

TEST(WorkQueueTest, AddAfterWaitsForTheClock) {
  testing::FakeClock clock;
  WorkQueue queue(clock);
  queue.AddAfter("a", seconds(5));
  EXPECT_EQ(queue.Len(), 0u);
  clock.Advance(seconds(4));
  EXPECT_EQ(queue.Len(), 0u);
  clock.Advance(seconds(1));
  EXPECT_EQ(queue.Len(), 1u);
  EXPECT_EQ(queue.Get(), "a");
}

TEST(WorkQueueTest, AddAfterKeepsTheEarliestDueTime) {
  testing::FakeClock clock;
  WorkQueue queue(clock);
  queue.AddAfter("a", seconds(10));
  queue.AddAfter("a", seconds(2));
  queue.AddAfter("a", seconds(30));
  clock.Advance(seconds(2));
  EXPECT_EQ(queue.Len(), 1u);
  EXPECT_EQ(queue.Get(), "a");
  queue.Done("a");
  clock.Advance(seconds(60));
  EXPECT_EQ(queue.Len(), 0u) << "the later delays were merged into the first";
}

TEST(WorkQueueTest, BlockedGetSeesADelayedKeyWhenTheClockAdvances) {
  testing::FakeClock clock;
  WorkQueue queue(clock);
  queue.AddAfter("a", seconds(1));
  std::optional<std::string> got;
  std::thread worker([&] { got = queue.Get(); });
  clock.Advance(seconds(1));
  worker.join();
  EXPECT_EQ(got, "a");
}

TEST(WorkQueueTest, RateLimitedDelaysDoublePerKeyUntilForget) {
  testing::FakeClock clock;
  WorkQueue queue(clock);
  for (int failures = 0; failures < 4; ++failures) {
    queue.AddRateLimited("a");
    EXPECT_EQ(queue.NumRequeues("a"), failures + 1);
    milliseconds expected = milliseconds(5) * (1 << failures);
    clock.Advance(expected - milliseconds(1));
    EXPECT_EQ(queue.Len(), 0u) << "failure " << failures;
    clock.Advance(milliseconds(1));
    EXPECT_EQ(queue.Len(), 1u) << "failure " << failures;
    ASSERT_EQ(queue.Get(), "a");
    queue.Done("a");
  }
  EXPECT_EQ(queue.NumRequeues("b"), 0);
  queue.Forget("a");
  EXPECT_EQ(queue.NumRequeues("a"), 0);
  queue.AddRateLimited("a");
  clock.Advance(milliseconds(5));
  EXPECT_EQ(queue.Len(), 1u);
}

TEST(WorkQueueTest, RateLimitedDelayIsCappedAt1000Seconds) {
  testing::FakeClock clock;
  WorkQueue queue(clock);
  for (int i = 0; i < 30; ++i) {
    queue.AddRateLimited("a");
    clock.Advance(seconds(1000));
    ASSERT_EQ(queue.Get(), "a");
    queue.Done("a");
  }
  queue.AddRateLimited("a");
  clock.Advance(seconds(999));
  EXPECT_EQ(queue.Len(), 0u);
  clock.Advance(seconds(1));
  EXPECT_EQ(queue.Len(), 1u);
}

TEST(WorkQueueTest, ShutDownUnblocksGetAndRefusesAdds) {
  testing::FakeClock clock;
  WorkQueue queue(clock);
  std::optional<std::string> got = "unset";
  std::thread worker([&] { got = queue.Get(); });
  queue.ShutDown();
  worker.join();
  EXPECT_EQ(got, std::nullopt);
  queue.Add("a");
  EXPECT_EQ(queue.Len(), 0u);
  EXPECT_EQ(queue.Get(), std::nullopt);
}

TEST(WorkQueueTest, TwoWorkersNeverHoldTheSameKey) {
  testing::FakeClock clock;
  WorkQueue queue(clock);
  std::mutex mutex;
  std::set<std::string> held;
  bool overlap = false;
  int processed = 0;
  auto work = [&] {
    while (std::optional<std::string> key = queue.Get()) {
      {
        std::lock_guard lock(mutex);
        if (!held.insert(*key).second) overlap = true;
        ++processed;
      }
      std::this_thread::yield();
      {
        std::lock_guard lock(mutex);
        held.erase(*key);
      }
      queue.Done(*key);
    }
  };
  std::thread a(work);
  std::thread b(work);
  for (int i = 0; i < 2000; ++i) queue.Add("k" + std::to_string(i % 3));
  while (queue.Len() > 0) std::this_thread::yield();
  queue.ShutDown();
  a.join();
  b.join();
  EXPECT_FALSE(overlap);
  EXPECT_GE(processed, 3);
}

}  // namespace
}  // namespace kelp::client
