// The Clock seam: code that needs "now" (leases, backoff, probes, node heartbeats) takes a
// Clock& so tests can drive time with testing::FakeClock instead of sleeping.
// Now() is monotonic and is what durations and deadlines use; WallNow() is calendar time for
// timestamps that leave the process (creationTimestamp, lease renewTime, logs).
#pragma once

#include <chrono>

namespace kelp {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point Now() const = 0;
  virtual std::chrono::system_clock::time_point WallNow() const = 0;
};

class RealClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point Now() const override {
    return std::chrono::steady_clock::now();
  }
  std::chrono::system_clock::time_point WallNow() const override {
    return std::chrono::system_clock::now();
  }
};

}  // namespace kelp
