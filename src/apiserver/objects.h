// How API objects meet the store: stored values are JSON without metadata.resourceVersion
// (the store revision is the resourceVersion and is set on every read), and responses always
// carry apiVersion and kind. Also the server-generated metadata values: v4 UUIDs, RFC 3339
// timestamps, generateName suffixes, and the opaque continue token of paged lists.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "apiserver/resources.h"
#include "common/status.h"
#include "storage/store.h"

namespace kelp::apiserver {

// The stored value of `kv` as the API returns it: converted to the version of `resource`
// (api/conversion.h), metadata.resourceVersion = kv.mod_revision. `storage` is where its memory
// comes from (a LIST decodes thousands of objects into one request arena).
Result<boost::json::object> DecodeStoredObject(const storage::KeyValue& kv,
                                               const ResourceInfo& resource,
                                               boost::json::storage_ptr storage = {});
// The value to store: `object` in its kind's storage version, without
// metadata.resourceVersion.
std::string EncodeForStore(boost::json::object object);

// metadata of `object`, created when absent or not an object.
boost::json::object& Metadata(boost::json::object& object);
// metadata.<field> as a string, "" when absent or not a string.
std::string MetadataString(const boost::json::object& object, std::string_view field);

// A random (version 4) UUID: "0b7a5e1c-...".
std::string NewUid();
// Five characters from Kubernetes' generateName alphabet ("bcdfghjklmnpqrstvwxz2456789").
std::string RandomNameSuffix();
// "2024-01-01T00:00:00Z" (seconds precision, UTC), as metav1.Time serializes.
std::string Rfc3339(std::chrono::system_clock::time_point time);

// A list position: the revision of the first page and the last key returned.
struct ContinueToken {
  int64_t revision = 0;
  std::string last_key;
};
std::string EncodeContinueToken(const ContinueToken& token);
// InvalidArgument for anything EncodeContinueToken did not produce.
Result<ContinueToken> DecodeContinueToken(std::string_view text);

}  // namespace kelp::apiserver
