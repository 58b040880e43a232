// RealSystem: the kelp-cni plugin's OS access (see system.h).
#include "cni/system.h"

#include <fcntl.h>
#include <nftables/libnftables.h>
#include <unistd.h>

#include <cerrno>

#include "net/netlink_libnl.h"
#include "net/netns.h"

namespace kelp::cni {
namespace {

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
  Status Nft(const std::string& script) override {
    nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    if (ctx == nullptr) return IoError("nft_ctx_new failed");
    nft_ctx_buffer_output(ctx);
    nft_ctx_buffer_error(ctx);
    int rc = nft_run_cmd_from_buffer(ctx, script.c_str());
    std::string error = nft_ctx_get_error_buffer(ctx);
    nft_ctx_free(ctx);
    if (rc != 0) return IoError("nft: " + error);
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
