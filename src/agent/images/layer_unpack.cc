// Layer unpacking with *at() system calls relative to the layer root. Directories are walked
// with O_NOFOLLOW one component at a time (a symlink or a non-directory on the way is an
// error), files are created with O_EXCL|O_NOFOLLOW after whatever was at their path is
// removed, and directory times are set at the end, once nothing is written into them any more.
#include "agent/images/layer_unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <vector>

#include "common/file.h"

namespace kelp::images {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
constexpr char kOpaqueXattr[] = "trusted.overlay.opaque";

// Only these namespaces are copied from the tar: user.* is the owner's, security.* carries
// file capabilities. trusted.* (overlayfs' own redirect/opaque/metacopy attributes among them)
// could change how the overlay is assembled, and SELinux labels are the host's business.
bool XattrAllowed(std::string_view name) {
  if (name.starts_with("user.")) return true;
  return name.starts_with("security.") && name != "security.selinux";
}

std::string ProcPath(int dirfd, const std::string& name) {
  return fmt::format("/proc/self/fd/{}/{}", dirfd, name);
}

struct DeferredTimes {
  std::string path;
  struct timespec times[2];
};

class Unpacker {
 public:
  Unpacker(ArchiveReader& tar, UniqueFd root) : tar_(tar), root_(std::move(root)) {}

  Status Apply(archive_entry* entry);
  Status Finish();
  const UnpackStats& stats() const { return stats_; }

 private:
  // Opens the directory at `path` (relative to the root, already cleaned), creating missing
  // components (0755, root) when `create` is set.
  Result<UniqueFd> OpenDir(const std::string& path, bool create);
  Status RemoveExisting(int dirfd, const std::string& name, const struct stat& existing);
  Status Whiteout(const std::string& parent, const std::string& base);
  Status WriteRegular(archive_entry* entry, int dirfd, const std::string& name);
  Status SetOwnerAndMode(int fd, archive_entry* entry, const std::string& what);
  Status SetXattrs(archive_entry* entry, int fd, int dirfd, const std::string& name);
  static void EntryTimes(archive_entry* entry, struct timespec times[2]);

  ArchiveReader& tar_;
  UniqueFd root_;
  UnpackStats stats_;
  std::vector<DeferredTimes> directory_times_;
  std::vector<char> buffer_;
};

Result<UniqueFd> Unpacker::OpenDir(const std::string& path, bool create) {
  UniqueFd current(::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0));
  if (!current.valid()) return ErrnoError("dup", errno);
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    const std::string component = path.substr(start, slash - start);
    const std::string so_far = path.substr(0, slash);
    UniqueFd next(::openat(current.get(), component.c_str(),
                           O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid() && errno == ENOENT && create) {
      if (::mkdirat(current.get(), component.c_str(), 0755) != 0 && errno != EEXIST) {
        return ErrnoError("mkdir " + so_far, errno);
      }
      next.reset(::openat(current.get(), component.c_str(),
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    }
    if (!next.valid()) {
      if (errno == ELOOP || errno == ENOTDIR) {
        return InvalidArgumentError(fmt::format(
            "\"{}\" is a symlink or not a directory in this layer; refusing to write through it",
            so_far));
      }
      return ErrnoStatus("open " + so_far, errno);
    }
    current = std::move(next);
    start = slash + 1;
  }
  return current;
}

Status Unpacker::RemoveExisting(int dirfd, const std::string& name, const struct stat& existing) {
  if (S_ISDIR(existing.st_mode)) return RemoveTreeAt(dirfd, name);
  if (::unlinkat(dirfd, name.c_str(), 0) != 0) return ErrnoStatus("unlink " + name, errno);
  return Status::Ok();
}

Status Unpacker::Whiteout(const std::string& parent, const std::string& base) {
  KELP_ASSIGN_OR_RETURN(UniqueFd dir, OpenDir(parent, /*create=*/true));
  ++stats_.whiteouts;
  if (base == kOpaqueMarker) {
    // Hides the lower layers' content of this directory; its own entries stay visible.
    if (::fsetxattr(dir.get(), kOpaqueXattr, "y", 1, 0) != 0) {
      return ErrnoStatus(fmt::format("set {} on \"{}\"", kOpaqueXattr, parent), errno);
    }
    return Status::Ok();
  }
  if (base.starts_with(kWhiteoutMetaPrefix)) {
    --stats_.whiteouts;  // AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): nothing to convert
    return Status::Ok();
  }
  const std::string hidden = base.substr(kWhiteoutPrefix.size());
  if (hidden.empty() || hidden == "." || hidden == "..") {
    return InvalidArgumentError("whiteout of an invalid name");
  }
  struct stat existing {};
  if (::fstatat(dir.get(), hidden.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
    KELP_RETURN_IF_ERROR(RemoveExisting(dir.get(), hidden, existing));
  }
  if (::mknodat(dir.get(), hidden.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0) {
    return ErrnoStatus("mknod whiteout " + hidden, errno);
  }
  return Status::Ok();
}

void Unpacker::EntryTimes(archive_entry* entry, struct timespec times[2]) {
  if (archive_entry_mtime_is_set(entry)) {
    times[1] = {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)};
  } else {
    times[1] = {0, UTIME_OMIT};
  }
  if (archive_entry_atime_is_set(entry)) {
    times[0] = {archive_entry_atime(entry), archive_entry_atime_nsec(entry)};
  } else {
    times[0] = times[1];
  }
}

Status Unpacker::SetOwnerAndMode(int fd, archive_entry* entry, const std::string& what) {
  const la_int64_t uid = archive_entry_uid(entry);
  const la_int64_t gid = archive_entry_gid(entry);
  if (uid < 0 || gid < 0 || uid >= UINT32_MAX || gid >= UINT32_MAX) {
    return InvalidArgumentError(fmt::format("uid/gid {}:{} out of range", uid, gid));
  }
  // chown first: it clears setuid/setgid bits, which chmod then sets.
  if (::fchown(fd, static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0) {
    return ErrnoStatus("chown " + what, errno);
  }
  if (::fchmod(fd, archive_entry_perm(entry) & 07777) != 0) {
    return ErrnoStatus("chmod " + what, errno);
  }
  return Status::Ok();
}

Status Unpacker::SetXattrs(archive_entry* entry, int fd, int dirfd, const std::string& name) {
  if (archive_entry_xattr_reset(entry) == 0) return Status::Ok();
  const char* key = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  while (archive_entry_xattr_next(entry, &key, &value, &size) == ARCHIVE_OK) {
    if (key == nullptr || !XattrAllowed(key)) {
      ++stats_.skipped_xattrs;
      continue;
    }
    // fd >= 0: a file or directory we hold open. Otherwise (symlinks, device nodes) the path
    // through the parent's /proc/self/fd link; lsetxattr does not follow the last component.
    int rc = fd >= 0 ? ::fsetxattr(fd, key, value, size, 0)
                     : ::lsetxattr(ProcPath(dirfd, name).c_str(), key, value, size, 0);
    if (rc != 0) {
      // The kernel refuses user.* on symlinks and devices, and filesystems may lack xattrs:
      // tar warns and goes on, so do we.
      if (errno == EPERM || errno == ENOTSUP) {
        ++stats_.skipped_xattrs;
        spdlog::debug("layer entry {}: xattr {} not set: {}", name, key, std::strerror(errno));
        continue;
      }
      return ErrnoStatus(fmt::format("set xattr {} on {}", key, name), errno);
    }
  }
  return Status::Ok();
}

Status Unpacker::WriteRegular(archive_entry* entry, int dirfd, const std::string& name) {
  UniqueFd fd(
      ::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus("create " + name, errno);
  // Blocks come with their offsets, so sparse files keep their holes.
  while (true) {
    const void* block = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    int rc = archive_read_data_block(tar_.get(), &block, &size, &offset);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return InvalidArgumentError(tar_.Error());
    const char* data = static_cast<const char*>(block);
    while (size > 0) {
      ssize_t n = ::pwrite(fd.get(), data, size, offset);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("write " + name, errno);
      }
      data += n;
      size -= static_cast<size_t>(n);
      offset += n;
    }
  }
  if (archive_entry_size_is_set(entry)) {
    const la_int64_t size = archive_entry_size(entry);
    if (::ftruncate(fd.get(), size) != 0) return ErrnoStatus("truncate " + name, errno);
    stats_.bytes += size;
  }
  KELP_RETURN_IF_ERROR(SetOwnerAndMode(fd.get(), entry, name));
  KELP_RETURN_IF_ERROR(SetXattrs(entry, fd.get(), dirfd, name));
  struct timespec times[2];
  EntryTimes(entry, times);
  if (::futimens(fd.get(), times) != 0) return ErrnoStatus("set times of " + name, errno);
  if (::close(fd.release()) != 0) return ErrnoStatus("close " + name, errno);
  return Status::Ok();
}

Status Unpacker::Apply(archive_entry* entry) {
  ++stats_.entries;
  KELP_ASSIGN_OR_RETURN(std::string path, CleanEntryPath(EntryPathname(entry)));
  const bool is_hardlink =
      archive_entry_hardlink(entry) != nullptr || archive_entry_hardlink_utf8(entry) != nullptr;
  const mode_t type = archive_entry_filetype(entry);

  if (path.empty()) {  // "./": the layer root itself
    if (type != AE_IFDIR || is_hardlink)
      return InvalidArgumentError("the root entry is not a directory");
    KELP_RETURN_IF_ERROR(SetOwnerAndMode(root_.get(), entry, "/"));
    DeferredTimes deferred{.path = ""};
    EntryTimes(entry, deferred.times);
    directory_times_.push_back(std::move(deferred));
    return Status::Ok();
  }
  const size_t slash = path.rfind('/');
  const std::string parent = slash == std::string::npos ? "" : path.substr(0, slash);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.starts_with(kWhiteoutPrefix)) return Whiteout(parent, base);

  KELP_ASSIGN_OR_RETURN(UniqueFd dir, OpenDir(parent, /*create=*/true));
  struct stat existing {};
  const bool exists = ::fstatat(dir.get(), base.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0;
  const bool keep_directory =
      exists && type == AE_IFDIR && !is_hardlink && S_ISDIR(existing.st_mode);
  if (exists && !keep_directory) KELP_RETURN_IF_ERROR(RemoveExisting(dir.get(), base, existing));

  if (is_hardlink) {
    const char* raw = archive_entry_hardlink(entry);
    if (raw == nullptr) raw = archive_entry_hardlink_utf8(entry);
    Result<std::string> target = CleanEntryPath(raw);
    if (!target.ok()) return target.status().WithContext("hardlink target");
    if (target->empty()) return InvalidArgumentError("hardlink to the layer root");
    const size_t target_slash = target->rfind('/');
    const std::string target_parent =
        target_slash == std::string::npos ? "" : target->substr(0, target_slash);
    const std::string target_base =
        target_slash == std::string::npos ? *target : target->substr(target_slash + 1);
    Result<UniqueFd> target_dir = OpenDir(target_parent, /*create=*/false);
    if (!target_dir.ok()) return target_dir.status().WithContext("hardlink target " + *target);
    // No AT_SYMLINK_FOLLOW: a hardlink to a symlink links the symlink itself.
    if (::linkat(target_dir->get(), target_base.c_str(), dir.get(), base.c_str(), 0) != 0) {
      if (errno == ENOENT) {
        return InvalidArgumentError(
            fmt::format("hardlink target \"{}\" is not earlier in this layer", *target));
      }
      return ErrnoStatus(fmt::format("link {} to {}", path, *target), errno);
    }
    return Status::Ok();
  }

  switch (type) {
    case AE_IFREG:
      return WriteRegular(entry, dir.get(), base);
    case AE_IFDIR: {
      if (!keep_directory && ::mkdirat(dir.get(), base.c_str(), 0700) != 0) {
        return ErrnoStatus("mkdir " + path, errno);
      }
      UniqueFd fd(
          ::openat(dir.get(), base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd.valid()) return ErrnoStatus("open " + path, errno);
      KELP_RETURN_IF_ERROR(SetOwnerAndMode(fd.get(), entry, path));
      KELP_RETURN_IF_ERROR(SetXattrs(entry, fd.get(), dir.get(), base));
      DeferredTimes deferred{.path = path};
      EntryTimes(entry, deferred.times);
      directory_times_.push_back(std::move(deferred));
      return Status::Ok();
    }
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(entry);
      if (target == nullptr) target = archive_entry_symlink_utf8(entry);
      if (target == nullptr || *target == '\0')
        return InvalidArgumentError("symlink without a target");
      if (::symlinkat(target, dir.get(), base.c_str()) != 0) {
        return ErrnoStatus("symlink " + path, errno);
      }
      const la_int64_t uid = archive_entry_uid(entry);
      const la_int64_t gid = archive_entry_gid(entry);
      if (uid < 0 || gid < 0 || uid >= UINT32_MAX || gid >= UINT32_MAX) {
        return InvalidArgumentError(fmt::format("uid/gid {}:{} out of range", uid, gid));
      }
      if (::fchownat(dir.get(), base.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(gid),
                     AT_SYMLINK_NOFOLLOW) != 0) {
        return ErrnoStatus("chown " + path, errno);
      }
      KELP_RETURN_IF_ERROR(SetXattrs(entry, -1, dir.get(), base));
      struct timespec times[2];
      EntryTimes(entry, times);
      if (::utimensat(dir.get(), base.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
        return ErrnoStatus("set times of " + path, errno);
      }
      return Status::Ok();
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
      const mode_t perm = archive_entry_perm(entry) & 07777;
      if (::mknodat(dir.get(), base.c_str(), type | perm, archive_entry_rdev(entry)) != 0) {
        if (errno == EPERM && type != AE_IFIFO) {
          ++stats_.skipped_devices;
          spdlog::warn("layer entry {}: device node skipped: mknod not permitted", path);
          return Status::Ok();
        }
        return ErrnoStatus("mknod " + path, errno);
      }
      // O_PATH opens the node without opening the device; chown/chmod go through /proc.
      UniqueFd fd(::openat(dir.get(), base.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!fd.valid()) return ErrnoStatus("open " + path, errno);
      const std::string proc = fmt::format("/proc/self/fd/{}", fd.get());
      const la_int64_t uid = archive_entry_uid(entry);
      const la_int64_t gid = archive_entry_gid(entry);
      if (uid < 0 || gid < 0 || uid >= UINT32_MAX || gid >= UINT32_MAX) {
        return InvalidArgumentError(fmt::format("uid/gid {}:{} out of range", uid, gid));
      }
      if (::fchownat(fd.get(), "", static_cast<uid_t>(uid), static_cast<gid_t>(gid),
                     AT_EMPTY_PATH) != 0) {
        return ErrnoStatus("chown " + path, errno);
      }
      if (::chmod(proc.c_str(), perm) != 0) return ErrnoStatus("chmod " + path, errno);
      KELP_RETURN_IF_ERROR(SetXattrs(entry, -1, dir.get(), base));
      struct timespec times[2];
      EntryTimes(entry, times);
      if (::utimensat(dir.get(), base.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
        return ErrnoStatus("set times of " + path, errno);
      }
      return Status::Ok();
    }
    case AE_IFSOCK:
      return Status::Ok();  // sockets are not content; tar implementations skip them too
    default:
      return InvalidArgumentError(fmt::format("unsupported file type 0{:o}", type));
  }
}

Status Unpacker::Finish() {
  for (const DeferredTimes& deferred : directory_times_) {
    Result<UniqueFd> dir = OpenDir(deferred.path, /*create=*/false);
    if (!dir.ok()) continue;  // replaced by a later entry; that one set its own times
    if (::futimens(dir->get(), deferred.times) != 0) {
      return ErrnoStatus("set times of " + deferred.path, errno);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> CleanEntryPath(std::string_view name) {
  if (name.size() > PATH_MAX) return InvalidArgumentError("entry name longer than PATH_MAX");
  if (name.starts_with('/')) {
    return InvalidArgumentError(fmt::format("entry \"{}\": absolute paths are not allowed", name));
  }
  std::string out;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string_view::npos) slash = name.size();
    std::string_view component = name.substr(start, slash - start);
    if (component == "..") {
      return InvalidArgumentError(fmt::format("entry \"{}\": \"..\" would leave the layer", name));
    }
    if (!component.empty() && component != ".") {
      if (!out.empty()) out.push_back('/');
      out.append(component);
    }
    start = slash + 1;
  }
  return out;
}

Status RemoveTreeAt(int dirfd, const std::string& name) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOTDIR || errno == ELOOP) {
      if (::unlinkat(dirfd, name.c_str(), 0) != 0) return ErrnoStatus("unlink " + name, errno);
      return Status::Ok();
    }
    return ErrnoStatus("open " + name, errno);
  }
  DIR* listing = ::fdopendir(fd.get());
  if (listing == nullptr) return ErrnoStatus("opendir " + name, errno);
  fd.release();
  std::vector<std::pair<std::string, bool>> children;
  while (struct dirent* child = ::readdir(listing)) {
    std::string_view child_name = child->d_name;
    if (child_name == "." || child_name == "..") continue;
    bool is_dir = child->d_type == DT_DIR;
    if (child->d_type == DT_UNKNOWN) {
      struct stat info {};
      is_dir = ::fstatat(::dirfd(listing), child->d_name, &info, AT_SYMLINK_NOFOLLOW) == 0 &&
               S_ISDIR(info.st_mode);
    }
    children.emplace_back(child->d_name, is_dir);
  }
  Status status;
  for (const auto& [child, is_dir] : children) {
    if (is_dir) {
      status = RemoveTreeAt(::dirfd(listing), child);
    } else if (::unlinkat(::dirfd(listing), child.c_str(), 0) != 0 && errno != ENOENT) {
      status = ErrnoStatus("unlink " + name + "/" + child, errno);
    }
    if (!status.ok()) break;
  }
  ::closedir(listing);
  KELP_RETURN_IF_ERROR(status);
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return ErrnoStatus("rmdir " + name, errno);
  }
  return Status::Ok();
}

Result<UnpackStats> UnpackLayer(ArchiveReader& tar, const std::filesystem::path& dir) {
  UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root.valid()) return ErrnoStatus("open " + dir.string(), errno);
  Unpacker unpacker(tar, std::move(root));
  while (true) {
    KELP_ASSIGN_OR_RETURN(archive_entry * entry, tar.Next());
    if (entry == nullptr) break;
    Status status = unpacker.Apply(entry);
    if (!status.ok()) {
      return status.WithContext(fmt::format("layer entry \"{}\"", EntryPathname(entry)));
    }
  }
  KELP_RETURN_IF_ERROR(unpacker.Finish());
  return unpacker.stats();
}

Result<UnpackedBlob> UnpackLayerBlob(ByteSource& blob, const std::filesystem::path& dir) {
  HashingSource stored(blob);
  UnpackedBlob out;
  // A zero-byte blob is an empty layer (Docker reads it as a tar without entries); libarchive
  // would call it an unrecognized format.
  std::string start(512, '\0');
  KELP_ASSIGN_OR_RETURN(size_t first, stored.Read(start.data(), start.size()));
  if (first == 0) {
    out.diff_id = Sha256Digest("");
    out.blob_digest = stored.Digest();
    return out;
  }
  start.resize(first);
  PrefixedSource replay(std::move(start), stored);
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<ArchiveReader> decompressor,
                        ArchiveReader::OpenSource(replay, ArchiveReader::Kind::kDecompress));
  Result<archive_entry*> stream = decompressor->Next();
  if (!stream.ok()) return stream.status().WithContext("decompress layer");
  if (*stream == nullptr) return InvalidArgumentError("decompress layer: no data");
  EntrySource plain(*decompressor);
  HashingSource uncompressed(plain);
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<ArchiveReader> tar,
                        ArchiveReader::OpenSource(uncompressed, ArchiveReader::Kind::kPlainTar));
  KELP_ASSIGN_OR_RETURN(out.stats, UnpackLayer(*tar, dir));
  tar.reset();
  Status drained = uncompressed.Drain();
  if (!drained.ok()) return drained.WithContext("decompress layer");
  out.diff_id = uncompressed.Digest();
  decompressor.reset();
  KELP_RETURN_IF_ERROR(stored.Drain());
  out.blob_digest = stored.Digest();
  return out;
}

}  // namespace kelp::images
