// SqliteStore: schema, the group-commit writer thread, reads on pooled WAL connections, and
// the log reader that lets watchers replay history older than the in-memory ring.
#include "storage/sqlite/sqlite_store.h"

#include <future>
#include <optional>
#include <utility>
#include <vector>

#include "storage/sqlite/sqlite_connection.h"

namespace kelp::storage::sqlite {
namespace {

// kv_log: one row per write; id is the global revision (AUTOINCREMENT: never reused, even
// after the newest rows are compacted away). A delete row carries the key's last value.
// kv_current: each live key's latest kv_log id, so Get and latest List skip history.
// kv_meta: "compact_revision".
constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS kv_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  created INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  value BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS kv_log_name_id ON kv_log (name, id);
CREATE TABLE IF NOT EXISTS kv_current (name TEXT PRIMARY KEY, id INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
)sql";

constexpr char kSelectSequence[] = "SELECT seq FROM sqlite_sequence WHERE name = 'kv_log'";
constexpr char kSelectCompact[] = "SELECT value FROM kv_meta WHERE key = 'compact_revision'";
constexpr char kSelectCurrent[] =
    "SELECT l.id, l.create_revision, l.value FROM kv_current c JOIN kv_log l ON l.id = c.id "
    "WHERE c.name = ?1";
constexpr char kInsertLog[] =
    "INSERT INTO kv_log (id, name, created, deleted, create_revision, prev_revision, value) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr char kUpsertCurrent[] =
    "INSERT INTO kv_current (name, id) VALUES (?1, ?2) "
    "ON CONFLICT (name) DO UPDATE SET id = excluded.id";
constexpr char kDeleteCurrent[] = "DELETE FROM kv_current WHERE name = ?1";
// Keeps, for every key, its newest row at or below the revision unless that row is a delete:
// exactly what a list at any revision >= the compacted one still needs.
constexpr char kCompactLog[] =
    "DELETE FROM kv_log WHERE id <= ?1 AND (deleted = 1 OR id NOT IN "
    "(SELECT MAX(id) FROM kv_log WHERE id <= ?1 GROUP BY name))";
constexpr char kUpsertCompact[] =
    "INSERT INTO kv_meta (key, value) VALUES ('compact_revision', ?1) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value";

// The smallest string greater than every string starting with `prefix`; nullopt if none.
std::optional<std::string> PrefixEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (prefix.empty()) return std::nullopt;
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

// " AND <column> < :hi" when the prefix has an upper bound.
std::string UpperBoundClause(const std::optional<std::string>& end, const char* column) {
  return end ? std::string(" AND ") + column + " < :hi" : std::string();
}

Result<int64_t> ReadOptionalInt(Connection& connection, const char* sql) {
  KELP_ASSIGN_OR_RETURN(Statement stmt, connection.Prepare(sql));
  KELP_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Int(0) : 0;
}

// Holds a read transaction, hence one consistent WAL snapshot, on a pooled connection.
class ReadSnapshot {
 public:
  static Result<ReadSnapshot> Begin(ConnectionPool& pool) {
    ConnectionPool::Lease lease = pool.Acquire();
    KELP_RETURN_IF_ERROR(lease->Exec("BEGIN"));
    return ReadSnapshot(std::move(lease));
  }
  ReadSnapshot(ReadSnapshot&& other) noexcept
      : lease_(std::move(other.lease_)), active_(std::exchange(other.active_, false)) {}
  ~ReadSnapshot() {
    // A snapshot left open would pin old WAL frames and hide newer commits from this
    // connection forever, so fall back to ROLLBACK if COMMIT fails.
    if (active_ && !lease_->Exec("COMMIT").ok()) (void)lease_->Exec("ROLLBACK").ok();
  }
  Connection& connection() { return *lease_; }

 private:
  explicit ReadSnapshot(ConnectionPool::Lease lease) : lease_(std::move(lease)) {}
  ConnectionPool::Lease lease_;
  bool active_ = true;
};

class SqliteLogReader final : public EventLogReader {
 public:
  explicit SqliteLogReader(std::shared_ptr<ConnectionPool> pool) : pool_(std::move(pool)) {}

  Result<std::vector<Event>> ReadEvents(const std::string& prefix, int64_t after, int64_t until,
                                        size_t limit) override {
    KELP_ASSIGN_OR_RETURN(ReadSnapshot snapshot, ReadSnapshot::Begin(*pool_));
    Connection& connection = snapshot.connection();
    KELP_ASSIGN_OR_RETURN(int64_t compacted, ReadOptionalInt(connection, kSelectCompact));
    if (after < compacted) {
      return ExpiredError("watch history after revision " + std::to_string(after) +
                          " was compacted at " + std::to_string(compacted));
    }
    const std::optional<std::string> end = PrefixEnd(prefix);
    const std::string sql =
        "SELECT id, name, created, deleted, create_revision, prev_revision, value FROM kv_log "
        "WHERE id > :after AND id <= :until AND name >= :lo" +
        UpperBoundClause(end, "name") + " ORDER BY id LIMIT :limit";
    KELP_ASSIGN_OR_RETURN(Statement stmt, connection.Prepare(sql));
    KELP_RETURN_IF_ERROR(stmt.Bind(":after", after));
    KELP_RETURN_IF_ERROR(stmt.Bind(":until", until));
    KELP_RETURN_IF_ERROR(stmt.Bind(":lo", prefix));
    if (end) KELP_RETURN_IF_ERROR(stmt.Bind(":hi", *end));
    KELP_RETURN_IF_ERROR(stmt.Bind(":limit", static_cast<int64_t>(limit)));
    std::vector<Event> events;
    for (;;) {
      KELP_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      Event event;
      event.kv = KeyValue{stmt.Text(1), stmt.Text(6), stmt.Int(4), stmt.Int(0)};
      const int64_t prev_revision = stmt.Int(5);
      if (stmt.Int(2) != 0) {
        event.type = EventType::kCreate;
      } else if (stmt.Int(3) != 0) {
        event.type = EventType::kDelete;
        event.prev = KeyValue{event.kv.key, event.kv.value, event.kv.create_revision,
                              prev_revision};
      } else {
        event.type = EventType::kUpdate;
        KELP_ASSIGN_OR_RETURN(event.prev, ReadPrevious(connection, event.kv, prev_revision));
      }
      events.push_back(std::move(event));
    }
    return events;
  }

 private:
  // The previous version of an updated key, if compaction has not removed it.
  static Result<std::optional<KeyValue>> ReadPrevious(Connection& connection,
                                                      const KeyValue& kv, int64_t revision) {
    KELP_ASSIGN_OR_RETURN(Statement stmt,
                          connection.Prepare("SELECT value FROM kv_log WHERE id = ?1"));
    KELP_RETURN_IF_ERROR(stmt.Bind(1, revision));
    KELP_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<KeyValue>();
    return std::optional<KeyValue>(KeyValue{kv.key, stmt.Text(0), kv.create_revision, revision});
  }

  std::shared_ptr<ConnectionPool> pool_;
};

Status ValidateKey(const std::string& key) {
  if (key.empty()) return InvalidArgumentError("empty key");
  return Status::Ok();
}

}  // namespace

struct SqliteStore::WriteOp {
  enum class Kind { kCreate, kUpdate, kDelete, kCompact };
  Kind kind;
  std::string key;
  std::string value;
  int64_t revision = 0;  // expected mod revision, or the compact revision
  std::promise<Result<int64_t>> done;
};

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                       SqliteStoreOptions options) {
  if (options.max_batch == 0) return InvalidArgumentError("max_batch must be positive");
  if (options.read_connections <= 0) {
    return InvalidArgumentError("read_connections must be positive");
  }
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer,
                        Connection::Open(path, /*read_only=*/false, options.busy_timeout_ms));
  KELP_RETURN_IF_ERROR(writer->Exec(std::string("BEGIN IMMEDIATE;") + kSchema + "COMMIT;"));
  KELP_ASSIGN_OR_RETURN(int64_t revision, ReadOptionalInt(*writer, kSelectSequence));
  KELP_ASSIGN_OR_RETURN(int64_t compact_revision, ReadOptionalInt(*writer, kSelectCompact));
  std::vector<std::unique_ptr<Connection>> readers;
  for (int i = 0; i < options.read_connections; ++i) {
    KELP_ASSIGN_OR_RETURN(std::unique_ptr<Connection> reader,
                          Connection::Open(path, /*read_only=*/true, options.busy_timeout_ms));
    readers.push_back(std::move(reader));
  }
  return std::unique_ptr<SqliteStore>(
      new SqliteStore(options, std::move(writer),
                      std::make_shared<ConnectionPool>(std::move(readers)), revision,
                      compact_revision));
}

SqliteStore::SqliteStore(SqliteStoreOptions options, std::unique_ptr<Connection> writer,
                         std::shared_ptr<ConnectionPool> readers, int64_t revision,
                         int64_t compact_revision)
    : options_(options),
      writer_(std::move(writer)),
      next_revision_(revision + 1),
      readers_(std::move(readers)),
      hub_(revision, compact_revision, std::make_shared<SqliteLogReader>(readers_),
           options.watch),
      writer_thread_([this] { WriterLoop(); }) {}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_ready_.notify_all();
  writer_thread_.join();
  hub_.Shutdown();
}

Result<KeyValue> SqliteStore::Get(const std::string& key) {
  ConnectionPool::Lease connection = readers_->Acquire();
  KELP_ASSIGN_OR_RETURN(Statement stmt, connection->Prepare(kSelectCurrent));
  KELP_RETURN_IF_ERROR(stmt.Bind(1, key));
  KELP_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return NotFoundError("key " + key + " not found");
  return KeyValue{key, stmt.Text(2), stmt.Int(1), stmt.Int(0)};
}

Result<ListResult> SqliteStore::List(const std::string& prefix, const ListOptions& options) {
  if (options.revision < 0 || options.limit < 0) {
    return InvalidArgumentError("negative list revision or limit");
  }
  KELP_ASSIGN_OR_RETURN(ReadSnapshot snapshot, ReadSnapshot::Begin(*readers_));
  Connection& connection = snapshot.connection();
  KELP_ASSIGN_OR_RETURN(int64_t latest, ReadOptionalInt(connection, kSelectSequence));
  KELP_ASSIGN_OR_RETURN(int64_t compacted, ReadOptionalInt(connection, kSelectCompact));
  const int64_t revision = options.revision == 0 ? latest : options.revision;
  if (revision > latest) {
    return InvalidArgumentError("list revision " + std::to_string(revision) +
                                " is newer than the current revision " + std::to_string(latest));
  }
  if (revision < compacted) {
    return ExpiredError("list revision " + std::to_string(revision) +
                        " is older than the compacted revision " + std::to_string(compacted));
  }
  const std::optional<std::string> end = PrefixEnd(prefix);
  // Both shapes return (mod_revision, key, create_revision, value) sorted by key.
  const std::string sql =
      revision == latest
          ? "SELECT l.id, c.name, l.create_revision, l.value FROM kv_current c "
            "JOIN kv_log l ON l.id = c.id WHERE c.name >= :lo AND c.name > :after" +
                UpperBoundClause(end, "c.name") + " ORDER BY c.name LIMIT :limit"
          : "SELECT id, name, create_revision, value FROM (SELECT MAX(id) AS id, name, deleted, "
            "create_revision, value FROM kv_log WHERE id <= :rev AND name >= :lo AND "
            "name > :after" +
                UpperBoundClause(end, "name") +
                " GROUP BY name) WHERE deleted = 0 ORDER BY name LIMIT :limit";
  KELP_ASSIGN_OR_RETURN(Statement stmt, connection.Prepare(sql));
  KELP_RETURN_IF_ERROR(stmt.Bind(":lo", prefix));
  KELP_RETURN_IF_ERROR(stmt.Bind(":after", options.continue_after_key));
  if (end) KELP_RETURN_IF_ERROR(stmt.Bind(":hi", *end));
  KELP_RETURN_IF_ERROR(stmt.Bind(":rev", revision));
  // One row past the limit tells whether more remain.
  KELP_RETURN_IF_ERROR(stmt.Bind(":limit", options.limit == 0 ? -1 : options.limit + 1));
  ListResult result;
  result.revision = revision;
  for (;;) {
    KELP_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    if (options.limit != 0 && static_cast<int64_t>(result.items.size()) == options.limit) {
      result.more = true;
      break;
    }
    result.items.push_back(KeyValue{stmt.Text(1), stmt.Text(3), stmt.Int(2), stmt.Int(0)});
  }
  return result;
}

Result<int64_t> SqliteStore::Create(const std::string& key, const std::string& value) {
  KELP_RETURN_IF_ERROR(ValidateKey(key));
  WriteOp op{WriteOp::Kind::kCreate, key, value};
  return Submit(op);
}

Result<int64_t> SqliteStore::Update(const std::string& key, const std::string& value,
                                    int64_t expected_mod_revision) {
  KELP_RETURN_IF_ERROR(ValidateKey(key));
  WriteOp op{WriteOp::Kind::kUpdate, key, value, expected_mod_revision};
  return Submit(op);
}

Result<int64_t> SqliteStore::Delete(const std::string& key, int64_t expected_mod_revision) {
  KELP_RETURN_IF_ERROR(ValidateKey(key));
  WriteOp op{WriteOp::Kind::kDelete, key, "", expected_mod_revision};
  return Submit(op);
}

Status SqliteStore::Compact(int64_t revision) {
  WriteOp op{WriteOp::Kind::kCompact, "", "", revision};
  return Submit(op).status();
}

Result<std::unique_ptr<WatchStream>> SqliteStore::Watch(const std::string& prefix,
                                                        int64_t after_revision) {
  return hub_.Watch(prefix, after_revision);
}

int64_t SqliteStore::CurrentRevision() { return hub_.revision(); }

Result<int64_t> SqliteStore::Submit(WriteOp& op) {
  std::future<Result<int64_t>> outcome = op.done.get_future();
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) return UnavailableError("store is shutting down");
    queue_.push_back(&op);
  }
  queue_ready_.notify_one();
  return outcome.get();
}

void SqliteStore::WriterLoop() {
  const size_t max_batch = options_.group_commit ? options_.max_batch : 1;
  for (;;) {
    std::deque<WriteOp*> batch;
    {
      std::unique_lock lock(queue_mu_);
      queue_ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      // Shutdown drains: ops queued before it began still commit.
      if (queue_.empty()) return;
      while (!queue_.empty() && batch.size() < max_batch) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    CommitBatch(batch);
  }
}

void SqliteStore::CommitBatch(std::deque<WriteOp*>& batch) {
  std::vector<Event> events;
  std::vector<Result<int64_t>> outcomes;
  outcomes.reserve(batch.size());
  std::optional<int64_t> compacted_to;
  Status status = writer_->Exec("BEGIN IMMEDIATE");
  for (WriteOp* op : batch) {
    if (!status.ok()) break;
    outcomes.emplace_back(InternalError("write not applied"));
    if (op->kind == WriteOp::Kind::kCompact) {
      status = ApplyCompact(op->revision, outcomes.back());
      if (status.ok() && outcomes.back().ok()) compacted_to = op->revision;
    } else {
      status = ApplyOp(*op, events, outcomes.back());
    }
  }
  if (status.ok()) status = writer_->Exec("COMMIT");
  if (!status.ok()) {
    // Nothing of this batch is durable: roll back, forget its revisions, publish nothing.
    if (writer_->InTransaction()) (void)writer_->Exec("ROLLBACK").ok();
    Result<int64_t> sequence = ReadSequence();
    if (sequence.ok()) next_revision_ = *sequence + 1;
    for (WriteOp* op : batch) op->done.set_value(status.WithContext("commit failed"));
    return;
  }
  if (compacted_to) hub_.SetCompactRevision(*compacted_to);
  hub_.Publish(std::move(events), next_revision_ - 1);
  for (size_t i = 0; i < batch.size(); ++i) batch[i]->done.set_value(std::move(outcomes[i]));
}

Status SqliteStore::ApplyOp(WriteOp& op, std::vector<Event>& events, Result<int64_t>& outcome) {
  std::optional<KeyValue> current;
  {
    KELP_ASSIGN_OR_RETURN(Statement lookup, writer_->Prepare(kSelectCurrent));
    KELP_RETURN_IF_ERROR(lookup.Bind(1, op.key));
    KELP_ASSIGN_OR_RETURN(bool row, lookup.Step());
    if (row) current = KeyValue{op.key, lookup.Text(2), lookup.Int(1), lookup.Int(0)};
  }
  if (op.kind == WriteOp::Kind::kCreate && current) {
    outcome = AlreadyExistsError("key " + op.key + " already exists");
    return Status::Ok();
  }
  if (op.kind != WriteOp::Kind::kCreate) {
    if (!current) {
      outcome = NotFoundError("key " + op.key + " not found");
      return Status::Ok();
    }
    if (op.revision != 0 && op.revision != current->mod_revision) {
      outcome = ConflictError("key " + op.key + " is at revision " +
                              std::to_string(current->mod_revision) + ", expected " +
                              std::to_string(op.revision));
      return Status::Ok();
    }
  }
  const int64_t revision = next_revision_;
  Event event;
  switch (op.kind) {
    case WriteOp::Kind::kCreate:
      event.type = EventType::kCreate;
      event.kv = KeyValue{op.key, op.value, revision, revision};
      break;
    case WriteOp::Kind::kUpdate:
      event.type = EventType::kUpdate;
      event.kv = KeyValue{op.key, op.value, current->create_revision, revision};
      event.prev = current;
      break;
    case WriteOp::Kind::kDelete:
      event.type = EventType::kDelete;
      event.kv = KeyValue{op.key, current->value, current->create_revision, revision};
      event.prev = current;
      break;
    case WriteOp::Kind::kCompact:
      return InternalError("compaction is not a key write");
  }
  {
    KELP_ASSIGN_OR_RETURN(Statement insert, writer_->Prepare(kInsertLog));
    KELP_RETURN_IF_ERROR(insert.Bind(1, revision));
    KELP_RETURN_IF_ERROR(insert.Bind(2, op.key));
    KELP_RETURN_IF_ERROR(insert.Bind(3, int64_t{event.type == EventType::kCreate}));
    KELP_RETURN_IF_ERROR(insert.Bind(4, int64_t{event.type == EventType::kDelete}));
    KELP_RETURN_IF_ERROR(insert.Bind(5, event.kv.create_revision));
    KELP_RETURN_IF_ERROR(insert.Bind(6, current ? current->mod_revision : 0));
    KELP_RETURN_IF_ERROR(insert.BindBlob(7, event.kv.value));
    KELP_RETURN_IF_ERROR(insert.Run());
  }
  if (event.type == EventType::kDelete) {
    KELP_ASSIGN_OR_RETURN(Statement remove, writer_->Prepare(kDeleteCurrent));
    KELP_RETURN_IF_ERROR(remove.Bind(1, op.key));
    KELP_RETURN_IF_ERROR(remove.Run());
  } else {
    KELP_ASSIGN_OR_RETURN(Statement upsert, writer_->Prepare(kUpsertCurrent));
    KELP_RETURN_IF_ERROR(upsert.Bind(1, op.key));
    KELP_RETURN_IF_ERROR(upsert.Bind(2, revision));
    KELP_RETURN_IF_ERROR(upsert.Run());
  }
  ++next_revision_;
  events.push_back(std::move(event));
  outcome = revision;
  return Status::Ok();
}

Status SqliteStore::ApplyCompact(int64_t revision, Result<int64_t>& outcome) {
  const int64_t latest = next_revision_ - 1;
  if (revision <= 0 || revision > latest) {
    outcome = InvalidArgumentError("compact revision " + std::to_string(revision) +
                                   " is outside 1.." + std::to_string(latest));
    return Status::Ok();
  }
  KELP_ASSIGN_OR_RETURN(int64_t compacted, ReadOptionalInt(*writer_, kSelectCompact));
  if (revision <= compacted) {
    outcome = compacted;
    return Status::Ok();
  }
  {
    KELP_ASSIGN_OR_RETURN(Statement prune, writer_->Prepare(kCompactLog));
    KELP_RETURN_IF_ERROR(prune.Bind(1, revision));
    KELP_RETURN_IF_ERROR(prune.Run());
  }
  KELP_ASSIGN_OR_RETURN(Statement record, writer_->Prepare(kUpsertCompact));
  KELP_RETURN_IF_ERROR(record.Bind(1, revision));
  KELP_RETURN_IF_ERROR(record.Run());
  outcome = revision;
  return Status::Ok();
}

Result<int64_t> SqliteStore::ReadSequence() { return ReadOptionalInt(*writer_, kSelectSequence); }

}  // namespace kelp::storage::sqlite
