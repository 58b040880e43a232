// A sealed in-memory copy of a program, for runc. Every `runc run` / `runc exec` re-executes
// runc as `runc init` inside the container's namespaces; to protect the host binary from
// CVE-2019-5736 (a container writing to /proc/self/exe), runc 1.1 first re-executes itself
// once more from a read-only bind mount made in a new private mount namespace. runc skips that
// step when it already runs from a memfd carrying the four write-preventing seals (runc's
// is_self_cloned / IsCloned): such a file cannot be written by anybody, so one copy can serve
// every container of the node. The agent makes the copy once at start and runs runc through it
// (docs/agent.md has the measurement: 5.6 ms of CPU less per container start on the 2-core VM,
// median of 40 alternating pairs, for one copy of the binary in memory, 8.7 MB for Debian's
// runc 1.1.5).
#pragma once

#include <string>

#include "common/file.h"
#include "common/status.h"

namespace kelp::agent {

class SealedProgram {
 public:
  // Copies `program` (searched in PATH unless it contains a '/') into an executable memfd
  // sealed against writes, shrinking, growing and further sealing. Fails with the reason when
  // the kernel refuses (e.g. vm.memfd_noexec=2) or the program cannot be read; callers fall
  // back to running the program itself.
  static Result<SealedProgram> Create(const std::string& program);

  // "/proc/<pid>/fd/<n>": executable by this process and by its children (same /proc) as long
  // as this object lives.
  const std::string& path() const { return path_; }
  // The program that was copied (after the PATH search), and its size in bytes.
  const std::string& source() const { return source_; }
  size_t size() const { return size_; }
  int fd() const { return fd_.get(); }

 private:
  SealedProgram() = default;
  UniqueFd fd_;
  std::string path_;
  std::string source_;
  size_t size_ = 0;
};

// The four seals runc checks for (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE).
int RuncCloneSeals();

}  // namespace kelp::agent
