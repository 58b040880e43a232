// Named network namespaces the iproute2 way, and per-thread namespace switching.
#include "net/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

namespace kelp::net {
namespace {

// /run/netns must be a shared mount point so namespaces mounted there are visible in mount
// namespaces created later (as iproute2 does).
Status PrepareNetnsDir() {
  KELP_RETURN_IF_ERROR(CreateDirectories(kNetnsDir, 0755));
  if (mount("", kNetnsDir, "none", MS_SHARED | MS_REC, nullptr) == 0) return Status::Ok();
  if (errno != EINVAL) return ErrnoStatus("make /run/netns shared", errno);
  if (mount(kNetnsDir, kNetnsDir, "none", MS_BIND | MS_REC, nullptr) != 0) {
    return ErrnoStatus("bind /run/netns", errno);
  }
  if (mount("", kNetnsDir, "none", MS_SHARED | MS_REC, nullptr) != 0) {
    return ErrnoStatus("make /run/netns shared", errno);
  }
  return Status::Ok();
}

}  // namespace

Result<UniqueFd> OpenNetns(const std::filesystem::path& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open netns " + path.string(), errno);
  return UniqueFd(fd);
}

Status RunInNetns(int netns_fd, const std::function<Status()>& fn) {
  Status result;
  std::thread worker([&] {
    // Network namespaces are per thread: only this worker moves.
    if (setns(netns_fd, CLONE_NEWNET) != 0) {
      result = ErrnoStatus("setns", errno);
      return;
    }
    result = fn();
  });
  worker.join();
  return result;
}

Result<std::unique_ptr<NamedNetns>> NamedNetns::Create(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    return InvalidArgumentError("invalid netns name \"" + name + "\"");
  }
  KELP_RETURN_IF_ERROR(PrepareNetnsDir());
  std::filesystem::path path = std::filesystem::path(kNetnsDir) / name;
  int file = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (file < 0) return ErrnoStatus("create " + path.string(), errno);
  close(file);
  Status status;
  std::thread worker([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      status = ErrnoStatus("unshare(CLONE_NEWNET)", errno);
      return;
    }
    if (mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
      status = ErrnoStatus("bind netns on " + path.string(), errno);
    }
  });
  worker.join();
  if (!status.ok()) {
    unlink(path.c_str());
    return status;
  }
  Result<UniqueFd> fd = OpenNetns(path);
  if (!fd.ok()) {
    umount2(path.c_str(), MNT_DETACH);
    unlink(path.c_str());
    return fd.status();
  }
  return std::unique_ptr<NamedNetns>(new NamedNetns(name, std::move(fd).value()));
}

NamedNetns::~NamedNetns() {
  fd_.reset();
  if (!keep_) (void)DeleteNamedNetns(name_);
}

Status DeleteNamedNetns(const std::string& name) {
  std::filesystem::path path = std::filesystem::path(kNetnsDir) / name;
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return ErrnoStatus("unmount " + path.string(), errno);
  }
  if (unlink(path.c_str()) != 0) return ErrnoStatus("remove " + path.string(), errno);
  return Status::Ok();
}

}  // namespace kelp::net
