// Message framing and the OPEN, UPDATE, NOTIFICATION, KEEPALIVE and ROUTE-REFRESH bodies.
// Path attributes live in path_attributes.cc. Every length is checked before it is used.
#include "bgp/codec.h"

#include <algorithm>
#include <string>
#include <utility>

#include "bgp/path_attributes.h"
#include "bgp/wire.h"

namespace kelp::bgp {
namespace {

using Bytes = std::span<const uint8_t>;
using BodyResult = std::variant<Message, DecodeError>;

constexpr size_t kMarkerSize = 16;
constexpr size_t kMinOpenSize = 29;
constexpr size_t kMinUpdateSize = 23;
constexpr size_t kMinNotificationSize = 21;
constexpr size_t kRouteRefreshSize = 23;
constexpr uint8_t kCapabilitiesParameter = 2;  // RFC 5492 optional parameter type
constexpr uint8_t kGracefulRestartFlagR = 0x8;
constexpr uint8_t kGracefulRestartFlagN = 0x4;
constexpr uint8_t kForwardingStateFlag = 0x80;

DecodeError Error(ErrorCode code, uint8_t subcode, std::vector<uint8_t> data, std::string reason) {
  return DecodeError{Notification{static_cast<uint8_t>(code), subcode, std::move(data)},
                     std::move(reason)};
}

DecodeError HeaderFailure(HeaderError subcode, std::vector<uint8_t> data, std::string reason) {
  return Error(ErrorCode::kMessageHeader, static_cast<uint8_t>(subcode), std::move(data),
               std::move(reason));
}

DecodeError OpenFailure(OpenError subcode, std::vector<uint8_t> data, std::string reason) {
  return Error(ErrorCode::kOpenMessage, static_cast<uint8_t>(subcode), std::move(data),
               std::move(reason));
}

DecodeError UpdateFailure(UpdateError subcode, std::string reason) {
  return Error(ErrorCode::kUpdateMessage, static_cast<uint8_t>(subcode), {}, std::move(reason));
}

// ---- OPEN -------------------------------------------------------------------------------

// Decodes one capability into `capabilities`; a malformed known one is Unspecific (2/0),
// as RFC 4271 §6.2 says for a recognized but malformed optional parameter.
std::optional<DecodeError> DecodeCapability(uint8_t code, Bytes value,
                                            Capabilities& capabilities) {
  WireReader reader(value);
  auto malformed = [code](std::string what) {
    return OpenFailure(OpenError::kUnspecific, {},
                       "capability " + std::to_string(code) + ": " + std::move(what));
  };
  switch (static_cast<CapabilityCode>(code)) {
    case CapabilityCode::kMultiprotocol: {
      if (value.size() != 4) return malformed("length is not 4");
      uint16_t afi = *reader.U16();
      reader.U8();  // reserved
      capabilities.multiprotocol.push_back(AfiSafi{afi, *reader.U8()});
      return std::nullopt;
    }
    case CapabilityCode::kRouteRefresh:
      if (!value.empty()) return malformed("length is not 0");
      capabilities.route_refresh = true;
      return std::nullopt;
    case CapabilityCode::kFourOctetAs: {
      if (value.size() != 4) return malformed("length is not 4");
      uint32_t asn = *reader.U32();
      if (asn == 0) return OpenFailure(OpenError::kBadPeerAs, {}, "4-octet AS 0 (RFC 7607)");
      capabilities.four_octet_as = asn;
      return std::nullopt;
    }
    case CapabilityCode::kGracefulRestart: {
      if (value.size() < 2 || (value.size() - 2) % 4 != 0) {
        return malformed("length " + std::to_string(value.size()) + " is not 2 + 4n");
      }
      uint16_t flags_and_time = *reader.U16();
      uint8_t flags = static_cast<uint8_t>(flags_and_time >> 12);
      GracefulRestart restart{(flags & kGracefulRestartFlagR) != 0,
                              (flags & kGracefulRestartFlagN) != 0,
                              static_cast<uint16_t>(flags_and_time & 0x0fff),
                              {}};
      while (!reader.empty()) {
        uint16_t afi = *reader.U16();
        uint8_t safi = *reader.U8();
        uint8_t family_flags = *reader.U8();
        restart.families.push_back(
            GracefulRestart::Family{AfiSafi{afi, safi}, (family_flags & kForwardingStateFlag) != 0});
      }
      capabilities.graceful_restart = std::move(restart);
      return std::nullopt;
    }
  }
  capabilities.unknown.push_back(RawCapability{code, {value.begin(), value.end()}});
  return std::nullopt;
}

std::optional<DecodeError> DecodeCapabilities(Bytes parameter, Capabilities& capabilities) {
  WireReader reader(parameter);
  while (!reader.empty()) {
    std::optional<uint8_t> code = reader.U8();
    std::optional<uint8_t> length = reader.U8();
    std::optional<Bytes> value = length ? reader.Bytes(*length) : std::nullopt;
    if (!code || !value) {
      return OpenFailure(OpenError::kUnspecific, {}, "capability overruns its parameter");
    }
    if (auto error = DecodeCapability(*code, *value, capabilities)) return error;
  }
  return std::nullopt;
}

BodyResult DecodeOpenBody(Bytes body) {
  WireReader reader(body);
  Open open;
  open.version = *reader.U8();
  open.my_as = *reader.U16();
  open.hold_time = *reader.U16();
  open.bgp_identifier = *reader.U32();
  uint8_t parameters_length = *reader.U8();
  if (open.version != kBgpVersion) {
    // RFC 4271 §6.2: the data is the largest supported version below the one bid, as 2 octets.
    return OpenFailure(OpenError::kUnsupportedVersionNumber, {0, kBgpVersion},
                            "unsupported BGP version " + std::to_string(open.version));
  }
  if (open.my_as == 0) return OpenFailure(OpenError::kBadPeerAs, {}, "peer AS 0 (RFC 7607)");
  if (open.hold_time == 1 || open.hold_time == 2) {
    return OpenFailure(OpenError::kUnacceptableHoldTime, {},
                            "hold time " + std::to_string(open.hold_time) + " s");
  }
  if (open.bgp_identifier == 0) {
    return OpenFailure(OpenError::kBadBgpIdentifier, {}, "BGP identifier 0 (RFC 6286)");
  }
  if (reader.remaining() != parameters_length) {
    return OpenFailure(OpenError::kUnspecific, {},
                            "optional parameters length " + std::to_string(parameters_length) +
                                " disagrees with the message length");
  }
  while (!reader.empty()) {
    std::optional<uint8_t> type = reader.U8();
    std::optional<uint8_t> length = reader.U8();
    std::optional<Bytes> value = length ? reader.Bytes(*length) : std::nullopt;
    if (!type || !value) {
      return OpenFailure(OpenError::kUnspecific, {}, "optional parameter overruns");
    }
    if (*type != kCapabilitiesParameter) {
      return OpenFailure(OpenError::kUnsupportedOptionalParameter, {},
                              "optional parameter type " + std::to_string(*type));
    }
    if (auto failure = DecodeCapabilities(*value, open.capabilities)) return *failure;
  }
  return BodyResult(std::in_place_type<Message>, std::move(open));
}

void AppendCapability(uint8_t code, Bytes value, std::vector<std::vector<uint8_t>>& out) {
  std::vector<uint8_t> capability{code, static_cast<uint8_t>(value.size())};
  capability.insert(capability.end(), value.begin(), value.end());
  out.push_back(std::move(capability));
}

// Appends each capability TLV of `capabilities` to `encoded`.
Status EncodeCapabilities(const Capabilities& capabilities,
                          std::vector<std::vector<uint8_t>>& encoded) {
  for (const AfiSafi& family : capabilities.multiprotocol) {
    WireWriter value;
    value.U16(family.afi);
    value.U8(0);
    value.U8(family.safi);
    AppendCapability(static_cast<uint8_t>(CapabilityCode::kMultiprotocol), value.bytes(), encoded);
  }
  if (capabilities.route_refresh) {
    AppendCapability(static_cast<uint8_t>(CapabilityCode::kRouteRefresh), {}, encoded);
  }
  if (capabilities.graceful_restart) {
    const GracefulRestart& restart = *capabilities.graceful_restart;
    if (restart.restart_time > 0x0fff || restart.families.size() > 63) {
      return InvalidArgumentError("graceful restart time above 4095 s or too many families");
    }
    uint8_t flags = (restart.restart_state ? kGracefulRestartFlagR : 0) |
                    (restart.notification_support ? kGracefulRestartFlagN : 0);
    WireWriter value;
    value.U16(static_cast<uint16_t>((flags << 12) | restart.restart_time));
    for (const GracefulRestart::Family& family : restart.families) {
      value.U16(family.family.afi);
      value.U8(family.family.safi);
      value.U8(family.forwarding_state_preserved ? kForwardingStateFlag : 0);
    }
    AppendCapability(static_cast<uint8_t>(CapabilityCode::kGracefulRestart), value.bytes(),
                     encoded);
  }
  if (capabilities.four_octet_as) {
    WireWriter value;
    value.U32(*capabilities.four_octet_as);
    AppendCapability(static_cast<uint8_t>(CapabilityCode::kFourOctetAs), value.bytes(), encoded);
  }
  for (const RawCapability& raw : capabilities.unknown) {
    switch (static_cast<CapabilityCode>(raw.code)) {
      case CapabilityCode::kMultiprotocol:
      case CapabilityCode::kRouteRefresh:
      case CapabilityCode::kGracefulRestart:
      case CapabilityCode::kFourOctetAs:
        return InvalidArgumentError("raw capability " + std::to_string(raw.code) +
                                    " collides with an encoded one");
    }
    if (raw.value.size() > 255) return InvalidArgumentError("capability longer than 255 bytes");
    AppendCapability(raw.code, raw.value, encoded);
  }
  return Status::Ok();
}

Status EncodeOpenBody(const Open& open, WireWriter& out) {
  out.U8(open.version);
  out.U16(open.my_as);
  out.U16(open.hold_time);
  out.U32(open.bgp_identifier);
  std::vector<std::vector<uint8_t>> capabilities;
  KELP_RETURN_IF_ERROR(EncodeCapabilities(open.capabilities, capabilities));
  // Capabilities share Capabilities parameters, a new one starting when the current is full.
  std::vector<std::vector<uint8_t>> parameters;
  for (const std::vector<uint8_t>& capability : capabilities) {
    if (parameters.empty() || parameters.back().size() + capability.size() > 255) {
      parameters.emplace_back();
    }
    parameters.back().insert(parameters.back().end(), capability.begin(), capability.end());
  }
  size_t parameters_length = 0;
  for (const std::vector<uint8_t>& parameter : parameters) parameters_length += 2 + parameter.size();
  if (parameters_length > 255) return InvalidArgumentError("OPEN optional parameters exceed 255 bytes");
  out.U8(static_cast<uint8_t>(parameters_length));
  for (const std::vector<uint8_t>& parameter : parameters) {
    out.U8(kCapabilitiesParameter);
    out.U8(static_cast<uint8_t>(parameter.size()));
    out.Bytes(parameter);
  }
  return Status::Ok();
}

// ---- UPDATE -----------------------------------------------------------------------------

BodyResult DecodeUpdateBody(Bytes body, const CodecOptions& options) {
  WireReader reader(body);
  uint16_t withdrawn_length = *reader.U16();
  std::optional<Bytes> withdrawn_field = reader.Bytes(withdrawn_length);
  std::optional<uint16_t> attributes_length = reader.U16();
  std::optional<Bytes> attributes_field =
      attributes_length ? reader.Bytes(*attributes_length) : std::nullopt;
  if (!withdrawn_field || !attributes_field) {
    // RFC 4271 §6.3: Withdrawn Routes Length + Total Attribute Length too large.
    return UpdateFailure(UpdateError::kMalformedAttributeList,
                              "withdrawn routes or attribute length exceeds the message");
  }
  Update update;
  std::optional<std::vector<Ipv4Prefix>> withdrawn = DecodeIpv4Prefixes(*withdrawn_field);
  if (!withdrawn) {
    return UpdateFailure(UpdateError::kInvalidNetworkField, "malformed withdrawn route");
  }
  update.withdrawn = std::move(*withdrawn);
  if (auto failure = DecodePathAttributes(*attributes_field, options, update)) {
    return std::move(*failure);
  }
  std::optional<std::vector<Ipv4Prefix>> nlri = DecodeIpv4Prefixes(reader.Rest());
  if (!nlri) return UpdateFailure(UpdateError::kInvalidNetworkField, "malformed NLRI");
  update.nlri = std::move(*nlri);
  if (auto failure = CheckMandatoryAttributes(options, update)) return std::move(*failure);
  return BodyResult(std::in_place_type<Message>, std::move(update));
}

Status EncodeUpdateBody(const Update& update, const CodecOptions& options, WireWriter& out) {
  size_t withdrawn_length_at = out.size();
  out.U16(0);
  EncodeIpv4Prefixes(update.withdrawn, out);
  size_t withdrawn_length = out.size() - withdrawn_length_at - 2;
  size_t attributes_length_at = out.size();
  out.U16(0);
  KELP_RETURN_IF_ERROR(EncodePathAttributes(update.attributes, options, out));
  size_t attributes_length = out.size() - attributes_length_at - 2;
  if (withdrawn_length > 0xffff || attributes_length > 0xffff) {
    return InvalidArgumentError("UPDATE field longer than 65535 bytes");
  }
  out.PatchU16(withdrawn_length_at, static_cast<uint16_t>(withdrawn_length));
  out.PatchU16(attributes_length_at, static_cast<uint16_t>(attributes_length));
  EncodeIpv4Prefixes(update.nlri, out);
  return Status::Ok();
}

// ---- framing ----------------------------------------------------------------------------

// The header-level length rule of each type: {minimum, exact?}.
std::optional<DecodeError> CheckLengthForType(MessageType type, uint16_t length) {
  bool ok = true;
  switch (type) {
    case MessageType::kOpen: ok = length >= kMinOpenSize; break;
    case MessageType::kUpdate: ok = length >= kMinUpdateSize; break;
    case MessageType::kNotification: ok = length >= kMinNotificationSize; break;
    case MessageType::kKeepalive: ok = length == kHeaderSize; break;
    case MessageType::kRouteRefresh: return std::nullopt;  // RFC 7313 has its own error
  }
  if (ok) return std::nullopt;
  return HeaderFailure(HeaderError::kBadMessageLength,
                       {static_cast<uint8_t>(length >> 8), static_cast<uint8_t>(length)},
                       "length " + std::to_string(length) + " invalid for message type " +
                           std::to_string(static_cast<int>(type)));
}

BodyResult DecodeBody(MessageType type, Bytes message, const CodecOptions& options) {
  Bytes body = message.subspan(kHeaderSize);
  WireReader reader(body);
  switch (type) {
    case MessageType::kOpen:
      return DecodeOpenBody(body);
    case MessageType::kUpdate:
      return DecodeUpdateBody(body, options);
    case MessageType::kNotification: {
      Notification notification;
      notification.code = *reader.U8();
      notification.subcode = *reader.U8();
      Bytes data = reader.Rest();
      notification.data.assign(data.begin(), data.end());
      return BodyResult(std::in_place_type<Message>, std::move(notification));
    }
    case MessageType::kKeepalive:
      return BodyResult(std::in_place_type<Message>, Keepalive{});
    case MessageType::kRouteRefresh: {
      if (message.size() != kRouteRefreshSize) {
        // RFC 7313 §5: the data is the complete ROUTE-REFRESH message.
        return Error(ErrorCode::kRouteRefreshMessage,
                     static_cast<uint8_t>(RouteRefreshError::kInvalidMessageLength),
                     {message.begin(), message.end()}, "ROUTE-REFRESH length is not 23");
      }
      uint16_t afi = *reader.U16();
      uint8_t subtype = *reader.U8();
      uint8_t safi = *reader.U8();
      return BodyResult(std::in_place_type<Message>, RouteRefresh{AfiSafi{afi, safi}, subtype});
    }
  }
  return BodyResult(std::in_place_type<Message>, Keepalive{});  // unreachable: Decode checked the type
}

}  // namespace

DecodeResult Decode(std::span<const uint8_t> buffer, const CodecOptions& options) {
  if (buffer.size() < kHeaderSize) return NeedMoreBytes{kHeaderSize - buffer.size()};
  if (!std::all_of(buffer.begin(), buffer.begin() + kMarkerSize,
                   [](uint8_t byte) { return byte == 0xff; })) {
    return HeaderFailure(HeaderError::kConnectionNotSynchronized, {}, "marker is not all ones");
  }
  uint16_t length = static_cast<uint16_t>((buffer[16] << 8) | buffer[17]);
  uint8_t type_code = buffer[18];
  if (length < kHeaderSize || length > kMaxMessageSize) {
    return HeaderFailure(HeaderError::kBadMessageLength, {buffer[16], buffer[17]},
                         "message length " + std::to_string(length));
  }
  if (type_code < static_cast<uint8_t>(MessageType::kOpen) ||
      type_code > static_cast<uint8_t>(MessageType::kRouteRefresh)) {
    return HeaderFailure(HeaderError::kBadMessageType, {type_code},
                         "message type " + std::to_string(type_code));
  }
  MessageType type = static_cast<MessageType>(type_code);
  if (auto error = CheckLengthForType(type, length)) return *error;
  if (buffer.size() < length) return NeedMoreBytes{length - buffer.size()};

  BodyResult body = DecodeBody(type, buffer.first(length), options);
  if (auto* error = std::get_if<DecodeError>(&body)) return std::move(*error);
  // Built in place: moving a DecodedMessage temporary into the variant trips g++ 12's
  // -Wmaybe-uninitialized false positive.
  DecodeResult result(std::in_place_type<DecodedMessage>);
  DecodedMessage& decoded = std::get<DecodedMessage>(result);
  decoded.message = std::get<Message>(std::move(body));
  decoded.consumed = length;
  return result;
}

Result<std::vector<uint8_t>> Encode(const Message& message, const CodecOptions& options) {
  WireWriter out;
  for (size_t i = 0; i < kMarkerSize; ++i) out.U8(0xff);
  out.U16(0);  // length, patched below
  out.U8(static_cast<uint8_t>(TypeOf(message)));
  Status status;
  if (const auto* open = std::get_if<Open>(&message)) {
    status = EncodeOpenBody(*open, out);
  } else if (const auto* update = std::get_if<Update>(&message)) {
    status = EncodeUpdateBody(*update, options, out);
  } else if (const auto* notification = std::get_if<Notification>(&message)) {
    out.U8(notification->code);
    out.U8(notification->subcode);
    out.Bytes(notification->data);
  } else if (const auto* refresh = std::get_if<RouteRefresh>(&message)) {
    out.U16(refresh->family.afi);
    out.U8(refresh->subtype);
    out.U8(refresh->family.safi);
  }
  KELP_RETURN_IF_ERROR(status);
  if (out.size() > kMaxMessageSize) {
    return InvalidArgumentError("encoded message of " + std::to_string(out.size()) +
                                " bytes exceeds 4096");
  }
  out.PatchU16(kMarkerSize, static_cast<uint16_t>(out.size()));
  return std::move(out).bytes();
}

std::optional<DecodeError> CheckOpen(const Open& open, const OpenExpectations& expect) {
  uint32_t peer_as = open.SenderAs();
  if (expect.peer_as && *expect.peer_as != peer_as) {
    return OpenFailure(OpenError::kBadPeerAs, {},
                       "peer AS " + std::to_string(peer_as) + ", expected " +
                           std::to_string(*expect.peer_as));
  }
  if (peer_as == expect.local_as && open.bgp_identifier == expect.local_identifier) {
    return OpenFailure(OpenError::kBadBgpIdentifier, {},
                       "internal peer uses our BGP identifier " +
                           FormatIpv4(open.bgp_identifier));
  }
  // RFC 5492 §3: the data lists the capabilities we require and the peer did not advertise.
  Capabilities missing;
  if (expect.require_four_octet_as && !open.capabilities.four_octet_as) {
    missing.four_octet_as = expect.local_as;
  }
  for (const AfiSafi& family : expect.required_families) {
    const std::vector<AfiSafi>& offered = open.capabilities.multiprotocol;
    if (std::find(offered.begin(), offered.end(), family) == offered.end()) {
      missing.multiprotocol.push_back(family);
    }
  }
  if (missing == Capabilities{}) return std::nullopt;
  std::vector<std::vector<uint8_t>> capabilities;
  // Cannot fail: `missing` holds only a 4-octet AS and multiprotocol entries.
  Status encoded = EncodeCapabilities(missing, capabilities);
  std::vector<uint8_t> data;
  for (const std::vector<uint8_t>& capability : capabilities) {
    data.insert(data.end(), capability.begin(), capability.end());
  }
  return OpenFailure(OpenError::kUnsupportedCapability, std::move(data),
                     "peer lacks required capabilities");
}

}  // namespace kelp::bgp
