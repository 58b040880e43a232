// PinNewNamespace: unshare on a fresh thread (namespaces are per thread) + bind mount.
#include "agent/runtime/namespaces.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>

#include "common/file.h"

namespace kelp::agent {
namespace {

const char* NamespaceFile(int clone_flag) {
  switch (clone_flag) {
    case CLONE_NEWNET:
      return "/proc/thread-self/ns/net";
    case CLONE_NEWUTS:
      return "/proc/thread-self/ns/uts";
    case CLONE_NEWIPC:
      return "/proc/thread-self/ns/ipc";
    default:
      return nullptr;
  }
}

}  // namespace

Status MakeSharedMountDir(const std::filesystem::path& dir) {
  KELP_RETURN_IF_ERROR(CreateDirectories(dir, 0755));
  if (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) == 0) return Status::Ok();
  if (errno != EINVAL) return ErrnoStatus("make " + dir.string() + " shared", errno);
  if (::mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0) {
    return ErrnoStatus("bind " + dir.string(), errno);
  }
  if (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) != 0) {
    return ErrnoStatus("make " + dir.string() + " shared", errno);
  }
  return Status::Ok();
}

Status PinNewNamespace(int clone_flag, const std::filesystem::path& path,
                       const std::function<Status()>& inside) {
  const char* source = NamespaceFile(clone_flag);
  if (source == nullptr) return InvalidArgumentError("unsupported namespace type");
  KELP_RETURN_IF_ERROR(CreateDirectories(path.parent_path(), 0755));
  int file = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (file < 0) return ErrnoStatus("create " + path.string(), errno);
  ::close(file);
  Status status;
  std::thread worker([&] {
    if (::unshare(clone_flag) != 0) {
      status = ErrnoStatus("unshare", errno);
      return;
    }
    if (inside) {
      status = inside();
      if (!status.ok()) return;
    }
    if (::mount(source, path.c_str(), "none", MS_BIND, nullptr) != 0) {
      status = ErrnoStatus("bind namespace on " + path.string(), errno);
    }
  });
  worker.join();
  if (!status.ok()) ::unlink(path.c_str());
  return status;
}

Status UnpinNamespace(const std::filesystem::path& path) {
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return ErrnoStatus("unmount " + path.string(), errno);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus("remove " + path.string(), errno);
  }
  return Status::Ok();
}

}  // namespace kelp::agent
