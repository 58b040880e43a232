// FakeNftables (see fake_nftables.h).
#include "proxy/testing/fake_nftables.h"

namespace kelp::proxy::testing {

Status FakeNftables::Apply(std::string_view transaction) {
  std::lock_guard lock(mutex_);
  transactions_.emplace_back(transaction);
  changed_.notify_all();
  if (fail_count_ > 0) {
    --fail_count_;
    return fail_status_;
  }
  last_applied_ = std::string(transaction);
  return Status::Ok();
}

Result<std::string> FakeNftables::List(std::string_view command) {
  std::lock_guard lock(mutex_);
  if (!has_listing_) return NotFoundError("nft: " + std::string(command) + ": not found");
  return listing_;
}

std::vector<std::string> FakeNftables::transactions() const {
  std::lock_guard lock(mutex_);
  return transactions_;
}

std::string FakeNftables::last_applied() const {
  std::lock_guard lock(mutex_);
  return last_applied_;
}

void FakeNftables::Clear() {
  std::lock_guard lock(mutex_);
  transactions_.clear();
  last_applied_.clear();
}

void FakeNftables::FailNext(int count, Status status) {
  std::lock_guard lock(mutex_);
  fail_count_ = count;
  fail_status_ = std::move(status);
}

void FakeNftables::SetListing(std::string listing) {
  std::lock_guard lock(mutex_);
  listing_ = std::move(listing);
  has_listing_ = true;
}

bool FakeNftables::WaitForTransactions(size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return transactions_.size() >= count; });
}

}  // namespace kelp::proxy::testing
