// Image references as Docker and containerd normalize them: "nginx:1.22" is
// "docker.io/library/nginx:1.22", "busybox" is "docker.io/library/busybox:latest",
// "registry:5000/team/app@sha256:..." keeps its domain, port and digest. The grammar is the
// one of the distribution project's reference package (lowercase path components joined by
// '.', '_', '__' or dashes; tags of up to 128 word characters, '.' and '-').
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace kelp::images {

inline constexpr std::string_view kDefaultDomain = "docker.io";
inline constexpr std::string_view kDefaultTag = "latest";

struct Reference {
  std::string domain;  // "docker.io", "registry.example.com:5000", "localhost"
  std::string path;    // "library/nginx", "team/app"
  std::string tag;     // "" when the reference has only a digest
  std::string digest;  // "sha256:<hex>" or ""

  // "docker.io/library/nginx"
  std::string Name() const { return domain + "/" + path; }
  // The full normalized form: "docker.io/library/nginx:1.22",
  // "docker.io/library/nginx@sha256:...", or both tag and digest when both were given.
  std::string String() const;
  // The short form `docker images` shows: "nginx", "team/app" on Docker Hub; the full name
  // elsewhere.
  std::string FamiliarName() const;
  // FamiliarName() with ":tag" and/or "@digest".
  std::string FamiliarString() const;
};

// Parses and normalizes a reference. A reference without tag and digest gets the tag
// "latest". Errors (InvalidArgument) say what is wrong: "repository name must be lowercase",
// "invalid tag", ... A bare 64-hex string is refused as a name (it would read as an image ID).
Result<Reference> ParseReference(std::string_view text);

// Like ParseReference, but without adding the default tag ("nginx" stays tagless).
Result<Reference> ParseRepository(std::string_view text);

// True for a valid tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
bool IsValidTag(std::string_view tag);

}  // namespace kelp::images
