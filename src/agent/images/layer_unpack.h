// Unpacks one layer tarball into a directory that becomes an overlayfs lower layer. Every
// path is resolved component by component from the layer's root with O_NOFOLLOW, so an entry
// can neither leave the directory ("../", absolute names) nor write through a symlink
// (symlinks are created, never followed). OCI/AUFS whiteouts become overlayfs ones: ".wh.NAME"
// → character device 0:0 NAME, ".wh..wh..opq" → xattr trusted.overlay.opaque=y on the
// directory. Ownership, modes (setuid included), times, symlinks, hardlinks, FIFOs, device
// nodes (skipped where mknod is not permitted) and user.*/security.* xattrs are kept.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "agent/images/archive.h"
#include "common/status.h"

namespace kelp::images {

struct UnpackStats {
  int64_t entries = 0;
  int64_t bytes = 0;            // regular file contents written (the layer's size)
  int64_t whiteouts = 0;        // ".wh.*" entries converted
  int64_t skipped_devices = 0;  // device nodes mknod refused (no CAP_MKNOD)
  int64_t skipped_xattrs = 0;   // trusted.*, system.* and security.selinux are not copied
};

// "./usr//lib/" → "usr/lib"; "./" and "." → "" (the layer root). Absolute names and ".."
// components are InvalidArgument.
Result<std::string> CleanEntryPath(std::string_view name);

// Applies every entry of `tar` (an uncompressed tar reader, ArchiveReader::Kind::kPlainTar) to
// the existing directory `dir`. Later entries replace earlier ones of the same path, as tar
// does. Errors name the entry.
Result<UnpackStats> UnpackLayer(ArchiveReader& tar, const std::filesystem::path& dir);

// What unpacking a layer blob (compressed or not) found.
struct UnpackedBlob {
  UnpackStats stats;
  std::string blob_digest;  // digest of the bytes as stored (compressed)
  std::string diff_id;      // digest of the uncompressed tar stream
};

// Decompresses `blob` if needed and unpacks it into `dir`, hashing both streams entirely
// (including what follows the tar's end-of-archive blocks).
Result<UnpackedBlob> UnpackLayerBlob(ByteSource& blob, const std::filesystem::path& dir);

// Removes `name` below the directory `dirfd` and everything in it, never following symlinks.
Status RemoveTreeAt(int dirfd, const std::string& name);

}  // namespace kelp::images
