// Durability under kill -9: a child process writes from several threads and reports each
// acknowledged write; the test SIGKILLs it mid-stream, reopens the database and checks that
// every acknowledged write is there with the revision it was acknowledged with.
#include <signal.h>

#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/file.h"
#include "common/process.h"
#include "common/testing/temp_dir.h"
#include "storage/sqlite/sqlite_store.h"

namespace kelp::storage::sqlite {
namespace {

using namespace std::chrono_literals;

// Parses the complete "key revision" lines of the writer's ack file (a line cut short by the
// kill is ignored: that write's ack never reached anyone).
void ParseAcks(const std::string& text, std::map<std::string, int64_t>& acked) {
  acked.clear();
  std::istringstream lines(text.substr(0, text.rfind('\n') + 1));
  std::string key;
  int64_t revision = 0;
  while (lines >> key >> revision) acked.emplace(key, revision);
}

TEST(SqliteStoreCrashTest, AcknowledgedWritesSurviveKill9) {
  kelp::testing::ScopedTempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string db = (dir.path() / "crash.db").string();
  const std::string acks = (dir.path() / "acks").string();
  constexpr size_t kAcksBeforeKill = 400;

  std::map<std::string, int64_t> acked;
  {
    SubprocessRunner runner;
    Result<std::unique_ptr<ChildProcess>> child =
        runner.Start({.argv = {KELP_STORE_CRASH_WRITER, db, "8", acks}});
    ASSERT_TRUE(child.ok()) << child.status().ToString();
    // Wait (bounded) until enough writes were acknowledged, then kill mid-stream.
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (acked.size() < kAcksBeforeKill && std::chrono::steady_clock::now() < deadline) {
      ASSERT_EQ((*child)->Wait(10ms).status().code(), StatusCode::kDeadlineExceeded)
          << "crash writer ended early";
      ParseAcks(ReadFile(acks).value_or(""), acked);
    }
    ASSERT_GE(acked.size(), kAcksBeforeKill) << "crash writer too slow";
    ASSERT_TRUE((*child)->Signal(SIGKILL).ok());
    Result<ProcessExit> exit = (*child)->Wait(std::nullopt);
    ASSERT_TRUE(exit.ok());
    EXPECT_EQ(exit->term_signal, SIGKILL);
    // Acks written between the last read and the kill count as well.
    ParseAcks(ReadFile(acks).value_or(""), acked);
  }

  auto store = SqliteStore::Open(db);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  int64_t max_acked = 0;
  std::map<int64_t, std::string> by_revision;
  for (const auto& [key, revision] : acked) {
    Result<KeyValue> kv = (*store)->Get(key);
    ASSERT_TRUE(kv.ok()) << key << ": " << kv.status().ToString();
    EXPECT_EQ(kv->mod_revision, revision) << key;
    EXPECT_EQ(kv->create_revision, revision) << key;
    max_acked = std::max(max_acked, revision);
    EXPECT_TRUE(by_revision.emplace(revision, key).second) << "revision reused: " << revision;
  }
  EXPECT_GE((*store)->CurrentRevision(), max_acked);

  // The recovered log is self-consistent: one create per revision 1..current, no gaps.
  Result<ListResult> all = (*store)->List("/crash/", {});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(static_cast<int64_t>(all->items.size()), (*store)->CurrentRevision());
  std::map<int64_t, std::string> listed;
  for (const KeyValue& kv : all->items) listed.emplace(kv.mod_revision, kv.key);
  ASSERT_FALSE(listed.empty());
  EXPECT_EQ(listed.begin()->first, 1);
  EXPECT_EQ(listed.rbegin()->first, (*store)->CurrentRevision());
  EXPECT_EQ(static_cast<int64_t>(listed.size()), (*store)->CurrentRevision());

  // Writing continues after the last recovered revision.
  Result<int64_t> next = (*store)->Create("/after-crash", "v");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, (*store)->CurrentRevision());
  EXPECT_EQ(*next, listed.rbegin()->first + 1);
}

}  // namespace
}  // namespace kelp::storage::sqlite
