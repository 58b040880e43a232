// FakeProcessRunner: a ProcessRunner for unit tests. It records every request and answers
// Run() with scripted results (in order) or a handler function (e.g. a fake CNI plugin that
// replies according to CNI_COMMAND). Start() returns FakeChildProcess objects that "die" of
// the first signal they get; the runner logs those signals so tests can assert on them.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "common/process.h"

namespace kelp::testing {

class FakeProcessRunner final : public ProcessRunner {
 public:
  using Handler = std::function<Result<ProcessResult>(const ProcessRequest&)>;

  struct SentSignal {
    pid_t pid;
    int signal;
    friend bool operator==(const SentSignal&, const SentSignal&) = default;
  };

  // Queues the answer to one future Run() call; queued answers are used first, in order.
  void AddResult(Result<ProcessResult> result) {
    std::lock_guard lock(mutex_);
    scripted_.push_back(std::move(result));
  }
  // Answers Run() calls once the queue is empty.
  void SetHandler(Handler handler) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
  }

  Result<ProcessResult> Run(const ProcessRequest& request) override {
    Handler handler;
    {
      std::lock_guard lock(mutex_);
      runs_.push_back(request);
      if (!scripted_.empty()) {
        Result<ProcessResult> result = std::move(scripted_.front());
        scripted_.pop_front();
        return result;
      }
      handler = handler_;
    }
    // Called unlocked so a handler may inspect the runner.
    if (handler) return handler(request);
    return InternalError(
        fmt::format("FakeProcessRunner: no result scripted for {}", fmt::join(request.argv, " ")));
  }

  // The child stays "running" until it is signalled. The runner must outlive it.
  Result<std::unique_ptr<ChildProcess>> Start(const ProcessRequest& request) override {
    std::lock_guard lock(mutex_);
    starts_.push_back(request);
    pid_t pid = kFirstFakePid + static_cast<pid_t>(starts_.size()) - 1;
    return std::unique_ptr<ChildProcess>(std::make_unique<FakeChildProcess>(*this, pid));
  }

  std::vector<ProcessRequest> runs() const {
    std::lock_guard lock(mutex_);
    return runs_;
  }
  std::vector<ProcessRequest> starts() const {
    std::lock_guard lock(mutex_);
    return starts_;
  }
  std::vector<SentSignal> signals() const {
    std::lock_guard lock(mutex_);
    return signals_;
  }

  // Fake children get pids from here on, in Start() order.
  static constexpr pid_t kFirstFakePid = 100000;

 private:
  class FakeChildProcess final : public ChildProcess {
   public:
    FakeChildProcess(FakeProcessRunner& runner, pid_t pid) : runner_(runner), pid_(pid) {}

    pid_t pid() const override { return pid_; }
    Status Signal(int signal) override {
      if (exit_.has_value()) return Status::Ok();
      runner_.RecordSignal(SentSignal{pid_, signal});
      exit_ = ProcessExit{.exit_code = -1, .term_signal = signal};
      return Status::Ok();
    }
    Result<ProcessExit> Wait(std::optional<std::chrono::milliseconds> timeout) override {
      if (exit_.has_value()) return *exit_;
      // Nothing else can end a fake child, so waiting without a timeout would hang the test.
      if (!timeout.has_value()) return InternalError("FakeChildProcess: Wait would never return");
      return DeadlineExceededError(fmt::format("pid {} still running", pid_));
    }

   private:
    FakeProcessRunner& runner_;
    const pid_t pid_;
    std::optional<ProcessExit> exit_;
  };

  void RecordSignal(SentSignal sent) {
    std::lock_guard lock(mutex_);
    signals_.push_back(sent);
  }

  mutable std::mutex mutex_;  // guards everything below
  std::deque<Result<ProcessResult>> scripted_;
  Handler handler_;
  std::vector<ProcessRequest> runs_;
  std::vector<ProcessRequest> starts_;
  std::vector<SentSignal> signals_;
};

}  // namespace kelp::testing
