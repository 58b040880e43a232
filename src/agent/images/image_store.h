// ImageStore: the node's image store under <agent data dir>/images, filled by
// `kelp images load` and read by the container runtime through agent::ImageSource.
//
//   repositories.json        the index: image id → layers, size, created; reference → image id
//   blobs/sha256/<hex>       image configs and manifests, content-addressed (the image id is
//                            the config's digest)
//   layers/<hex>/diff        a layer unpacked once, named by its diff_id, an overlayfs lowerdir
//   layers/<hex>/meta.json   its diff_id, size and entry count
//   tmp/                     loads in progress; what GC finds here is left over from a crash
//   gc.lock, index.lock      flock files (see below)
//
// Loading is crash-safe: layers are unpacked into tmp/, checked against their digests, synced,
// and renamed into layers/; config blobs are written atomically; only then is the index
// replaced (atomically, synced) to reference them. A load cut short leaves only unreferenced
// files, which the next garbage collection removes. Concurrency: loads and reads hold gc.lock
// shared, removal and garbage collection hold it exclusively; index updates hold index.lock.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/images/image_archive.h"
#include "agent/runtime/image_source.h"
#include "common/status.h"

namespace kelp::images {

// Where `kelp images` and `kelp agent` keep images by default.
inline constexpr char kDefaultAgentDataDir[] = "/var/lib/kelp/agent";

struct ImageStoreOptions {
  // Read to tell which layers mounted overlays use; tests point it at a fixture.
  std::filesystem::path mountinfo = "/proc/self/mountinfo";
};

struct LoadOptions {
  // Repository for OCI images whose ref.name annotation is only a tag.
  std::string base_name;
};

struct LoadedImage {
  std::string id;                  // "sha256:<hex>"
  std::vector<std::string> names;  // normalized references now pointing at it
};

struct LoadResult {
  std::vector<LoadedImage> images;
  std::vector<std::string> warnings;
  int layers_unpacked = 0;
  int layers_reused = 0;  // already in the store (shared with another image or loaded before)
};

struct StoredImage {
  std::string id;
  std::vector<std::string> refs;    // normalized, sorted: tags and name@digest references
  std::vector<std::string> layers;  // diff_ids, lowest first
  int64_t size = 0;                 // bytes of file content over all layers
  std::string created;              // from the image config
};

struct RemoveResult {
  std::vector<std::string> untagged;  // references removed
  std::vector<std::string> deleted;   // image ids removed
};

struct GcResult {
  int layers_removed = 0;
  int blobs_removed = 0;
  int layers_in_use = 0;  // unreferenced but mounted: kept for now
  int temp_removed = 0;   // leftovers of interrupted loads
};

class ImageStore final : public agent::ImageSource {
 public:
  // Opens the store at `root` (normally <data-dir>/images), creating its directories.
  static Result<std::unique_ptr<ImageStore>> Open(const std::filesystem::path& root,
                                                  ImageStoreOptions options = {});

  // agent::ImageSource: a reference ("nginx:1.22", "docker.io/library/nginx:1.22",
  // "nginx@sha256:<manifest digest>") or an image id ("sha256:<hex>", or the bare hex).
  // NotFound, with a message saying how to get the image here, when it is absent.
  Result<agent::ResolvedImage> Resolve(std::string_view ref) override;

  // Loads every image in a docker-archive or OCI layout tarball (gzip/zstd/xz/bzip2 allowed).
  // Loading an image that is already here again only moves its tags.
  Result<LoadResult> Load(const ArchiveInput& input, const LoadOptions& options = {});
  // Load from a file, or from standard input for "-" (spooled to tmp/ first).
  Result<LoadResult> LoadFile(const std::filesystem::path& path, const LoadOptions& options = {});

  // Every image, sorted by id.
  Result<std::vector<StoredImage>> List();

  // `rm` of a reference untags it; the image goes once no tag is left. An image id (or a unique
  // prefix of at least 4 hex digits) removes the image with all its references. An image whose
  // layers a mounted container root uses is refused (Conflict) unless `force`. Unreferenced
  // blobs and layers are collected afterwards.
  Result<RemoveResult> Remove(std::string_view ref, bool force = false);

  // Removes blobs and layers no image references (mounted layers are kept) and leftovers of
  // interrupted loads. Waits for running loads to finish.
  Result<GcResult> CollectGarbage();

  // `docker image prune`: deletes the images no reference names (dangling after a tag moved)
  // unless a mounted container root uses them, then collects garbage.
  Result<std::vector<std::string>> Prune(GcResult* gc = nullptr);

  const std::filesystem::path& root() const { return root_; }
  // root/layers/<hex>/diff for a diff_id "sha256:<hex>".
  std::filesystem::path LayerDir(const std::string& diff_id) const;

 private:
  ImageStore(std::filesystem::path root, ImageStoreOptions options)
      : root_(std::move(root)), options_(std::move(options)) {}

  struct Index;
  Result<Index> ReadIndex() const;
  Status WriteIndex(const Index& index) const;
  // Runs with gc.lock and index.lock held exclusively; what is to be deleted is moved to
  // `trash` so the caller can delete it after unlocking.
  Result<GcResult> CollectLocked(const Index& index, const std::filesystem::path& trash);
  Result<std::vector<std::vector<std::string>>> MountedLayerStacks() const;
  static bool StackMounted(const std::vector<std::string>& layers,
                           const std::vector<std::vector<std::string>>& stacks);

  std::filesystem::path root_;
  ImageStoreOptions options_;
};

}  // namespace kelp::images
