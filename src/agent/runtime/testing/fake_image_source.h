// FakeImageSource: an ImageSource over directory trees a test builds, plus BuildBusyboxLayer,
// which lays out a minimal image layer from the node's static /bin/busybox (every applet as a
// symlink, /etc/passwd and /etc/group with root, nobody and an "app" user, and the usual
// empty directories), so runtime tests run real containers without an image store.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "agent/runtime/image_source.h"

namespace kelp::agent::testing {

class FakeImageSource final : public ImageSource {
 public:
  // Registers `image` under `ref` (exact match).
  void Add(const std::string& ref, ResolvedImage image);
  Result<ResolvedImage> Resolve(std::string_view ref) override;

 private:
  std::mutex mutex_;  // guards images_
  std::map<std::string, ResolvedImage, std::less<>> images_;
};

// Builds a busybox layer at `dir` from `busybox` (default /bin/busybox).
Status BuildBusyboxLayer(const std::filesystem::path& dir,
                         const std::filesystem::path& busybox = "/bin/busybox");

}  // namespace kelp::agent::testing
