// Reading an image archive as `docker load` and `ctr images import` do: a docker-archive
// (docker save: manifest.json with Config/RepoTags/Layers, layers as <id>/layer.tar or, since
// Docker 25, blobs/sha256/<hex>) or an OCI image layout tarball (oci-layout, index.json,
// blobs/sha256/..., nested indexes, per-platform manifests). The archive is read twice: a scan
// that keeps the small members (JSON documents) in memory and notes the others, then — only for
// layers the store does not have yet — a streaming pass that hands each layer blob over.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/images/archive.h"
#include "agent/images/manifest.h"
#include "common/status.h"

namespace kelp::images {

// Where an archive comes from: a file or bytes in memory (tests, the fuzzer).
class ArchiveInput {
 public:
  // `name` is how errors call it (default: the path).
  static ArchiveInput File(std::filesystem::path path, std::string name = "");
  static ArchiveInput Memory(std::string_view data);
  // A reader positioned at the first member.
  Result<std::unique_ptr<ArchiveReader>> Open() const;
  std::string Describe() const;

 private:
  std::filesystem::path path_;
  std::string name_;
  std::string_view memory_;
  bool in_memory_ = false;
};

// The members of an archive after the scan.
class ArchiveIndex {
 public:
  // Members up to this size are kept in memory (every JSON document of an image is far smaller).
  static constexpr int64_t kMaxInlineMember = 4 << 20;
  static constexpr int64_t kMaxInlineTotal = 256 << 20;

  static Result<ArchiveIndex> Scan(const ArchiveInput& input);

  bool Contains(const std::string& path) const { return members_.contains(path); }
  // The regular member `path` names, following the archive's symlinks and hardlinks (docker
  // save links a layer.tar shared by two images). NotFound when absent; InvalidArgument when the
  // path is absolute, climbs out with "..", or loops.
  Result<std::string> Resolve(std::string_view path) const;
  // The content of a resolved small member; InvalidArgument if it was too large to keep.
  Result<std::string_view> Data(const std::string& member) const;

 private:
  struct Member {
    bool is_link = false;
    std::string link_target;  // cleaned archive path, for links
    int64_t size = 0;
    std::optional<std::string> data;
  };
  std::map<std::string, Member> members_;
};

struct LayerPlan {
  std::string diff_id;      // "sha256:..." of the uncompressed tar (from the config)
  std::string member;       // archive path of the blob
  std::string blob_digest;  // "sha256:..." of the blob as stored, when the archive says it
};

struct ImagePlan {
  std::string id;  // "sha256:" + hex of the config blob
  std::string config_json;
  ImageConfigFile config;
  std::vector<LayerPlan> layers;   // lowest first
  std::vector<std::string> names;  // normalized references ("docker.io/library/nginx:1.22")
  std::string manifest_digest;     // of the OCI/Docker manifest, when the archive has one
  std::string manifest_json;
};

struct PlanOptions {
  // Repository for OCI images whose org.opencontainers.image.ref.name is only a tag ("1.22").
  std::string base_name;
  // Which manifests of a multi-platform index to take ("linux", host architecture).
  std::string os = "linux";
  std::string architecture;  // empty: the host's (amd64, arm64, ...)
};

struct Plan {
  std::vector<ImagePlan> images;
  std::vector<std::string> warnings;  // e.g. an OCI image left unnamed
};

// Reads the image metadata of a scanned archive and checks every JSON document against its
// digest. Errors name the document: `manifest.json: [0].Layers: expected array of strings`.
Result<Plan> PlanImages(const ArchiveIndex& index, const PlanOptions& options);

// Streams the members in `wanted` (resolved member paths) to `consume`, each once, in archive
// order; small members come from the index without a second pass. A wanted member that never
// shows up is NotFound.
using ConsumeMember = std::function<Status(const std::string& member, ByteSource& data)>;
Status StreamMembers(const ArchiveInput& input, const ArchiveIndex& index,
                     const std::set<std::string>& wanted, const ConsumeMember& consume);

// "amd64", "arm64", ... for the machine kelp was built for.
std::string_view HostArchitecture();

}  // namespace kelp::images
