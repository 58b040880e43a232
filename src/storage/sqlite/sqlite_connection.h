// Thin RAII layer over the sqlite3 C API: a Connection (with a cache of prepared statements),
// a Statement handle that resets itself when done, and a small pool of read connections.
// Every sqlite error becomes a Status carrying sqlite's own message.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace kelp::storage::sqlite {

// A prepared statement borrowed from a Connection's cache; reset and unbound on destruction
// so the next user starts clean. Movable, not copyable.
class Statement {
 public:
  Statement(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  Status Bind(int index, int64_t value);
  Status Bind(int index, std::string_view text);
  Status BindBlob(int index, std::string_view bytes);
  // Named-parameter forms (":name"); a parameter the SQL does not use is skipped.
  Status Bind(const char* name, int64_t value);
  Status Bind(const char* name, std::string_view text);
  // True when a row is available, false when the statement is done.
  Result<bool> Step();
  // Steps a statement that returns no rows.
  Status Run();

  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string Text(int column) const;

 private:
  sqlite3_stmt* stmt_;
  sqlite3* db_;
};

class Connection {
 public:
  // Opens (creating if `read_only` is false) the database and applies the WAL / fsync pragmas.
  static Result<std::unique_ptr<Connection>> Open(const std::string& path, bool read_only,
                                                  int busy_timeout_ms);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements without results.
  Status Exec(const std::string& sql);
  // A cached prepared statement; only one Statement per SQL text may be live at a time.
  Result<Statement> Prepare(const std::string& sql);
  // True while an explicit transaction is open (e.g. after a failed COMMIT).
  bool InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

// Status for sqlite result `rc` on `db`: "what: <sqlite message>"; SQLITE_BUSY/LOCKED map to
// kUnavailable, everything else to kIoError.
Status SqliteError(sqlite3* db, int rc, std::string_view what);

// A fixed set of read connections handed out one caller at a time.
class ConnectionPool {
 public:
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> connection)
        : pool_(pool), connection_(std::move(connection)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (connection_) pool_->Return(std::move(connection_));
    }
    Connection& operator*() { return *connection_; }
    Connection* operator->() { return connection_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> connection_;
  };

  explicit ConnectionPool(std::vector<std::unique_ptr<Connection>> connections)
      : idle_(std::move(connections)) {}
  // Blocks until a connection is idle.
  Lease Acquire();

 private:
  void Return(std::unique_ptr<Connection> connection);

  std::mutex mu_;  // guards idle_
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace kelp::storage::sqlite
