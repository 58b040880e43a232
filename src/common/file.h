// Small file-system helpers that std::filesystem does not give: an owning file descriptor,
// whole-file reads with Status errors, and crash-safe whole-file replacement (state files such
// as /run/flannel/subnet.env and CNI configs must never be seen half-written).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kelp {

// Owns one file descriptor and closes it on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership without closing.
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes the held descriptor (if any) and takes `fd`.
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Reads the whole file. A missing file is NotFound.
Result<std::string> ReadFile(const std::filesystem::path& path);

// Replaces `path` with `contents` so that readers and a crash see either the old or the new
// file, never a mix: writes a temp file in the same directory, fsyncs it, renames it over
// `path` and fsyncs the directory. The temp file is removed on any failure. `mode` is applied
// exactly (the umask does not narrow it).
// kProcessCrashSafe skips both fsyncs: the replacement is still atomic for readers and for a
// killed process, but not across a power loss. For state that does not outlive a reboot
// anyway (e.g. CNI IP leases of containers that a reboot ends), where the fsyncs would
// dominate the latency.
enum class Durability { kSynced, kProcessCrashSafe };
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view contents,
                       mode_t mode = 0644, Durability durability = Durability::kSynced);

// Creates `dir` and its missing parents, each new one with `mode` (e.g. 0700 for directories
// that hold keys). An existing directory is left as it is; a non-directory there is an error.
Status CreateDirectories(const std::filesystem::path& dir, mode_t mode);

}  // namespace kelp
