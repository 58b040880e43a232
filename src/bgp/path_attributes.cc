// Path attribute decoding/encoding with RFC 4271 / RFC 7606 error handling and the RFC 6793
// AS4_PATH / AS4_AGGREGATOR reconciliation for sessions without 4-octet AS.
#include "bgp/path_attributes.h"

#include <algorithm>
#include <bitset>
#include <string>
#include <utility>

namespace kelp::bgp {
namespace {

using Bytes = std::span<const uint8_t>;

// What RFC 7606 prescribes for a malformed attribute of a given type.
enum class RevisedAction { kTreatAsWithdraw, kAttributeDiscard, kSessionReset };

struct AttributeRule {
  uint8_t flags;  // the expected Optional and Transitive bits
  RevisedAction on_error;
  // RFC 6793 §6 discards a malformed AS4_PATH / AS4_AGGREGATOR whatever the error mode.
  bool discard_even_when_strict = false;
};

constexpr uint8_t kWellKnown = kFlagTransitive;
constexpr uint8_t kOptionalTransitive = kFlagOptional | kFlagTransitive;
constexpr uint8_t kOptionalNonTransitive = kFlagOptional;
constexpr uint8_t kReceivedFlagsMask = kFlagOptional | kFlagTransitive | kFlagPartial;

std::optional<AttributeRule> RuleFor(uint8_t type) {
  switch (static_cast<AttributeType>(type)) {
    case AttributeType::kOrigin:
    case AttributeType::kAsPath:
    case AttributeType::kNextHop:
    case AttributeType::kLocalPref:
      return AttributeRule{kWellKnown, RevisedAction::kTreatAsWithdraw};
    case AttributeType::kAtomicAggregate:
      return AttributeRule{kWellKnown, RevisedAction::kAttributeDiscard};
    case AttributeType::kAggregator:
      return AttributeRule{kOptionalTransitive, RevisedAction::kAttributeDiscard};
    case AttributeType::kCommunities:
      return AttributeRule{kOptionalTransitive, RevisedAction::kTreatAsWithdraw};
    case AttributeType::kMultiExitDisc:
    case AttributeType::kOriginatorId:
    case AttributeType::kClusterList:
      return AttributeRule{kOptionalNonTransitive, RevisedAction::kTreatAsWithdraw};
    case AttributeType::kMpReachNlri:
    case AttributeType::kMpUnreachNlri:
      return AttributeRule{kOptionalNonTransitive, RevisedAction::kSessionReset};
    case AttributeType::kAs4Path:
    case AttributeType::kAs4Aggregator:
      return AttributeRule{kOptionalTransitive, RevisedAction::kAttributeDiscard, true};
  }
  return std::nullopt;
}

// Whether RFC 4271 puts the erroneous attribute into the NOTIFICATION's data.
bool CarriesAttribute(UpdateError subcode) {
  return subcode != UpdateError::kMalformedAsPath &&
         subcode != UpdateError::kMalformedAttributeList &&
         subcode != UpdateError::kMissingWellKnownAttribute &&
         subcode != UpdateError::kInvalidNetworkField;
}

DecodeError UpdateNotification(UpdateError subcode, std::vector<uint8_t> data,
                               std::string reason) {
  return DecodeError{Notification{static_cast<uint8_t>(ErrorCode::kUpdateMessage),
                                  static_cast<uint8_t>(subcode), std::move(data)},
                     std::move(reason)};
}

struct AttributeProblem {
  UpdateError subcode;
  std::string reason;
};

uint32_t NetMask(uint8_t length) { return length == 0 ? 0 : 0xffffffffu << (32 - length); }

// RFC 4271 §6.3: a NEXT_HOP must be a valid host address; RFC 7606 §7.3 calls these martians.
bool IsValidNextHop(uint32_t address) {
  return address != 0 && (address >> 28) < 0xe;  // not 0.0.0.0, multicast or class E
}

// Parses AS_PATH / AS4_PATH segments with `asn_size` (2 or 4) octets per AS.
std::optional<AsPath> DecodeAsPath(Bytes value, size_t asn_size) {
  WireReader reader(value);
  AsPath path;
  while (!reader.empty()) {
    std::optional<uint8_t> type = reader.U8();
    std::optional<uint8_t> count = reader.U8();
    if (!type || !count || *count == 0) return std::nullopt;
    if (*type != static_cast<uint8_t>(AsSegmentType::kAsSet) &&
        *type != static_cast<uint8_t>(AsSegmentType::kAsSequence)) {
      return std::nullopt;
    }
    AsPathSegment segment{static_cast<AsSegmentType>(*type), {}};
    for (uint8_t i = 0; i < *count; ++i) {
      std::optional<uint32_t> asn;
      if (asn_size == 4) {
        asn = reader.U32();
      } else if (std::optional<uint16_t> short_asn = reader.U16()) {
        asn = *short_asn;
      }
      if (!asn) return std::nullopt;
      segment.asns.push_back(*asn);
    }
    path.segments.push_back(std::move(segment));
  }
  return path;
}

// The number of ASes RFC 6793 §4.2.3 counts when reconciling AS_PATH with AS4_PATH.
size_t MergeCount(const AsPath& path) {
  size_t count = 0;
  for (const AsPathSegment& segment : path.segments) {
    count += segment.type == AsSegmentType::kAsSet ? 1 : segment.asns.size();
  }
  return count;
}

class AttributeDecoder {
 public:
  AttributeDecoder(const CodecOptions& options, Update& update)
      : options_(options), update_(update), attributes_(update.attributes) {}

  std::optional<DecodeError> Decode(Bytes field) {
    WireReader reader(field);
    std::bitset<256> seen;
    while (!reader.empty()) {
      size_t start = field.size() - reader.remaining();
      std::optional<uint8_t> flags = reader.U8();
      std::optional<uint8_t> type = reader.U8();
      if (!flags || !type) {
        return UpdateNotification(UpdateError::kMalformedAttributeList, {},
                                  "truncated path attribute header");
      }
      std::optional<uint16_t> length;
      if (*flags & kFlagExtendedLength) {
        length = reader.U16();
      } else if (std::optional<uint8_t> short_length = reader.U8()) {
        length = *short_length;
      }
      std::optional<Bytes> value = length ? reader.Bytes(*length) : std::nullopt;
      if (!value) {
        return UpdateNotification(UpdateError::kMalformedAttributeList, {},
                                  "path attribute " + std::to_string(*type) +
                                      " overruns the attribute field");
      }
      Bytes attribute = field.subspan(start, field.size() - reader.remaining() - start);
      if (auto error = DecodeOne(*flags, *type, *value, attribute, seen)) return error;
    }
    ReconcileAs4();
    // The encoder writes attributes in ascending type order; keep the same canonical order.
    std::stable_sort(attributes_.unknown.begin(), attributes_.unknown.end(),
                     [](const RawAttribute& a, const RawAttribute& b) { return a.type < b.type; });
    return std::nullopt;
  }

 private:
  std::optional<DecodeError> DecodeOne(uint8_t flags, uint8_t type, Bytes value,
                                       Bytes attribute, std::bitset<256>& seen) {
    std::optional<AttributeRule> rule = RuleFor(type);
    if (seen.test(type)) {
      // RFC 7606 §3(g): keep the first of a repeated attribute, except the MP ones.
      if (!options_.revised_error_handling || (rule && rule->on_error == RevisedAction::kSessionReset)) {
        return UpdateNotification(UpdateError::kMalformedAttributeList, {},
                                  "path attribute " + std::to_string(type) + " repeated");
      }
      update_.attribute_errors.push_back("repeated path attribute " + std::to_string(type) +
                                         " discarded");
      return std::nullopt;
    }
    seen.set(type);
    if (!rule) {
      if (!(flags & kFlagOptional)) {
        return UpdateNotification(UpdateError::kUnrecognizedWellKnownAttribute,
                                  {attribute.begin(), attribute.end()},
                                  "unrecognized well-known attribute " + std::to_string(type));
      }
      attributes_.unknown.push_back(RawAttribute{static_cast<uint8_t>(flags & kReceivedFlagsMask),
                                                 type, {value.begin(), value.end()}});
      return std::nullopt;
    }
    std::optional<AttributeProblem> problem;
    if ((flags & (kFlagOptional | kFlagTransitive)) != rule->flags) {
      problem = AttributeProblem{UpdateError::kAttributeFlagsError,
                                 "flags " + std::to_string(flags) + " conflict with type"};
    } else {
      problem = DecodeKnown(static_cast<AttributeType>(type), value);
    }
    if (!problem) return std::nullopt;

    std::string reason = "path attribute " + std::to_string(type) + ": " + problem->reason;
    bool reset = rule->on_error == RevisedAction::kSessionReset ||
                 (!options_.revised_error_handling && !rule->discard_even_when_strict);
    if (reset) {
      std::vector<uint8_t> data;
      if (CarriesAttribute(problem->subcode)) data.assign(attribute.begin(), attribute.end());
      return UpdateNotification(problem->subcode, std::move(data), std::move(reason));
    }
    if (rule->on_error == RevisedAction::kTreatAsWithdraw) {
      update_.treat_as_withdraw = true;
      update_.attribute_errors.push_back(reason + " (treat-as-withdraw)");
    } else {
      update_.attribute_errors.push_back(reason + " (attribute discarded)");
    }
    return std::nullopt;
  }

  static AttributeProblem LengthError(Bytes value) {
    return {UpdateError::kAttributeLengthError,
            "unexpected length " + std::to_string(value.size())};
  }

  std::optional<AttributeProblem> DecodeKnown(AttributeType type, Bytes value) {
    WireReader reader(value);
    switch (type) {
      case AttributeType::kOrigin:
        if (value.size() != 1) return LengthError(value);
        if (value[0] > static_cast<uint8_t>(Origin::kIncomplete)) {
          return AttributeProblem{UpdateError::kInvalidOriginAttribute,
                                  "undefined ORIGIN " + std::to_string(value[0])};
        }
        attributes_.origin = static_cast<Origin>(value[0]);
        return std::nullopt;
      case AttributeType::kAsPath:
        attributes_.as_path = DecodeAsPath(value, options_.four_octet_as ? 4 : 2);
        if (!attributes_.as_path) {
          return AttributeProblem{UpdateError::kMalformedAsPath, "malformed AS_PATH"};
        }
        return std::nullopt;
      case AttributeType::kNextHop: {
        if (value.size() != 4) return LengthError(value);
        uint32_t next_hop = *reader.U32();
        if (!IsValidNextHop(next_hop)) {
          return AttributeProblem{UpdateError::kInvalidNextHopAttribute,
                                  "NEXT_HOP " + FormatIpv4(next_hop) + " is not a host address"};
        }
        attributes_.next_hop = next_hop;
        return std::nullopt;
      }
      case AttributeType::kMultiExitDisc:
        if (value.size() != 4) return LengthError(value);
        attributes_.multi_exit_disc = *reader.U32();
        return std::nullopt;
      case AttributeType::kLocalPref:
        if (value.size() != 4) return LengthError(value);
        attributes_.local_pref = *reader.U32();
        return std::nullopt;
      case AttributeType::kAtomicAggregate:
        if (!value.empty()) return LengthError(value);
        attributes_.atomic_aggregate = true;
        return std::nullopt;
      case AttributeType::kAggregator: {
        if (value.size() != (options_.four_octet_as ? 8u : 6u)) return LengthError(value);
        uint32_t asn = options_.four_octet_as ? *reader.U32() : *reader.U16();
        attributes_.aggregator = Aggregator{asn, *reader.U32()};
        return std::nullopt;
      }
      case AttributeType::kCommunities:
        return DecodeU32List(value, attributes_.communities);
      case AttributeType::kOriginatorId:
        if (value.size() != 4) return LengthError(value);
        attributes_.originator_id = *reader.U32();
        return std::nullopt;
      case AttributeType::kClusterList:
        return DecodeU32List(value, attributes_.cluster_list);
      case AttributeType::kMpReachNlri:
        return DecodeMpReach(value);
      case AttributeType::kMpUnreachNlri:
        return DecodeMpUnreach(value);
      case AttributeType::kAs4Path:
        return DecodeAs4Path(value);
      case AttributeType::kAs4Aggregator:
        if (value.size() != 8) return LengthError(value);
        if (!options_.four_octet_as) {
          uint32_t asn = *reader.U32();
          as4_aggregator_ = Aggregator{asn, *reader.U32()};
        }
        return std::nullopt;
    }
    return std::nullopt;
  }

  static std::optional<AttributeProblem> DecodeU32List(Bytes value, std::vector<uint32_t>& out) {
    if (value.empty() || value.size() % 4 != 0) {
      return AttributeProblem{UpdateError::kOptionalAttributeError,
                              "length " + std::to_string(value.size()) +
                                  " is not a non-zero multiple of 4"};
    }
    WireReader reader(value);
    std::vector<uint32_t> list;
    while (std::optional<uint32_t> item = reader.U32()) list.push_back(*item);
    out = std::move(list);
    return std::nullopt;
  }

  std::optional<AttributeProblem> DecodeMpReach(Bytes value) {
    WireReader reader(value);
    std::optional<uint16_t> afi = reader.U16();
    std::optional<uint8_t> safi = reader.U8();
    std::optional<uint8_t> next_hop_length = reader.U8();
    std::optional<Bytes> next_hop = next_hop_length ? reader.Bytes(*next_hop_length) : std::nullopt;
    std::optional<uint8_t> reserved = reader.U8();
    if (!afi || !safi || !next_hop || !reserved) {
      return AttributeProblem{UpdateError::kOptionalAttributeError, "truncated MP_REACH_NLRI"};
    }
    MpReach reach{AfiSafi{*afi, *safi}, {next_hop->begin(), next_hop->end()}, {}, {}};
    if (reach.family == kIpv4Unicast) {
      if (next_hop->size() != 4) {
        return AttributeProblem{UpdateError::kOptionalAttributeError,
                                "IPv4 unicast next hop of length " +
                                    std::to_string(next_hop->size())};
      }
      std::optional<std::vector<Ipv4Prefix>> prefixes = DecodeIpv4Prefixes(reader.Rest());
      if (!prefixes) {
        return AttributeProblem{UpdateError::kOptionalAttributeError,
                                "malformed IPv4 prefix in MP_REACH_NLRI"};
      }
      reach.prefixes = std::move(*prefixes);
    } else {
      Bytes rest = reader.Rest();
      reach.raw_nlri.assign(rest.begin(), rest.end());
    }
    attributes_.mp_reach = std::move(reach);
    return std::nullopt;
  }

  std::optional<AttributeProblem> DecodeMpUnreach(Bytes value) {
    WireReader reader(value);
    std::optional<uint16_t> afi = reader.U16();
    std::optional<uint8_t> safi = reader.U8();
    if (!afi || !safi) {
      return AttributeProblem{UpdateError::kOptionalAttributeError, "truncated MP_UNREACH_NLRI"};
    }
    MpUnreach unreach{AfiSafi{*afi, *safi}, {}, {}};
    if (unreach.family == kIpv4Unicast) {
      std::optional<std::vector<Ipv4Prefix>> prefixes = DecodeIpv4Prefixes(reader.Rest());
      if (!prefixes) {
        return AttributeProblem{UpdateError::kOptionalAttributeError,
                                "malformed IPv4 prefix in MP_UNREACH_NLRI"};
      }
      unreach.prefixes = std::move(*prefixes);
    } else {
      Bytes rest = reader.Rest();
      unreach.raw_withdrawn.assign(rest.begin(), rest.end());
    }
    attributes_.mp_unreach = std::move(unreach);
    return std::nullopt;
  }

  std::optional<AttributeProblem> DecodeAs4Path(Bytes value) {
    std::optional<AsPath> path = DecodeAsPath(value, 4);
    if (!path) return AttributeProblem{UpdateError::kMalformedAsPath, "malformed AS4_PATH"};
    // RFC 6793 §4.1: between two 4-octet AS speakers AS4_PATH has no meaning.
    if (!options_.four_octet_as) as4_path_ = std::move(path);
    return std::nullopt;
  }

  // RFC 6793 §4.2.3: rebuild the real AS path and aggregator from the AS4_* attributes.
  void ReconcileAs4() {
    if (as4_aggregator_ && attributes_.aggregator) {
      if (attributes_.aggregator->asn != kAsTrans) {
        update_.attribute_errors.push_back(
            "AGGREGATOR is not AS_TRANS: AS4_AGGREGATOR and AS4_PATH ignored");
        return;
      }
      attributes_.aggregator = *as4_aggregator_;
    }
    if (!as4_path_ || !attributes_.as_path) return;
    size_t as_path_count = MergeCount(*attributes_.as_path);
    size_t as4_path_count = MergeCount(*as4_path_);
    if (as_path_count < as4_path_count) {
      update_.attribute_errors.push_back("AS4_PATH longer than AS_PATH ignored");
      return;
    }
    size_t leading = as_path_count - as4_path_count;
    AsPath merged;
    for (const AsPathSegment& segment : attributes_.as_path->segments) {
      if (leading == 0) break;
      if (segment.type == AsSegmentType::kAsSet) {
        merged.segments.push_back(segment);
        --leading;
        continue;
      }
      size_t take = std::min(leading, segment.asns.size());
      merged.segments.push_back(AsPathSegment{
          segment.type, {segment.asns.begin(), segment.asns.begin() + static_cast<long>(take)}});
      leading -= take;
    }
    for (AsPathSegment& segment : as4_path_->segments) merged.segments.push_back(segment);
    attributes_.as_path = std::move(merged);
  }

  const CodecOptions& options_;
  Update& update_;
  PathAttributes& attributes_;
  std::optional<AsPath> as4_path_;
  std::optional<Aggregator> as4_aggregator_;
};

// ---- encoding ---------------------------------------------------------------------------

struct EncodedAttribute {
  uint8_t flags;
  uint8_t type;
  std::vector<uint8_t> value;
};

Status EncodeAsPath(const AsPath& path, bool four_octet, WireWriter& out) {
  for (const AsPathSegment& segment : path.segments) {
    if (segment.asns.empty() || segment.asns.size() > 255) {
      return InvalidArgumentError("AS_PATH segment of " + std::to_string(segment.asns.size()) +
                                  " ASes; a segment holds 1..255");
    }
    out.U8(static_cast<uint8_t>(segment.type));
    out.U8(static_cast<uint8_t>(segment.asns.size()));
    for (uint32_t asn : segment.asns) {
      if (four_octet) {
        out.U32(asn);
      } else {
        out.U16(TwoOctetAsField(asn));
      }
    }
  }
  return Status::Ok();
}

bool HasFourOctetAs(const AsPath& path) {
  for (const AsPathSegment& segment : path.segments) {
    for (uint32_t asn : segment.asns) {
      if (asn > 0xffff) return true;
    }
  }
  return false;
}

std::vector<uint8_t> U32Value(uint32_t value) {
  WireWriter writer;
  writer.U32(value);
  return std::move(writer).bytes();
}

std::vector<uint8_t> U32ListValue(const std::vector<uint32_t>& values) {
  WireWriter writer;
  for (uint32_t value : values) writer.U32(value);
  return std::move(writer).bytes();
}

std::vector<uint8_t> AggregatorValue(const Aggregator& aggregator, bool four_octet) {
  WireWriter writer;
  if (four_octet) {
    writer.U32(aggregator.asn);
  } else {
    writer.U16(TwoOctetAsField(aggregator.asn));
  }
  writer.U32(aggregator.address);
  return std::move(writer).bytes();
}

Status EncodeMpReach(const MpReach& reach, WireWriter& out) {
  if (reach.next_hop.size() > 255) return InvalidArgumentError("MP_REACH_NLRI next hop too long");
  out.U16(reach.family.afi);
  out.U8(reach.family.safi);
  out.U8(static_cast<uint8_t>(reach.next_hop.size()));
  out.Bytes(reach.next_hop);
  out.U8(0);  // reserved
  if (reach.family == kIpv4Unicast) {
    if (!reach.raw_nlri.empty()) {
      return InvalidArgumentError("IPv4 unicast MP_REACH_NLRI must use prefixes, not raw NLRI");
    }
    EncodeIpv4Prefixes(reach.prefixes, out);
  } else {
    if (!reach.prefixes.empty()) {
      return InvalidArgumentError("IPv4 prefixes in MP_REACH_NLRI of another family");
    }
    out.Bytes(reach.raw_nlri);
  }
  return Status::Ok();
}

Status EncodeMpUnreach(const MpUnreach& unreach, WireWriter& out) {
  out.U16(unreach.family.afi);
  out.U8(unreach.family.safi);
  if (unreach.family == kIpv4Unicast) {
    if (!unreach.raw_withdrawn.empty()) {
      return InvalidArgumentError("IPv4 unicast MP_UNREACH_NLRI must use prefixes");
    }
    EncodeIpv4Prefixes(unreach.prefixes, out);
  } else {
    if (!unreach.prefixes.empty()) {
      return InvalidArgumentError("IPv4 prefixes in MP_UNREACH_NLRI of another family");
    }
    out.Bytes(unreach.raw_withdrawn);
  }
  return Status::Ok();
}

Result<std::vector<EncodedAttribute>> EncodeEach(const PathAttributes& attributes,
                                                 const CodecOptions& options) {
  std::vector<EncodedAttribute> encoded;
  auto add = [&encoded](uint8_t flags, AttributeType type, std::vector<uint8_t> value) {
    encoded.push_back(EncodedAttribute{flags, static_cast<uint8_t>(type), std::move(value)});
  };
  if (attributes.origin) {
    add(kWellKnown, AttributeType::kOrigin, {static_cast<uint8_t>(*attributes.origin)});
  }
  if (attributes.as_path) {
    WireWriter path;
    KELP_RETURN_IF_ERROR(EncodeAsPath(*attributes.as_path, options.four_octet_as, path));
    add(kWellKnown, AttributeType::kAsPath, std::move(path).bytes());
    if (!options.four_octet_as && HasFourOctetAs(*attributes.as_path)) {
      WireWriter as4_path;
      KELP_RETURN_IF_ERROR(EncodeAsPath(*attributes.as_path, true, as4_path));
      add(kOptionalTransitive, AttributeType::kAs4Path, std::move(as4_path).bytes());
    }
  }
  if (attributes.next_hop) add(kWellKnown, AttributeType::kNextHop, U32Value(*attributes.next_hop));
  if (attributes.multi_exit_disc) {
    add(kOptionalNonTransitive, AttributeType::kMultiExitDisc,
        U32Value(*attributes.multi_exit_disc));
  }
  if (attributes.local_pref) {
    add(kWellKnown, AttributeType::kLocalPref, U32Value(*attributes.local_pref));
  }
  if (attributes.atomic_aggregate) add(kWellKnown, AttributeType::kAtomicAggregate, {});
  if (attributes.aggregator) {
    add(kOptionalTransitive, AttributeType::kAggregator,
        AggregatorValue(*attributes.aggregator, options.four_octet_as));
    if (!options.four_octet_as && attributes.aggregator->asn > 0xffff) {
      add(kOptionalTransitive, AttributeType::kAs4Aggregator,
          AggregatorValue(*attributes.aggregator, true));
    }
  }
  if (!attributes.communities.empty()) {
    add(kOptionalTransitive, AttributeType::kCommunities, U32ListValue(attributes.communities));
  }
  if (attributes.originator_id) {
    add(kOptionalNonTransitive, AttributeType::kOriginatorId,
        U32Value(*attributes.originator_id));
  }
  if (!attributes.cluster_list.empty()) {
    add(kOptionalNonTransitive, AttributeType::kClusterList,
        U32ListValue(attributes.cluster_list));
  }
  if (attributes.mp_reach) {
    WireWriter reach;
    KELP_RETURN_IF_ERROR(EncodeMpReach(*attributes.mp_reach, reach));
    add(kOptionalNonTransitive, AttributeType::kMpReachNlri, std::move(reach).bytes());
  }
  if (attributes.mp_unreach) {
    WireWriter unreach;
    KELP_RETURN_IF_ERROR(EncodeMpUnreach(*attributes.mp_unreach, unreach));
    add(kOptionalNonTransitive, AttributeType::kMpUnreachNlri, std::move(unreach).bytes());
  }
  std::bitset<256> used;
  for (const EncodedAttribute& attribute : encoded) used.set(attribute.type);
  for (const RawAttribute& raw : attributes.unknown) {
    if (RuleFor(raw.type) || used.test(raw.type)) {
      return InvalidArgumentError("raw path attribute " + std::to_string(raw.type) +
                                  " collides with an encoded one");
    }
    used.set(raw.type);
    encoded.push_back(
        EncodedAttribute{static_cast<uint8_t>(raw.flags & kReceivedFlagsMask), raw.type, raw.value});
  }
  return encoded;
}

}  // namespace

std::optional<std::vector<Ipv4Prefix>> DecodeIpv4Prefixes(std::span<const uint8_t> field) {
  WireReader reader(field);
  std::vector<Ipv4Prefix> prefixes;
  while (!reader.empty()) {
    uint8_t length = *reader.U8();
    if (length > 32) return std::nullopt;
    std::optional<Bytes> bytes = reader.Bytes((length + 7u) / 8u);
    if (!bytes) return std::nullopt;
    uint32_t address = 0;
    for (size_t i = 0; i < bytes->size(); ++i) address |= uint32_t{(*bytes)[i]} << (24 - 8 * i);
    // Cannot fail: the length is at most 32 and the host bits are cleared.
    prefixes.push_back(Ipv4Prefix::Create(address & NetMask(length), length).value());
  }
  return prefixes;
}

void EncodeIpv4Prefixes(const std::vector<Ipv4Prefix>& prefixes, WireWriter& out) {
  for (const Ipv4Prefix& prefix : prefixes) {
    out.U8(prefix.length());
    for (int i = 0; i < (prefix.length() + 7) / 8; ++i) {
      out.U8(static_cast<uint8_t>(prefix.address() >> (24 - 8 * i)));
    }
  }
}

std::optional<DecodeError> DecodePathAttributes(std::span<const uint8_t> field,
                                                const CodecOptions& options, Update& update) {
  return AttributeDecoder(options, update).Decode(field);
}

std::optional<DecodeError> CheckMandatoryAttributes(const CodecOptions& options, Update& update) {
  if (update.treat_as_withdraw) return std::nullopt;
  const PathAttributes& attributes = update.attributes;
  bool announces = !update.nlri.empty() || attributes.mp_reach.has_value();
  if (!announces) return std::nullopt;
  std::optional<AttributeType> missing;
  if (!attributes.origin) {
    missing = AttributeType::kOrigin;
  } else if (!attributes.as_path) {
    missing = AttributeType::kAsPath;
  } else if (!update.nlri.empty() && !attributes.next_hop) {
    missing = AttributeType::kNextHop;
  }
  if (!missing) return std::nullopt;
  std::string reason =
      "missing well-known attribute " + std::to_string(static_cast<uint8_t>(*missing));
  if (!options.revised_error_handling) {
    return UpdateNotification(UpdateError::kMissingWellKnownAttribute,
                              {static_cast<uint8_t>(*missing)}, std::move(reason));
  }
  update.treat_as_withdraw = true;  // RFC 7606 §3(d)
  update.attribute_errors.push_back(reason + " (treat-as-withdraw)");
  return std::nullopt;
}

Status EncodePathAttributes(const PathAttributes& attributes, const CodecOptions& options,
                            WireWriter& out) {
  KELP_ASSIGN_OR_RETURN(std::vector<EncodedAttribute> encoded, EncodeEach(attributes, options));
  std::stable_sort(encoded.begin(), encoded.end(),
                   [](const EncodedAttribute& a, const EncodedAttribute& b) {
                     return a.type < b.type;
                   });
  for (const EncodedAttribute& attribute : encoded) {
    if (attribute.value.size() > 0xffff) {
      return InvalidArgumentError("path attribute " + std::to_string(attribute.type) +
                                  " longer than 65535 bytes");
    }
    bool extended = attribute.value.size() > 0xff;
    out.U8(static_cast<uint8_t>(attribute.flags | (extended ? kFlagExtendedLength : 0)));
    out.U8(attribute.type);
    if (extended) {
      out.U16(static_cast<uint16_t>(attribute.value.size()));
    } else {
      out.U8(static_cast<uint8_t>(attribute.value.size()));
    }
    out.Bytes(attribute.value);
  }
  return Status::Ok();
}

}  // namespace kelp::bgp
