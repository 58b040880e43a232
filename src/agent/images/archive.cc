// ArchiveReader over libarchive's read API with a pull callback, and the byte sources.
#include "agent/images/archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <cerrno>
#include <cstring>

namespace kelp::images {

constexpr size_t kBlockSize = 64 * 1024;

Result<size_t> MemorySource::Read(char* buffer, size_t size) {
  size_t n = std::min(size, data_.size());
  std::memcpy(buffer, data_.data(), n);
  data_.remove_prefix(n);
  return n;
}

Result<size_t> HashingSource::Read(char* buffer, size_t size) {
  Result<size_t> n = inner_.Read(buffer, size);
  if (n.ok()) {
    hasher_.Update(buffer, *n);
    bytes_ += static_cast<int64_t>(*n);
  }
  return n;
}

Status HashingSource::Drain() {
  std::vector<char> buffer(kBlockSize);
  while (true) {
    KELP_ASSIGN_OR_RETURN(size_t n, Read(buffer.data(), buffer.size()));
    if (n == 0) return Status::Ok();
  }
}

Result<size_t> PrefixedSource::Read(char* buffer, size_t size) {
  if (offset_ < prefix_.size()) {
    size_t n = std::min(size, prefix_.size() - offset_);
    std::memcpy(buffer, prefix_.data() + offset_, n);
    offset_ += n;
    return n;
  }
  return inner_.Read(buffer, size);
}

long ReadFromSource(archive* a, void* client, const void** out) {
  auto* reader = static_cast<ArchiveReader*>(client);
  Result<size_t> n = reader->source_->Read(reader->buffer_.data(), reader->buffer_.size());
  if (!n.ok()) {
    archive_set_error(a, EIO, "%s", n.status().message().c_str());
    return -1;
  }
  *out = reader->buffer_.data();
  return static_cast<long>(*n);
}

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::Create(Kind kind) {
  std::unique_ptr<ArchiveReader> reader(new ArchiveReader());
  reader->archive_ = archive_read_new();
  if (reader->archive_ == nullptr) return InternalError("archive_read_new failed");
  archive* a = reader->archive_;
  // The compressions docker load accepts. Not filter_all: some of libarchive's filters run
  // external programs (lrzip, lzop, grzip), which untrusted input must not start.
  const auto add_decompressors = [a] {
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_bzip2(a);
  };
  switch (kind) {
    case Kind::kTar:
      archive_read_support_format_tar(a);
      add_decompressors();
      break;
    case Kind::kPlainTar:
      archive_read_support_format_tar(a);
      archive_read_support_format_empty(a);
      break;
    case Kind::kDecompress:
      archive_read_support_format_raw(a);
      add_decompressors();
      break;
  }
  return reader;
}

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::OpenFile(const std::filesystem::path& path,
                                                               Kind kind) {
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<ArchiveReader> reader, Create(kind));
  if (archive_read_open_filename(reader->archive_, path.c_str(), kBlockSize) != ARCHIVE_OK) {
    return InvalidArgumentError(reader->Error());
  }
  return reader;
}

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::OpenSource(ByteSource& source, Kind kind) {
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<ArchiveReader> reader, Create(kind));
  reader->source_ = &source;
  reader->buffer_.resize(kBlockSize);
  if (archive_read_open(reader->archive_, reader.get(), nullptr, &ReadFromSource, nullptr) !=
      ARCHIVE_OK) {
    return InvalidArgumentError(reader->Error());
  }
  return reader;
}

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::OpenMemory(std::string_view data, Kind kind) {
  auto source = std::make_unique<MemorySource>(data);
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<ArchiveReader> reader, OpenSource(*source, kind));
  reader->owned_source_ = std::move(source);
  return reader;
}

ArchiveReader::~ArchiveReader() {
  if (archive_ != nullptr) archive_read_free(archive_);
}

Result<archive_entry*> ArchiveReader::Next() {
  archive_entry* entry = nullptr;
  int rc = archive_read_next_header(archive_, &entry);
  if (rc == ARCHIVE_EOF) return static_cast<archive_entry*>(nullptr);
  if (rc == ARCHIVE_OK || rc == ARCHIVE_WARN) return entry;
  return InvalidArgumentError(Error());
}

Result<size_t> ArchiveReader::ReadData(char* buffer, size_t size) {
  la_ssize_t n = archive_read_data(archive_, buffer, size);
  if (n < 0) return InvalidArgumentError(Error());
  return static_cast<size_t>(n);
}

std::string ArchiveReader::Error() const {
  const char* message = archive_error_string(archive_);
  return message != nullptr ? message : "unknown archive error";
}

std::string EntryPathname(archive_entry* entry) {
  const char* name = archive_entry_pathname(entry);
  if (name == nullptr) name = archive_entry_pathname_utf8(entry);
  return name != nullptr ? name : "";
}

}  // namespace kelp::images
