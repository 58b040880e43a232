// SealedProgram: copies a program into an executable memfd, seals it and names it by /proc path
// (see sealed_program.h for why runc runs from such a copy).
#include "agent/runtime/sealed_program.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

namespace kelp::agent {
namespace {

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U  // Linux 6.3: says the memfd is meant to be executed
#endif

Result<std::string> FindInPath(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = ::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    std::string candidate = fmt::format("{}/{}", dir.empty() ? "." : dir, program);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return NotFoundError(program + ": not found in PATH");
}

}  // namespace

int RuncCloneSeals() { return F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE; }

Result<SealedProgram> SealedProgram::Create(const std::string& program) {
  SealedProgram sealed;
  KELP_ASSIGN_OR_RETURN(sealed.source_, FindInPath(program));
  UniqueFd source(::open(sealed.source_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!source.valid()) return ErrnoStatus("open " + sealed.source_, errno);
  struct stat info {};
  if (::fstat(source.get(), &info) != 0) return ErrnoStatus("stat " + sealed.source_, errno);
  if (!S_ISREG(info.st_mode)) return InvalidArgumentError(sealed.source_ + ": not a file");

  const unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
  sealed.fd_.reset(::memfd_create("kelp-runc", flags | MFD_EXEC));
  if (!sealed.fd_.valid() && errno == EINVAL) {
    sealed.fd_.reset(::memfd_create("kelp-runc", flags));  // before Linux 6.3
  }
  if (!sealed.fd_.valid()) return ErrnoStatus("memfd_create", errno);
  off_t offset = 0;
  while (offset < info.st_size) {
    ssize_t n = ::sendfile(sealed.fd_.get(), source.get(), &offset,
                           static_cast<size_t>(info.st_size - offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("copy " + sealed.source_, errno);
    if (n == 0) return InternalError(sealed.source_ + " shrank while being copied");
  }
  sealed.size_ = static_cast<size_t>(offset);
  if (::fchmod(sealed.fd_.get(), 0555) != 0) return ErrnoStatus("fchmod memfd", errno);
  if (::fcntl(sealed.fd_.get(), F_ADD_SEALS, RuncCloneSeals()) != 0) {
    return ErrnoStatus("seal memfd", errno);
  }
  sealed.path_ = fmt::format("/proc/{}/fd/{}", ::getpid(), sealed.fd_.get());
  // The path is only usable if this /proc shows our own process (not another PID namespace's).
  struct stat by_path {};
  struct stat by_fd {};
  if (::stat(sealed.path_.c_str(), &by_path) != 0 || ::fstat(sealed.fd_.get(), &by_fd) != 0 ||
      by_path.st_dev != by_fd.st_dev || by_path.st_ino != by_fd.st_ino) {
    return UnavailableError(sealed.path_ + " does not show this process's memfd");
  }
  return sealed;
}

}  // namespace kelp::agent
