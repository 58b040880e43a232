// RealSystem: the kelp-cni plugin's OS access (see system.h).
#include "cni/system.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <unistd.h>

#include <cerrno>
#include <type_traits>

#include "net/netlink_libnl.h"
#include "net/netns.h"

namespace kelp::cni {
namespace {

// libnftables is loaded on first use (a bridge with ipMasq), not at start: the runtime runs
// kelp-cni for every pod, and loading libnftables with its five libraries costs more CPU than
// a pod's whole ADD without masquerade.
class Libnftables {
 public:
  static Result<const Libnftables*> Get() {
    static const Result<Libnftables> loaded = Load();
    if (!loaded.ok()) return loaded.status();
    return &*loaded;
  }

  decltype(&nft_ctx_new) ctx_new;
  decltype(&nft_ctx_buffer_output) buffer_output;
  decltype(&nft_ctx_buffer_error) buffer_error;
  decltype(&nft_run_cmd_from_buffer) run_cmd_from_buffer;
  decltype(&nft_ctx_get_error_buffer) get_error_buffer;
  decltype(&nft_ctx_free) ctx_free;

 private:
  static Result<Libnftables> Load() {
    void* library = ::dlopen(KELP_LIBNFTABLES_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
      return UnavailableError(std::string("loading " KELP_LIBNFTABLES_SONAME ": ") + ::dlerror());
    }
    Libnftables l;
    Status missing;
    auto bind = [&](auto& function, const char* name) {
      function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(
          ::dlsym(library, name));
      if (function == nullptr && missing.ok()) {
        missing = UnavailableError(std::string(KELP_LIBNFTABLES_SONAME " has no ") + name);
      }
    };
    bind(l.ctx_new, "nft_ctx_new");
    bind(l.buffer_output, "nft_ctx_buffer_output");
    bind(l.buffer_error, "nft_ctx_buffer_error");
    bind(l.run_cmd_from_buffer, "nft_run_cmd_from_buffer");
    bind(l.get_error_buffer, "nft_ctx_get_error_buffer");
    bind(l.ctx_free, "nft_ctx_free");
    if (!missing.ok()) return missing;
    return l;  // the library stays loaded for the life of the process
  }
};

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
    KELP_ASSIGN_OR_RETURN(const Libnftables* nft, Libnftables::Get());
    nft_ctx* ctx = nft->ctx_new(NFT_CTX_DEFAULT);
    if (ctx == nullptr) return IoError("nft_ctx_new failed");
    nft->buffer_output(ctx);
    nft->buffer_error(ctx);
    int rc = nft->run_cmd_from_buffer(ctx, script.c_str());
    std::string error = nft->get_error_buffer(ctx);
    nft->ctx_free(ctx);
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
