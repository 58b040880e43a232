// RealSystem: the kelp-cni plugin's OS access (see system.h).
#include "cni/system.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>

#include "net/netlink_libnl.h"
#include "net/netns.h"

namespace kelp::cni {
namespace {

// `nft` from the PATH the runtime passes; Debian's /usr/sbin/nft when it passes none.
std::string NftBinary() {
  const char* path = std::getenv("PATH");
  return path != nullptr && *path != '\0' ? "nft" : "/usr/sbin/nft";
}

class RealSystem final : public System {
 public:
  explicit RealSystem(std::unique_ptr<net::Netlink> host) : host_(std::move(host)) {}

  net::Netlink& HostNetlink() override { return *host_; }
  Result<UniqueFd> OpenNetns(const std::string& path) override { return net::OpenNetns(path); }
  Result<std::unique_ptr<net::Netlink>> NetlinkIn(int netns_fd) override {
    KELP_ASSIGN_OR_RETURN(std::unique_ptr<net::LibnlNetlink> nl, net::LibnlNetlink::Open(netns_fd));
    return std::unique_ptr<net::Netlink>(std::move(nl));
  }
  Status Sysctl(int netns_fd, const std::string& key, const std::string& value) override {
    auto write = [&]() -> Status {
      std::string path = "/proc/sys/" + key;
      UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd.valid()) return ErrnoStatus("open " + path, errno);
      if (write_all(fd.get(), value) < 0) return ErrnoStatus("write " + path, errno);
      return Status::Ok();
    };
    if (netns_fd < 0) return write();
    return net::RunInNetns(netns_fd, write);
  }
  // `nft -f -`, libnftables' own command-line front end, as the reference bridge plugin runs
  // iptables: kelp-cni is a static executable (no dynamic loader at each of its starts), which
  // cannot load libnftables itself. The script is one transaction either way.
  Status Nft(const std::string& script) override {
    ProcessRequest request{.argv = {NftBinary(), "-f", "-"},
                           .stdin_data = script,
                           .timeout = std::chrono::seconds(30)};
    KELP_ASSIGN_OR_RETURN(ProcessResult run, runner_.Run(request));
    if (run.timed_out) return IoError("nft: timed out");
    if (run.term_signal != 0) return IoError("nft: killed by signal " + std::to_string(run.term_signal));
    if (run.exit_code != 0) {
      std::string error = run.stderr_data;
      while (!error.empty() && error.back() == '\n') error.pop_back();
      return IoError("nft: " + error);
    }
    return Status::Ok();
  }
  ProcessRunner& Runner() override { return runner_; }

 private:
  static ssize_t write_all(int fd, const std::string& data) {
    return ::write(fd, data.data(), data.size());
  }

  std::unique_ptr<net::Netlink> host_;
  SubprocessRunner runner_;
};

}  // namespace

Result<std::unique_ptr<System>> MakeRealSystem() {
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<net::LibnlNetlink> host, net::LibnlNetlink::Open());
  return std::unique_ptr<System>(new RealSystem(std::move(host)));
}

}  // namespace kelp::cni
