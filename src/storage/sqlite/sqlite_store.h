// SqliteStore: the embedded Store. A kine-like append-only log table whose primary key is the
// global revision, plus a key → latest-row table. One writer thread owns the write connection
// and commits every concurrently queued write in one transaction and one fsync (group commit);
// reads use a small pool of WAL read connections; committed events fan out through WatchHub.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"
#include "storage/store.h"
#include "storage/watch_hub.h"

namespace kelp::storage::sqlite {

class Connection;
class ConnectionPool;

struct SqliteStoreOptions {
  // Off: one transaction (and fsync) per write, still on the writer thread.
  bool group_commit = true;
  size_t max_batch = 1024;  // most writes committed in one transaction
  int read_connections = 4;
  int busy_timeout_ms = 5000;
  WatchHubOptions watch;
};

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                   SqliteStoreOptions options = {});
  // Commits the writes already queued, fails later ones with kUnavailable, ends watchers.
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Result<KeyValue> Get(const std::string& key) override;
  Result<ListResult> List(const std::string& prefix, const ListOptions& options) override;
  Result<int64_t> Create(const std::string& key, const std::string& value) override;
  Result<int64_t> Update(const std::string& key, const std::string& value,
                         int64_t expected_mod_revision) override;
  Result<int64_t> Delete(const std::string& key, int64_t expected_mod_revision) override;
  Result<std::unique_ptr<WatchStream>> Watch(const std::string& prefix,
                                             int64_t after_revision) override;
  int64_t CurrentRevision() override;
  Status Compact(int64_t revision) override;

 private:
  struct WriteOp;
  struct PendingEvent;

  SqliteStore(SqliteStoreOptions options, std::unique_ptr<Connection> writer,
              std::shared_ptr<ConnectionPool> readers, int64_t revision, int64_t compact_revision);

  // Queues `op` for the writer thread and waits for its outcome.
  Result<int64_t> Submit(WriteOp& op);
  void WriterLoop();
  // Runs `batch` in one transaction; on a failed commit every op fails and nothing is published.
  void CommitBatch(std::deque<WriteOp*>& batch);
  // Applies one op inside the open transaction. A failed precondition is the op's own result
  // (returned in `outcome`); a returned error means the transaction itself is broken.
  Status ApplyOp(WriteOp& op, std::vector<Event>& events, Result<int64_t>& outcome);
  Status ApplyCompact(int64_t revision, Result<int64_t>& outcome);
  Result<int64_t> ReadSequence();

  const SqliteStoreOptions options_;
  // Only the writer thread uses writer_ and next_revision_ after construction.
  std::unique_ptr<Connection> writer_;
  int64_t next_revision_;
  const std::shared_ptr<ConnectionPool> readers_;
  WatchHub hub_;

  std::mutex queue_mu_;  // guards queue_ and stopping_
  std::condition_variable queue_ready_;
  std::deque<WriteOp*> queue_;
  bool stopping_ = false;

  std::thread writer_thread_;
};

}  // namespace kelp::storage::sqlite
