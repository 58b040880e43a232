// Thin RAII layer over libarchive readers, and pull-style byte sources that chain them: an
// image archive (tar, optionally compressed) → one member (a layer blob) → its decompressed
// stream → the layer's tar entries. Hashing sources sit between the stages so that the blob
// digest and the layer's diff_id are computed over exactly the bytes that were unpacked.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/images/digest.h"
#include "common/status.h"

struct archive;
struct archive_entry;

namespace kelp::images {

// A pull source of bytes. Read returns 0 at the end.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  [[nodiscard]] virtual Result<size_t> Read(char* buffer, size_t size) = 0;
};

class MemorySource : public ByteSource {
 public:
  explicit MemorySource(std::string_view data) : data_(data) {}
  Result<size_t> Read(char* buffer, size_t size) override;

 private:
  std::string_view data_;
};

// Passes bytes through and hashes them.
class HashingSource : public ByteSource {
 public:
  explicit HashingSource(ByteSource& inner) : inner_(inner) {}
  Result<size_t> Read(char* buffer, size_t size) override;
  // Reads what is left of the inner source (so the digest covers all of it).
  Status Drain();
  // "sha256:<hex>" of every byte read; call once, after Drain.
  std::string Digest() { return hasher_.Finish(); }
  int64_t bytes() const { return bytes_; }

 private:
  ByteSource& inner_;
  Sha256 hasher_;
  int64_t bytes_ = 0;
};

// Replays bytes already read from `inner` (to look at the start of a stream), then continues
// with `inner`.
class PrefixedSource : public ByteSource {
 public:
  PrefixedSource(std::string prefix, ByteSource& inner)
      : prefix_(std::move(prefix)), inner_(inner) {}
  Result<size_t> Read(char* buffer, size_t size) override;

 private:
  std::string prefix_;
  size_t offset_ = 0;
  ByteSource& inner_;
};

class ArchiveReader {
 public:
  enum class Kind {
    kTar,         // a tar stream, optionally compressed (gzip, zstd, xz, bzip2)
    kPlainTar,    // an uncompressed tar stream (an empty stream counts as an empty archive)
    kDecompress,  // any stream, decompressed if compressed: one entry whose data is the stream
  };

  static Result<std::unique_ptr<ArchiveReader>> OpenFile(const std::filesystem::path& path,
                                                         Kind kind);
  static Result<std::unique_ptr<ArchiveReader>> OpenSource(ByteSource& source, Kind kind);
  // Over bytes in memory that outlive the reader.
  static Result<std::unique_ptr<ArchiveReader>> OpenMemory(std::string_view data, Kind kind);
  ~ArchiveReader();
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  // The next entry, or nullptr at the end of the archive. The entry stays valid until the
  // next call.
  Result<archive_entry*> Next();
  // Data of the current entry; 0 at its end.
  Result<size_t> ReadData(char* buffer, size_t size);
  archive* get() { return archive_; }
  // libarchive's message for the last failure.
  std::string Error() const;

 private:
  ArchiveReader() = default;
  static Result<std::unique_ptr<ArchiveReader>> Create(Kind kind);

  archive* archive_ = nullptr;
  ByteSource* source_ = nullptr;  // for OpenSource and OpenMemory
  std::unique_ptr<ByteSource> owned_source_;
  std::vector<char> buffer_;  // handed to libarchive by the read callback
  friend long ReadFromSource(archive*, void*, const void**);
};

// The data of the reader's current entry as a ByteSource.
class EntrySource : public ByteSource {
 public:
  explicit EntrySource(ArchiveReader& reader) : reader_(reader) {}
  Result<size_t> Read(char* buffer, size_t size) override { return reader_.ReadData(buffer, size); }

 private:
  ArchiveReader& reader_;
};

// An entry's path as written in the archive (nullptr-safe; UTF-8 when the locale cannot
// represent it). Empty if the entry has none.
std::string EntryPathname(archive_entry* entry);

}  // namespace kelp::images
