// Object codec and metadata generators. Randomness comes from OpenSSL's CSPRNG: UIDs and
// generated names must not collide across restarts or servers sharing a store.
#include "apiserver/objects.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <boost/json.hpp>
#include <cstdio>
#include <ctime>
#include <random>

#include "api/conversion.h"
#include "common/json.h"

namespace kelp::apiserver {
namespace {

namespace json = boost::json;

std::array<unsigned char, 16> RandomBytes() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // The CSPRNG failing is not a client's doing; fall back to the C++ one rather than fail.
    std::random_device device;
    for (unsigned char& byte : bytes) byte = static_cast<unsigned char>(device());
  }
  return bytes;
}

std::string Base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(written));
  return out;
}

Result<std::string> Unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return InvalidArgumentError("bad base64 length");
  std::string out(3 * text.size() / 4 + 1, '\0');
  int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (written < 0) return InvalidArgumentError("bad base64");
  out.resize(static_cast<size_t>(written));
  // EVP_DecodeBlock keeps the zero bytes that padding stands for; drop them.
  for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) out.pop_back();
  return out;
}

std::string MemberString(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value && value->is_string() ? std::string(value->as_string()) : "";
}

}  // namespace

Result<json::object> DecodeStoredObject(const storage::KeyValue& kv, const ResourceInfo& resource,
                                        json::storage_ptr storage) {
  KELP_ASSIGN_OR_RETURN(json::object object, ParseJsonObject(kv.value, std::move(storage)));
  object["kind"] = resource.kind;
  // Stored in the kind's storage version (its stored apiVersion says which); served as asked.
  object = api::ConvertToVersion(std::move(object), resource.ApiVersion());
  Metadata(object)["resourceVersion"] = std::to_string(kv.mod_revision);
  return object;
}

std::string EncodeForStore(json::object object) {
  Metadata(object).erase("resourceVersion");
  const std::string api_version = MemberString(object, "apiVersion");
  if (api_version.empty()) return SerializeJson(object);
  const size_t slash = api_version.find('/');
  const std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  object = api::ConvertToVersion(
      std::move(object), api::StorageApiVersion(group, MemberString(object, "kind"), api_version));
  return SerializeJson(object);
}

json::object& Metadata(json::object& object) {
  json::value& metadata = object["metadata"];
  if (!metadata.is_object()) metadata = json::object();
  return metadata.as_object();
}

std::string MetadataString(const json::object& object, std::string_view field) {
  const json::value* metadata = object.if_contains("metadata");
  if (!metadata || !metadata->is_object()) return "";
  const json::value* value = metadata->as_object().if_contains(field);
  return value && value->is_string() ? std::string(value->as_string()) : "";
}

std::string NewUid() {
  std::array<unsigned char, 16> bytes = RandomBytes();
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char text[37];
  std::snprintf(text, sizeof text,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", bytes[0],
                bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8],
                bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]);
  return text;
}

std::string RandomNameSuffix() {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::array<unsigned char, 16> bytes = RandomBytes();
  std::string suffix;
  for (int i = 0; i < 5; ++i) suffix.push_back(kAlphabet[bytes[i] % kAlphabet.size()]);
  return suffix;
}

std::string Rfc3339(std::chrono::system_clock::time_point time) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string EncodeContinueToken(const ContinueToken& token) {
  json::object body{{"v", "meta.k8s.io/v1"}, {"rv", token.revision}, {"start", token.last_key}};
  return Base64(json::serialize(body));
}

Result<ContinueToken> DecodeContinueToken(std::string_view text) {
  const Status invalid = InvalidArgumentError("continue key is not valid");
  Result<std::string> decoded = Unbase64(text);
  if (!decoded.ok()) return invalid;
  Result<json::object> body = ParseJsonObject(*decoded);
  if (!body.ok()) return invalid;
  Result<int64_t> revision = GetInt64(*body, "rv");
  Result<std::string> last_key = GetString(*body, "start");
  if (!revision.ok() || !last_key.ok() || *revision <= 0) return invalid;
  return ContinueToken{.revision = *revision, .last_key = *last_key};
}

}  // namespace kelp::apiserver
