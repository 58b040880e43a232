// FakeConntrack: records the UDP flow deletions the proxy asks for, as text lines
// ("udp 10.96.0.10:53 via 10.244.1.5:53") that tests compare.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "proxy/conntrack.h"

namespace kelp::proxy::testing {

class FakeConntrack final : public Conntrack {
 public:
  Result<int> DeleteUdpFlows(const std::vector<UdpFlowFilter>& filters) override {
    std::lock_guard lock(mutex_);
    for (const UdpFlowFilter& filter : filters) deletions_.push_back(filter.ToString());
    return 0;
  }
  std::vector<std::string> deletions() const {
    std::lock_guard lock(mutex_);
    return deletions_;
  }
  void Clear() {
    std::lock_guard lock(mutex_);
    deletions_.clear();
  }

 private:
  mutable std::mutex mutex_;  // guards deletions_
  std::vector<std::string> deletions_;
};

}  // namespace kelp::proxy::testing
