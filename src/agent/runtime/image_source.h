// ImageSource: what the container runtime needs from the node's image store — an image
// reference resolved to its unpacked layers (lowest first, ready to be overlayfs lowerdirs)
// and its configuration (entrypoint, cmd, env, working dir, user). src/agent/images
// implements it over the content-addressed store that `kelp images load` fills; tests use a
// fake that points at a directory tree.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kelp::agent {

struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "KEY=value"
  std::string working_dir;
  std::string user;  // "", "uid", "uid:gid" or a name the image's /etc/passwd knows
};

struct ResolvedImage {
  std::string id;   // "sha256:<hex of the image config blob>", the imageID a pod status shows
  std::string ref;  // the normalized reference, e.g. "docker.io/library/nginx:1.22"
  std::vector<std::filesystem::path> layers;  // unpacked layer directories, lowest first
  ImageConfig config;
};

class ImageSource {
 public:
  virtual ~ImageSource() = default;
  // `ref` as a pod spec writes it ("nginx:1.22", "docker.io/library/nginx:1.22", "busybox",
  // "name@sha256:..."). NotFound when the image is not on this node.
  [[nodiscard]] virtual Result<ResolvedImage> Resolve(std::string_view ref) = 0;
};

}  // namespace kelp::agent
