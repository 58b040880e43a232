// The scan of an image archive, the docker-archive and OCI layout planners, and the streaming
// pass over layer members.
#include "agent/images/image_archive.h"

#include <archive_entry.h>
#include <fmt/format.h>

#include "agent/images/digest.h"
#include "agent/images/layer_unpack.h"
#include "agent/images/reference.h"

namespace kelp::images {
namespace {

constexpr int kMaxLinkHops = 16;
constexpr int kMaxIndexDepth = 4;
constexpr std::string_view kBlobsPrefix = "blobs/sha256/";

// "blobs/sha256/<hex>" → "sha256:<hex>"; "" for any other member name.
std::string DigestOfBlobPath(const std::string& member) {
  if (!member.starts_with(kBlobsPrefix)) return "";
  std::string_view hex = std::string_view(member).substr(kBlobsPrefix.size());
  return IsSha256Hex(hex) ? std::string(kSha256Prefix) + std::string(hex) : "";
}

std::string BlobPath(const std::string& digest) {
  return std::string(kBlobsPrefix) + digest.substr(kSha256Prefix.size());
}

// Joins a symlink target to the directory of the link and cleans it; nullopt if it climbs out.
std::optional<std::string> ResolveLinkTarget(const std::string& link, std::string_view target) {
  std::string joined;
  if (target.starts_with('/')) {
    joined = std::string(target.substr(1));
  } else {
    size_t slash = link.rfind('/');
    joined = (slash == std::string::npos ? "" : link.substr(0, slash + 1)) + std::string(target);
  }
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= joined.size()) {
    size_t slash = joined.find('/', start);
    if (slash == std::string::npos) slash = joined.size();
    std::string part = joined.substr(start, slash - start);
    if (part == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(std::move(part));
    }
    start = slash + 1;
  }
  std::string out;
  for (const std::string& part : parts) out += (out.empty() ? "" : "/") + part;
  return out;
}

Status CheckDigest(std::string_view data, const Descriptor& descriptor, std::string_view what) {
  if (descriptor.size >= 0 && static_cast<int64_t>(data.size()) != descriptor.size) {
    return InvalidArgumentError(fmt::format("{} {}: size {} does not match the descriptor's {}",
                                            what, descriptor.digest, data.size(), descriptor.size));
  }
  std::string actual = Sha256Digest(data);
  if (actual != descriptor.digest) {
    return InvalidArgumentError(
        fmt::format("{} {}: content has digest {}", what, descriptor.digest, actual));
  }
  return Status::Ok();
}

// The name an OCI index entry gives its image; "" when it gives none usable.
Result<std::string> NameFromAnnotations(const std::map<std::string, std::string>& annotations,
                                        const PlanOptions& options,
                                        std::vector<std::string>& warnings) {
  if (auto it = annotations.find(std::string(kContainerdNameAnnotation)); it != annotations.end()) {
    Result<Reference> ref = ParseReference(it->second);
    if (!ref.ok()) return ref.status().WithContext(std::string(kContainerdNameAnnotation));
    return ref->String();
  }
  auto it = annotations.find(std::string(kOciRefNameAnnotation));
  if (it == annotations.end()) return std::string();
  const std::string& value = it->second;
  if (value.find_first_of("/:@") != std::string::npos) {
    Result<Reference> ref = ParseReference(value);
    if (!ref.ok()) return ref.status().WithContext(std::string(kOciRefNameAnnotation));
    return ref->String();
  }
  if (!IsValidTag(value)) {
    return InvalidArgumentError(
        fmt::format("{}: \"{}\" is neither a reference nor a tag", kOciRefNameAnnotation, value));
  }
  if (options.base_name.empty()) {
    warnings.push_back(fmt::format(
        "{} \"{}\" is only a tag; the image stays unnamed (give a repository with --base-name)",
        kOciRefNameAnnotation, value));
    return std::string();
  }
  Result<Reference> ref = ParseReference(options.base_name + ":" + value);
  if (!ref.ok()) return ref.status().WithContext("--base-name");
  return ref->String();
}

// Config and layer plans shared by both formats once the config bytes are known.
Result<ImagePlan> PlanFromConfig(std::string config_json, std::string_view what) {
  ImagePlan plan;
  plan.id = Sha256Digest(config_json);
  Result<ImageConfigFile> config = ParseImageConfig(config_json);
  if (!config.ok()) return config.status().WithContext(what);
  plan.config = std::move(*config);
  plan.config_json = std::move(config_json);
  return plan;
}

class OciPlanner {
 public:
  OciPlanner(const ArchiveIndex& index, const PlanOptions& options, Plan& plan)
      : index_(index), options_(options), plan_(plan) {}

  Status Walk(const Descriptor& descriptor, const std::vector<std::string>& inherited_names,
              int depth) {
    if (depth > kMaxIndexDepth) {
      return InvalidArgumentError(fmt::format("image index nesting deeper than {} at {}",
                                              kMaxIndexDepth, descriptor.digest));
    }
    if (descriptor.platform.has_value() && !PlatformMatches(*descriptor.platform)) {
      skipped_platforms_.push_back(descriptor.platform->os + "/" +
                                   descriptor.platform->architecture);
      return Status::Ok();
    }
    const std::string member = BlobPath(descriptor.digest);
    Result<std::string_view> data = index_.Contains(member)
                                        ? index_.Data(member)
                                        : Result<std::string_view>(NotFoundError(fmt::format(
                                              "blob {} is not in the archive", descriptor.digest)));
    if (!data.ok()) return data.status();
    KELP_RETURN_IF_ERROR(CheckDigest(*data, descriptor, "manifest"));

    std::vector<std::string> names = inherited_names;
    KELP_ASSIGN_OR_RETURN(std::string name,
                          NameFromAnnotations(descriptor.annotations, options_, plan_.warnings));
    if (!name.empty()) names = {name};

    std::string_view kind;
    if (descriptor.media_type == kOciIndexType || descriptor.media_type == kDockerListType) {
      kind = "index";
    } else if (descriptor.media_type == kOciManifestType ||
               descriptor.media_type == kDockerManifestType) {
      kind = "manifest";
    } else {
      kind = SniffManifestKind(*data);
    }
    if (kind == "index") {
      Result<OciIndex> nested = ParseOciIndex(*data);
      if (!nested.ok()) return nested.status().WithContext(descriptor.digest);
      for (const Descriptor& child : nested->manifests) {
        KELP_RETURN_IF_ERROR(Walk(child, names, depth + 1));
      }
      return Status::Ok();
    }
    if (kind != "manifest") {
      // Artifacts (signatures, SBOMs) share the layout; they are not images.
      skipped_platforms_.push_back("artifact " + descriptor.media_type);
      return Status::Ok();
    }
    return PlanManifest(descriptor, *data, names);
  }

  Status Finish() const {
    if (!plan_.images.empty()) return Status::Ok();
    std::string found;
    for (const std::string& p : skipped_platforms_) found += (found.empty() ? "" : ", ") + p;
    return NotFoundError(fmt::format("no image for {}/{} in the archive{}", options_.os,
                                     Architecture(),
                                     found.empty() ? "" : " (found: " + found + ")"));
  }

 private:
  std::string_view Architecture() const {
    return options_.architecture.empty() ? HostArchitecture() : options_.architecture;
  }

  bool PlatformMatches(const Platform& platform) const {
    return platform.os == options_.os && platform.architecture == Architecture();
  }

  Status PlanManifest(const Descriptor& descriptor, std::string_view data,
                      const std::vector<std::string>& names) {
    Result<OciManifest> manifest = ParseOciManifest(data);
    if (!manifest.ok()) return manifest.status().WithContext(descriptor.digest);
    const std::string config_member = BlobPath(manifest->config.digest);
    if (!index_.Contains(config_member)) {
      return NotFoundError(
          fmt::format("config blob {} is not in the archive", manifest->config.digest));
    }
    KELP_ASSIGN_OR_RETURN(std::string_view config_data, index_.Data(config_member));
    KELP_RETURN_IF_ERROR(CheckDigest(config_data, manifest->config, "config"));
    KELP_ASSIGN_OR_RETURN(ImagePlan image,
                          PlanFromConfig(std::string(config_data), manifest->config.digest));
    if (image.config.diff_ids.size() != manifest->layers.size()) {
      return InvalidArgumentError(
          fmt::format("manifest {} lists {} layers but its config has {} diff_ids",
                      descriptor.digest, manifest->layers.size(), image.config.diff_ids.size()));
    }
    for (size_t i = 0; i < manifest->layers.size(); ++i) {
      const Descriptor& layer = manifest->layers[i];
      const std::string member = BlobPath(layer.digest);
      if (!index_.Contains(member)) {
        return NotFoundError(fmt::format("layer blob {} ({}) is not in the archive", layer.digest,
                                         layer.media_type));
      }
      image.layers.push_back(
          {.diff_id = image.config.diff_ids[i], .member = member, .blob_digest = layer.digest});
    }
    image.names = names;
    image.manifest_digest = descriptor.digest;
    image.manifest_json = std::string(data);
    plan_.images.push_back(std::move(image));
    return Status::Ok();
  }

  const ArchiveIndex& index_;
  const PlanOptions& options_;
  Plan& plan_;
  std::vector<std::string> skipped_platforms_;
};

Result<Plan> PlanOciLayout(const ArchiveIndex& index, const PlanOptions& options) {
  if (!index.Contains("oci-layout")) return InvalidArgumentError("oci-layout is missing");
  KELP_ASSIGN_OR_RETURN(std::string_view layout, index.Data("oci-layout"));
  KELP_RETURN_IF_ERROR(ValidateOciLayout(layout));
  KELP_ASSIGN_OR_RETURN(std::string_view index_json, index.Data("index.json"));
  Result<OciIndex> top = ParseOciIndex(index_json);
  if (!top.ok()) return top.status().WithContext("index.json");
  Plan plan;
  OciPlanner planner(index, options, plan);
  for (const Descriptor& descriptor : top->manifests) {
    KELP_RETURN_IF_ERROR(planner.Walk(descriptor, {}, 0));
  }
  KELP_RETURN_IF_ERROR(planner.Finish());
  return plan;
}

Result<Plan> PlanDockerArchive(const ArchiveIndex& index) {
  KELP_ASSIGN_OR_RETURN(std::string_view manifest_json, index.Data("manifest.json"));
  KELP_ASSIGN_OR_RETURN(std::vector<DockerManifestEntry> entries,
                        ParseDockerManifest(manifest_json));
  Plan plan;
  for (size_t i = 0; i < entries.size(); ++i) {
    const DockerManifestEntry& entry = entries[i];
    const std::string where = fmt::format("manifest.json: [{}]", i);
    Result<std::string> config_member = index.Resolve(entry.config);
    if (!config_member.ok()) return config_member.status().WithContext(where + ".Config");
    KELP_ASSIGN_OR_RETURN(std::string_view config_data, index.Data(*config_member));
    KELP_ASSIGN_OR_RETURN(ImagePlan image, PlanFromConfig(std::string(config_data), entry.config));
    if (std::string named = DigestOfBlobPath(*config_member); !named.empty() && named != image.id) {
      return InvalidArgumentError(
          fmt::format("{}: config {} has digest {}", where, *config_member, image.id));
    }
    if (entry.layers.size() != image.config.diff_ids.size()) {
      return InvalidArgumentError(fmt::format("{}: {} layers but the config has {} diff_ids", where,
                                              entry.layers.size(), image.config.diff_ids.size()));
    }
    for (size_t l = 0; l < entry.layers.size(); ++l) {
      Result<std::string> member = index.Resolve(entry.layers[l]);
      if (!member.ok()) return member.status().WithContext(fmt::format("{}.Layers.{}", where, l));
      image.layers.push_back({.diff_id = image.config.diff_ids[l],
                              .member = *member,
                              .blob_digest = DigestOfBlobPath(*member)});
    }
    for (const std::string& tag : entry.repo_tags) {
      Result<Reference> ref = ParseReference(tag);
      if (!ref.ok()) return ref.status().WithContext(where + ".RepoTags");
      if (ref->tag.empty()) {
        return InvalidArgumentError(fmt::format("{}.RepoTags: \"{}\" has no tag", where, tag));
      }
      image.names.push_back(ref->String());
    }
    plan.images.push_back(std::move(image));
  }
  return plan;
}

// The same image may be listed twice (two tags in an OCI index); one plan, all names.
void MergeDuplicates(Plan& plan) {
  std::vector<ImagePlan> merged;
  for (ImagePlan& image : plan.images) {
    auto same = std::find_if(merged.begin(), merged.end(),
                             [&](const ImagePlan& other) { return other.id == image.id; });
    if (same == merged.end()) {
      merged.push_back(std::move(image));
      continue;
    }
    for (std::string& name : image.names) {
      if (std::find(same->names.begin(), same->names.end(), name) == same->names.end()) {
        same->names.push_back(std::move(name));
      }
    }
    if (same->manifest_digest.empty()) {
      same->manifest_digest = std::move(image.manifest_digest);
      same->manifest_json = std::move(image.manifest_json);
    }
  }
  plan.images = std::move(merged);
}

}  // namespace

std::string_view HostArchitecture() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__arm__)
  return "arm";
#elif defined(__i386__)
  return "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#else
  return "unknown";
#endif
}

ArchiveInput ArchiveInput::File(std::filesystem::path path, std::string name) {
  ArchiveInput input;
  input.name_ = name.empty() ? path.string() : std::move(name);
  input.path_ = std::move(path);
  return input;
}

ArchiveInput ArchiveInput::Memory(std::string_view data) {
  ArchiveInput input;
  input.memory_ = data;
  input.in_memory_ = true;
  return input;
}

Result<std::unique_ptr<ArchiveReader>> ArchiveInput::Open() const {
  if (in_memory_) return ArchiveReader::OpenMemory(memory_, ArchiveReader::Kind::kTar);
  return ArchiveReader::OpenFile(path_, ArchiveReader::Kind::kTar);
}

std::string ArchiveInput::Describe() const { return in_memory_ ? "archive in memory" : name_; }

Result<ArchiveIndex> ArchiveIndex::Scan(const ArchiveInput& input) {
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<ArchiveReader> reader, input.Open());
  ArchiveIndex index;
  int64_t inline_total = 0;
  while (true) {
    KELP_ASSIGN_OR_RETURN(archive_entry * entry, reader->Next());
    if (entry == nullptr) break;
    // Member names are only looked up, never written to disk; odd ones are simply unreachable.
    Result<std::string> name = CleanEntryPath(EntryPathname(entry));
    if (!name.ok() || name->empty()) continue;
    Member member;
    const char* hardlink = archive_entry_hardlink(entry);
    if (hardlink != nullptr) {
      Result<std::string> target = CleanEntryPath(hardlink);
      if (!target.ok()) continue;
      member.is_link = true;
      member.link_target = *target;
    } else if (archive_entry_filetype(entry) == AE_IFLNK) {
      const char* target = archive_entry_symlink(entry);
      std::optional<std::string> resolved =
          target != nullptr ? ResolveLinkTarget(*name, target) : std::nullopt;
      if (!resolved.has_value()) continue;
      member.is_link = true;
      member.link_target = *resolved;
    } else if (archive_entry_filetype(entry) == AE_IFREG) {
      member.size = archive_entry_size(entry);
      if (member.size <= kMaxInlineMember && inline_total + member.size <= kMaxInlineTotal) {
        std::string data(static_cast<size_t>(member.size), '\0');
        size_t filled = 0;
        while (filled < data.size()) {
          KELP_ASSIGN_OR_RETURN(size_t n,
                                reader->ReadData(data.data() + filled, data.size() - filled));
          if (n == 0) break;
          filled += n;
        }
        if (filled != data.size()) {
          return InvalidArgumentError(
              fmt::format("{}: member {} is truncated", input.Describe(), *name));
        }
        inline_total += member.size;
        member.data = std::move(data);
      }
    } else {
      continue;  // directories and the like carry nothing an image needs
    }
    index.members_[*name] = std::move(member);
  }
  return index;
}

Result<std::string> ArchiveIndex::Resolve(std::string_view path) const {
  if (path.starts_with('/')) {
    return InvalidArgumentError(fmt::format("path \"{}\" is absolute", path));
  }
  Result<std::string> cleaned = CleanEntryPath(path);
  if (!cleaned.ok())
    return InvalidArgumentError(fmt::format("path \"{}\" leaves the archive", path));
  std::string current = *cleaned;
  for (int hop = 0; hop <= kMaxLinkHops; ++hop) {
    auto it = members_.find(current);
    if (it == members_.end()) {
      return NotFoundError(fmt::format("\"{}\" is not in the archive", path));
    }
    if (!it->second.is_link) return current;
    current = it->second.link_target;
  }
  return InvalidArgumentError(fmt::format("\"{}\": too many levels of links", path));
}

Result<std::string_view> ArchiveIndex::Data(const std::string& member) const {
  auto it = members_.find(member);
  if (it == members_.end()) return NotFoundError(fmt::format("{} is not in the archive", member));
  if (it->second.is_link) {
    KELP_ASSIGN_OR_RETURN(std::string target, Resolve(member));
    return Data(target);
  }
  if (!it->second.data.has_value()) {
    return InvalidArgumentError(
        fmt::format("{} is too large ({} bytes) for an image document", member, it->second.size));
  }
  return std::string_view(*it->second.data);
}

Result<Plan> PlanImages(const ArchiveIndex& index, const PlanOptions& options) {
  Plan plan;
  if (index.Contains("manifest.json")) {
    KELP_ASSIGN_OR_RETURN(plan, PlanDockerArchive(index));
    // Docker 25+ also writes an OCI index; it knows the manifest digests (for name@sha256:...
    // references). It only adds to what manifest.json says, so its errors do not matter.
    if (index.Contains("index.json") && index.Contains("oci-layout")) {
      Result<Plan> oci = PlanOciLayout(index, options);
      if (oci.ok()) {
        for (ImagePlan& image : plan.images) {
          for (const ImagePlan& other : oci->images) {
            if (other.id != image.id || !image.manifest_digest.empty()) continue;
            image.manifest_digest = other.manifest_digest;
            image.manifest_json = other.manifest_json;
          }
        }
      }
    }
  } else if (index.Contains("index.json")) {
    KELP_ASSIGN_OR_RETURN(plan, PlanOciLayout(index, options));
  } else {
    return InvalidArgumentError(
        "neither a docker-archive (no manifest.json) nor an OCI image layout (no index.json)");
  }
  MergeDuplicates(plan);
  return plan;
}

Status StreamMembers(const ArchiveInput& input, const ArchiveIndex& index,
                     const std::set<std::string>& wanted, const ConsumeMember& consume) {
  std::set<std::string> pending;
  for (const std::string& member : wanted) {
    Result<std::string_view> data = index.Data(member);
    if (data.ok()) {
      MemorySource source(*data);
      KELP_RETURN_IF_ERROR(consume(member, source));
    } else {
      pending.insert(member);
    }
  }
  if (pending.empty()) return Status::Ok();
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<ArchiveReader> reader, input.Open());
  while (!pending.empty()) {
    KELP_ASSIGN_OR_RETURN(archive_entry * entry, reader->Next());
    if (entry == nullptr) break;
    if (archive_entry_filetype(entry) != AE_IFREG || archive_entry_hardlink(entry) != nullptr) {
      continue;
    }
    Result<std::string> name = CleanEntryPath(EntryPathname(entry));
    if (!name.ok() || !pending.contains(*name)) continue;
    pending.erase(*name);
    EntrySource source(*reader);
    KELP_RETURN_IF_ERROR(consume(*name, source));
  }
  if (!pending.empty()) {
    return NotFoundError(fmt::format("{}: member {} vanished between the two passes",
                                     input.Describe(), *pending.begin()));
  }
  return Status::Ok();
}

}  // namespace kelp::images
