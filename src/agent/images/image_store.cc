// ImageStore: loading (scan, plan, unpack missing layers, commit), reference lookup, removal
// and garbage collection over the layout described in image_store.h.
#include "agent/images/image_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cerrno>
#include <map>
#include <set>
#include <system_error>

#include "agent/images/digest.h"
#include "agent/images/layer_unpack.h"
#include "agent/images/overlay_mount.h"
#include "agent/images/reference.h"
#include "common/file.h"
#include "common/json.h"

namespace kelp::images {

namespace fs = std::filesystem;
namespace json = boost::json;

struct ImageStore::Index {
  struct Image {
    std::vector<std::string> layers;  // diff_ids, lowest first
    int64_t size = 0;
    std::string created;
    std::vector<std::string> manifests;  // manifest digests kept in blobs/
  };
  std::map<std::string, Image> images;      // "sha256:<id>" →
  std::map<std::string, std::string> refs;  // normalized reference → image id
};

namespace {

constexpr char kIndexFile[] = "repositories.json";
constexpr char kGcLock[] = "gc.lock";
constexpr char kIndexLock[] = "index.lock";
constexpr int kMinIdPrefix = 4;

std::string Hex(const std::string& digest) { return digest.substr(kSha256Prefix.size()); }

// An flock(2) on a file of its own, released when the object goes.
class FileLock {
 public:
  static Result<FileLock> Acquire(const fs::path& path, bool exclusive) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd.valid()) return ErrnoStatus("open " + path.string(), errno);
    while (::flock(fd.get(), exclusive ? LOCK_EX : LOCK_SH) != 0) {
      if (errno != EINTR) return ErrnoStatus("lock " + path.string(), errno);
    }
    return FileLock(std::move(fd));
  }

 private:
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// A directory under tmp/ removed with its content when the object goes.
class TempDir {
 public:
  static Result<TempDir> Create(const fs::path& parent, std::string_view prefix) {
    std::string pattern = (parent / (std::string(prefix) + "XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) return ErrnoStatus("mkdtemp " + pattern, errno);
    return TempDir(pattern);
  }
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir& operator=(TempDir&& other) noexcept {
    Remove();
    path_ = std::move(other.path_);
    other.path_.clear();
    return *this;
  }
  ~TempDir() { Remove(); }
  const fs::path& path() const { return path_; }

 private:
  explicit TempDir(fs::path path) : path_(std::move(path)) {}
  void Remove() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  fs::path path_;
};

Result<std::vector<std::string>> StringList(const json::object& object, std::string_view field,
                                            std::string_view where) {
  std::vector<std::string> out;
  KELP_ASSIGN_OR_RETURN(const json::array* array, FindArray(object, field));
  if (array == nullptr) return out;
  for (const json::value& item : *array) {
    if (!item.is_string())
      return InvalidArgumentError(fmt::format("{}.{}: expected strings", where, field));
    out.emplace_back(item.get_string());
  }
  return out;
}

json::array ToJsonArray(const std::vector<std::string>& items) {
  json::array out;
  for (const std::string& item : items) out.emplace_back(item);
  return out;
}

Status FsyncPath(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus("open " + dir.string(), errno);
  if (::fsync(fd.get()) != 0) return ErrnoStatus("fsync " + dir.string(), errno);
  return Status::Ok();
}

bool IsHexPrefix(std::string_view text) {
  return text.size() >= kMinIdPrefix && text.size() <= 64 &&
         text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// The index key a reference is stored under: name:tag, or name@digest when it has a digest.
std::string RefKey(const Reference& ref) {
  return ref.digest.empty() ? ref.String() : ref.Name() + "@" + ref.digest;
}

bool IsTagRef(const std::string& key) { return key.find('@') == std::string::npos; }

std::vector<std::string> RefsOf(const std::map<std::string, std::string>& refs,
                                const std::string& id) {
  std::vector<std::string> out;
  for (const auto& [key, target] : refs) {
    if (target == id) out.push_back(key);
  }
  return out;
}

std::string RepositoryOf(const std::string& key) {
  size_t at = key.find('@');
  if (at != std::string::npos) return key.substr(0, at);
  size_t colon = key.rfind(':');
  size_t slash = key.rfind('/');
  return colon != std::string::npos && (slash == std::string::npos || colon > slash)
             ? key.substr(0, colon)
             : key;
}

}  // namespace

Result<std::unique_ptr<ImageStore>> ImageStore::Open(const fs::path& root,
                                                     ImageStoreOptions options) {
  std::error_code ec;
  fs::path absolute = fs::absolute(root, ec);
  if (ec) return IoError(fmt::format("{}: {}", root.string(), ec.message()));
  KELP_RETURN_IF_ERROR(CreateDirectories(absolute, 0700));
  fs::path canonical = fs::canonical(absolute, ec);
  if (ec) return IoError(fmt::format("{}: {}", absolute.string(), ec.message()));
  for (const fs::path& dir :
       {canonical / "blobs" / "sha256", canonical / "layers", canonical / "tmp"}) {
    KELP_RETURN_IF_ERROR(CreateDirectories(dir, 0700));
  }
  return std::unique_ptr<ImageStore>(new ImageStore(std::move(canonical), std::move(options)));
}

fs::path ImageStore::LayerDir(const std::string& diff_id) const {
  return root_ / "layers" / Hex(diff_id) / "diff";
}

Result<ImageStore::Index> ImageStore::ReadIndex() const {
  Index index;
  Result<std::string> text = ReadFile(root_ / kIndexFile);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return index;
    return text.status();
  }
  auto damaged = [&](const Status& status) {
    return InternalError(fmt::format("{}: {} (the image index is damaged)",
                                     (root_ / kIndexFile).string(), status.message()));
  };
  Result<json::object> document = ParseJsonObject(*text);
  if (!document.ok()) return damaged(document.status());
  Result<const json::object*> images = FindObject(*document, "images");
  if (!images.ok()) return damaged(images.status());
  if (*images != nullptr) {
    for (const auto& [id, value] : **images) {
      const json::object* object = value.if_object();
      if (object == nullptr || !ParseSha256Digest(id, "id").ok()) {
        return damaged(
            InvalidArgumentError(fmt::format("bad image entry {}", std::string_view(id))));
      }
      Index::Image image;
      Result<std::vector<std::string>> layers = StringList(*object, "layers", "images");
      Result<std::vector<std::string>> manifests = StringList(*object, "manifests", "images");
      Result<std::optional<int64_t>> size = FindInt64(*object, "size");
      Result<std::optional<std::string>> created = FindString(*object, "created");
      for (const Status& status :
           {layers.status(), manifests.status(), size.status(), created.status()}) {
        if (!status.ok()) return damaged(status);
      }
      image.layers = std::move(*layers);
      for (const std::string& layer : image.layers) {
        if (!ParseSha256Digest(layer, "layer").ok()) {
          return damaged(InvalidArgumentError("bad layer digest " + layer));
        }
      }
      image.manifests = std::move(*manifests);
      image.size = size->value_or(0);
      image.created = created->value_or("");
      index.images.emplace(std::string(id), std::move(image));
    }
  }
  Result<const json::object*> refs = FindObject(*document, "refs");
  if (!refs.ok()) return damaged(refs.status());
  if (*refs != nullptr) {
    for (const auto& [key, value] : **refs) {
      if (!value.is_string() || !index.images.contains(std::string(value.get_string()))) {
        return damaged(InvalidArgumentError(
            fmt::format("reference {} points at no image", std::string_view(key))));
      }
      index.refs.emplace(std::string(key), std::string(value.get_string()));
    }
  }
  return index;
}

Status ImageStore::WriteIndex(const Index& index) const {
  json::object images;
  for (const auto& [id, image] : index.images) {
    json::object entry;
    entry["layers"] = ToJsonArray(image.layers);
    entry["size"] = image.size;
    if (!image.created.empty()) entry["created"] = image.created;
    if (!image.manifests.empty()) entry["manifests"] = ToJsonArray(image.manifests);
    images[id] = std::move(entry);
  }
  json::object refs;
  for (const auto& [key, id] : index.refs) refs[key] = id;
  json::object document;
  document["images"] = std::move(images);
  document["refs"] = std::move(refs);
  return WriteFileAtomic(root_ / kIndexFile, SerializeJson(document) + "\n", 0600);
}

Result<LoadResult> ImageStore::LoadFile(const fs::path& path, const LoadOptions& options) {
  if (path != "-") return Load(ArchiveInput::File(path), options);
  // Standard input cannot be read twice: spool it (under the shared lock, so that a GC does not
  // take it for a leftover).
  KELP_ASSIGN_OR_RETURN(FileLock gc_lock, FileLock::Acquire(root_ / kGcLock, false));
  KELP_ASSIGN_OR_RETURN(TempDir spool, TempDir::Create(root_ / "tmp", "stdin-"));
  const fs::path file = spool.path() / "archive";
  UniqueFd out(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out.valid()) return ErrnoStatus("create " + file.string(), errno);
  std::vector<char> buffer(1 << 16);
  bool empty = true;
  while (true) {
    ssize_t n = ::read(STDIN_FILENO, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read standard input", errno);
    if (n == 0) break;
    empty = false;
    for (ssize_t done = 0; done < n;) {
      ssize_t written = ::write(out.get(), buffer.data() + done, static_cast<size_t>(n - done));
      if (written < 0 && errno == EINTR) continue;
      if (written < 0) return ErrnoStatus("write " + file.string(), errno);
      done += written;
    }
  }
  out.reset();
  if (empty)
    return InvalidArgumentError("standard input is empty: give -i FILE or pipe an archive in");
  return Load(ArchiveInput::File(file, "standard input"), options);
}

Result<LoadResult> ImageStore::Load(const ArchiveInput& input, const LoadOptions& options) {
  KELP_ASSIGN_OR_RETURN(FileLock gc_lock, FileLock::Acquire(root_ / kGcLock, false));
  Result<ArchiveIndex> scanned = ArchiveIndex::Scan(input);
  if (!scanned.ok()) return scanned.status().WithContext(input.Describe());
  const ArchiveIndex& index = *scanned;
  Result<Plan> planned = PlanImages(index, {.base_name = options.base_name});
  if (!planned.ok()) return planned.status().WithContext(input.Describe());
  Plan& plan = *planned;

  LoadResult result;
  result.warnings = plan.warnings;
  // The layers to unpack, each once, grouped by the archive member that holds them.
  std::map<std::string, std::vector<const LayerPlan*>> by_member;
  std::set<std::string> seen;
  for (const ImagePlan& image : plan.images) {
    for (const LayerPlan& layer : image.layers) {
      if (!seen.insert(layer.diff_id).second) continue;
      if (fs::exists(root_ / "layers" / Hex(layer.diff_id) / "meta.json")) {
        ++result.layers_reused;
      } else {
        by_member[layer.member].push_back(&layer);
      }
    }
  }

  KELP_ASSIGN_OR_RETURN(TempDir work, TempDir::Create(root_ / "tmp", "load-"));
  std::set<std::string> wanted;
  for (const auto& [member, layers] : by_member) wanted.insert(member);
  int counter = 0;
  Status streamed = StreamMembers(
      input, index, wanted, [&](const std::string& member, ByteSource& data) -> Status {
        const std::vector<const LayerPlan*>& layers = by_member.at(member);
        const std::string& diff_id = layers.front()->diff_id;
        const fs::path staged = work.path() / fmt::format("layer-{}", counter++);
        KELP_RETURN_IF_ERROR(CreateDirectories(staged / "diff", 0755));
        Result<UnpackedBlob> unpacked = UnpackLayerBlob(data, staged / "diff");
        if (!unpacked.ok()) return unpacked.status().WithContext(fmt::format("layer {}", member));
        for (const LayerPlan* layer : layers) {
          if (!layer->blob_digest.empty() && layer->blob_digest != unpacked->blob_digest) {
            return InvalidArgumentError(fmt::format("layer {}: blob digest is {}, expected {}",
                                                    member, unpacked->blob_digest,
                                                    layer->blob_digest));
          }
          if (layer->diff_id != unpacked->diff_id) {
            return InvalidArgumentError(
                fmt::format("layer {}: content digest (diff_id) is {}, the image config says {}",
                            member, unpacked->diff_id, layer->diff_id));
          }
        }
        json::object meta;
        meta["diff_id"] = diff_id;
        meta["size"] = unpacked->stats.bytes;
        meta["entries"] = unpacked->stats.entries;
        KELP_RETURN_IF_ERROR(WriteFileAtomic(staged / "meta.json", SerializeJson(meta) + "\n", 0600,
                                             Durability::kProcessCrashSafe));
        if (unpacked->stats.skipped_devices > 0) {
          result.warnings.push_back(
              fmt::format("layer {}: {} device nodes skipped (mknod not permitted)", diff_id,
                          unpacked->stats.skipped_devices));
        }
        // The layer is durable before it is visible under layers/: a later load trusts what it
        // finds there without unpacking again.
        UniqueFd staged_fd(::open(staged.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!staged_fd.valid() || ::syncfs(staged_fd.get()) != 0) {
          return ErrnoStatus("sync " + staged.string(), errno);
        }
        const fs::path final_dir = root_ / "layers" / Hex(diff_id);
        if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_NOREPLACE) !=
            0) {
          if (errno != EEXIST && errno != ENOTEMPTY) {
            return ErrnoStatus("rename " + staged.string() + " to " + final_dir.string(), errno);
          }
          // A concurrent load of the same layer got there first; its copy is as good as ours.
          ++result.layers_reused;
          return Status::Ok();
        }
        ++result.layers_unpacked;
        return Status::Ok();
      });
  if (!streamed.ok()) return streamed.WithContext(input.Describe());
  KELP_RETURN_IF_ERROR(FsyncPath(root_ / "layers"));

  for (const ImagePlan& image : plan.images) {
    std::vector<std::pair<std::string, const std::string*>> blobs = {
        {image.id, &image.config_json}};
    if (!image.manifest_digest.empty())
      blobs.emplace_back(image.manifest_digest, &image.manifest_json);
    for (const auto& [digest, content] : blobs) {
      const fs::path path = root_ / "blobs" / "sha256" / Hex(digest);
      if (!fs::exists(path)) KELP_RETURN_IF_ERROR(WriteFileAtomic(path, *content, 0644));
    }
  }

  // Commit: the index now references what is on disk.
  KELP_ASSIGN_OR_RETURN(FileLock index_lock, FileLock::Acquire(root_ / kIndexLock, true));
  KELP_ASSIGN_OR_RETURN(Index stored, ReadIndex());
  for (const ImagePlan& image : plan.images) {
    Index::Image entry;
    entry.layers = image.config.diff_ids;
    entry.created = image.config.created;
    if (auto old = stored.images.find(image.id); old != stored.images.end()) {
      entry.manifests = old->second.manifests;
    }
    if (!image.manifest_digest.empty() &&
        std::find(entry.manifests.begin(), entry.manifests.end(), image.manifest_digest) ==
            entry.manifests.end()) {
      entry.manifests.push_back(image.manifest_digest);
    }
    for (const std::string& diff_id : entry.layers) {
      Result<std::string> meta_text = ReadFile(root_ / "layers" / Hex(diff_id) / "meta.json");
      if (!meta_text.ok()) return meta_text.status().WithContext("layer " + diff_id);
      Result<json::object> meta = ParseJsonObject(*meta_text);
      Result<int64_t> size = meta.ok() ? GetInt64(*meta, "size") : Result<int64_t>(meta.status());
      if (!size.ok()) return size.status().WithContext("layer " + diff_id + " meta.json");
      entry.size += *size;
    }
    stored.images[image.id] = std::move(entry);
    LoadedImage loaded{.id = image.id};
    for (const std::string& name : image.names) {
      stored.refs[name] = image.id;
      loaded.names.push_back(name);
      if (image.manifest_digest.empty()) continue;
      Result<Reference> ref = ParseReference(name);
      if (ref.ok()) stored.refs[ref->Name() + "@" + image.manifest_digest] = image.id;
    }
    result.images.push_back(std::move(loaded));
  }
  KELP_RETURN_IF_ERROR(WriteIndex(stored));
  return result;
}

Result<agent::ResolvedImage> ImageStore::Resolve(std::string_view text) {
  KELP_ASSIGN_OR_RETURN(FileLock gc_lock, FileLock::Acquire(root_ / kGcLock, false));
  KELP_ASSIGN_OR_RETURN(Index index, ReadIndex());
  agent::ResolvedImage resolved;
  std::string_view as_id =
      text.starts_with(kSha256Prefix) ? text.substr(kSha256Prefix.size()) : text;
  if (IsSha256Hex(as_id)) {
    resolved.id = std::string(kSha256Prefix) + std::string(as_id);
    if (!index.images.contains(resolved.id)) {
      return NotFoundError(fmt::format("image {} is not present on this node", resolved.id));
    }
    std::vector<std::string> refs = RefsOf(index.refs, resolved.id);
    resolved.ref = refs.empty() ? resolved.id : refs.front();
  } else {
    KELP_ASSIGN_OR_RETURN(Reference ref, ParseReference(text));
    const std::string key = RefKey(ref);
    auto it = index.refs.find(key);
    if (it == index.refs.end()) {
      return NotFoundError(fmt::format(
          "image \"{}\" ({}) is not present on this node; kelp has no registry: load it with "
          "`kelp images load -i FILE`",
          text, key));
    }
    resolved.id = it->second;
    resolved.ref = key;
  }
  const Index::Image& image = index.images.at(resolved.id);
  Result<std::string> config_json = ReadFile(root_ / "blobs" / "sha256" / Hex(resolved.id));
  if (!config_json.ok()) return config_json.status().WithContext("config of " + resolved.id);
  KELP_ASSIGN_OR_RETURN(ImageConfigFile config, ParseImageConfig(*config_json));
  resolved.config = std::move(config.config);
  for (const std::string& diff_id : image.layers) {
    fs::path dir = LayerDir(diff_id);
    if (!fs::is_directory(dir)) {
      return InternalError(
          fmt::format("image {}: layer {} is missing from {}; load the image again", resolved.id,
                      diff_id, dir.string()));
    }
    resolved.layers.push_back(std::move(dir));
  }
  return resolved;
}

Result<std::vector<StoredImage>> ImageStore::List() {
  KELP_ASSIGN_OR_RETURN(Index index, ReadIndex());
  std::vector<StoredImage> out;
  for (const auto& [id, image] : index.images) {
    out.push_back({.id = id,
                   .refs = RefsOf(index.refs, id),
                   .layers = image.layers,
                   .size = image.size,
                   .created = image.created});
  }
  return out;
}

Result<std::vector<std::vector<std::string>>> ImageStore::MountedLayerStacks() const {
  Result<std::string> mountinfo = ReadFile(options_.mountinfo);
  if (!mountinfo.ok()) return mountinfo.status().WithContext("cannot tell which layers are in use");
  std::vector<std::vector<std::string>> stacks;
  std::map<std::string, std::pair<dev_t, ino_t>> ours;  // hex → identity of layers/<hex>/diff
  for (const OverlayMountInfo& mount : ParseOverlayMounts(*mountinfo)) {
    std::vector<std::string> stack;
    for (const std::string& lower : mount.lowerdirs) {
      // Compared by inode, not by spelling: the runtime may reach the store through a symlink.
      fs::path path(lower);
      const std::string hex = path.parent_path().filename().string();
      if (path.filename() != "diff" || !IsSha256Hex(hex)) continue;
      struct stat theirs {};
      if (::stat(lower.c_str(), &theirs) != 0) continue;
      auto known = ours.find(hex);
      if (known == ours.end()) {
        struct stat mine {};
        if (::stat((root_ / "layers" / hex / "diff").c_str(), &mine) != 0) continue;
        known = ours.emplace(hex, std::make_pair(mine.st_dev, mine.st_ino)).first;
      }
      if (known->second == std::make_pair(theirs.st_dev, theirs.st_ino)) stack.push_back(hex);
    }
    if (!stack.empty()) stacks.push_back(std::move(stack));
  }
  return stacks;
}

Result<GcResult> ImageStore::CollectLocked(const Index& index, const fs::path& trash) {
  GcResult result;
  std::set<std::string> layers;
  std::set<std::string> blobs;
  for (const auto& [id, image] : index.images) {
    blobs.insert(Hex(id));
    for (const std::string& manifest : image.manifests) blobs.insert(Hex(manifest));
    for (const std::string& layer : image.layers) layers.insert(Hex(layer));
  }
  KELP_ASSIGN_OR_RETURN(auto stacks, MountedLayerStacks());
  std::set<std::string> mounted;
  for (const auto& stack : stacks) mounted.insert(stack.begin(), stack.end());

  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(root_ / "layers", ec)) {
    const std::string name = entry.path().filename().string();
    if (layers.contains(name)) continue;
    if (mounted.contains(name)) {
      ++result.layers_in_use;
      continue;
    }
    if (::rename(entry.path().c_str(), (trash / ("layer-" + name)).c_str()) != 0) {
      return ErrnoStatus("rename " + entry.path().string(), errno);
    }
    ++result.layers_removed;
  }
  if (ec) return IoError(fmt::format("list {}: {}", (root_ / "layers").string(), ec.message()));
  for (const fs::directory_entry& entry : fs::directory_iterator(root_ / "blobs" / "sha256", ec)) {
    if (blobs.contains(entry.path().filename().string())) continue;
    if (::unlink(entry.path().c_str()) != 0)
      return ErrnoStatus("unlink " + entry.path().string(), errno);
    ++result.blobs_removed;
  }
  if (ec) return IoError(fmt::format("list blobs: {}", ec.message()));
  // Nothing loads while gc.lock is held exclusively: whatever is in tmp/ is a leftover.
  for (const fs::directory_entry& entry : fs::directory_iterator(root_ / "tmp", ec)) {
    if (entry.path() == trash) continue;
    if (::rename(entry.path().c_str(),
                 (trash / ("tmp-" + entry.path().filename().string())).c_str()) != 0) {
      return ErrnoStatus("rename " + entry.path().string(), errno);
    }
    ++result.temp_removed;
  }
  if (ec) return IoError(fmt::format("list tmp: {}", ec.message()));
  return result;
}

bool ImageStore::StackMounted(const std::vector<std::string>& layers,
                              const std::vector<std::vector<std::string>>& stacks) {
  std::vector<std::string> top_first;
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) top_first.push_back(Hex(*it));
  return !top_first.empty() && std::find(stacks.begin(), stacks.end(), top_first) != stacks.end();
}

Result<std::vector<std::string>> ImageStore::Prune(GcResult* gc) {
  std::vector<std::string> deleted;
  Result<TempDir> trash = InternalError("unset");
  {
    KELP_ASSIGN_OR_RETURN(FileLock gc_lock, FileLock::Acquire(root_ / kGcLock, true));
    KELP_ASSIGN_OR_RETURN(FileLock index_lock, FileLock::Acquire(root_ / kIndexLock, true));
    KELP_ASSIGN_OR_RETURN(Index index, ReadIndex());
    KELP_ASSIGN_OR_RETURN(auto stacks, MountedLayerStacks());
    for (auto it = index.images.begin(); it != index.images.end();) {
      if (RefsOf(index.refs, it->first).empty() && !StackMounted(it->second.layers, stacks)) {
        deleted.push_back(it->first);
        it = index.images.erase(it);
      } else {
        ++it;
      }
    }
    if (!deleted.empty()) KELP_RETURN_IF_ERROR(WriteIndex(index));
    trash = TempDir::Create(root_ / "tmp", "trash-");
    if (!trash.ok()) return trash.status();
    KELP_ASSIGN_OR_RETURN(GcResult collected, CollectLocked(index, trash->path()));
    if (gc != nullptr) *gc = collected;
  }
  return deleted;
}

Result<GcResult> ImageStore::CollectGarbage() {
  Result<TempDir> trash = InternalError("unset");
  Result<GcResult> result = InternalError("unset");
  {
    KELP_ASSIGN_OR_RETURN(FileLock gc_lock, FileLock::Acquire(root_ / kGcLock, true));
    KELP_ASSIGN_OR_RETURN(FileLock index_lock, FileLock::Acquire(root_ / kIndexLock, true));
    KELP_ASSIGN_OR_RETURN(Index index, ReadIndex());
    trash = TempDir::Create(root_ / "tmp", "trash-");
    if (!trash.ok()) return trash.status();
    result = CollectLocked(index, trash->path());
  }
  return result;  // `trash` is deleted here, after the locks are released
}

Result<RemoveResult> ImageStore::Remove(std::string_view text, bool force) {
  RemoveResult result;
  Result<TempDir> trash = InternalError("unset");
  {
    KELP_ASSIGN_OR_RETURN(FileLock gc_lock, FileLock::Acquire(root_ / kGcLock, true));
    KELP_ASSIGN_OR_RETURN(FileLock index_lock, FileLock::Acquire(root_ / kIndexLock, true));
    KELP_ASSIGN_OR_RETURN(Index index, ReadIndex());

    std::string id;
    std::vector<std::string> untag;
    std::string_view as_id =
        text.starts_with(kSha256Prefix) ? text.substr(kSha256Prefix.size()) : text;
    Result<Reference> ref = ParseReference(text);
    if (ref.ok() && index.refs.contains(RefKey(*ref))) {
      const std::string key = RefKey(*ref);
      id = index.refs.at(key);
      untag.push_back(key);
      std::vector<std::string> rest = RefsOf(index.refs, id);
      std::erase(rest, key);
      // With its last tag gone, an image's name@digest references go too (as in docker rmi).
      if (std::none_of(rest.begin(), rest.end(), IsTagRef)) {
        untag.insert(untag.end(), rest.begin(), rest.end());
      }
    } else if (IsHexPrefix(as_id)) {
      std::vector<std::string> matches;
      for (const auto& [candidate, image] : index.images) {
        if (Hex(candidate).starts_with(as_id)) matches.push_back(candidate);
      }
      if (matches.size() > 1) {
        return InvalidArgumentError(fmt::format("image id prefix {} is ambiguous", as_id));
      }
      if (matches.empty()) return NotFoundError(fmt::format("no such image: {}", text));
      id = matches.front();
      untag = RefsOf(index.refs, id);
      std::set<std::string> repositories;
      for (const std::string& key : untag) repositories.insert(RepositoryOf(key));
      if (repositories.size() > 1 && !force) {
        return ConflictError(fmt::format(
            "unable to delete {} (must be forced): image is referenced in {} repositories",
            Hex(id).substr(0, 12), repositories.size()));
      }
    } else if (!ref.ok() && !IsHexPrefix(as_id)) {
      return ref.status();
    } else {
      return NotFoundError(fmt::format("no such image: {}", text));
    }

    const bool delete_image = RefsOf(index.refs, id).size() == untag.size();
    if (delete_image && !force) {
      KELP_ASSIGN_OR_RETURN(auto stacks, MountedLayerStacks());
      if (StackMounted(index.images.at(id).layers, stacks)) {
        return ConflictError(fmt::format(
            "unable to remove {} (must be forced): image {} is in use by a mounted container "
            "root filesystem",
            text, Hex(id).substr(0, 12)));
      }
    }
    for (const std::string& key : untag) index.refs.erase(key);
    result.untagged = untag;
    if (delete_image) {
      index.images.erase(id);
      result.deleted.push_back(id);
    }
    KELP_RETURN_IF_ERROR(WriteIndex(index));
    if (delete_image) {
      trash = TempDir::Create(root_ / "tmp", "trash-");
      if (!trash.ok()) return trash.status();
      Result<GcResult> collected = CollectLocked(index, trash->path());
      if (!collected.ok()) {
        spdlog::warn("images: garbage collection after removing {}: {}", id,
                     collected.status().ToString());
      }
    }
  }
  return result;
}

}  // namespace kelp::images
