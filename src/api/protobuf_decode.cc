// Schema-driven decoding of protobuf messages into Boost.JSON objects, plus the Kubernetes
// envelope (magic + runtime.Unknown). The walk is recursive over nested messages, bounded by
// kMaxMessageDepth; every byte is read through WireReader, which checks all lengths.
#include "api/protobuf_decode.h"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "api/protobuf_wire.h"

namespace kelp::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kProtobufContentType = "application/vnd.kubernetes.protobuf";

// One step of the JSON path to the field being decoded. Steps live on the stack so that
// errors can name the field without building strings while decoding succeeds.
struct PathStep {
  static constexpr size_t kNoIndex = SIZE_MAX;
  const PathStep* parent = nullptr;
  std::string_view name;
  size_t index = kNoIndex;  // the element's index when the step is into a list
};

std::string RenderPath(const PathStep* step) {
  std::vector<const PathStep*> steps;
  for (; step != nullptr; step = step->parent) steps.push_back(step);
  std::string path;
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    if (!path.empty()) path += '.';
    path += (*it)->name;
    if ((*it)->index != PathStep::kNoIndex) path += "[" + std::to_string((*it)->index) + "]";
  }
  return path;
}

Status FieldError(const PathStep* at, std::string_view problem) {
  std::string path = RenderPath(at);
  if (path.empty()) return InvalidArgumentError(std::string(problem));
  return InvalidArgumentError(path + ": " + std::string(problem));
}

Status ExpectWireType(const WireField& field, WireType expected, const PathStep* at) {
  if (field.type == expected) return Status::Ok();
  return FieldError(at, "wire type " + std::string(WireTypeName(field.type)) + ", expected " +
                            std::string(WireTypeName(expected)));
}

// Go's JSON encoder needs valid UTF-8; so does the JSON kelp stores.
bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<uint8_t>(text[i]);
    size_t length = 0;
    uint32_t code_point = 0;
    uint32_t min_code_point = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xe0) == 0xc0) {
      length = 2, code_point = lead & 0x1f, min_code_point = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3, code_point = lead & 0x0f, min_code_point = 0x800;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4, code_point = lead & 0x07, min_code_point = 0x10000;
    } else {
      return false;
    }
    if (text.size() - i < length) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<uint8_t>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3f);
    }
    const bool surrogate = code_point >= 0xd800 && code_point <= 0xdfff;
    if (code_point < min_code_point || code_point > 0x10ffff || surrogate) return false;
    i += length;
  }
  return true;
}

Result<std::string_view> ReadText(const WireField& field, const PathStep* at) {
  KELP_RETURN_IF_ERROR(ExpectWireType(field, WireType::kLengthDelimited, at));
  if (!IsValidUtf8(field.payload)) return FieldError(at, "string is not valid UTF-8");
  return field.payload;
}

// Go encodes []byte as standard base64 with padding.
std::string Base64Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t chunk = static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 16 |
                           static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8 |
                           static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[chunk >> 18];
    out += kAlphabet[(chunk >> 12) & 63];
    out += kAlphabet[(chunk >> 6) & 63];
    out += kAlphabet[chunk & 63];
  }
  const size_t left = bytes.size() - i;
  if (left > 0) {
    uint32_t chunk = static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 16;
    if (left == 2) chunk |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8;
    out += kAlphabet[chunk >> 18];
    out += kAlphabet[(chunk >> 12) & 63];
    out += left == 2 ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// metav1.Time {1 seconds, 2 nanos}. Like Kubernetes, an empty message is the zero time (JSON
// null) and nanos are dropped: the JSON form has whole seconds only.
Result<json::value> DecodeTime(std::string_view bytes, const PathStep* at) {
  if (bytes.empty()) return json::value(nullptr);
  int64_t seconds = 0;
  WireReader reader(bytes);
  while (!reader.AtEnd()) {
    Result<WireField> field = reader.Next();
    if (!field.ok()) return FieldError(at, field.status().message());
    if (field->number == 1 || field->number == 2) {
      KELP_RETURN_IF_ERROR(ExpectWireType(*field, WireType::kVarint, at));
    }
    if (field->number == 1) seconds = static_cast<int64_t>(field->scalar);
  }
  constexpr int64_t kSecondsPerDay = 86400;
  constexpr int64_t kFirstSecondOfYear1 = -62135596800;  // 0001-01-01T00:00:00Z
  constexpr int64_t kLastSecondOfYear9999 = 253402300799;  // 9999-12-31T23:59:59Z
  if (seconds < kFirstSecondOfYear1 || seconds > kLastSecondOfYear9999) {
    return FieldError(at, "time " + std::to_string(seconds) + "s is outside years 1-9999");
  }
  int64_t days = seconds / kSecondsPerDay;
  int64_t second_of_day = seconds % kSecondsPerDay;
  if (second_of_day < 0) second_of_day += kSecondsPerDay, --days;
  const std::chrono::year_month_day date{
      std::chrono::sys_days{std::chrono::days{static_cast<int>(days)}}};
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02dZ",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<int>(second_of_day / 3600),
                static_cast<int>(second_of_day / 60 % 60), static_cast<int>(second_of_day % 60));
  return json::value(text);
}

// resource.Quantity {1 string}; a message without the string is the zero quantity, "0".
Result<json::value> DecodeQuantity(std::string_view bytes, const PathStep* at) {
  json::value quantity("0");
  WireReader reader(bytes);
  while (!reader.AtEnd()) {
    Result<WireField> field = reader.Next();
    if (!field.ok()) return FieldError(at, field.status().message());
    if (field->number != 1) continue;
    KELP_ASSIGN_OR_RETURN(std::string_view text, ReadText(*field, at));
    quantity = json::string(text);
  }
  return quantity;
}

// intstr.IntOrString {1 type (0 int, 1 string), 2 intVal, 3 strVal} → number or string.
Result<json::value> DecodeIntOrString(std::string_view bytes, const PathStep* at) {
  uint64_t type = 0;
  int32_t int_value = 0;
  std::string_view string_value;
  WireReader reader(bytes);
  while (!reader.AtEnd()) {
    Result<WireField> field = reader.Next();
    if (!field.ok()) return FieldError(at, field.status().message());
    switch (field->number) {
      case 1:
        KELP_RETURN_IF_ERROR(ExpectWireType(*field, WireType::kVarint, at));
        type = field->scalar;
        break;
      case 2:
        KELP_RETURN_IF_ERROR(ExpectWireType(*field, WireType::kVarint, at));
        int_value = static_cast<int32_t>(field->scalar);
        break;
      case 3: {
        KELP_ASSIGN_OR_RETURN(string_value, ReadText(*field, at));
        break;
      }
      default:
        break;
    }
  }
  if (type == 0) return json::value(int_value);
  if (type == 1) return json::value(json::string(string_value));
  return FieldError(at, "IntOrString type " + std::to_string(type) + " is neither 0 nor 1");
}

// A map entry {1 key, 2 value}; a missing value is the value type's zero.
Result<std::pair<json::string, json::value>> DecodeMapEntry(std::string_view bytes,
                                                             FieldKind kind,
                                                             const PathStep* at) {
  std::pair<json::string, json::value> entry{"", kind == FieldKind::kQuantityMap ? "0" : ""};
  WireReader reader(bytes);
  while (!reader.AtEnd()) {
    Result<WireField> field = reader.Next();
    if (!field.ok()) return FieldError(at, field.status().message());
    if (field->number == 1) {
      KELP_ASSIGN_OR_RETURN(std::string_view key, ReadText(*field, at));
      entry.first = key;
    } else if (field->number == 2) {
      switch (kind) {
        case FieldKind::kBytesMap: {
          KELP_RETURN_IF_ERROR(ExpectWireType(*field, WireType::kLengthDelimited, at));
          entry.second = json::string(Base64Encode(field->payload));
          break;
        }
        case FieldKind::kQuantityMap: {
          KELP_RETURN_IF_ERROR(ExpectWireType(*field, WireType::kLengthDelimited, at));
          KELP_ASSIGN_OR_RETURN(entry.second, DecodeQuantity(field->payload, at));
          break;
        }
        default: {
          KELP_ASSIGN_OR_RETURN(std::string_view value, ReadText(*field, at));
          entry.second = json::string(value);
          break;
        }
      }
    }
  }
  return entry;
}

// Sets a scalar, or drops it when its zero means "unset". Removing rather than skipping keeps
// protobuf's last-one-wins rule when a field appears twice.
void SetScalar(json::object& out, std::string_view name, json::value value, bool is_zero,
               Presence presence) {
  if (is_zero && presence == Presence::kOmitZero) {
    out.erase(name);
  } else {
    out[name] = std::move(value);
  }
}

json::array& ArrayAt(json::object& out, std::string_view name) {
  json::value& slot = out[name];
  if (!slot.is_array()) slot.emplace_array();
  return slot.as_array();
}

json::object& ObjectAt(json::object& out, std::string_view name) {
  json::value& slot = out[name];
  if (!slot.is_object()) slot.emplace_object();
  return slot.as_object();
}

Status DecodeInto(std::string_view bytes, const MessageSchema& schema, const PathStep* at,
                  int depth, json::object& out);

Status DecodeField(const WireField& field, const FieldSpec& spec, const PathStep* parent,
                   int depth, json::object& out) {
  const PathStep step{parent, spec.json_name};
  switch (spec.kind) {
    case FieldKind::kString: {
      KELP_ASSIGN_OR_RETURN(std::string_view text, ReadText(field, &step));
      SetScalar(out, spec.json_name, json::string(text), text.empty(), spec.presence);
      return Status::Ok();
    }
    case FieldKind::kBool:
      KELP_RETURN_IF_ERROR(ExpectWireType(field, WireType::kVarint, &step));
      SetScalar(out, spec.json_name, field.scalar != 0, field.scalar == 0, spec.presence);
      return Status::Ok();
    case FieldKind::kInt32: {
      KELP_RETURN_IF_ERROR(ExpectWireType(field, WireType::kVarint, &step));
      const auto value = static_cast<int32_t>(field.scalar);
      SetScalar(out, spec.json_name, value, value == 0, spec.presence);
      return Status::Ok();
    }
    case FieldKind::kInt64: {
      KELP_RETURN_IF_ERROR(ExpectWireType(field, WireType::kVarint, &step));
      const auto value = static_cast<int64_t>(field.scalar);
      SetScalar(out, spec.json_name, value, value == 0, spec.presence);
      return Status::Ok();
    }
    case FieldKind::kMessage:
      KELP_RETURN_IF_ERROR(ExpectWireType(field, WireType::kLengthDelimited, &step));
      return DecodeInto(field.payload, *spec.message, &step, depth + 1,
                        ObjectAt(out, spec.json_name));
    case FieldKind::kInlineMessage:
      // The embedded struct's fields land in the parent object, as Go's `json:",inline"`.
      KELP_RETURN_IF_ERROR(ExpectWireType(field, WireType::kLengthDelimited, &step));
      return DecodeInto(field.payload, *spec.message, parent, depth + 1, out);
    case FieldKind::kStringList: {
      KELP_ASSIGN_OR_RETURN(std::string_view text, ReadText(field, &step));
      ArrayAt(out, spec.json_name).emplace_back(json::string(text));
      return Status::Ok();
    }
    case FieldKind::kMessageList: {
      KELP_RETURN_IF_ERROR(ExpectWireType(field, WireType::kLengthDelimited, &step));
      json::array& list = ArrayAt(out, spec.json_name);
      const PathStep element_step{parent, spec.json_name, list.size()};
      json::object element;
      KELP_RETURN_IF_ERROR(
          DecodeInto(field.payload, *spec.message, &element_step, depth + 1, element));
      list.emplace_back(std::move(element));
      return Status::Ok();
    }
    case FieldKind::kStringMap:
    case FieldKind::kBytesMap:
    case FieldKind::kQuantityMap: {
      KELP_RETURN_IF_ERROR(ExpectWireType(field, WireType::kLengthDelimited, &step));
      KELP_ASSIGN_OR_RETURN(auto entry, DecodeMapEntry(field.payload, spec.kind, &step));
      ObjectAt(out, spec.json_name)[entry.first] = std::move(entry.second);
      return Status::Ok();
    }
    case FieldKind::kTime: {
      KELP_RETURN_IF_ERROR(ExpectWireType(field, WireType::kLengthDelimited, &step));
      KELP_ASSIGN_OR_RETURN(out[spec.json_name], DecodeTime(field.payload, &step));
      return Status::Ok();
    }
    case FieldKind::kQuantity: {
      KELP_RETURN_IF_ERROR(ExpectWireType(field, WireType::kLengthDelimited, &step));
      KELP_ASSIGN_OR_RETURN(out[spec.json_name], DecodeQuantity(field.payload, &step));
      return Status::Ok();
    }
    case FieldKind::kIntOrString: {
      KELP_RETURN_IF_ERROR(ExpectWireType(field, WireType::kLengthDelimited, &step));
      KELP_ASSIGN_OR_RETURN(out[spec.json_name], DecodeIntOrString(field.payload, &step));
      return Status::Ok();
    }
  }
  return InternalError("schema field " + std::string(spec.json_name) + " has an invalid kind");
}

Status DecodeInto(std::string_view bytes, const MessageSchema& schema, const PathStep* at,
                  int depth, json::object& out) {
  if (depth > kMaxMessageDepth) {
    return FieldError(at, "messages nested deeper than " + std::to_string(kMaxMessageDepth));
  }
  WireReader reader(bytes);
  while (!reader.AtEnd()) {
    Result<WireField> field = reader.Next();
    if (!field.ok()) return FieldError(at, field.status().message());
    const FieldSpec* spec = schema.FindField(field->number);
    if (spec == nullptr) continue;  // unknown to kelp: skipped, as protobuf does
    KELP_RETURN_IF_ERROR(DecodeField(*field, *spec, at, depth, out));
  }
  return Status::Ok();
}

// runtime.Unknown: {1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType}.
struct Envelope {
  std::string_view api_version;
  std::string_view kind;
  std::string_view raw;
  std::string_view content_encoding;
  std::string_view content_type;
};

Status ParseTypeMeta(std::string_view bytes, Envelope& envelope) {
  const PathStep type_meta{nullptr, "typeMeta"};
  WireReader reader(bytes);
  while (!reader.AtEnd()) {
    Result<WireField> field = reader.Next();
    if (!field.ok()) return FieldError(&type_meta, field.status().message());
    if (field->number == 1) {
      const PathStep step{&type_meta, "apiVersion"};
      KELP_ASSIGN_OR_RETURN(envelope.api_version, ReadText(*field, &step));
    } else if (field->number == 2) {
      const PathStep step{&type_meta, "kind"};
      KELP_ASSIGN_OR_RETURN(envelope.kind, ReadText(*field, &step));
    }
  }
  return Status::Ok();
}

Result<Envelope> ParseEnvelope(std::string_view bytes) {
  Envelope envelope;
  WireReader reader(bytes);
  while (!reader.AtEnd()) {
    KELP_ASSIGN_OR_RETURN(const WireField field, reader.Next());
    switch (field.number) {
      case 1: {
        const PathStep step{nullptr, "typeMeta"};
        KELP_RETURN_IF_ERROR(ExpectWireType(field, WireType::kLengthDelimited, &step));
        KELP_RETURN_IF_ERROR(ParseTypeMeta(field.payload, envelope));
        break;
      }
      case 2: {
        const PathStep step{nullptr, "raw"};
        KELP_RETURN_IF_ERROR(ExpectWireType(field, WireType::kLengthDelimited, &step));
        envelope.raw = field.payload;
        break;
      }
      case 3: {
        const PathStep step{nullptr, "contentEncoding"};
        KELP_ASSIGN_OR_RETURN(envelope.content_encoding, ReadText(field, &step));
        break;
      }
      case 4: {
        const PathStep step{nullptr, "contentType"};
        KELP_ASSIGN_OR_RETURN(envelope.content_type, ReadText(field, &step));
        break;
      }
      default:
        break;
    }
  }
  return envelope;
}

}  // namespace

Result<boost::json::object> DecodeMessage(std::string_view bytes, const MessageSchema& schema) {
  json::object object;
  Status status = DecodeInto(bytes, schema, nullptr, 1, object);
  if (!status.ok()) return status.WithContext(schema.name);
  return object;
}

Result<boost::json::object> DecodeKubernetesProtobuf(std::string_view body) {
  if (!body.starts_with(kKubernetesProtobufMagic)) {
    return InvalidArgumentError("not a Kubernetes protobuf body: it must start with k8s\\0");
  }
  body.remove_prefix(kKubernetesProtobufMagic.size());
  Result<Envelope> envelope = ParseEnvelope(body);
  if (!envelope.ok()) return envelope.status().WithContext("protobuf envelope");
  if (envelope->api_version.empty() || envelope->kind.empty()) {
    return InvalidArgumentError("protobuf envelope: apiVersion and kind are required");
  }
  if (!envelope->content_encoding.empty()) {
    return UnimplementedError("protobuf content encoding \"" +
                              std::string(envelope->content_encoding) + "\" is not supported");
  }
  if (!envelope->content_type.empty() && envelope->content_type != kProtobufContentType) {
    return UnimplementedError("protobuf envelope content type \"" +
                              std::string(envelope->content_type) + "\" is not supported");
  }
  const MessageSchema* schema = FindObjectSchema(envelope->api_version, envelope->kind);
  if (schema == nullptr) {
    return UnimplementedError("no protobuf schema for " + std::string(envelope->api_version) +
                              " " + std::string(envelope->kind));
  }
  json::object object;
  object["apiVersion"] = envelope->api_version;
  object["kind"] = envelope->kind;
  Status status = DecodeInto(envelope->raw, *schema, nullptr, 1, object);
  if (!status.ok()) return status.WithContext(envelope->kind);
  return object;
}

}  // namespace kelp::api
