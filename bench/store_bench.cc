// store_bench: durable create throughput of SqliteStore (group commit) against a naive SQLite
// baseline measured in the same run (each write its own transaction and fsync on the caller's
// thread, serialized by a mutex; same pragmas, same schema), plus get rate, a 10k-key list and
// watch delivery latency. Runs in a scratch directory under /var/tmp (a real disk, not tmpfs).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "process_status.h"
#include "storage/sqlite/sqlite_connection.h"
#include "storage/sqlite/sqlite_store.h"

namespace kelp::storage::sqlite {
namespace {

using Clock = std::chrono::steady_clock;
// Disk flush latency on a shared machine drifts by several times within seconds, so the two
// implementations are measured in alternating slices rather than one after the other.
constexpr auto kWriteSliceTime = std::chrono::milliseconds(400);
constexpr int kWriteSlices = 4;

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = "/var/tmp/kelp-store-bench-XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  bool ok() const { return !path_.empty(); }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A ~1 KB JSON-like object, as the API server would store.
std::string ObjectValue(const std::string& name) {
  std::string value = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
                      R"(","namespace":"default","labels":{"app":"bench"}},"data":{"payload":")";
  value.append(1024 - std::min<size_t>(1000, value.size()) - 4, 'x');
  value += "\"}}";
  return value;
}

// The baseline: what one would write first. Every create is a transaction with its own fsync.
class NaiveStore {
 public:
  static std::unique_ptr<NaiveStore> Open(const std::string& path) {
    auto connection = Connection::Open(path, /*read_only=*/false, 5000);
    if (!connection.ok()) return nullptr;
    auto store = std::unique_ptr<NaiveStore>(new NaiveStore(std::move(connection).value()));
    const Status schema = store->connection_->Exec(
        "CREATE TABLE kv_log (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, "
        "created INTEGER NOT NULL, deleted INTEGER NOT NULL, create_revision INTEGER NOT NULL, "
        "prev_revision INTEGER NOT NULL, value BLOB NOT NULL);"
        "CREATE INDEX kv_log_name_id ON kv_log (name, id);"
        "CREATE TABLE kv_current (name TEXT PRIMARY KEY, id INTEGER NOT NULL) WITHOUT ROWID;");
    return schema.ok() ? std::move(store) : nullptr;
  }

  Result<int64_t> Create(const std::string& key, const std::string& value) {
    std::lock_guard lock(mu_);
    KELP_RETURN_IF_ERROR(connection_->Exec("BEGIN IMMEDIATE"));
    Result<int64_t> revision = CreateInTransaction(key, value);
    if (!revision.ok()) {
      (void)connection_->Exec("ROLLBACK").ok();
      return revision;
    }
    KELP_RETURN_IF_ERROR(connection_->Exec("COMMIT"));
    return revision;
  }

 private:
  explicit NaiveStore(std::unique_ptr<Connection> connection)
      : connection_(std::move(connection)) {}

  Result<int64_t> CreateInTransaction(const std::string& key, const std::string& value) {
    {
      KELP_ASSIGN_OR_RETURN(Statement lookup,
                            connection_->Prepare("SELECT id FROM kv_current WHERE name = ?1"));
      KELP_RETURN_IF_ERROR(lookup.Bind(1, key));
      KELP_ASSIGN_OR_RETURN(bool exists, lookup.Step());
      if (exists) return AlreadyExistsError(key);
    }
    int64_t revision = 0;
    {
      KELP_ASSIGN_OR_RETURN(
          Statement insert,
          connection_->Prepare("INSERT INTO kv_log (name, created, deleted, create_revision, "
                               "prev_revision, value) VALUES (?1, 1, 0, 0, 0, ?2) RETURNING id"));
      KELP_RETURN_IF_ERROR(insert.Bind(1, key));
      KELP_RETURN_IF_ERROR(insert.BindBlob(2, value));
      KELP_ASSIGN_OR_RETURN(bool row, insert.Step());
      if (!row) return InternalError("insert returned no id");
      revision = insert.Int(0);
    }
    KELP_ASSIGN_OR_RETURN(Statement current,
                          connection_->Prepare("INSERT INTO kv_current (name, id) VALUES (?1, ?2)"));
    KELP_RETURN_IF_ERROR(current.Bind(1, key));
    KELP_RETURN_IF_ERROR(current.Bind(2, revision));
    KELP_RETURN_IF_ERROR(current.Run());
    return revision;
  }

  std::mutex mu_;  // guards connection_: one write transaction at a time
  std::unique_ptr<Connection> connection_;
};

struct Throughput {
  int64_t creates = 0;
  double seconds = 0;
  double PerSecond() const { return seconds > 0 ? static_cast<double>(creates) / seconds : 0; }
};

// Runs `writers` threads creating distinct keys for one slice; adds to `total`.
template <typename CreateFn>
void MeasureCreates(int writers, const std::string& tag, CreateFn create, Throughput& total) {
  // Write-back left over from the previous slice would otherwise slow this slice's fsyncs.
  sync();
  std::atomic<bool> stop = false;
  std::atomic<int64_t> done = 0;
  std::atomic<int64_t> failed = 0;
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const std::string name = tag + "-" + std::to_string(w) + "-" + std::to_string(i);
        if (create("/registry/configmaps/default/" + name, ObjectValue(name)).ok()) {
          done.fetch_add(1, std::memory_order_relaxed);
        } else {
          failed.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  std::this_thread::sleep_for(kWriteSliceTime);
  stop = true;
  for (auto& thread : threads) thread.join();
  total.seconds += std::chrono::duration<double>(Clock::now() - start).count();
  total.creates += done.load();
  if (failed.load() != 0) std::printf("  (%lld creates failed)\n", static_cast<long long>(failed));
}


int Run() {
  ScratchDir dir;
  if (!dir.ok()) {
    std::fprintf(stderr, "cannot create a scratch directory under /var/tmp\n");
    return 1;
  }
  std::printf("SqliteStore benchmark (WAL, synchronous=FULL, 1 KB values; writes measured in %d "
              "alternating %lld ms slices per implementation)\n\n",
              kWriteSlices, static_cast<long long>(kWriteSliceTime.count()));
  std::printf("%-8s %22s %22s %8s\n", "writers", "group commit creates/s", "naive creates/s",
              "ratio");
  std::unique_ptr<SqliteStore> store;
  for (int writers : {1, 16, 64}) {
    auto opened = SqliteStore::Open(dir.File("group-" + std::to_string(writers) + ".db"));
    auto naive = NaiveStore::Open(dir.File("naive-" + std::to_string(writers) + ".db"));
    if (!opened.ok() || naive == nullptr) {
      std::fprintf(stderr, "open failed: %s\n", opened.status().ToString().c_str());
      return 1;
    }
    store = std::move(opened).value();
    // Warm-up, not counted: until the WAL has been filled once and recycled, every commit
    // grows the file and its fsync costs several times more.
    Throughput warm_up;
    MeasureCreates(
        64, "wg", [&](const std::string& k, const std::string& v) { return store->Create(k, v); },
        warm_up);
    MeasureCreates(
        64, "wn", [&](const std::string& k, const std::string& v) { return naive->Create(k, v); },
        warm_up);
    Throughput group;
    Throughput baseline;
    for (int slice = 0; slice < kWriteSlices; ++slice) {
      const std::string tag = std::to_string(slice);
      MeasureCreates(
          writers, "g" + tag,
          [&](const std::string& k, const std::string& v) { return store->Create(k, v); }, group);
      MeasureCreates(
          writers, "n" + tag,
          [&](const std::string& k, const std::string& v) { return naive->Create(k, v); },
          baseline);
    }
    std::printf("%-8d %22.0f %22.0f %7.1fx\n", writers, group.PerSecond(), baseline.PerSecond(),
                group.PerSecond() / baseline.PerSecond());
  }

  // Reads and lists on the store left by the 64-writer run, plus 10k keys under one prefix.
  const int64_t before_list_keys = store->CurrentRevision();
  std::atomic<int> next_key = 0;
  std::vector<std::thread> loaders;
  for (int w = 0; w < 64; ++w) {
    loaders.emplace_back([&] {
      for (int i; (i = next_key.fetch_add(1)) < 10000;) {
        const std::string name = "item-" + std::to_string(i);
        (void)store->Create("/registry/bench/list/" + name, ObjectValue(name)).ok();
      }
    });
  }
  for (auto& loader : loaders) loader.join();
  std::printf("\nloaded 10000 list keys in revisions %lld..%lld\n",
              static_cast<long long>(before_list_keys + 1),
              static_cast<long long>(store->CurrentRevision()));

  std::mt19937 random(42);
  const auto get_start = Clock::now();
  int gets = 0;
  while (Clock::now() - get_start < std::chrono::seconds(1)) {
    const std::string key = "/registry/bench/list/item-" + std::to_string(random() % 10000);
    if (store->Get(key).ok()) ++gets;
  }
  const double get_seconds = std::chrono::duration<double>(Clock::now() - get_start).count();
  std::printf("gets/s (1 thread): %.0f\n", gets / get_seconds);

  constexpr int kListRuns = 5;
  const auto list_start = Clock::now();
  size_t listed = 0;
  for (int i = 0; i < kListRuns; ++i) {
    auto list = store->List("/registry/bench/list/", {});
    if (list.ok()) listed = list->items.size();
  }
  std::printf("list of %zu keys: %.1f ms (mean of %d)\n", listed,
              std::chrono::duration<double, std::milli>(Clock::now() - list_start).count() /
                  kListRuns,
              kListRuns);

  // Watch latency: time from calling Create to the watcher receiving the event.
  constexpr int kWatched = 500;
  std::vector<std::atomic<int64_t>> sent_ns(kWatched);
  std::vector<int64_t> latency_ns;
  auto watch = store->Watch("/registry/bench/watch/", 0);
  if (!watch.ok()) {
    std::fprintf(stderr, "watch: %s\n", watch.status().ToString().c_str());
    return 1;
  }
  std::thread watcher([&] {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (latency_ns.size() < kWatched && Clock::now() < deadline) {
      auto events = (*watch)->Next(std::chrono::milliseconds(100));
      if (!events.ok()) return;
      const int64_t now = Clock::now().time_since_epoch().count();
      for (const Event& event : *events) {
        const int index = std::stoi(event.kv.key.substr(event.kv.key.rfind('/') + 1));
        latency_ns.push_back(now - sent_ns[index].load());
      }
    }
  });
  for (int i = 0; i < kWatched; ++i) {
    sent_ns[i] = Clock::now().time_since_epoch().count();
    (void)store->Create("/registry/bench/watch/" + std::to_string(i), "{}").ok();
  }
  watcher.join();
  std::sort(latency_ns.begin(), latency_ns.end());
  if (!latency_ns.empty()) {
    std::printf("watch latency create->event (%zu events, 1 writer): p50 %.2f ms, p99 %.2f ms\n",
                latency_ns.size(), latency_ns[latency_ns.size() / 2] / 1e6,
                latency_ns[latency_ns.size() * 99 / 100] / 1e6);
  }
  std::printf("RSS %s (peak %s)\n", kelp::bench::ProcStatusField("VmRSS:").c_str(),
              kelp::bench::ProcStatusField("VmHWM:").c_str());
  return 0;
}

}  // namespace
}  // namespace kelp::storage::sqlite

int main() { return kelp::storage::sqlite::Run(); }
