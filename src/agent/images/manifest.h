// Parsers for the JSON documents inside image archives, all outside input: docker save's
// manifest.json, the OCI image layout's oci-layout and index.json, OCI (and Docker schema 2)
// image manifests and indexes, and the image configuration (entrypoint, cmd, env, rootfs
// diff_ids). Each returns a clear InvalidArgument naming the document and field on bad input.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/runtime/image_source.h"
#include "common/status.h"

namespace kelp::images {

// Media types this store understands.
inline constexpr std::string_view kOciIndexType = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifestType = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kDockerListType =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifestType =
    "application/vnd.docker.distribution.manifest.v2+json";

// The annotations that name an image in an OCI layout: containerd (and docker save since 25)
// put the full name in the first; the OCI spec's ref.name is often only the tag.
inline constexpr std::string_view kContainerdNameAnnotation = "io.containerd.image.name";
inline constexpr std::string_view kOciRefNameAnnotation = "org.opencontainers.image.ref.name";

// One entry of docker save's manifest.json.
struct DockerManifestEntry {
  std::string config;                  // archive path of the config JSON
  std::vector<std::string> repo_tags;  // "nginx:1.22"
  std::vector<std::string> layers;     // archive paths of the layer tarballs, lowest first
};
Result<std::vector<DockerManifestEntry>> ParseDockerManifest(std::string_view json);

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
};

struct Descriptor {
  std::string media_type;
  std::string digest;  // validated "sha256:<hex>"
  int64_t size = -1;   // -1 when absent
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;
};

// Checks the oci-layout file ({"imageLayoutVersion": "1.0.0"}).
Status ValidateOciLayout(std::string_view json);

// An OCI image index (index.json or an index blob) or a Docker manifest list.
struct OciIndex {
  std::vector<Descriptor> manifests;
};
Result<OciIndex> ParseOciIndex(std::string_view json);

// An OCI image manifest or a Docker schema 2 manifest.
struct OciManifest {
  Descriptor config;
  std::vector<Descriptor> layers;
};
Result<OciManifest> ParseOciManifest(std::string_view json);

// What a manifest blob is when its descriptor does not say: "index", "manifest" or "" (neither).
std::string_view SniffManifestKind(std::string_view json);

// The image configuration blob.
struct ImageConfigFile {
  agent::ImageConfig config;
  std::vector<std::string> diff_ids;  // validated "sha256:<hex>", lowest layer first
  std::string os;
  std::string architecture;
  std::string created;  // RFC 3339, may be empty
};
Result<ImageConfigFile> ParseImageConfig(std::string_view json);

}  // namespace kelp::images
