// Implementation of the apiserver's atomic, permission-safe file helpers (POSIX calls, since
// std::filesystem offers neither fsync nor a mode-at-creation temp file).
#include "apiserver/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>
#include <vector>

namespace kelp::apiserver {
namespace {

// Closes a file descriptor on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now, reporting the error close() gives (it can carry a delayed write error).
  int CloseNow() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status FsyncDirectory(const std::filesystem::path& dir) {
  FdCloser fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("open " + dir.string(), errno);
  if (::fsync(fd.get()) != 0) return ErrnoError("fsync " + dir.string(), errno);
  return Status::Ok();
}

}  // namespace

Result<std::string> ReadWholeFile(const std::filesystem::path& path) {
  FdCloser fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return NotFoundError(path.string() + " does not exist");
    return ErrnoError("open " + path.string(), errno);
  }
  std::string contents;
  char chunk[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read " + path.string(), errno);
    }
    if (n == 0) break;
    contents.append(chunk, static_cast<size_t>(n));
  }
  return contents;
}

Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents,
                           mode_t mode) {
  std::string temp_name = path.string() + ".tmp.XXXXXX";
  std::vector<char> temp_template(temp_name.begin(), temp_name.end());
  temp_template.push_back('\0');
  FdCloser fd(::mkostemp(temp_template.data(), O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("create temp file for " + path.string(), errno);
  const std::string temp_path(temp_template.data());
  auto fail = [&temp_path](Status status) {
    ::unlink(temp_path.c_str());
    return status;
  };
  if (::fchmod(fd.get(), mode) != 0) return fail(ErrnoError("chmod " + temp_path, errno));
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = ::write(fd.get(), contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(ErrnoError("write " + temp_path, errno));
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return fail(ErrnoError("fsync " + temp_path, errno));
  if (fd.CloseNow() != 0) return fail(ErrnoError("close " + temp_path, errno));
  if (::rename(temp_path.c_str(), path.c_str()) != 0) {
    return fail(ErrnoError("rename " + temp_path + " to " + path.string(), errno));
  }
  std::filesystem::path dir = path.parent_path();
  return FsyncDirectory(dir.empty() ? std::filesystem::path(".") : dir);
}

Status EnsurePrivateDirectory(const std::filesystem::path& dir) {
  std::filesystem::path partial;
  for (const auto& part : dir) {
    partial /= part;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoError("mkdir " + partial.string(), errno);
    }
  }
  struct stat info {};
  if (::stat(dir.c_str(), &info) != 0) return ErrnoError("stat " + dir.string(), errno);
  if (!S_ISDIR(info.st_mode)) return IoError(dir.string() + " is not a directory");
  return Status::Ok();
}

}  // namespace kelp::apiserver
