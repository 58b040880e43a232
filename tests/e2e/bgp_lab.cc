// Lan (namespaces on a bridge) and the BGP daemons of the end-to-end tests.
#include "tests/e2e/bgp_lab.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/file.h"

namespace kelp::e2e {

using namespace std::chrono_literals;

namespace {

constexpr auto kStartTimeout = 20s;

// Waits (bounded) for `ready`; an error naming `what` and the log when the child exits first.
template <typename Predicate>
Status WaitUntilReady(ChildProcess& child, const std::string& what, const BgpDaemon& daemon,
                      Predicate ready) {
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (!ready()) {
    if (child.Wait(0ms).ok()) return UnavailableError(what + " exited: " + daemon.log());
    if (std::chrono::steady_clock::now() > deadline) {
      return DeadlineExceededError(what + " not ready after 20 s: " + daemon.log());
    }
    SleepForPoll();
  }
  return Status::Ok();
}

}  // namespace

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void SleepForPoll() { std::this_thread::sleep_for(100ms); }

Result<ProcessResult> RunChecked(ProcessRunner& runner, std::vector<std::string> argv) {
  std::string command;
  for (const std::string& arg : argv) command += (command.empty() ? "" : " ") + arg;
  KELP_ASSIGN_OR_RETURN(ProcessResult result,
                        runner.Run({.argv = std::move(argv), .timeout = 20s}));
  if (result.exit_code != 0) {
    return InternalError(command + ": exit " + std::to_string(result.exit_code) + ": " +
                         result.stderr_data);
  }
  return result;
}

ScopedChild& ScopedChild::operator=(ScopedChild&& other) {
  Stop();
  child_ = std::move(other.child_);
  return *this;
}

void ScopedChild::Stop() {
  if (!child_) return;
  (void)child_->Signal(SIGCONT);
  (void)child_->Terminate(5s);
  child_.reset();
}

Lan::Lan(ProcessRunner& runner, std::string prefix) : runner_(runner), prefix_(std::move(prefix)) {}

Lan::~Lan() {
  for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) {
    (void)runner_.Run({.argv = {"ip", "netns", "del", *it}, .timeout = 20s});
  }
}

Status Lan::Create() {
  const std::string lan = prefix_ + "-lan";
  KELP_RETURN_IF_ERROR(RunChecked(runner_, {"ip", "netns", "add", lan}).status());
  namespaces_.push_back(lan);
  for (std::vector<std::string> argv : std::vector<std::vector<std::string>>{
           {"ip", "-n", lan, "link", "add", "br0", "type", "bridge"},
           {"ip", "-n", lan, "link", "set", "br0", "up"}}) {
    KELP_RETURN_IF_ERROR(RunChecked(runner_, argv).status());
  }
  return Status::Ok();
}

Status Lan::AddHost(const std::string& name, const std::string& address) {
  const std::string lan = prefix_ + "-lan", host = Netns(name), port = "v-" + name;
  KELP_RETURN_IF_ERROR(RunChecked(runner_, {"ip", "netns", "add", host}).status());
  namespaces_.push_back(host);
  // The veth pair is made inside the LAN namespace with its other end moved straight into
  // the host; deleting the namespaces deletes the links.
  for (std::vector<std::string> argv : std::vector<std::vector<std::string>>{
           {"ip", "-n", lan, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns",
            host},
           {"ip", "-n", lan, "link", "set", port, "master", "br0", "up"},
           {"ip", "-n", host, "addr", "add", address + "/24", "dev", "eth0"},
           {"ip", "-n", host, "link", "set", "eth0", "up"},
           {"ip", "-n", host, "link", "set", "lo", "up"}}) {
    KELP_RETURN_IF_ERROR(RunChecked(runner_, argv).status());
  }
  return Status::Ok();
}

std::vector<std::string> Lan::In(const std::string& host, std::vector<std::string> argv) const {
  std::vector<std::string> full = {"ip", "netns", "exec", Netns(host)};
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

Result<int> Lan::TcpSocketIn(const std::string& host) const {
  // A socket belongs to the namespace of the thread that created it, so a short-lived thread
  // enters the namespace and makes it; the test's own threads never change namespace.
  const std::string path = "/run/netns/" + Netns(host);
  int fd = -1;
  std::string error;
  std::thread([&] {
    int ns = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
      error = "open " + path + ": " + std::strerror(errno);
      return;
    }
    if (::setns(ns, CLONE_NEWNET) != 0) {
      error = "setns " + path + ": " + std::strerror(errno);
    } else {
      fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) error = std::string("socket: ") + std::strerror(errno);
    }
    ::close(ns);
  }).join();
  if (fd < 0) return IoError(error);
  return fd;
}

std::string BgpDaemon::log() const {
  return ReadFile(dir_ / (host_ + ".log")).value_or("(no log)");
}

Status BgpDaemon::Launch(std::vector<std::string> argv) {
  KELP_ASSIGN_OR_RETURN(
      std::unique_ptr<ChildProcess> child,
      runner_.Start({.argv = lan_.In(host_, std::move(argv)),
                     .output_file = (dir_ / (host_ + ".log")).string()}));
  child_ = ScopedChild(std::move(child));
  return Status::Ok();
}

std::string BgpDaemon::CliOutput(std::vector<std::string> argv) {
  Result<ProcessResult> result = runner_.Run({.argv = lan_.In(host_, std::move(argv)),
                                              .timeout = 20s});
  if (!result.ok()) return result.status().ToString();
  return result->stdout_data + result->stderr_data;
}

Status KelpDaemon::Start(const std::string& config) {
  const auto path = dir_ / (host_ + ".yaml"), socket = dir_ / (host_ + ".sock");
  KELP_RETURN_IF_ERROR(WriteFileAtomic(path, config));
  std::filesystem::remove(socket);
  KELP_RETURN_IF_ERROR(Launch({KELP_BINARY, "bgp", "--config", path.string(),
                               "--control-socket", socket.string()}));
  return WaitUntilReady(*child_.get(), "kelp bgp", *this,
                        [&] { return std::filesystem::exists(socket); });
}

std::string KelpDaemon::Cli(const std::vector<std::string>&) {
  return CliOutput({KELP_BINARY, "bgp", "status", "--control-socket",
                    (dir_ / (host_ + ".sock")).string()});
}

Status BirdDaemon::Start(const std::string& config) {
  const auto path = dir_ / (host_ + ".conf"), socket = dir_ / (host_ + ".ctl");
  KELP_RETURN_IF_ERROR(WriteFileAtomic(path, config));
  KELP_RETURN_IF_ERROR(
      Launch({"/usr/sbin/bird", "-f", "-c", path.string(), "-s", socket.string()}));
  // The control socket appears before the configuration is checked; `show status` answers
  // only once BIRD runs it.
  return WaitUntilReady(*child_.get(), "bird", *this, [&] {
    return std::filesystem::exists(socket) && Contains(Cli({"show", "status"}), "Daemon is up");
  });
}

std::string BirdDaemon::Cli(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/sbin/birdc", "-s", (dir_ / (host_ + ".ctl")).string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return CliOutput(std::move(argv));
}

Status GobgpDaemon::Start(const std::string& config) {
  const auto path = dir_ / (host_ + ".toml");
  KELP_RETURN_IF_ERROR(WriteFileAtomic(path, config));
  KELP_RETURN_IF_ERROR(Launch({"/usr/bin/gobgpd", "-f", path.string(), "-t", "toml", "-p",
                               "--api-hosts", "127.0.0.1:50051", "--pprof-disable"}));
  return WaitUntilReady(*child_.get(), "gobgpd", *this, [&] {
    auto result = runner_.Run({.argv = lan_.In(host_, {"/usr/bin/gobgp", "global"}),
                               .timeout = 20s});
    return result.ok() && result->exit_code == 0;
  });
}

std::string GobgpDaemon::Cli(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/gobgp", "-u", "127.0.0.1", "-p", "50051"};
  argv.insert(argv.end(), args.begin(), args.end());
  return CliOutput(std::move(argv));
}

Status FrrDaemon::Start(const std::string& config) {
  const auto path = dir_ / (host_ + ".frr.conf"), vty = dir_ / "bgpd.vty";
  KELP_RETURN_IF_ERROR(WriteFileAtomic(path, config));
  std::filesystem::remove(vty);
  // -Z: no zebra, -n: no kernel routes, -S: keep running as root, -P 0: no telnet vty.
  KELP_RETURN_IF_ERROR(Launch({"/usr/lib/frr/bgpd", "-f", path.string(), "-S", "-Z", "-n",
                               "-P", "0", "-i", (dir_ / "bgpd.pid").string(), "--vty_socket",
                               dir_.string(), "--log", "stdout"}));
  return WaitUntilReady(*child_.get(), "bgpd", *this,
                        [&] { return std::filesystem::exists(vty); });
}

std::string FrrDaemon::Cli(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/vtysh", "--vty_socket", dir_.string(), "-d", "bgpd"};
  for (const std::string& command : args) {
    argv.push_back("-c");
    argv.push_back(command);
  }
  return CliOutput(std::move(argv));
}

}  // namespace kelp::e2e
