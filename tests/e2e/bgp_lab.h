// Shared set-up of the BGP end-to-end tests: a LAN of network namespaces ("hosts" on one
// bridge, 192.168.206.0/24 like the classic lab) and the BGP daemons that run on them —
// `kelp bgp`, BIRD 2, GoBGP and FRR's bgpd — each as the test's own process with its own
// config and control socket in the test's temp directory. Destructors stop every process
// and remove every namespace (and with it every link), even when a check failed.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/process.h"
#include "common/status.h"

namespace kelp::e2e {

// Polls `predicate` every 100 ms until it holds; false when `timeout` passes first.
template <typename Predicate>
bool WaitFor(Predicate predicate, std::chrono::milliseconds timeout);

bool Contains(const std::string& text, const std::string& part);
// The 100 ms pause between two polls of WaitFor.
void SleepForPoll();

// Runs a short command (20 s limit); an error when it cannot start or exits non-zero.
Result<ProcessResult> RunChecked(ProcessRunner& runner, std::vector<std::string> argv);

// A started child that is continued (it may be SIGSTOPped) and stopped when this goes away.
class ScopedChild {
 public:
  ScopedChild() = default;
  explicit ScopedChild(std::unique_ptr<ChildProcess> child) : child_(std::move(child)) {}
  ScopedChild(ScopedChild&&) = default;
  ScopedChild& operator=(ScopedChild&&);
  ~ScopedChild() { Stop(); }
  // SIGCONT, SIGTERM, SIGKILL after 5 s; a no-op when nothing runs.
  void Stop();
  ChildProcess* get() const { return child_.get(); }

 private:
  std::unique_ptr<ChildProcess> child_;
};

// Namespaces `<prefix>-lan` (bridge br0) and `<prefix>-<host>`, each host attached by a veth
// pair (eth0 inside the host) with a /24 address. Nothing is added to the root namespace.
class Lan {
 public:
  // `prefix` keeps concurrent tests apart (the tests use "kbgp" + their pid).
  Lan(ProcessRunner& runner, std::string prefix);
  Lan(const Lan&) = delete;
  Lan& operator=(const Lan&) = delete;
  ~Lan();

  Status Create();
  // Adds host `name` (up to 8 characters) with `address` (e.g. "192.168.206.20").
  Status AddHost(const std::string& name, const std::string& address);
  // The host's namespace name, for `ip netns exec`.
  std::string Netns(const std::string& host) const { return prefix_ + "-" + host; }
  // argv prefixed to run inside the host's namespace.
  std::vector<std::string> In(const std::string& host, std::vector<std::string> argv) const;
  // A socket(AF_INET, SOCK_STREAM) created inside the host's namespace (owned by the caller).
  Result<int> TcpSocketIn(const std::string& host) const;

 private:
  ProcessRunner& runner_;
  std::string prefix_;
  std::vector<std::string> namespaces_;  // created, deleted in reverse order
};

// One BGP daemon on a Lan host. `dir` holds its config, control socket and log.
class BgpDaemon {
 public:
  BgpDaemon(ProcessRunner& runner, const Lan& lan, std::string host, std::filesystem::path dir)
      : runner_(runner), lan_(lan), host_(std::move(host)), dir_(std::move(dir)) {}
  virtual ~BgpDaemon() = default;
  BgpDaemon(const BgpDaemon&) = delete;
  BgpDaemon& operator=(const BgpDaemon&) = delete;

  // Writes `config` and starts the daemon in the host's namespace.
  virtual Status Start(const std::string& config) = 0;
  // Runs the daemon's CLI with `args` (birdc, gobgp, vtysh -c, kelp bgp status); its stdout,
  // or the error text when it failed.
  virtual std::string Cli(const std::vector<std::string>& args) = 0;
  void Stop() { child_.Stop(); }
  ChildProcess* process() const { return child_.get(); }
  std::string log() const;

 protected:
  Status Launch(std::vector<std::string> argv);
  std::string CliOutput(std::vector<std::string> argv);

  ProcessRunner& runner_;
  const Lan& lan_;
  std::string host_;
  std::filesystem::path dir_;
  ScopedChild child_;
};

// `kelp bgp --config dir/kelp.yaml --control-socket dir/kelp.sock`; Cli() ignores its args and
// returns `kelp bgp status`.
class KelpDaemon final : public BgpDaemon {
 public:
  using BgpDaemon::BgpDaemon;
  Status Start(const std::string& config) override;
  std::string Cli(const std::vector<std::string>& args) override;
};

// BIRD 2 (`bird -f -c dir/bird.conf -s dir/bird.ctl`); Cli runs birdc.
class BirdDaemon final : public BgpDaemon {
 public:
  using BgpDaemon::BgpDaemon;
  Status Start(const std::string& config) override;
  std::string Cli(const std::vector<std::string>& args) override;
};

// gobgpd with a TOML config; its gRPC API listens on 127.0.0.1:50051 of the host's namespace.
// Cli runs `gobgp`.
class GobgpDaemon final : public BgpDaemon {
 public:
  using BgpDaemon::BgpDaemon;
  Status Start(const std::string& config) override;
  std::string Cli(const std::vector<std::string>& args) override;
};

// FRR's bgpd alone (no zebra, no kernel routes, no privilege drop), vty socket in `dir`.
// Cli runs `vtysh -d bgpd`, each arg one `-c` command ("show bgp summary").
class FrrDaemon final : public BgpDaemon {
 public:
  using BgpDaemon::BgpDaemon;
  Status Start(const std::string& config) override;
  std::string Cli(const std::vector<std::string>& args) override;
};

template <typename Predicate>
bool WaitFor(Predicate predicate, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    SleepForPoll();
  }
  return true;
}

}  // namespace kelp::e2e
