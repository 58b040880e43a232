// BGP-4 message value types (RFC 4271, 6793, 4760, 2918, 4456, 4724): what the codec decodes
// peer bytes into and encodes from. Plain values, no wire details beyond what a protocol
// field needs: ASes are always 4-octet here; the codec maps them to 2-octet + AS4_* attributes
// when the session did not negotiate 4-octet AS. The FSM, RIB and peers build on these.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace kelp::bgp {

inline constexpr size_t kHeaderSize = 19;
inline constexpr size_t kMaxMessageSize = 4096;
inline constexpr uint8_t kBgpVersion = 4;
// RFC 6793: the 2-octet stand-in for an AS that does not fit in 16 bits.
inline constexpr uint16_t kAsTrans = 23456;

enum class MessageType : uint8_t {
  kOpen = 1,
  kUpdate = 2,
  kNotification = 3,
  kKeepalive = 4,
  kRouteRefresh = 5,
};

// "192.168.206.10" for 0xc0a8ce0a.
std::string FormatIpv4(uint32_t address);
Result<uint32_t> ParseIpv4(std::string_view text);

// An IPv4 prefix in canonical form: the host bits beyond `length` are zero.
class Ipv4Prefix {
 public:
  Ipv4Prefix() = default;  // 0.0.0.0/0
  // Fails when length > 32 or a host bit is set.
  static Result<Ipv4Prefix> Create(uint32_t address, uint8_t length);
  // "10.244.1.0/26"; same rules as Create.
  static Result<Ipv4Prefix> Parse(std::string_view text);

  uint32_t address() const { return address_; }
  uint8_t length() const { return length_; }
  std::string ToString() const;

  friend auto operator<=>(const Ipv4Prefix&, const Ipv4Prefix&) = default;

 private:
  Ipv4Prefix(uint32_t address, uint8_t length) : address_(address), length_(length) {}

  uint32_t address_ = 0;
  uint8_t length_ = 0;
};

// Address family (RFC 4760). AFI and SAFI values are kept numeric: peers may use any.
struct AfiSafi {
  uint16_t afi = 0;
  uint8_t safi = 0;
  friend auto operator<=>(const AfiSafi&, const AfiSafi&) = default;
};
inline constexpr uint16_t kAfiIpv4 = 1;
inline constexpr uint8_t kSafiUnicast = 1;
inline constexpr AfiSafi kIpv4Unicast{kAfiIpv4, kSafiUnicast};

// ---- OPEN -------------------------------------------------------------------------------

enum class CapabilityCode : uint8_t {
  kMultiprotocol = 1,
  kRouteRefresh = 2,
  kGracefulRestart = 64,
  kFourOctetAs = 65,
};

// RFC 4724 graceful restart capability.
struct GracefulRestart {
  struct Family {
    AfiSafi family;
    bool forwarding_state_preserved = false;  // the F bit
    friend bool operator==(const Family&, const Family&) = default;
  };
  bool restart_state = false;         // the R bit: the sender has just restarted
  bool notification_support = false;  // the N bit (RFC 8538)
  uint16_t restart_time = 0;          // seconds, 12 bits on the wire
  std::vector<Family> families;
  friend bool operator==(const GracefulRestart&, const GracefulRestart&) = default;
};

// A capability the codec does not interpret, passed through verbatim.
struct RawCapability {
  uint8_t code = 0;
  std::vector<uint8_t> value;
  friend bool operator==(const RawCapability&, const RawCapability&) = default;
};

// RFC 5492 capabilities. Route reflection (RFC 4456) needs no capability.
struct Capabilities {
  std::vector<AfiSafi> multiprotocol;
  bool route_refresh = false;
  std::optional<uint32_t> four_octet_as;  // the sender's real AS
  std::optional<GracefulRestart> graceful_restart;
  std::vector<RawCapability> unknown;
  friend bool operator==(const Capabilities&, const Capabilities&) = default;
};

struct Open {
  uint8_t version = kBgpVersion;
  uint16_t my_as = 0;  // the 2-octet field: the AS, or kAsTrans when it does not fit
  uint16_t hold_time = 0;
  uint32_t bgp_identifier = 0;
  Capabilities capabilities;

  // The sender's AS: the 4-octet AS capability when present, else the 2-octet field.
  uint32_t SenderAs() const { return capabilities.four_octet_as.value_or(my_as); }
  friend bool operator==(const Open&, const Open&) = default;
};

// The value for Open::my_as that stands for `asn` (RFC 6793).
constexpr uint16_t TwoOctetAsField(uint32_t asn) {
  return asn <= 0xffff ? static_cast<uint16_t>(asn) : kAsTrans;
}

// ---- UPDATE -----------------------------------------------------------------------------

enum class AttributeType : uint8_t {
  kOrigin = 1,
  kAsPath = 2,
  kNextHop = 3,
  kMultiExitDisc = 4,
  kLocalPref = 5,
  kAtomicAggregate = 6,
  kAggregator = 7,
  kCommunities = 8,
  kOriginatorId = 9,
  kClusterList = 10,
  kMpReachNlri = 14,
  kMpUnreachNlri = 15,
  kAs4Path = 17,
  kAs4Aggregator = 18,
};

// Attribute flag bits (RFC 4271 §4.3).
inline constexpr uint8_t kFlagOptional = 0x80;
inline constexpr uint8_t kFlagTransitive = 0x40;
inline constexpr uint8_t kFlagPartial = 0x20;
inline constexpr uint8_t kFlagExtendedLength = 0x10;

enum class Origin : uint8_t { kIgp = 0, kEgp = 1, kIncomplete = 2 };

enum class AsSegmentType : uint8_t { kAsSet = 1, kAsSequence = 2 };

struct AsPathSegment {
  AsSegmentType type = AsSegmentType::kAsSequence;
  std::vector<uint32_t> asns;  // 1..255 entries on the wire
  friend bool operator==(const AsPathSegment&, const AsPathSegment&) = default;
};

struct AsPath {
  std::vector<AsPathSegment> segments;  // empty for routes originated inside the AS
  friend bool operator==(const AsPath&, const AsPath&) = default;
};

struct Aggregator {
  uint32_t asn = 0;
  uint32_t address = 0;
  friend bool operator==(const Aggregator&, const Aggregator&) = default;
};

// MP_REACH_NLRI (RFC 4760). IPv4 unicast NLRI is decoded into `prefixes`; the NLRI of any
// other family stays in `raw_nlri`, so a speaker can still see and log it.
struct MpReach {
  AfiSafi family;
  std::vector<uint8_t> next_hop;  // as on the wire: 4 octets for IPv4
  std::vector<Ipv4Prefix> prefixes;
  std::vector<uint8_t> raw_nlri;
  friend bool operator==(const MpReach&, const MpReach&) = default;
};

// MP_UNREACH_NLRI (RFC 4760); same split as MpReach.
struct MpUnreach {
  AfiSafi family;
  std::vector<Ipv4Prefix> prefixes;
  std::vector<uint8_t> raw_withdrawn;
  friend bool operator==(const MpUnreach&, const MpUnreach&) = default;
};

// An attribute the codec does not interpret. `flags` are as received (without the
// extended-length bit, which the encoder chooses). Whoever re-advertises an optional
// transitive one sets kFlagPartial (RFC 4271 §5); optional non-transitive ones are dropped
// on re-advertisement.
struct RawAttribute {
  uint8_t flags = 0;
  uint8_t type = 0;
  std::vector<uint8_t> value;
  friend bool operator==(const RawAttribute&, const RawAttribute&) = default;
};

struct PathAttributes {
  std::optional<Origin> origin;
  std::optional<AsPath> as_path;
  std::optional<uint32_t> next_hop;  // IPv4 NEXT_HOP
  std::optional<uint32_t> multi_exit_disc;
  std::optional<uint32_t> local_pref;
  bool atomic_aggregate = false;
  std::optional<Aggregator> aggregator;
  std::vector<uint32_t> communities;   // empty = absent (the attribute may not be empty)
  std::optional<uint32_t> originator_id;
  std::vector<uint32_t> cluster_list;  // empty = absent (the attribute may not be empty)
  std::optional<MpReach> mp_reach;
  std::optional<MpUnreach> mp_unreach;
  std::vector<RawAttribute> unknown;  // ascending type order once decoded
  friend bool operator==(const PathAttributes&, const PathAttributes&) = default;
};

struct Update {
  std::vector<Ipv4Prefix> withdrawn;
  PathAttributes attributes;
  std::vector<Ipv4Prefix> nlri;

  // Set by the decoder when RFC 7606 says "treat-as-withdraw": every prefix in `nlri` and
  // `attributes.mp_reach` must be handled as withdrawn; the session stays up.
  bool treat_as_withdraw = false;
  // What the decoder discarded or found malformed without resetting the session (for logs).
  std::vector<std::string> attribute_errors;

  // True for the End-of-RIB marker (RFC 4724): an empty UPDATE for IPv4 unicast, or one
  // holding only an empty MP_UNREACH_NLRI for another family.
  std::optional<AfiSafi> EndOfRibFamily() const;
  friend bool operator==(const Update&, const Update&) = default;
};

// ---- NOTIFICATION, KEEPALIVE, ROUTE-REFRESH ---------------------------------------------

enum class ErrorCode : uint8_t {
  kMessageHeader = 1,
  kOpenMessage = 2,
  kUpdateMessage = 3,
  kHoldTimerExpired = 4,
  kFiniteStateMachine = 5,
  kCease = 6,
  kRouteRefreshMessage = 7,  // RFC 7313
};

enum class HeaderError : uint8_t {
  kConnectionNotSynchronized = 1,
  kBadMessageLength = 2,
  kBadMessageType = 3,
};

enum class OpenError : uint8_t {
  kUnspecific = 0,
  kUnsupportedVersionNumber = 1,
  kBadPeerAs = 2,
  kBadBgpIdentifier = 3,
  kUnsupportedOptionalParameter = 4,
  kUnacceptableHoldTime = 6,
  kUnsupportedCapability = 7,  // RFC 5492
};

enum class UpdateError : uint8_t {
  kMalformedAttributeList = 1,
  kUnrecognizedWellKnownAttribute = 2,
  kMissingWellKnownAttribute = 3,
  kAttributeFlagsError = 4,
  kAttributeLengthError = 5,
  kInvalidOriginAttribute = 6,
  kInvalidNextHopAttribute = 8,
  kOptionalAttributeError = 9,
  kInvalidNetworkField = 10,
  kMalformedAsPath = 11,
};

enum class RouteRefreshError : uint8_t { kInvalidMessageLength = 1 };

// Code and subcode stay numeric: a peer may send values this speaker does not know.
struct Notification {
  uint8_t code = 0;
  uint8_t subcode = 0;
  std::vector<uint8_t> data;
  friend bool operator==(const Notification&, const Notification&) = default;
};

struct Keepalive {
  friend bool operator==(const Keepalive&, const Keepalive&) = default;
};

// RFC 2918; `subtype` is the RFC 7313 field (0 = normal request) that RFC 2918 reserved.
struct RouteRefresh {
  AfiSafi family;
  uint8_t subtype = 0;
  friend bool operator==(const RouteRefresh&, const RouteRefresh&) = default;
};

using Message = std::variant<Open, Update, Notification, Keepalive, RouteRefresh>;

MessageType TypeOf(const Message& message);

}  // namespace kelp::bgp
