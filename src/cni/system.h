// The OS seam of the kelp-cni plugin types: netlink in the host and in a container's
// namespace, opening a namespace, per-namespace sysctls, nftables transactions and running a
// delegated plugin (IPAM) from CNI_PATH. RealSystem is the one the binary uses.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cni/config.h"
#include "common/file.h"
#include "common/process.h"
#include "net/netlink.h"

namespace kelp::cni {

class System {
 public:
  virtual ~System() = default;
  virtual net::Netlink& HostNetlink() = 0;
  virtual Result<UniqueFd> OpenNetns(const std::string& path) = 0;
  virtual Result<std::unique_ptr<net::Netlink>> NetlinkIn(int netns_fd) = 0;
  // Writes /proc/sys/<key> ("net/ipv4/ip_forward") in the namespace (-1: the plugin's own).
  virtual Status Sysctl(int netns_fd, const std::string& key, const std::string& value) = 0;
  // Runs an nft script as one transaction.
  virtual Status Nft(const std::string& script) = 0;
  virtual ProcessRunner& Runner() = 0;
};

// Libnl, /proc/sys, `nft -f -` and posix_spawn.
Result<std::unique_ptr<System>> MakeRealSystem();

}  // namespace kelp::cni
