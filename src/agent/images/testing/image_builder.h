// Test helpers that write image archives in memory with libarchive's writer: layer tarballs
// (any entry type, hostile names included), image configs, docker-archives (classic and
// Docker 25 layout) and OCI image layout tarballs, with digests computed as real tools do.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kelp::images::testing {

struct TarEntry {
  std::string path;
  mode_t type = 0100000;  // AE_IFREG
  mode_t perm = 0644;
  std::string content;   // regular files
  std::string symlink;   // symlinks
  std::string hardlink;  // hardlinks (type ignored)
  int64_t uid = 0;
  int64_t gid = 0;
  unsigned major = 0;
  unsigned minor = 0;
  int64_t mtime = 1'600'000'000;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

class TarBuilder {
 public:
  TarBuilder& Add(TarEntry entry);
  TarBuilder& File(std::string path, std::string content, mode_t perm = 0644);
  TarBuilder& Dir(std::string path, mode_t perm = 0755);
  TarBuilder& Symlink(std::string path, std::string target);
  TarBuilder& Hardlink(std::string path, std::string target);
  // The serialized tar (pax format); compressed with gzip when asked.
  std::string Build(bool gzip = false) const;

 private:
  std::vector<TarEntry> entries_;
};

std::string Sha256Of(const std::string& data);

struct TestLayer {
  std::string blob;  // as stored in the archive
  std::string blob_digest;
  std::string diff_id;  // digest of the uncompressed tar
  bool gzip = false;
};
TestLayer MakeLayer(const TarBuilder& tar, bool gzip = false);

struct ConfigSpec {
  std::vector<std::string> diff_ids;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd = {"sh"};
  std::vector<std::string> env = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  std::string working_dir;
  std::string user;
  std::string created = "2023-06-10T00:00:00Z";
  std::string architecture = "amd64";
};
std::string MakeConfig(const ConfigSpec& spec);

struct ArchiveImage {
  std::string config;  // JSON
  std::vector<TestLayer> layers;
  std::vector<std::string> repo_tags;                           // docker-archive
  std::map<std::string, std::string> annotations;               // OCI index entry
  std::optional<std::pair<std::string, std::string>> platform;  // OCI: os, architecture
};

// docker save's classic layout: <hex>.json, <hex>/layer.tar, manifest.json. With `blobs`
// set, Docker 25's layout: blobs/sha256/<hex> for configs and layers (plus oci-layout and an
// index.json, as Docker writes them).
std::string DockerArchive(const std::vector<ArchiveImage>& images, bool blobs = false);

// An OCI image layout tarball; with `nested`, index.json points at one image index that lists
// the manifests.
std::string OciArchive(const std::vector<ArchiveImage>& images, bool nested = false);

// The manifest JSON OciArchive writes for `image` and its digest.
std::pair<std::string, std::string> OciManifest(const ArchiveImage& image);

// A tarball of arbitrary members (for hand-made broken archives).
std::string RawArchive(const std::vector<std::pair<std::string, std::string>>& members);

}  // namespace kelp::images::testing
