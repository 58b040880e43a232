// ParseReference: splitting into domain, path, tag and digest, the Docker Hub defaults, and
// the grammar checks of each part.
#include "agent/images/reference.h"

#include <fmt/format.h>

#include <cctype>

#include "agent/images/digest.h"

namespace kelp::images {
namespace {

constexpr size_t kMaxNameLength = 255;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | [-]+
bool IsValidPathComponent(std::string_view part) {
  if (part.empty() || !IsLowerAlnum(part.front()) || !IsLowerAlnum(part.back())) return false;
  size_t i = 0;
  while (i < part.size()) {
    if (IsLowerAlnum(part[i])) {
      ++i;
      continue;
    }
    // A separator run, followed by alphanumerics (the back is alphanumeric, checked above).
    size_t start = i;
    while (i < part.size() && !IsLowerAlnum(part[i])) ++i;
    std::string_view separator = part.substr(start, i - start);
    const bool dashes = separator.find_first_not_of('-') == std::string_view::npos;
    if (!(separator == "." || separator == "_" || separator == "__" || dashes)) return false;
  }
  return true;
}

bool IsValidPort(std::string_view port) {
  return !port.empty() && port.size() <= 5 &&
         port.find_first_not_of("0123456789") == std::string_view::npos;
}

// host := DNS-like labels of letters, digits and inner dashes, joined by '.'.
bool IsValidHost(std::string_view host) {
  if (host.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = host.find('.', start);
    std::string_view label = host.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || !IsAlnum(label.front()) || !IsAlnum(label.back())) return false;
    for (char c : label) {
      if (!IsAlnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// domain := host [":" port] | "[" IPv6 "]" [":" port]
bool IsValidDomain(std::string_view domain) {
  if (domain.starts_with('[')) {
    const size_t close = domain.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : domain.substr(1, close - 1)) {
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':')) return false;
    }
    std::string_view rest = domain.substr(close + 1);
    return rest.empty() || (rest.front() == ':' && IsValidPort(rest.substr(1)));
  }
  const size_t colon = domain.find(':');
  if (colon == std::string_view::npos) return IsValidHost(domain);
  return IsValidHost(domain.substr(0, colon)) && IsValidPort(domain.substr(colon + 1));
}

Result<Reference> Parse(std::string_view text, bool default_tag) {
  const std::string original(text);
  if (text.empty()) return InvalidArgumentError("invalid reference format: empty reference");
  Reference ref;
  if (size_t at = text.find('@'); at != std::string_view::npos) {
    Result<std::string> hex =
        ParseSha256Digest(text.substr(at + 1), "reference \"" + original + "\"");
    if (!hex.ok()) return hex.status();
    ref.digest = std::string(kSha256Prefix) + *hex;
    text = text.substr(0, at);
  }
  // A tag follows the last ':' that comes after the last '/' (a ':' before it is a port).
  const size_t last_slash = text.rfind('/');
  const size_t last_colon = text.rfind(':');
  if (last_colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || last_colon > last_slash)) {
    ref.tag = std::string(text.substr(last_colon + 1));
    text = text.substr(0, last_colon);
    if (!IsValidTag(ref.tag)) {
      return InvalidArgumentError(
          fmt::format("invalid reference format: invalid tag \"{}\" in \"{}\"", ref.tag, original));
    }
  }
  if (text.empty()) {
    return InvalidArgumentError(
        fmt::format("invalid reference format: \"{}\" has no name", original));
  }
  if (text.size() > kMaxNameLength) {
    return InvalidArgumentError(fmt::format(
        "invalid reference format: repository name longer than {} characters", kMaxNameLength));
  }
  // Docker's rule: the first component is a domain if it has a '.' or a ':' or is "localhost"
  // (and is not lowercase-only as path components are... which "localhost" is, hence the case).
  std::string_view remainder = text;
  const size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    std::string_view first = text.substr(0, slash);
    if (first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
        first.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos) {
      if (!IsValidDomain(first)) {
        return InvalidArgumentError(fmt::format(
            "invalid reference format: invalid domain \"{}\" in \"{}\"", first, original));
      }
      ref.domain = std::string(first);
      remainder = text.substr(slash + 1);
    }
  }
  if (ref.domain.empty() || ref.domain == "index.docker.io") ref.domain = kDefaultDomain;
  if (remainder.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos) {
    return InvalidArgumentError(fmt::format(
        "invalid reference format: repository name \"{}\" must be lowercase", remainder));
  }
  size_t start = 0;
  while (true) {
    size_t next = remainder.find('/', start);
    std::string_view component =
        remainder.substr(start, next == std::string_view::npos ? next : next - start);
    if (!IsValidPathComponent(component)) {
      return InvalidArgumentError(
          fmt::format("invalid reference format: invalid repository name \"{}\"", remainder));
    }
    if (next == std::string_view::npos) break;
    start = next + 1;
  }
  if (ref.domain == kDefaultDomain && remainder.find('/') == std::string_view::npos) {
    if (IsSha256Hex(remainder)) {
      return InvalidArgumentError(fmt::format(
          "invalid repository name \"{}\": a 64-character hex name reads as an image ID",
          remainder));
    }
    ref.path = "library/" + std::string(remainder);
  } else {
    ref.path = std::string(remainder);
  }
  if (default_tag && ref.tag.empty() && ref.digest.empty()) ref.tag = kDefaultTag;
  return ref;
}

}  // namespace

bool IsValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  if (!(IsAlnum(tag.front()) || tag.front() == '_')) return false;
  for (char c : tag) {
    if (!(IsAlnum(c) || c == '_' || c == '.' || c == '-')) return false;
  }
  return true;
}

std::string Reference::String() const {
  std::string out = Name();
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

std::string Reference::FamiliarName() const {
  if (domain != kDefaultDomain) return Name();
  constexpr std::string_view kLibrary = "library/";
  if (path.starts_with(kLibrary) && path.find('/', kLibrary.size()) == std::string::npos) {
    return path.substr(kLibrary.size());
  }
  return path;
}

std::string Reference::FamiliarString() const {
  std::string out = FamiliarName();
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

Result<Reference> ParseReference(std::string_view text) { return Parse(text, true); }

Result<Reference> ParseRepository(std::string_view text) { return Parse(text, false); }

}  // namespace kelp::images
