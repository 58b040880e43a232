// Durability under kill -9: a child process writes from several threads and reports each
// acknowledged write; the test SIGKILLs it mid-stream, reopens the database and checks that
// every acknowledged write is there with the revision it was acknowledged with.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <string>

#include "storage/sqlite/sqlite_store.h"
#include "storage/testing/temp_dir.h"

extern char** environ;

namespace kelp::storage::sqlite {
namespace {

// The crash writer child: its stdout pipe, killed and reaped on destruction whatever happens.
class ChildProcess {
 public:
  ChildProcess(const std::string& program, const std::string& db, int threads) {
    int fds[2];
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    std::string threads_arg = std::to_string(threads);
    char* argv[] = {const_cast<char*>(program.c_str()), const_cast<char*>(db.c_str()),
                    threads_arg.data(), nullptr};
    if (posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv, environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    read_fd_ = fds[0];
  }
  ~ChildProcess() {
    Kill();
    if (read_fd_ >= 0) close(read_fd_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0 && read_fd_ >= 0; }
  int read_fd() const { return read_fd_; }
  // SIGKILL and reap; returns the wait status.
  int Kill() {
    if (pid_ <= 0) return 0;
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int read_fd_ = -1;
};

TEST(SqliteStoreCrashTest, AcknowledgedWritesSurviveKill9) {
  testing::TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string db = dir.File("crash.db");
  constexpr size_t kAcksBeforeKill = 400;

  std::map<std::string, int64_t> acked;
  {
    ChildProcess child(KELP_STORE_CRASH_WRITER, db, 8);
    ASSERT_TRUE(child.started());
    std::string buffer;
    char chunk[4096];
    while (acked.size() < kAcksBeforeKill) {
      const ssize_t n = read(child.read_fd(), chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      ASSERT_GT(n, 0) << "crash writer ended early";
      buffer.append(chunk, static_cast<size_t>(n));
      size_t newline;
      while ((newline = buffer.find('\n')) != std::string::npos) {
        std::istringstream line(buffer.substr(0, newline));
        buffer.erase(0, newline + 1);
        std::string key;
        int64_t revision = 0;
        ASSERT_TRUE(line >> key >> revision);
        ASSERT_TRUE(acked.emplace(key, revision).second) << "duplicate ack for " << key;
      }
    }
    const int status = child.Kill();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
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
