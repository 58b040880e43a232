// Test helper for sqlite_store_crash_test: opens the store at argv[1] and creates keys from
// argv[2] threads until killed, appending "key revision\n" to the file argv[3] only after each
// write is acknowledged, so the test knows exactly which writes the store promised to keep.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "storage/sqlite/sqlite_store.h"

namespace {

constexpr int kMaxWritesPerThread = 100000;  // bounds the run if nobody kills us

// One O_APPEND write() per line, so lines of concurrent threads never interleave. The file
// needs no fsync: what write() handed to the kernel survives the kill of this process.
bool WriteLine(int fd, const std::string& line) {
  return write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <db-path> <threads> <ack-file>\n", argv[0]);
    return 2;
  }
  const int ack_fd = open(argv[3], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (ack_fd < 0) {
    std::perror("open ack file");
    return 1;
  }
  auto store = kelp::storage::sqlite::SqliteStore::Open(argv[1]);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  const int threads = std::atoi(argv[2]);
  std::vector<std::thread> writers;
  for (int t = 0; t < threads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kMaxWritesPerThread; ++i) {
        const std::string key = "/crash/" + std::to_string(t) + "/" + std::to_string(i);
        auto revision = (*store)->Create(key, std::string(200, 'x'));
        if (!revision.ok()) {
          std::fprintf(stderr, "create %s: %s\n", key.c_str(), revision.status().ToString().c_str());
          std::_Exit(1);
        }
        if (!WriteLine(ack_fd, key + " " + std::to_string(*revision) + "\n")) std::_Exit(1);
      }
    });
  }
  for (auto& writer : writers) writer.join();
  return 0;
}
