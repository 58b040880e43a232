// Lease files, the directory lock and round-robin allocation for kelp-ipam.
#include "cni/ipam.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "common/file.h"

namespace kelp::cni {
namespace {

namespace fs = std::filesystem;

CniError IoFailure(std::string msg, std::string details = "") {
  return CniError{ErrorCode::kIoFailure, std::move(msg), std::move(details)};
}

// Holds an exclusive flock on <dir>/lock for one operation.
class DirLock {
 public:
  static CniResult<DirLock> Acquire(const std::string& dir) {
    Status made = CreateDirectories(dir, 0755);
    if (!made.ok()) return IoFailure("cannot create IPAM directory " + dir, made.message());
    UniqueFd fd(open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd.valid()) return IoFailure("cannot open IPAM lock in " + dir, std::strerror(errno));
    while (flock(fd.get(), LOCK_EX) != 0) {
      if (errno != EINTR) return IoFailure("cannot lock " + dir, std::strerror(errno));
    }
    return DirLock(std::move(fd));
  }

 private:
  explicit DirLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;  // closing it releases the lock
};

struct Lease {
  net::Ipv4Address ip;
  std::string container_id;
  std::string ifname;
};

std::vector<Lease> ReadLeases(const std::string& dir) {
  std::vector<Lease> leases;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    Result<net::Ipv4Address> ip = net::Ipv4Address::Parse(entry.path().filename().string());
    if (!ip.ok()) continue;
    Result<std::string> content = ReadFile(entry.path());
    if (!content.ok()) continue;
    std::string text = *content;
    size_t sep = text.find("\r\n");
    Lease lease{*ip, text.substr(0, sep), ""};
    if (sep != std::string::npos) lease.ifname = text.substr(sep + 2);
    leases.push_back(std::move(lease));
  }
  return leases;
}

// Creates the lease file for `ip` with its full content, or returns false if it is taken.
CniResult<bool> TryReserve(const std::string& dir, net::Ipv4Address ip, const std::string& id,
                           const std::string& ifname) {
  std::string final_path = dir + "/" + ip.ToString();
  std::string tmp = dir + "/.tmp-" + ip.ToString() + "-" + std::to_string(getpid());
  // No fsync: leases only need to survive a killed plugin (the link below makes a complete
  // lease appear at once); a reboot ends every container they describe. host-local does the
  // same, and the fsyncs would more than double ADD's latency.
  Status written = WriteFileAtomic(tmp, id + "\r\n" + ifname, 0644, Durability::kProcessCrashSafe);
  if (!written.ok()) return IoFailure("cannot write lease " + tmp, written.message());
  int linked = link(tmp.c_str(), final_path.c_str());
  int link_errno = errno;
  unlink(tmp.c_str());
  if (linked == 0) return true;
  if (link_errno == EEXIST) return false;
  return IoFailure("cannot create lease " + final_path, std::strerror(link_errno));
}

bool Reserved(const IpRange& range, net::Ipv4Address ip) {
  return ip == range.gateway || ip == range.subnet.address || ip == range.subnet.Broadcast();
}

std::string LastReservedPath(const std::string& dir, size_t set) {
  return dir + "/last_reserved_ip." + std::to_string(set);
}

}  // namespace

std::string HostLocalIpam::dir() const { return conf_.data_dir + "/" + network_; }

CniResult<CniOutput> HostLocalIpam::Add(const std::string& container_id,
                                        const std::string& ifname) {
  std::string d = dir();
  CniResult<DirLock> lock = DirLock::Acquire(d);
  if (auto* e = std::get_if<CniError>(&lock)) return *e;
  std::vector<Lease> leases = ReadLeases(d);
  CniOutput out;
  std::vector<net::Ipv4Address> taken_now;
  auto undo = [&] {
    for (net::Ipv4Address ip : taken_now) unlink((d + "/" + ip.ToString()).c_str());
  };
  for (size_t s = 0; s < conf_.range_sets.size(); ++s) {
    const std::vector<IpRange>& set = conf_.range_sets[s];
    std::optional<CniIp> chosen;
    // An attachment that already holds a lease in this set keeps it (ADD is retried).
    for (const Lease& lease : leases) {
      if (lease.container_id != container_id || lease.ifname != ifname) continue;
      for (const IpRange& range : set) {
        if (range.subnet.Contains(lease.ip)) {
          chosen = CniIp{{lease.ip, range.subnet.length}, range.gateway, std::nullopt};
        }
      }
    }
    // Otherwise round-robin: every address of the set once, from the one after the last
    // handed out, wrapping around to the start of that range last.
    std::optional<net::Ipv4Address> last;
    if (Result<std::string> text = ReadFile(LastReservedPath(d, s)); text.ok()) {
      if (Result<net::Ipv4Address> ip = net::Ipv4Address::Parse(*text); ip.ok()) last = *ip;
    }
    size_t start_range = 0;
    uint32_t start_value = set[0].start.value;
    for (size_t r = 0; last && r < set.size(); ++r) {
      if (last->value >= set[r].start.value && last->value <= set[r].end.value) {
        start_range = r;
        start_value = last->value + 1;
      }
    }
    for (size_t step = 0; !chosen && step <= set.size(); ++step) {
      size_t r = (start_range + step) % set.size();
      const IpRange& range = set[r];
      uint32_t from = step == 0 ? start_value : range.start.value;
      uint32_t to = step == set.size() ? start_value - 1 : range.end.value;
      for (uint64_t v = from; !chosen && v <= to && v <= range.end.value; ++v) {
        net::Ipv4Address ip{static_cast<uint32_t>(v)};
        if (Reserved(range, ip)) continue;
        CniResult<bool> reserved = TryReserve(d, ip, container_id, ifname);
        if (auto* e = std::get_if<CniError>(&reserved)) {
          undo();
          return *e;
        }
        if (!std::get<bool>(reserved)) continue;
        taken_now.push_back(ip);
        chosen = CniIp{{ip, range.subnet.length}, range.gateway, std::nullopt};
        (void)WriteFileAtomic(LastReservedPath(d, s), ip.ToString(), 0644,
                              Durability::kProcessCrashSafe);
      }
    }
    if (!chosen) {
      undo();
      return CniError{ErrorCode::kNotAvailable,
                      "no IP addresses available in range set " + set[0].subnet.ToString(),
                      "network " + network_};
    }
    out.ips.push_back(*chosen);
  }
  out.routes = conf_.routes;
  return out;
}

CniResult<Done> HostLocalIpam::Del(const std::string& container_id, const std::string& ifname) {
  std::string d = dir();
  std::error_code ec;
  if (!fs::exists(d, ec)) return Done{};
  CniResult<DirLock> lock = DirLock::Acquire(d);
  if (auto* e = std::get_if<CniError>(&lock)) return *e;
  for (const Lease& lease : ReadLeases(d)) {
    if (lease.container_id == container_id && lease.ifname == ifname) {
      unlink((d + "/" + lease.ip.ToString()).c_str());
    }
  }
  return Done{};
}

CniResult<Done> HostLocalIpam::Check(const std::string& container_id, const std::string& ifname) {
  std::string d = dir();
  CniResult<DirLock> lock = DirLock::Acquire(d);
  if (auto* e = std::get_if<CniError>(&lock)) return *e;
  std::vector<Lease> leases = ReadLeases(d);
  for (const std::vector<IpRange>& set : conf_.range_sets) {
    bool found = false;
    for (const Lease& lease : leases) {
      if (lease.container_id != container_id || lease.ifname != ifname) continue;
      for (const IpRange& range : set) found = found || range.subnet.Contains(lease.ip);
    }
    if (!found) {
      return CniError{
          ErrorCode::kContainerUnknown,
          "no lease for " + container_id + "/" + ifname + " in " + set[0].subnet.ToString(), ""};
    }
  }
  return Done{};
}

CniResult<Done> HostLocalIpam::Gc(const std::vector<std::pair<std::string, std::string>>& valid) {
  std::string d = dir();
  std::error_code ec;
  if (!fs::exists(d, ec)) return Done{};
  CniResult<DirLock> lock = DirLock::Acquire(d);
  if (auto* e = std::get_if<CniError>(&lock)) return *e;
  std::set<std::pair<std::string, std::string>> keep(valid.begin(), valid.end());
  for (const Lease& lease : ReadLeases(d)) {
    if (!keep.contains({lease.container_id, lease.ifname})) {
      unlink((d + "/" + lease.ip.ToString()).c_str());
    }
  }
  // Temporary files of a plugin killed while writing a lease or last_reserved_ip: every
  // temporary name kelp-ipam uses starts with a dot (host-local itself makes no dotfiles), and
  // none is in use while the lock is held.
  for (const fs::directory_entry& entry : fs::directory_iterator(d, ec)) {
    if (entry.path().filename().string().starts_with('.')) fs::remove(entry.path(), ec);
  }
  return Done{};
}

CniResult<Done> HostLocalIpam::Status() {
  std::string d = dir();
  std::vector<Lease> leases;
  std::error_code ec;
  if (fs::exists(d, ec)) {
    CniResult<DirLock> lock = DirLock::Acquire(d);
    if (auto* e = std::get_if<CniError>(&lock)) return *e;
    leases = ReadLeases(d);
  }
  for (const std::vector<IpRange>& set : conf_.range_sets) {
    uint64_t free = 0;
    for (const IpRange& range : set) {
      uint64_t size = uint64_t{range.end.value} - range.start.value + 1;
      for (uint32_t special :
           {range.gateway.value, range.subnet.address.value, range.subnet.Broadcast().value}) {
        if (special >= range.start.value && special <= range.end.value) --size;
      }
      for (const Lease& lease : leases) {
        if (lease.ip.value >= range.start.value && lease.ip.value <= range.end.value) --size;
      }
      free += size;
    }
    if (free == 0) {
      return CniError{ErrorCode::kNotAvailable,
                      "range set " + set[0].subnet.ToString() + " is exhausted", ""};
    }
  }
  return Done{};
}

}  // namespace kelp::cni
