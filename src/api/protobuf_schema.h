// Table-driven schema of the Kubernetes API messages kelp accepts as protobuf. Each message is
// a constant table of fields (number → JSON name, kind, presence rule); the decoder in
// protobuf_decode.h walks the wire bytes with these tables to rebuild the JSON object the
// client would have sent. Field numbers and names are those of the published Kubernetes API.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace kelp::api {

struct MessageSchema;

// How one field's wire value becomes JSON.
enum class FieldKind : uint8_t {
  kString,          // string → JSON string
  kBool,            // varint → true/false
  kInt32,           // varint → JSON number (truncated to 32 bits, as Go does)
  kInt64,           // varint → JSON number
  kMessage,         // nested message → JSON object under the field's name
  kInlineMessage,   // nested message whose fields merge into the parent (Go `json:",inline"`)
  kStringList,      // repeated string → JSON array of strings
  kMessageList,     // repeated message → JSON array of objects
  kStringMap,       // map<string, string> (repeated {1 key, 2 value}) → JSON object
  kBytesMap,        // map<string, bytes> → JSON object of base64 strings (Go's []byte)
  kQuantityMap,     // map<string, resource.Quantity> → JSON object of quantity strings
  kTime,            // metav1.Time {1 seconds, 2 nanos} → RFC 3339 string; empty → null
  kQuantity,        // resource.Quantity {1 string} → the string
  kIntOrString,     // intstr.IntOrString {1 type, 2 intVal, 3 strVal} → number or string
};

// Whether a zero scalar (0, "", false) on the wire means "unset". Go's generated marshalling
// writes every value-typed field, so a zero there is indistinguishable from "not given":
//  - kOmitZero: a Go value field tagged `omitempty`: a zero is dropped, as Go's JSON would.
//  - kKeepZero: a Go pointer field (`*int32 replicas`: on the wire only when set, so a zero was
//    chosen by the client) or a value field without `omitempty` (Go's JSON always writes it).
// Messages, lists and maps ignore this: a message on the wire is always emitted (Go writes
// value structs as `{}` and a pointer struct such as `emptyDir: {}` means something), and
// lists and maps are emitted when they have at least one element.
enum class Presence : uint8_t { kOmitZero, kKeepZero };

struct FieldSpec {
  uint32_t number = 0;
  std::string_view json_name;
  FieldKind kind = FieldKind::kString;
  Presence presence = Presence::kOmitZero;
  const MessageSchema* message = nullptr;  // for kMessage, kInlineMessage and kMessageList
};

struct MessageSchema {
  std::string_view name;  // the protobuf message name, for error messages
  std::span<const FieldSpec> fields;

  // The field with this number, or nullptr (unknown fields are skipped by the decoder).
  const FieldSpec* FindField(uint32_t number) const {
    for (const FieldSpec& field : fields) {
      if (field.number == number) return &field;
    }
    return nullptr;
  }
};

// A top-level API object the decoder knows: its apiVersion, kind and message schema.
struct ObjectSchema {
  std::string_view api_version;
  std::string_view kind;
  const MessageSchema* schema = nullptr;
};

// Every object type kelp decodes from protobuf.
std::span<const ObjectSchema> KnownObjectSchemas();
// The schema of (apiVersion, kind), or nullptr when kelp has none.
const MessageSchema* FindObjectSchema(std::string_view api_version, std::string_view kind);

// Builders that keep the tables short.
constexpr FieldSpec StringField(uint32_t number, std::string_view name,
                                Presence presence = Presence::kOmitZero) {
  return {number, name, FieldKind::kString, presence, nullptr};
}
constexpr FieldSpec BoolField(uint32_t number, std::string_view name,
                              Presence presence = Presence::kOmitZero) {
  return {number, name, FieldKind::kBool, presence, nullptr};
}
constexpr FieldSpec Int32Field(uint32_t number, std::string_view name,
                               Presence presence = Presence::kOmitZero) {
  return {number, name, FieldKind::kInt32, presence, nullptr};
}
constexpr FieldSpec Int64Field(uint32_t number, std::string_view name,
                               Presence presence = Presence::kOmitZero) {
  return {number, name, FieldKind::kInt64, presence, nullptr};
}
constexpr FieldSpec MessageField(uint32_t number, std::string_view name,
                                 const MessageSchema& message) {
  return {number, name, FieldKind::kMessage, Presence::kKeepZero, &message};
}
constexpr FieldSpec InlineField(uint32_t number, std::string_view name,
                                const MessageSchema& message) {
  return {number, name, FieldKind::kInlineMessage, Presence::kKeepZero, &message};
}
constexpr FieldSpec MessageListField(uint32_t number, std::string_view name,
                                     const MessageSchema& message) {
  return {number, name, FieldKind::kMessageList, Presence::kKeepZero, &message};
}
constexpr FieldSpec OtherField(uint32_t number, std::string_view name, FieldKind kind) {
  return {number, name, kind, Presence::kKeepZero, nullptr};
}

}  // namespace kelp::api
