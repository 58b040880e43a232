// Decodes kubectl's protobuf request bodies (Content-Type application/vnd.kubernetes.protobuf)
// into the JSON object kelp stores: the envelope (magic "k8s\0" + runtime.Unknown) names the
// object's apiVersion and kind, whose schema (protobuf_schema.h) then turns the raw message
// into JSON equal to what the client would have sent as JSON. See README.md for the rules.
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

#include "api/protobuf_schema.h"
#include "common/status.h"

namespace kelp::api {

// The 4 bytes that start every Kubernetes protobuf body.
inline constexpr std::string_view kKubernetesProtobufMagic{"k8s\0", 4};
// Deepest message nesting accepted; the Kubernetes objects kelp knows stay far below.
inline constexpr int kMaxMessageDepth = 32;

// Decodes one message of `schema` from wire bytes. Unknown field numbers are skipped; a wire
// type that does not match the schema, malformed bytes or nesting deeper than
// kMaxMessageDepth give InvalidArgument naming the JSON path of the bad field.
Result<boost::json::object> DecodeMessage(std::string_view bytes, const MessageSchema& schema);

// Decodes a whole request body. The result starts with "apiVersion" and "kind".
// Errors: InvalidArgument for malformed bodies (wrong magic, bad envelope or object bytes);
// Unimplemented for a well-formed body kelp cannot decode (no schema for the apiVersion/kind,
// or a content encoding/type other than plain protobuf) so the server can answer 415.
Result<boost::json::object> DecodeKubernetesProtobuf(std::string_view body);

}  // namespace kelp::api
