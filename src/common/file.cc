// UniqueFd, ReadFile and WriteFileAtomic over plain POSIX calls.
#include "common/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace kelp {

void UniqueFd::reset(int fd) {
  // close() errors are not actionable here; writers that care (WriteFileAtomic) close
  // explicitly and check.
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Result<std::string> ReadFile(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus("open " + path.string(), errno);
  std::string contents;
  char buffer[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read " + path.string(), errno);
    }
    if (n == 0) return contents;
    contents.append(buffer, static_cast<size_t>(n));
  }
}

namespace {

Status WriteAll(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(what, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status FsyncDirectory(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus("open " + dir.string(), errno);
  if (::fsync(fd.get()) != 0) return ErrnoStatus("fsync " + dir.string(), errno);
  return Status::Ok();
}

// Writes, syncs and closes the already-created temp file `fd`.
Status FillTempFile(UniqueFd fd, const std::string& temp_path, std::string_view contents,
                    mode_t mode, Durability durability) {
  if (::fchmod(fd.get(), mode) != 0) return ErrnoStatus("chmod " + temp_path, errno);
  KELP_RETURN_IF_ERROR(WriteAll(fd.get(), contents, "write " + temp_path));
  if (durability == Durability::kSynced && ::fsync(fd.get()) != 0) {
    return ErrnoStatus("fsync " + temp_path, errno);
  }
  // close() can report a deferred write error (e.g. NFS); it must not be lost.
  if (::close(fd.release()) != 0) return ErrnoStatus("close " + temp_path, errno);
  return Status::Ok();
}

}  // namespace

Status WriteFileAtomic(const std::filesystem::path& path, std::string_view contents, mode_t mode,
                       Durability durability) {
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  // Hidden, and named after the target so a leftover from a crash is easy to attribute.
  std::string temp_path = (dir / ("." + path.filename().string() + ".tmp.XXXXXX")).string();
  UniqueFd fd(::mkostemp(temp_path.data(), O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus("create temp file for " + path.string(), errno);

  Status status = FillTempFile(std::move(fd), temp_path, contents, mode, durability);
  if (status.ok() && ::rename(temp_path.c_str(), path.c_str()) != 0) {
    status = ErrnoStatus("rename " + temp_path + " to " + path.string(), errno);
  }
  if (!status.ok()) {
    ::unlink(temp_path.c_str());
    return status;
  }
  if (durability == Durability::kProcessCrashSafe) return Status::Ok();
  return FsyncDirectory(dir);
}

Status CreateDirectories(const std::filesystem::path& dir, mode_t mode) {
  // Bottom-up: the usual case (the parents exist) costs one mkdir, not one per component.
  if (::mkdir(dir.c_str(), mode) != 0) {
    if (errno == ENOENT && dir.has_relative_path() && dir.parent_path() != dir) {
      KELP_RETURN_IF_ERROR(CreateDirectories(dir.parent_path(), mode));
      if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
        return ErrnoStatus("mkdir " + dir.string(), errno);
      }
    } else if (errno != EEXIST) {
      return ErrnoStatus("mkdir " + dir.string(), errno);
    }
  }
  struct stat info {};
  if (::stat(dir.c_str(), &info) != 0) return ErrnoStatus("stat " + dir.string(), errno);
  if (!S_ISDIR(info.st_mode)) return IoError(dir.string() + " is not a directory");
  return Status::Ok();
}

}  // namespace kelp
