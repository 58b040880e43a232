// SqliteStore behaviour: key semantics, lists at revisions and pagination, reopen, compaction,
// watches (ordering, resume from ring and from disk, filtering, expiry, close), and
// concurrent writers and watchers.
#include "storage/sqlite/sqlite_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "common/testing/temp_dir.h"

namespace kelp::storage::sqlite {
namespace {

using std::chrono::milliseconds;

// Generous bound for waits on another thread: reaching it means the test failed, not that
// it was slow.
constexpr auto kPatience = std::chrono::seconds(60);

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }

  std::unique_ptr<SqliteStore> OpenStore(SqliteStoreOptions options = {}) {
    Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open((dir_.path() / "kv.db").string(), options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  kelp::testing::ScopedTempDir dir_;
};

// Reads from `stream` until `count` events arrived, the stream ends, or kPatience passes.
std::vector<Event> Collect(WatchStream& stream, size_t count) {
  std::vector<Event> events;
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (events.size() < count && std::chrono::steady_clock::now() < deadline) {
    Result<std::vector<Event>> batch = stream.Next(milliseconds(100));
    if (!batch.ok()) break;
    for (Event& event : *batch) events.push_back(std::move(event));
  }
  return events;
}

std::vector<std::string> Keys(const ListResult& list) {
  std::vector<std::string> keys;
  for (const KeyValue& kv : list.items) keys.push_back(kv.key);
  return keys;
}

TEST_F(SqliteStoreTest, CreateGetUpdateDelete) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  Result<int64_t> created = store->Create("/registry/pods/default/a", "v1");
  ASSERT_TRUE(created.ok());
  Result<KeyValue> got = store->Get("/registry/pods/default/a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, (KeyValue{"/registry/pods/default/a", "v1", *created, *created}));

  Result<int64_t> updated = store->Update("/registry/pods/default/a", "v2", *created);
  ASSERT_TRUE(updated.ok());
  EXPECT_GT(*updated, *created);
  got = store->Get("/registry/pods/default/a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, (KeyValue{"/registry/pods/default/a", "v2", *created, *updated}));

  Result<int64_t> deleted = store->Delete("/registry/pods/default/a", *updated);
  ASSERT_TRUE(deleted.ok());
  EXPECT_GT(*deleted, *updated);
  EXPECT_EQ(store->Get("/registry/pods/default/a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->CurrentRevision(), *deleted);
}

TEST_F(SqliteStoreTest, PreconditionsFailWithTheirCodes) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  Result<int64_t> created = store->Create("/k", "v");
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(store->Create("/k", "again").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store->Update("/k", "x", *created + 100).status().code(), StatusCode::kConflict);
  EXPECT_EQ(store->Delete("/k", *created + 100).status().code(), StatusCode::kConflict);
  EXPECT_EQ(store->Update("/missing", "x", 0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->Delete("/missing", 0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->Create("", "v").status().code(), StatusCode::kInvalidArgument);
  // Failed writes consume no revision.
  EXPECT_EQ(store->CurrentRevision(), *created);
  Result<int64_t> unconditional = store->Update("/k", "y", 0);
  ASSERT_TRUE(unconditional.ok());
  EXPECT_EQ(*unconditional, *created + 1);
  EXPECT_EQ(store->Get("/k")->value, "y");
}

TEST_F(SqliteStoreTest, RecreateAfterDeleteStartsNewLife) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Create("/k", "1").ok());
  ASSERT_TRUE(store->Delete("/k", 0).ok());
  Result<int64_t> again = store->Create("/k", "2");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(store->Get("/k")->create_revision, *again);
}

TEST_F(SqliteStoreTest, ListMatchesOnlyThePrefix) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  for (const char* key : {"/a/b", "/a/b/x", "/a/b/y", "/a/bc", "/a/bc/z", "/a/a", "/b"}) {
    ASSERT_TRUE(store->Create(key, "v").ok());
  }
  Result<ListResult> list = store->List("/a/b/", {});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(Keys(*list), (std::vector<std::string>{"/a/b/x", "/a/b/y"}));
  EXPECT_EQ(list->revision, store->CurrentRevision());
  EXPECT_FALSE(list->more);
  list = store->List("", {});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->items.size(), 7u);
  const std::vector<std::string> keys = Keys(*list);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
}

TEST_F(SqliteStoreTest, ListAtOldRevisionSeesThePast) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Create("/p/a", "a1").ok());
  Result<int64_t> b = store->Create("/p/b", "b1");
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(store->Update("/p/a", "a2", 0).ok());
  ASSERT_TRUE(store->Delete("/p/b", 0).ok());
  ASSERT_TRUE(store->Create("/p/c", "c1").ok());

  Result<ListResult> past = store->List("/p/", {.revision = *b});
  ASSERT_TRUE(past.ok());
  EXPECT_EQ(past->revision, *b);
  ASSERT_EQ(past->items.size(), 2u);
  EXPECT_EQ(past->items[0], (KeyValue{"/p/a", "a1", 1, 1}));
  EXPECT_EQ(past->items[1], (KeyValue{"/p/b", "b1", 2, 2}));

  Result<ListResult> now = store->List("/p/", {});
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(Keys(*now), (std::vector<std::string>{"/p/a", "/p/c"}));
  EXPECT_EQ(now->items[0].value, "a2");

  EXPECT_EQ(store->List("/p/", {.revision = store->CurrentRevision() + 1}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(SqliteStoreTest, PaginationServesEveryPageAtTheFirstPagesRevision) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->Create("/p/k" + std::to_string(i), "v").ok());
  Result<ListResult> first = store->List("/p/", {.limit = 4});
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->more);
  ASSERT_EQ(first->items.size(), 4u);

  // Writes between pages must not show up in the continued list.
  ASSERT_TRUE(store->Delete("/p/k5", 0).ok());
  ASSERT_TRUE(store->Create("/p/k55", "new").ok());
  ASSERT_TRUE(store->Update("/p/k6", "changed", 0).ok());

  std::vector<std::string> keys = Keys(*first);
  ListResult page = *first;
  while (page.more) {
    Result<ListResult> next = store->List(
        "/p/", {.revision = first->revision, .limit = 4,
                .continue_after_key = page.items.back().key});
    ASSERT_TRUE(next.ok());
    EXPECT_EQ(next->revision, first->revision);
    for (const KeyValue& kv : next->items) {
      keys.push_back(kv.key);
      EXPECT_EQ(kv.value, "v");
    }
    page = *next;
  }
  std::vector<std::string> expected;
  for (int i = 0; i < 10; ++i) expected.push_back("/p/k" + std::to_string(i));
  EXPECT_EQ(keys, expected);
}

TEST_F(SqliteStoreTest, RevisionsIncreaseByOnePerWrite) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  int64_t last = store->CurrentRevision();
  for (int i = 0; i < 20; ++i) {
    Result<int64_t> revision = i % 2 == 0 ? store->Create("/m/" + std::to_string(i), "v")
                                          : store->Update("/m/" + std::to_string(i - 1), "w", 0);
    ASSERT_TRUE(revision.ok());
    EXPECT_EQ(*revision, last + 1);
    last = *revision;
  }
}

TEST_F(SqliteStoreTest, ReopenKeepsDataAndRevision) {
  int64_t revision = 0;
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Create("/r/a", "1").ok());
    ASSERT_TRUE(store->Create("/r/b", "2").ok());
    Result<int64_t> deleted = store->Delete("/r/a", 0);
    ASSERT_TRUE(deleted.ok());
    revision = *deleted;
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->CurrentRevision(), revision);
  EXPECT_EQ(store->Get("/r/b")->value, "2");
  EXPECT_EQ(store->Get("/r/a").status().code(), StatusCode::kNotFound);
  Result<int64_t> next = store->Create("/r/c", "3");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, revision + 1);
}

TEST_F(SqliteStoreTest, CompactionExpiresOldListsButKeepsLiveState) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Create("/c/a", "a1").ok());          // 1
  ASSERT_TRUE(store->Create("/c/b", "b1").ok());          // 2
  ASSERT_TRUE(store->Update("/c/a", "a2", 0).ok());       // 3
  ASSERT_TRUE(store->Delete("/c/b", 0).ok());             // 4
  ASSERT_TRUE(store->Create("/c/d", "d1").ok());          // 5
  ASSERT_TRUE(store->Update("/c/d", "d2", 0).ok());       // 6: d's version at 5 is not latest
  ASSERT_TRUE(store->Compact(5).ok());

  EXPECT_EQ(store->List("/c/", {.revision = 4}).status().code(), StatusCode::kExpired);
  Result<ListResult> at_compaction = store->List("/c/", {.revision = 5});
  ASSERT_TRUE(at_compaction.ok());
  ASSERT_EQ(at_compaction->items.size(), 2u);
  EXPECT_EQ(at_compaction->items[0], (KeyValue{"/c/a", "a2", 1, 3}));
  EXPECT_EQ(at_compaction->items[1], (KeyValue{"/c/d", "d1", 5, 5}));
  Result<ListResult> latest = store->List("/c/", {});
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->items[1].value, "d2");
  EXPECT_EQ(store->Watch("/c/", 4).status().code(), StatusCode::kExpired);
  EXPECT_TRUE(store->Watch("/c/", 5).ok());
  EXPECT_EQ(store->Compact(store->CurrentRevision() + 1).code(), StatusCode::kInvalidArgument);

  // Compaction survives a reopen.
  store.reset();
  store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->List("/c/", {.revision = 4}).status().code(), StatusCode::kExpired);
  EXPECT_EQ(store->Watch("/c/", 4).status().code(), StatusCode::kExpired);
}

TEST_F(SqliteStoreTest, WatchDeliversEventsInOrderWithPreviousValues) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto watch = store->Watch("/w/", 0);
  ASSERT_TRUE(watch.ok());
  Result<int64_t> created = store->Create("/w/a", "1");
  Result<int64_t> updated = store->Update("/w/a", "2", 0);
  Result<int64_t> deleted = store->Delete("/w/a", 0);
  ASSERT_TRUE(created.ok() && updated.ok() && deleted.ok());

  std::vector<Event> events = Collect(**watch, 3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, EventType::kCreate);
  EXPECT_EQ(events[0].kv, (KeyValue{"/w/a", "1", *created, *created}));
  EXPECT_FALSE(events[0].prev.has_value());
  EXPECT_EQ(events[1].type, EventType::kUpdate);
  EXPECT_EQ(events[1].kv, (KeyValue{"/w/a", "2", *created, *updated}));
  EXPECT_EQ(events[1].prev, (KeyValue{"/w/a", "1", *created, *created}));
  EXPECT_EQ(events[2].type, EventType::kDelete);
  EXPECT_EQ(events[2].kv, (KeyValue{"/w/a", "2", *created, *deleted}));
  EXPECT_EQ(events[2].prev, (KeyValue{"/w/a", "2", *created, *updated}));
}

TEST_F(SqliteStoreTest, WatchFiltersByPrefix) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto watch = store->Watch("/a/b/", 0);
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(store->Create("/a/bc", "no").ok());
  ASSERT_TRUE(store->Create("/a/b/x", "yes").ok());
  ASSERT_TRUE(store->Create("/z", "no").ok());
  ASSERT_TRUE(store->Create("/a/b/y", "yes").ok());
  std::vector<Event> events = Collect(**watch, 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kv.key, "/a/b/x");
  EXPECT_EQ(events[1].kv.key, "/a/b/y");
  Result<std::vector<Event>> nothing_more = (*watch)->Next(milliseconds(20));
  ASSERT_TRUE(nothing_more.ok());
  EXPECT_TRUE(nothing_more->empty());
}

// Resuming from `after` must return exactly the revisions after it, whether they come from the
// in-memory ring, the on-disk log, or both.
void ExpectResumeFrom(SqliteStore& store, int64_t after, int64_t last) {
  auto watch = store.Watch("/r/", after);
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  std::vector<Event> events = Collect(**watch, static_cast<size_t>(last - after));
  ASSERT_EQ(events.size(), static_cast<size_t>(last - after));
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].revision(), after + 1 + static_cast<int64_t>(i));
  }
}

TEST_F(SqliteStoreTest, WatchResumesFromRingAndFromDisk) {
  SqliteStoreOptions options;
  options.watch.ring_capacity = 8;
  options.watch.disk_page_events = 3;
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(store->Create("/r/" + std::to_string(i), "v").ok());
    if (i % 3 == 0) {
      ASSERT_TRUE(store->Update("/r/" + std::to_string(i), "w", 0).ok());
    }
  }
  const int64_t last = store->CurrentRevision();
  ExpectResumeFrom(*store, last - 5, last);   // ring only
  ExpectResumeFrom(*store, last - 8, last);   // exactly the ring
  ExpectResumeFrom(*store, last - 20, last);  // disk, then ring
  ExpectResumeFrom(*store, 1, last);          // nearly all from disk, in pages

  // Events replayed from disk carry previous values like live ones.
  auto watch = store->Watch("/r/", 1);
  ASSERT_TRUE(watch.ok());
  std::vector<Event> events = Collect(**watch, 1);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].type, EventType::kUpdate);
  EXPECT_EQ(events[0].prev, (KeyValue{"/r/0", "v", 1, 1}));
}

TEST_F(SqliteStoreTest, CompactionDuringDiskCatchUpExpiresTheWatch) {
  SqliteStoreOptions options;
  options.watch.ring_capacity = 2;
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->Create("/x/" + std::to_string(i), "v").ok());
  auto watch = store->Watch("/x/", 1);
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(store->Compact(5).ok());
  EXPECT_EQ((*watch)->Next(milliseconds(0)).status().code(), StatusCode::kExpired);
}

TEST_F(SqliteStoreTest, CloseUnblocksNext) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto watch = store->Watch("/", 0);
  ASSERT_TRUE(watch.ok());
  Status ended;
  std::thread consumer([&] { ended = (*watch)->Next(std::chrono::hours(1)).status(); });
  (*watch)->Close();
  consumer.join();
  EXPECT_EQ(ended.code(), StatusCode::kCancelled);
}

TEST_F(SqliteStoreTest, StoreShutdownEndsWatches) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto watch = store->Watch("/", 0);
  ASSERT_TRUE(watch.ok());
  store.reset();
  EXPECT_EQ((*watch)->Next(std::chrono::hours(1)).status().code(), StatusCode::kUnavailable);
}

TEST_F(SqliteStoreTest, WatcherThatFallsBehindIsExpired) {
  SqliteStoreOptions options;
  options.watch.max_pending_events = 5;
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  auto watch = store->Watch("/s/", 0);
  ASSERT_TRUE(watch.ok());
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(store->Create("/s/" + std::to_string(i), "v").ok());
  EXPECT_EQ((*watch)->Next(milliseconds(0)).status().code(), StatusCode::kExpired);
}

// Many writers, several watchers: every acknowledged write is seen by every watcher exactly
// once, in increasing revision order, and the acked revisions have no gaps.
void RunConcurrentCreates(SqliteStore& store) {
  constexpr int kWriters = 16;
  constexpr int kPerWriter = 40;
  constexpr size_t kTotal = kWriters * kPerWriter;
  const int64_t start = store.CurrentRevision();
  std::vector<std::unique_ptr<WatchStream>> watches;
  for (int i = 0; i < 3; ++i) {
    auto watch = store.Watch("/cc/", 0);
    ASSERT_TRUE(watch.ok());
    watches.push_back(std::move(watch).value());
  }
  std::vector<std::vector<Event>> seen(watches.size());
  std::vector<std::thread> watchers;
  for (size_t i = 0; i < watches.size(); ++i) {
    watchers.emplace_back([&, i] { seen[i] = Collect(*watches[i], kTotal); });
  }
  std::mutex acked_mu;
  std::map<int64_t, std::string> acked;  // guarded by acked_mu
  std::atomic<int> failures = 0;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        std::string key = "/cc/" + std::to_string(w) + "/" + std::to_string(i);
        Result<int64_t> revision = store.Create(key, "v");
        if (!revision.ok()) {
          ++failures;
          continue;
        }
        std::lock_guard lock(acked_mu);
        acked.emplace(*revision, key);
      }
    });
  }
  for (auto& writer : writers) writer.join();
  for (auto& watcher : watchers) watcher.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_EQ(acked.size(), kTotal);
  EXPECT_EQ(acked.begin()->first, start + 1);
  EXPECT_EQ(acked.rbegin()->first, start + static_cast<int64_t>(kTotal));
  for (const std::vector<Event>& events : seen) {
    ASSERT_EQ(events.size(), kTotal);
    auto expected = acked.begin();
    for (const Event& event : events) {
      EXPECT_EQ(event.revision(), expected->first);
      EXPECT_EQ(event.kv.key, expected->second);
      ++expected;
    }
  }
}

TEST_F(SqliteStoreTest, ConcurrentWritersAndWatchersWithGroupCommit) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  RunConcurrentCreates(*store);
}

TEST_F(SqliteStoreTest, ConcurrentWritersAndWatchersWithoutGroupCommit) {
  SqliteStoreOptions options;
  options.group_commit = false;
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  RunConcurrentCreates(*store);
}

TEST_F(SqliteStoreTest, ConcurrentCompareAndSwapHasOneWinnerPerRevision) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  Result<int64_t> created = store->Create("/cas", "0");
  ASSERT_TRUE(created.ok());
  auto watch = store->Watch("/cas", *created);
  ASSERT_TRUE(watch.ok());
  constexpr int kThreads = 8;
  constexpr int kAttempts = 30;
  std::mutex wins_mu;
  std::vector<int64_t> wins;  // guarded by wins_mu
  std::atomic<int> unexpected = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kAttempts; ++i) {
        Result<KeyValue> current = store->Get("/cas");
        if (!current.ok()) {
          ++unexpected;
          continue;
        }
        const std::string next = std::to_string(std::stoi(current->value) + 1);
        Result<int64_t> revision = store->Update("/cas", next, current->mod_revision);
        if (revision.ok()) {
          std::lock_guard lock(wins_mu);
          wins.push_back(*revision);
        } else if (revision.status().code() != StatusCode::kConflict) {
          ++unexpected;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(unexpected.load(), 0);
  ASSERT_FALSE(wins.empty());
  // No lost update: the counter equals the number of successful swaps.
  EXPECT_EQ(store->Get("/cas")->value, std::to_string(wins.size()));
  EXPECT_EQ(std::set<int64_t>(wins.begin(), wins.end()).size(), wins.size());
  // Each winning update replaced exactly the version before it.
  std::vector<Event> events = Collect(**watch, wins.size());
  ASSERT_EQ(events.size(), wins.size());
  int64_t previous = *created;
  for (const Event& event : events) {
    ASSERT_TRUE(event.prev.has_value());
    EXPECT_EQ(event.prev->mod_revision, previous);
    previous = event.revision();
  }
}

}  // namespace
}  // namespace kelp::storage::sqlite
