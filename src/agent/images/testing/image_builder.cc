// In-memory archive writers for the image store tests (libarchive write API, pax format).
#include "agent/images/testing/image_builder.h"

#include <archive.h>
#include <archive_entry.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>

#include "agent/images/digest.h"

namespace kelp::images::testing {
namespace {

namespace json = boost::json;

la_ssize_t AppendToString(archive*, void* client, const void* buffer, size_t length) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

// Libarchive errors here are bugs in a test, not conditions to handle.
void Check(int rc, archive* a) {
  if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
    std::fprintf(stderr, "image_builder: %s\n", archive_error_string(a));
    std::abort();
  }
}

std::string WriteTar(const std::vector<TarEntry>& entries, bool gzip) {
  std::string out;
  archive* a = archive_write_new();
  Check(archive_write_set_format_pax(a), a);
  if (gzip) Check(archive_write_add_filter_gzip(a), a);
  Check(archive_write_set_bytes_in_last_block(a, 1), a);
  Check(archive_write_open(a, &out, nullptr, &AppendToString, nullptr), a);
  for (const TarEntry& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.path.c_str());
    archive_entry_set_uid(entry, e.uid);
    archive_entry_set_gid(entry, e.gid);
    archive_entry_set_mtime(entry, e.mtime, 0);
    if (!e.hardlink.empty()) {
      archive_entry_set_filetype(entry, AE_IFREG);
      archive_entry_set_hardlink(entry, e.hardlink.c_str());
      archive_entry_set_size(entry, 0);
    } else {
      archive_entry_set_filetype(entry, e.type);
      archive_entry_set_size(entry,
                             e.type == AE_IFREG ? static_cast<la_int64_t>(e.content.size()) : 0);
      if (e.type == AE_IFLNK) archive_entry_set_symlink(entry, e.symlink.c_str());
      if (e.type == AE_IFCHR || e.type == AE_IFBLK) {
        archive_entry_set_rdevmajor(entry, e.major);
        archive_entry_set_rdevminor(entry, e.minor);
      }
    }
    archive_entry_set_perm(entry, e.perm);
    for (const auto& [name, value] : e.xattrs) {
      archive_entry_xattr_add_entry(entry, name.c_str(), value.data(), value.size());
    }
    Check(archive_write_header(a, entry), a);
    if (e.hardlink.empty() && e.type == AE_IFREG && !e.content.empty()) {
      archive_write_data(a, e.content.data(), e.content.size());
    }
    archive_entry_free(entry);
  }
  Check(archive_write_close(a), a);
  archive_write_free(a);
  return out;
}

json::array Strings(const std::vector<std::string>& items) {
  json::array out;
  for (const std::string& item : items) out.emplace_back(item);
  return out;
}

std::string Hex(const std::string& digest) { return digest.substr(7); }

json::object Descriptor(std::string_view media_type, const std::string& data) {
  json::object out;
  out["mediaType"] = media_type;
  out["digest"] = Sha256Of(data);
  out["size"] = static_cast<int64_t>(data.size());
  return out;
}

void AddBlob(std::vector<std::pair<std::string, std::string>>& members, const std::string& data) {
  std::string path = "blobs/sha256/" + Hex(Sha256Of(data));
  for (const auto& member : members) {
    if (member.first == path) return;
  }
  members.emplace_back(path, data);
}

json::object IndexEntry(const ArchiveImage& image, const std::string& manifest) {
  json::object entry = Descriptor("application/vnd.oci.image.manifest.v1+json", manifest);
  if (!image.annotations.empty()) {
    json::object annotations;
    for (const auto& [key, value] : image.annotations) annotations[key] = value;
    entry["annotations"] = std::move(annotations);
  }
  if (image.platform.has_value()) {
    json::object platform;
    platform["os"] = image.platform->first;
    platform["architecture"] = image.platform->second;
    entry["platform"] = std::move(platform);
  }
  return entry;
}

std::string IndexJson(json::array manifests) {
  json::object index;
  index["schemaVersion"] = 2;
  index["mediaType"] = "application/vnd.oci.image.index.v1+json";
  index["manifests"] = std::move(manifests);
  return json::serialize(index);
}

}  // namespace

TarBuilder& TarBuilder::Add(TarEntry entry) {
  entries_.push_back(std::move(entry));
  return *this;
}

TarBuilder& TarBuilder::File(std::string path, std::string content, mode_t perm) {
  return Add({.path = std::move(path), .perm = perm, .content = std::move(content)});
}

TarBuilder& TarBuilder::Dir(std::string path, mode_t perm) {
  return Add({.path = std::move(path), .type = AE_IFDIR, .perm = perm});
}

TarBuilder& TarBuilder::Symlink(std::string path, std::string target) {
  return Add(
      {.path = std::move(path), .type = AE_IFLNK, .perm = 0777, .symlink = std::move(target)});
}

TarBuilder& TarBuilder::Hardlink(std::string path, std::string target) {
  return Add({.path = std::move(path), .hardlink = std::move(target)});
}

std::string TarBuilder::Build(bool gzip) const { return WriteTar(entries_, gzip); }

std::string Sha256Of(const std::string& data) { return Sha256Digest(data); }

TestLayer MakeLayer(const TarBuilder& tar, bool gzip) {
  TestLayer layer;
  std::string plain = tar.Build(false);
  layer.diff_id = Sha256Of(plain);
  layer.blob = gzip ? tar.Build(true) : plain;
  layer.blob_digest = Sha256Of(layer.blob);
  layer.gzip = gzip;
  return layer;
}

std::string MakeConfig(const ConfigSpec& spec) {
  json::object config;
  if (!spec.entrypoint.empty()) config["Entrypoint"] = Strings(spec.entrypoint);
  config["Cmd"] = Strings(spec.cmd);
  config["Env"] = Strings(spec.env);
  if (!spec.working_dir.empty()) config["WorkingDir"] = spec.working_dir;
  if (!spec.user.empty()) config["User"] = spec.user;
  json::object rootfs;
  rootfs["type"] = "layers";
  rootfs["diff_ids"] = Strings(spec.diff_ids);
  json::object document;
  document["architecture"] = spec.architecture;
  document["os"] = "linux";
  document["created"] = spec.created;
  document["config"] = std::move(config);
  document["rootfs"] = std::move(rootfs);
  return json::serialize(document);
}

std::pair<std::string, std::string> OciManifest(const ArchiveImage& image) {
  json::object manifest;
  manifest["schemaVersion"] = 2;
  manifest["mediaType"] = "application/vnd.oci.image.manifest.v1+json";
  manifest["config"] = Descriptor("application/vnd.oci.image.config.v1+json", image.config);
  json::array layers;
  for (const TestLayer& layer : image.layers) {
    json::object descriptor;
    descriptor["mediaType"] = layer.gzip ? "application/vnd.oci.image.layer.v1.tar+gzip"
                                         : "application/vnd.oci.image.layer.v1.tar";
    descriptor["digest"] = layer.blob_digest;
    descriptor["size"] = static_cast<int64_t>(layer.blob.size());
    layers.push_back(std::move(descriptor));
  }
  manifest["layers"] = std::move(layers);
  std::string text = json::serialize(manifest);
  return {text, Sha256Of(text)};
}

std::string DockerArchive(const std::vector<ArchiveImage>& images, bool blobs) {
  std::vector<std::pair<std::string, std::string>> members;
  json::array manifest;
  json::array oci_manifests;
  for (const ArchiveImage& image : images) {
    json::object entry;
    const std::string config_hex = Hex(Sha256Of(image.config));
    std::string config_path = blobs ? "blobs/sha256/" + config_hex : config_hex + ".json";
    if (blobs) {
      AddBlob(members, image.config);
    } else {
      members.emplace_back(config_path, image.config);
    }
    entry["Config"] = config_path;
    entry["RepoTags"] = Strings(image.repo_tags);
    json::array layers;
    for (const TestLayer& layer : image.layers) {
      if (blobs) {
        AddBlob(members, layer.blob);
        layers.emplace_back("blobs/sha256/" + Hex(layer.blob_digest));
      } else {
        std::string path = Hex(layer.diff_id) + "/layer.tar";
        bool present = false;
        for (const auto& member : members) present = present || member.first == path;
        if (!present) members.emplace_back(path, layer.blob);
        layers.emplace_back(path);
      }
    }
    entry["Layers"] = std::move(layers);
    manifest.push_back(std::move(entry));
    if (blobs) {
      auto [manifest_json, digest] = OciManifest(image);
      AddBlob(members, manifest_json);
      json::object descriptor = IndexEntry(image, manifest_json);
      if (!image.repo_tags.empty()) {
        json::object annotations;
        annotations["io.containerd.image.name"] = "docker.io/library/" + image.repo_tags.front();
        descriptor["annotations"] = std::move(annotations);
      }
      oci_manifests.push_back(std::move(descriptor));
    }
  }
  if (blobs) {
    members.emplace_back("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    members.emplace_back("index.json", IndexJson(std::move(oci_manifests)));
  }
  members.emplace_back("manifest.json", json::serialize(manifest));
  return RawArchive(members);
}

std::string OciArchive(const std::vector<ArchiveImage>& images, bool nested) {
  std::vector<std::pair<std::string, std::string>> members;
  json::array manifests;
  for (const ArchiveImage& image : images) {
    AddBlob(members, image.config);
    for (const TestLayer& layer : image.layers) AddBlob(members, layer.blob);
    auto [manifest_json, digest] = OciManifest(image);
    AddBlob(members, manifest_json);
    manifests.push_back(IndexEntry(image, manifest_json));
  }
  std::string index;
  if (nested) {
    std::string inner = IndexJson(std::move(manifests));
    AddBlob(members, inner);
    json::array outer;
    outer.push_back(Descriptor("application/vnd.oci.image.index.v1+json", inner));
    index = IndexJson(std::move(outer));
  } else {
    index = IndexJson(std::move(manifests));
  }
  members.emplace_back("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  members.emplace_back("index.json", index);
  return RawArchive(members);
}

std::string RawArchive(const std::vector<std::pair<std::string, std::string>>& members) {
  std::vector<TarEntry> entries;
  for (const auto& [path, content] : members) entries.push_back({.path = path, .content = content});
  return WriteTar(entries, false);
}

}  // namespace kelp::images::testing
