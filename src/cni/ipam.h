// kelp-ipam: host-local compatible address allocation. Leases live as one file per address
// under <dataDir>/<network>/ (content "<container id>\r\n<ifname>", as host-local writes them),
// allocated round-robin after last_reserved_ip.<set>, all under an flock on <dir>/lock.
// A lease file appears complete or not at all (written aside, fsynced, then hard-linked into
// place), so a crash never leaves a half-written lease; GC releases every lease whose
// attachment is not in cni.dev/valid-attachments, so crashed pods never leak addresses.
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "cni/config.h"

namespace kelp::cni {

using Done = std::monostate;

class HostLocalIpam {
 public:
  HostLocalIpam(IpamConf conf, std::string network)
      : conf_(std::move(conf)), network_(std::move(network)) {}

  // One address per range set (the attachment's existing lease if it has one), plus routes.
  CniResult<CniOutput> Add(const std::string& container_id, const std::string& ifname);
  // Releases the attachment's leases; releasing nothing is success.
  CniResult<Done> Del(const std::string& container_id, const std::string& ifname);
  // The attachment holds a lease in every range set (code 3 otherwise).
  CniResult<Done> Check(const std::string& container_id, const std::string& ifname);
  // Releases every lease whose (container id, ifname) is not in `valid`.
  CniResult<Done> Gc(const std::vector<std::pair<std::string, std::string>>& valid);
  // Code 50 when some range set has no free address left.
  CniResult<Done> Status();

  std::string dir() const;

 private:
  IpamConf conf_;
  std::string network_;
};

}  // namespace kelp::cni
