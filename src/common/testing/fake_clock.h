// FakeClock: a Clock that only moves when a test says so. Advance() moves the monotonic and
// the wall clock together, as real time would; SetWallNow() alone models a wall-clock jump.
// Thread-safe, so code under test may read it from its own threads.
#pragma once

#include <chrono>
#include <mutex>

#include "common/clock.h"

namespace kelp::testing {

class FakeClock final : public Clock {
 public:
  // Starts at 2024-01-01T00:00:00Z so wall timestamps in golden outputs are stable.
  static constexpr std::chrono::sys_seconds kDefaultWallStart{
      std::chrono::sys_days{std::chrono::year{2024} / std::chrono::January / 1}};

  std::chrono::steady_clock::time_point Now() const override {
    std::lock_guard lock(mutex_);
    return now_;
  }
  std::chrono::system_clock::time_point WallNow() const override {
    std::lock_guard lock(mutex_);
    return wall_now_;
  }

  void Advance(std::chrono::steady_clock::duration delta) {
    std::lock_guard lock(mutex_);
    now_ += delta;
    wall_now_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(delta);
  }
  void SetNow(std::chrono::steady_clock::time_point now) {
    std::lock_guard lock(mutex_);
    now_ = now;
  }
  void SetWallNow(std::chrono::system_clock::time_point wall_now) {
    std::lock_guard lock(mutex_);
    wall_now_ = wall_now;
  }

 private:
  mutable std::mutex mutex_;  // guards now_ and wall_now_
  std::chrono::steady_clock::time_point now_{};
  std::chrono::system_clock::time_point wall_now_{kDefaultWallStart};
};

}  // namespace kelp::testing
