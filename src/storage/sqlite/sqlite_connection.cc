// sqlite3 connections, cached statements and the read pool.
#include "storage/sqlite/sqlite_connection.h"

#include <utility>

namespace kelp::storage::sqlite {

Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string message(what);
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return UnavailableError(message);
  return IoError(message);
}

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), db_(other.db_) {}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Status Statement::Bind(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  return rc == SQLITE_OK ? Status::Ok() : SqliteError(db_, rc, "bind");
}

Status Statement::Bind(int index, std::string_view text) {
  // A null pointer would bind SQL NULL, so an empty view must still point somewhere.
  const int rc = sqlite3_bind_text(stmt_, index, text.empty() ? "" : text.data(),
                                   static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return rc == SQLITE_OK ? Status::Ok() : SqliteError(db_, rc, "bind");
}

Status Statement::BindBlob(int index, std::string_view bytes) {
  const int rc = sqlite3_bind_blob(stmt_, index, bytes.empty() ? "" : bytes.data(),
                                   static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return rc == SQLITE_OK ? Status::Ok() : SqliteError(db_, rc, "bind");
}

Status Statement::Bind(const char* name, int64_t value) {
  const int index = sqlite3_bind_parameter_index(stmt_, name);
  return index == 0 ? Status::Ok() : Bind(index, value);
}

Status Statement::Bind(const char* name, std::string_view text) {
  const int index = sqlite3_bind_parameter_index(stmt_, name);
  return index == 0 ? Status::Ok() : Bind(index, text);
}

Result<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, rc, "step");
}

Status Statement::Run() {
  KELP_ASSIGN_OR_RETURN(bool row, Step());
  (void)row;
  return Status::Ok();
}

std::string Statement::Text(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, bool read_only,
                                                     int busy_timeout_ms) {
  sqlite3* db = nullptr;
  // NOMUTEX: each connection is used by one thread at a time (writer thread or pool lease).
  const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status status = SqliteError(db, rc, "open " + path);
    sqlite3_close(db);
    return status;
  }
  std::unique_ptr<Connection> connection(new Connection(db));
  sqlite3_busy_timeout(db, busy_timeout_ms);
  sqlite3_extended_result_codes(db, 1);
  if (!read_only) {
    KELP_RETURN_IF_ERROR(connection->Exec("PRAGMA journal_mode=WAL"));
    // Checkpoints run on the committing thread and fsync the database file; 4x SQLite's
    // default WAL size (~16 MB) makes them rarer under sustained writes.
    KELP_RETURN_IF_ERROR(connection->Exec("PRAGMA wal_autocheckpoint=4000"));
  }
  KELP_RETURN_IF_ERROR(connection->Exec("PRAGMA synchronous=FULL"));
  return connection;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Status Connection::Exec(const std::string& sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string message = error != nullptr ? error : sqlite3_errstr(rc);
  sqlite3_free(error);
  Status status = SqliteError(nullptr, rc, sql);
  return Status(status.code(), sql + ": " + message);
}

Result<Statement> Connection::Prepare(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, "prepare " + sql);
    it = statements_.emplace(sql, stmt).first;
  }
  return Statement(it->second, db_);
}

ConnectionPool::Lease ConnectionPool::Acquire() {
  std::unique_lock lock(mu_);
  returned_.wait(lock, [&] { return !idle_.empty(); });
  std::unique_ptr<Connection> connection = std::move(idle_.back());
  idle_.pop_back();
  return Lease(this, std::move(connection));
}

void ConnectionPool::Return(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(connection));
  returned_.notify_one();
}

}  // namespace kelp::storage::sqlite
