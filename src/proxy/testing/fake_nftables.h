// FakeNftables: an Nftables seam for unit tests. It records every transaction Apply() is
// given (golden tests compare them), can be told to fail the next ones, and answers List()
// with a canned text. Thread-safe: the ServiceProxy applies from its own thread.
#pragma once

#include <condition_variable>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "proxy/nftables.h"

namespace kelp::proxy::testing {

class FakeNftables final : public Nftables {
 public:
  Status Apply(std::string_view transaction) override;
  Result<std::string> List(std::string_view command) override;

  // Every transaction applied so far, failed ones included (in order).
  std::vector<std::string> transactions() const;
  // The last transaction that succeeded; empty if none.
  std::string last_applied() const;
  void Clear();
  // The next `count` Apply() calls fail with `status` (after being recorded).
  void FailNext(int count, Status status);
  // What List() answers; without one it answers NotFound.
  void SetListing(std::string listing);
  // Waits until at least `count` transactions were recorded; false on timeout.
  bool WaitForTransactions(size_t count, std::chrono::milliseconds timeout) const;

 private:
  mutable std::mutex mutex_;  // guards everything below
  mutable std::condition_variable changed_;
  std::vector<std::string> transactions_;
  std::string last_applied_;
  int fail_count_ = 0;
  Status fail_status_;
  std::string listing_;
  bool has_listing_ = false;
};

}  // namespace kelp::proxy::testing
