// The archive JSON parsers over common/json.h. Field names follow the Docker and OCI image
// specs (Config/RepoTags/Layers in manifest.json; mediaType/digest/size/annotations/platform
// in descriptors; config.Entrypoint/Cmd/Env/WorkingDir/User and rootfs.diff_ids in configs).
#include "agent/images/manifest.h"

#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "agent/images/digest.h"
#include "common/json.h"

namespace kelp::images {
namespace {

namespace json = boost::json;

Status InDocument(const Status& status, std::string_view document) {
  return status.WithContext(document);
}

// An optional array of strings ("Cmd": null and a missing field are both empty).
Result<std::vector<std::string>> StringArray(const json::object& object, std::string_view field,
                                             std::string_view path) {
  std::vector<std::string> out;
  const json::value* value = object.if_contains(field);
  if (value == nullptr || value->is_null()) return out;
  const json::array* array = value->if_array();
  if (array == nullptr) {
    return InvalidArgumentError(fmt::format("{}: expected array of strings", path));
  }
  out.reserve(array->size());
  for (size_t i = 0; i < array->size(); ++i) {
    const json::string* item = (*array)[i].if_string();
    if (item == nullptr) {
      return InvalidArgumentError(fmt::format("{}.{}: expected string", path, i));
    }
    out.emplace_back(*item);
  }
  return out;
}

Result<std::string> OptionalString(const json::object& object, std::string_view field,
                                   std::string_view path) {
  const json::value* value = object.if_contains(field);
  if (value == nullptr || value->is_null()) return std::string();
  const json::string* text = value->if_string();
  if (text == nullptr) return InvalidArgumentError(fmt::format("{}: expected string", path));
  return std::string(*text);
}

Result<Descriptor> ParseDescriptor(const json::value& value, const std::string& path) {
  const json::object* object = value.if_object();
  if (object == nullptr) return InvalidArgumentError(path + ": expected object");
  Descriptor out;
  KELP_ASSIGN_OR_RETURN(out.media_type, OptionalString(*object, "mediaType", path + ".mediaType"));
  KELP_ASSIGN_OR_RETURN(std::string digest, OptionalString(*object, "digest", path + ".digest"));
  if (digest.empty()) return InvalidArgumentError(path + ".digest: required field is missing");
  KELP_ASSIGN_OR_RETURN(std::string hex, ParseSha256Digest(digest, path + ".digest"));
  out.digest = std::string(kSha256Prefix) + hex;
  Result<std::optional<int64_t>> size_field = FindInt64(*object, "size");
  if (!size_field.ok()) return size_field.status().WithContext(path);
  const std::optional<int64_t>& size = *size_field;
  if (size.has_value()) {
    if (*size < 0) return InvalidArgumentError(path + ".size: must not be negative");
    out.size = *size;
  }
  Result<const json::object*> annotations_field = FindObject(*object, "annotations");
  if (!annotations_field.ok()) return annotations_field.status().WithContext(path);
  const json::object* annotations = *annotations_field;
  if (annotations != nullptr) {
    for (const auto& [key, item] : *annotations) {
      const json::string* text = item.if_string();
      if (text == nullptr) {
        return InvalidArgumentError(
            fmt::format("{}.annotations[{}]: expected string", path, std::string_view(key)));
      }
      out.annotations.emplace(std::string(key), std::string(*text));
    }
  }
  Result<const json::object*> platform_field = FindObject(*object, "platform");
  if (!platform_field.ok()) return platform_field.status().WithContext(path);
  const json::object* platform = *platform_field;
  if (platform != nullptr) {
    Platform p;
    KELP_ASSIGN_OR_RETURN(p.os, OptionalString(*platform, "os", path + ".platform.os"));
    KELP_ASSIGN_OR_RETURN(
        p.architecture, OptionalString(*platform, "architecture", path + ".platform.architecture"));
    KELP_ASSIGN_OR_RETURN(p.variant,
                          OptionalString(*platform, "variant", path + ".platform.variant"));
    out.platform = std::move(p);
  }
  return out;
}

Result<std::vector<DockerManifestEntry>> ParseDockerManifestImpl(std::string_view text) {
  KELP_ASSIGN_OR_RETURN(json::value document, ParseJson(text));
  const json::array* entries = document.if_array();
  if (entries == nullptr) return InvalidArgumentError("expected an array of images");
  if (entries->empty()) return InvalidArgumentError("lists no images");
  std::vector<DockerManifestEntry> out;
  for (size_t i = 0; i < entries->size(); ++i) {
    const std::string path = fmt::format("[{}]", i);
    const json::object* entry = (*entries)[i].if_object();
    if (entry == nullptr) return InvalidArgumentError(path + ": expected object");
    DockerManifestEntry image;
    Result<std::string> config = GetString(*entry, "Config");
    if (!config.ok()) return config.status().WithContext(path);
    image.config = std::move(*config);
    KELP_ASSIGN_OR_RETURN(image.repo_tags, StringArray(*entry, "RepoTags", path + ".RepoTags"));
    KELP_ASSIGN_OR_RETURN(image.layers, StringArray(*entry, "Layers", path + ".Layers"));
    out.push_back(std::move(image));
  }
  return out;
}

Result<OciIndex> ParseOciIndexImpl(std::string_view text) {
  KELP_ASSIGN_OR_RETURN(json::object document, ParseJsonObject(text));
  KELP_ASSIGN_OR_RETURN(std::optional<int64_t> version, FindInt64(document, "schemaVersion"));
  if (version.has_value() && *version != 2) {
    return InvalidArgumentError(
        fmt::format("schemaVersion {} is not supported (want 2)", *version));
  }
  KELP_ASSIGN_OR_RETURN(const json::array* manifests, GetArray(document, "manifests"));
  OciIndex out;
  for (size_t i = 0; i < manifests->size(); ++i) {
    KELP_ASSIGN_OR_RETURN(Descriptor descriptor,
                          ParseDescriptor((*manifests)[i], fmt::format("manifests.{}", i)));
    out.manifests.push_back(std::move(descriptor));
  }
  return out;
}

Result<OciManifest> ParseOciManifestImpl(std::string_view text) {
  KELP_ASSIGN_OR_RETURN(json::object document, ParseJsonObject(text));
  KELP_ASSIGN_OR_RETURN(std::optional<int64_t> version, FindInt64(document, "schemaVersion"));
  if (version.has_value() && *version != 2) {
    return InvalidArgumentError(
        fmt::format("schemaVersion {} is not supported (want 2)", *version));
  }
  const json::value* config = document.if_contains("config");
  if (config == nullptr) return InvalidArgumentError("config: required field is missing");
  OciManifest out;
  KELP_ASSIGN_OR_RETURN(out.config, ParseDescriptor(*config, "config"));
  KELP_ASSIGN_OR_RETURN(const json::array* layers, GetArray(document, "layers"));
  for (size_t i = 0; i < layers->size(); ++i) {
    KELP_ASSIGN_OR_RETURN(Descriptor layer,
                          ParseDescriptor((*layers)[i], fmt::format("layers.{}", i)));
    out.layers.push_back(std::move(layer));
  }
  return out;
}

Result<ImageConfigFile> ParseImageConfigImpl(std::string_view text) {
  KELP_ASSIGN_OR_RETURN(json::object document, ParseJsonObject(text));
  ImageConfigFile out;
  KELP_ASSIGN_OR_RETURN(out.os, OptionalString(document, "os", "os"));
  KELP_ASSIGN_OR_RETURN(out.architecture, OptionalString(document, "architecture", "architecture"));
  KELP_ASSIGN_OR_RETURN(out.created, OptionalString(document, "created", "created"));
  KELP_ASSIGN_OR_RETURN(const json::object* config, FindObject(document, "config"));
  if (config != nullptr) {
    agent::ImageConfig& c = out.config;
    KELP_ASSIGN_OR_RETURN(c.entrypoint, StringArray(*config, "Entrypoint", "config.Entrypoint"));
    KELP_ASSIGN_OR_RETURN(c.cmd, StringArray(*config, "Cmd", "config.Cmd"));
    KELP_ASSIGN_OR_RETURN(c.env, StringArray(*config, "Env", "config.Env"));
    KELP_ASSIGN_OR_RETURN(c.working_dir,
                          OptionalString(*config, "WorkingDir", "config.WorkingDir"));
    KELP_ASSIGN_OR_RETURN(c.user, OptionalString(*config, "User", "config.User"));
  }
  KELP_ASSIGN_OR_RETURN(const json::object* rootfs, GetObject(document, "rootfs"));
  KELP_ASSIGN_OR_RETURN(std::string type, GetString(*rootfs, "type"));
  if (type != "layers") {
    return InvalidArgumentError(fmt::format("rootfs.type: \"{}\" is not \"layers\"", type));
  }
  KELP_ASSIGN_OR_RETURN(std::vector<std::string> diff_ids,
                        StringArray(*rootfs, "diff_ids", "rootfs.diff_ids"));
  for (size_t i = 0; i < diff_ids.size(); ++i) {
    KELP_ASSIGN_OR_RETURN(std::string hex,
                          ParseSha256Digest(diff_ids[i], fmt::format("rootfs.diff_ids.{}", i)));
    out.diff_ids.push_back(std::string(kSha256Prefix) + hex);
  }
  return out;
}

}  // namespace

Result<std::vector<DockerManifestEntry>> ParseDockerManifest(std::string_view json) {
  auto result = ParseDockerManifestImpl(json);
  if (!result.ok()) return InDocument(result.status(), "manifest.json");
  return result;
}

Status ValidateOciLayout(std::string_view text) {
  Result<json::object> document = ParseJsonObject(text);
  if (!document.ok()) return InDocument(document.status(), "oci-layout");
  Result<std::string> version = GetString(*document, "imageLayoutVersion");
  if (!version.ok()) return InDocument(version.status(), "oci-layout");
  if (!version->starts_with("1.")) {
    return InvalidArgumentError(
        fmt::format("oci-layout: imageLayoutVersion \"{}\" is not supported (want 1.x)", *version));
  }
  return Status::Ok();
}

Result<OciIndex> ParseOciIndex(std::string_view json) {
  auto result = ParseOciIndexImpl(json);
  if (!result.ok()) return InDocument(result.status(), "image index");
  return result;
}

Result<OciManifest> ParseOciManifest(std::string_view json) {
  auto result = ParseOciManifestImpl(json);
  if (!result.ok()) return InDocument(result.status(), "image manifest");
  return result;
}

std::string_view SniffManifestKind(std::string_view text) {
  Result<json::object> document = ParseJsonObject(text);
  if (!document.ok()) return "";
  if (const json::value* type = document->if_contains("mediaType"); type && type->is_string()) {
    std::string_view media_type = type->get_string();
    if (media_type == kOciIndexType || media_type == kDockerListType) return "index";
    if (media_type == kOciManifestType || media_type == kDockerManifestType) return "manifest";
  }
  if (document->contains("manifests")) return "index";
  if (document->contains("layers") && document->contains("config")) return "manifest";
  return "";
}

Result<ImageConfigFile> ParseImageConfig(std::string_view json) {
  auto result = ParseImageConfigImpl(json);
  if (!result.ok()) return InDocument(result.status(), "image config");
  return result;
}

}  // namespace kelp::images
