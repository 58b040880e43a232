// overlayfs root filesystems from a ResolvedImage: MountOverlay stacks the image's layers
// (lowest first, as ImageSource gives them) under a container's upper and work directories,
// and ParseOverlayMounts reads /proc/self/mountinfo back, which is how the store tells that a
// layer is in use by a mounted container root (so `kelp images rm` and GC leave it alone).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kelp::images {

struct OverlaySpec {
  std::vector<std::filesystem::path> layers;  // lowest first (ResolvedImage::layers)
  std::filesystem::path upper;                // writable layer; same filesystem as `work`
  std::filesystem::path work;                 // overlayfs' scratch directory, empty
  std::filesystem::path target;               // the mount point
};

// The option string of a classic mount(2) of `spec`: "lowerdir=<top>:...:<lowest>,upperdir=...,
// workdir=...,index=off". ':', ',' and '\' inside paths are escaped with '\'.
std::string OverlayMountOptions(const OverlaySpec& spec);

// Mounts the overlay at spec.target. Option strings longer than a page (many or deep layers)
// go through the new mount API with one "lowerdir+" per layer (Linux 6.8+).
Status MountOverlay(const OverlaySpec& spec);
// Detaches the mount at `target` (MNT_DETACH, so a busy mount still goes away).
Status UnmountOverlay(const std::filesystem::path& target);

// Unmounts on destruction; for tests and tools that own a mount for a scope.
class ScopedOverlayMount {
 public:
  static Result<std::unique_ptr<ScopedOverlayMount>> Mount(const OverlaySpec& spec);
  ~ScopedOverlayMount();
  ScopedOverlayMount(const ScopedOverlayMount&) = delete;
  ScopedOverlayMount& operator=(const ScopedOverlayMount&) = delete;
  const std::filesystem::path& target() const { return target_; }

 private:
  explicit ScopedOverlayMount(std::filesystem::path target) : target_(std::move(target)) {}
  std::filesystem::path target_;
};

struct OverlayMountInfo {
  std::string mount_point;
  std::vector<std::string> lowerdirs;  // topmost first, as the kernel lists them
  std::string upperdir;
};

// The overlay mounts in a /proc/<pid>/mountinfo text, with octal escapes and overlayfs'
// '\:' escapes undone. Lines that do not parse are skipped.
std::vector<OverlayMountInfo> ParseOverlayMounts(std::string_view mountinfo);

}  // namespace kelp::images
