// Tests of the BGP codec: golden bytes (hand-derived from the RFC layouts) both ways for each
// message type, one test per NOTIFICATION the decoder can produce (code, subcode and data),
// the RFC 7606 treat-as-withdraw / discard outcomes, AS4_PATH handling and partial buffers.
#include "bgp/codec.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <string_view>

namespace kelp::bgp {
namespace {

constexpr std::string_view kMarker = "ffffffffffffffffffffffffffffffff";

// Valid attribute TLVs of the golden UPDATE (4-octet AS session).
constexpr std::string_view kOriginIgp = "40 01 01 00";
constexpr std::string_view kAsPath64512 = "40 02 06 02 01 0000fc00";
constexpr std::string_view kNextHop = "40 03 04 c0a8ce0a";  // 192.168.206.10
constexpr std::string_view kLocalPref100 = "40 05 04 00000064";
constexpr std::string_view kTwoPrefixes = "1a 0af401 00 1a 0af402 00";  // 10.244.{1,2}.0/26
constexpr std::string_view kNoNlri = "";

const CodecOptions kFourOctet{.four_octet_as = true, .revised_error_handling = true};
const CodecOptions kTwoOctet{.four_octet_as = false, .revised_error_handling = true};
const CodecOptions kStrict{.four_octet_as = true, .revised_error_handling = false};

std::vector<uint8_t> Hex(std::string_view text) {
  std::string digits;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) digits.push_back(c);
  }
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i + 1 < digits.size(); i += 2) {
    bytes.push_back(static_cast<uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

std::string ToHex(const std::vector<uint8_t>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  for (uint8_t byte : bytes) {
    text.push_back(kDigits[byte >> 4]);
    text.push_back(kDigits[byte & 0xf]);
  }
  return text;
}

std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) out += part;
  return out;
}

std::string Hex16(size_t value) {
  return ToHex({static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value)});
}

// A message with a correct header around `body`.
std::vector<uint8_t> Frame(uint8_t type, std::string_view body) {
  std::vector<uint8_t> bytes = Hex(body);
  return Hex(Cat({kMarker, Hex16(19 + bytes.size()), ToHex({type}), body}));
}

std::vector<uint8_t> UpdateBytes(std::string_view withdrawn, std::string_view attributes,
                                 std::string_view nlri) {
  return Frame(2, Cat({Hex16(Hex(withdrawn).size()), withdrawn, Hex16(Hex(attributes).size()),
                       attributes, nlri}));
}

Ipv4Prefix Prefix(std::string_view text) { return Ipv4Prefix::Parse(text).value(); }

Message DecodeOk(const std::vector<uint8_t>& bytes, const CodecOptions& options) {
  DecodeResult result = Decode(bytes, options);
  if (const auto* error = std::get_if<DecodeError>(&result)) {
    ADD_FAILURE() << "decode error: " << error->reason;
    return Keepalive{};
  }
  if (std::holds_alternative<NeedMoreBytes>(result)) {
    ADD_FAILURE() << "decode needs more bytes";
    return Keepalive{};
  }
  const auto& decoded = std::get<DecodedMessage>(result);
  EXPECT_EQ(decoded.consumed, bytes.size());
  return decoded.message;
}

Update DecodeUpdate(const std::vector<uint8_t>& bytes, const CodecOptions& options) {
  Message message = DecodeOk(bytes, options);
  EXPECT_TRUE(std::holds_alternative<Update>(message));
  return std::holds_alternative<Update>(message) ? std::get<Update>(message) : Update{};
}

Notification DecodeFails(const std::vector<uint8_t>& bytes, const CodecOptions& options) {
  DecodeResult result = Decode(bytes, options);
  const auto* error = std::get_if<DecodeError>(&result);
  if (error == nullptr) {
    ADD_FAILURE() << "decoded without the expected error";
    return {};
  }
  EXPECT_FALSE(error->reason.empty());
  return error->notification;
}

// Checks both directions: Encode(message) == bytes and Decode(bytes) == message.
void ExpectGolden(const Message& message, std::string_view hex, const CodecOptions& options) {
  Result<std::vector<uint8_t>> encoded = Encode(message, options);
  ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
  EXPECT_EQ(ToHex(*encoded), ToHex(Hex(hex)));
  EXPECT_EQ(DecodeOk(Hex(hex), options), message);
}

Notification Expected(uint8_t code, uint8_t subcode, std::string_view data_hex = "") {
  return Notification{code, subcode, Hex(data_hex)};
}

Update GoldenUpdate() {
  Update update;
  update.attributes.origin = Origin::kIgp;
  update.attributes.as_path = AsPath{{AsPathSegment{AsSegmentType::kAsSequence, {64512}}}};
  update.attributes.next_hop = 0xc0a8ce0a;
  update.attributes.local_pref = 100;
  update.nlri = {Prefix("10.244.1.0/26"), Prefix("10.244.2.0/26")};
  return update;
}

// ---- golden messages --------------------------------------------------------------------

TEST(CodecGoldenTest, Keepalive) { ExpectGolden(Keepalive{}, Cat({kMarker, "0013 04"}), kFourOctet); }

TEST(CodecGoldenTest, OpenWithMultiprotocolRouteRefreshGracefulRestartAndFourOctetAs) {
  Open open;
  open.my_as = 64512;
  open.hold_time = 90;
  open.bgp_identifier = 0xc0a8ce0a;
  open.capabilities.multiprotocol = {kIpv4Unicast};
  open.capabilities.route_refresh = true;
  open.capabilities.graceful_restart =
      GracefulRestart{true, false, 120, {GracefulRestart::Family{kIpv4Unicast, true}}};
  open.capabilities.four_octet_as = 64512;
  ExpectGolden(open,
               Cat({kMarker, "0035 01", "04 fc00 005a c0a8ce0a 18",
                    "02 16",                      // one Capabilities parameter of 22 bytes
                    "01 04 0001 00 01",           // multiprotocol IPv4 unicast
                    "02 00",                      // route refresh
                    "40 06 8078 0001 01 80",      // graceful restart: R, 120 s, IPv4 F
                    "41 04 0000fc00"}),           // 4-octet AS 64512
               kFourOctet);
  EXPECT_EQ(open.SenderAs(), 64512u);
}

TEST(CodecGoldenTest, OpenWithBigAsUsesAsTrans) {
  Open open;
  open.my_as = TwoOctetAsField(4200000000u);
  open.hold_time = 3;
  open.bgp_identifier = 0x0a000001;
  open.capabilities.multiprotocol = {kIpv4Unicast};
  open.capabilities.four_octet_as = 4200000000u;
  ExpectGolden(open,
               Cat({kMarker, "002b 01", "04 5ba0 0003 0a000001 0e", "02 0c",
                    "01 04 0001 00 01", "41 04 fa56ea00"}),
               kTwoOctet);
  EXPECT_EQ(open.SenderAs(), 4200000000u);
}

TEST(CodecGoldenTest, OpenWithoutCapabilities) {
  Open open;
  open.my_as = 65001;
  open.hold_time = 0;
  open.bgp_identifier = 0x01020304;
  ExpectGolden(open, Cat({kMarker, "001d 01", "04 fde9 0000 01020304 00"}), kTwoOctet);
}

TEST(CodecGoldenTest, UpdateWithFourOctetAsPath) {
  ExpectGolden(GoldenUpdate(),
               Cat({kMarker, "003c 02", "0000", "001b", kOriginIgp, kAsPath64512, kNextHop,
                    kLocalPref100, kTwoPrefixes}),
               kFourOctet);
}

TEST(CodecGoldenTest, UpdateWithTwoOctetAsPath) {
  ExpectGolden(GoldenUpdate(),
               Cat({kMarker, "003a 02", "0000", "0019", kOriginIgp, "40 02 04 02 01 fc00",
                    kNextHop, kLocalPref100, kTwoPrefixes}),
               kTwoOctet);
}

TEST(CodecGoldenTest, BigAsOnTwoOctetSessionTravelsInAs4Path) {
  Update update = GoldenUpdate();
  update.attributes.as_path->segments[0].asns = {64512, 4200000000u};
  update.attributes.local_pref.reset();
  ExpectGolden(update,
               Cat({kMarker, "0042 02", "0000", "0021", kOriginIgp,
                    "40 02 06 02 02 fc00 5ba0", kNextHop,
                    "c0 11 0a 02 02 0000fc00 fa56ea00", kTwoPrefixes}),
               kTwoOctet);
}

TEST(CodecGoldenTest, WithdrawOnlyUpdate) {
  Update update;
  update.withdrawn = {Prefix("10.244.1.0/26")};
  ExpectGolden(update, Cat({kMarker, "001c 02", "0005 1a0af40100", "0000"}), kFourOctet);
}

TEST(CodecGoldenTest, EndOfRibIsAnEmptyUpdate) {
  Update end_of_rib;
  ExpectGolden(end_of_rib, Cat({kMarker, "0017 02", "0000 0000"}), kFourOctet);
  EXPECT_EQ(end_of_rib.EndOfRibFamily(), kIpv4Unicast);
}

TEST(CodecGoldenTest, NotificationWithData) {
  // Cease / Administrative Shutdown with an RFC 8203 message "bye".
  ExpectGolden(Notification{6, 2, {3, 'b', 'y', 'e'}}, Cat({kMarker, "0019 03", "06 02 03 627965"}),
               kFourOctet);
}

TEST(CodecGoldenTest, RouteRefresh) {
  ExpectGolden(RouteRefresh{kIpv4Unicast, 0}, Cat({kMarker, "0017 05", "0001 00 01"}), kFourOctet);
}

TEST(CodecGoldenTest, MpReachAndMpUnreachForIpv4Unicast) {
  Update update;
  update.attributes.origin = Origin::kIncomplete;
  update.attributes.as_path = AsPath{};
  update.attributes.mp_reach = MpReach{kIpv4Unicast, {192, 168, 206, 20}, {Prefix("10.244.3.0/26")}, {}};
  update.attributes.mp_unreach = MpUnreach{kIpv4Unicast, {Prefix("10.244.4.0/26")}, {}};
  ExpectGolden(update,
               Cat({kMarker, "003a 02", "0000", "0023", "40 01 01 02", "40 02 00",
                    "80 0e 0e 0001 01 04 c0a8ce14 00 1a0af40300",
                    "80 0f 08 0001 01 1a0af40400"}),
               kFourOctet);
}

TEST(CodecRoundTripTest, EveryAttributeSurvivesEncodeAndDecode) {
  Update update = GoldenUpdate();
  PathAttributes& attributes = update.attributes;
  attributes.as_path->segments.push_back(AsPathSegment{AsSegmentType::kAsSet, {65001, 4200000000u}});
  attributes.multi_exit_disc = 50;
  attributes.atomic_aggregate = true;
  attributes.aggregator = Aggregator{4200000000u, 0x0a000001};
  attributes.communities = {0xfc000001, 0xffffff01};
  attributes.originator_id = 0xc0a8ce14;
  attributes.cluster_list = {0xc0a8ce0a, 0xc0a8ce1e};
  attributes.mp_unreach = MpUnreach{AfiSafi{2, 1}, {}, Hex("40 20010db8 00000000")};
  attributes.unknown = {RawAttribute{kFlagOptional | kFlagTransitive | kFlagPartial, 32,
                                     std::vector<uint8_t>(300, 7)}};
  update.withdrawn = {Prefix("10.244.9.0/26"), Prefix("0.0.0.0/0"), Prefix("10.1.2.3/32")};
  for (const CodecOptions& options : {kFourOctet, kTwoOctet}) {
    Result<std::vector<uint8_t>> bytes = Encode(update, options);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    EXPECT_EQ(DecodeOk(*bytes, options), Message(update));
  }
}

TEST(CodecEncodeTest, RefusesWhatTheWireCannotCarry) {
  Update too_big;
  for (uint32_t i = 0; i < 1100; ++i) too_big.nlri.push_back(Ipv4Prefix::Create(i << 8, 24).value());
  EXPECT_FALSE(Encode(too_big, kFourOctet).ok());

  Update empty_segment = GoldenUpdate();
  empty_segment.attributes.as_path->segments.push_back(AsPathSegment{});
  EXPECT_FALSE(Encode(empty_segment, kFourOctet).ok());

  Update colliding = GoldenUpdate();
  colliding.attributes.unknown.push_back(RawAttribute{kFlagOptional, 4, {0, 0, 0, 1}});
  EXPECT_FALSE(Encode(colliding, kFourOctet).ok());
}

// ---- header errors (RFC 4271 §6.1) ------------------------------------------------------

TEST(CodecHeaderErrorTest, MarkerNotAllOnesIsConnectionNotSynchronized) {
  std::vector<uint8_t> bytes = Frame(4, "");
  bytes[3] = 0xfe;
  EXPECT_EQ(DecodeFails(bytes, kFourOctet), Expected(1, 1));
}

TEST(CodecHeaderErrorTest, LengthOutsideLimitsIsBadMessageLengthWithTheLength) {
  EXPECT_EQ(DecodeFails(Hex(Cat({kMarker, "0012 04"})), kFourOctet), Expected(1, 2, "0012"));
  EXPECT_EQ(DecodeFails(Hex(Cat({kMarker, "1001 02"})), kFourOctet), Expected(1, 2, "1001"));
}

TEST(CodecHeaderErrorTest, LengthBelowTheTypeMinimumIsBadMessageLength) {
  EXPECT_EQ(DecodeFails(Hex(Cat({kMarker, "0014 04 00"})), kFourOctet), Expected(1, 2, "0014"));
  EXPECT_EQ(DecodeFails(Hex(Cat({kMarker, "001c 01"})), kFourOctet), Expected(1, 2, "001c"));
  EXPECT_EQ(DecodeFails(Hex(Cat({kMarker, "0016 02"})), kFourOctet), Expected(1, 2, "0016"));
  EXPECT_EQ(DecodeFails(Hex(Cat({kMarker, "0014 03"})), kFourOctet), Expected(1, 2, "0014"));
}

TEST(CodecHeaderErrorTest, UnknownTypeIsBadMessageTypeWithTheType) {
  EXPECT_EQ(DecodeFails(Frame(6, ""), kFourOctet), Expected(1, 3, "06"));
  EXPECT_EQ(DecodeFails(Frame(0, ""), kFourOctet), Expected(1, 3, "00"));
}

TEST(CodecHeaderErrorTest, RouteRefreshOfWrongLengthCarriesTheWholeMessage) {
  std::vector<uint8_t> bytes = Frame(5, "0001 00 01 00");
  EXPECT_EQ(DecodeFails(bytes, kFourOctet), (Notification{7, 1, bytes}));
}

// ---- OPEN errors (RFC 4271 §6.2, RFC 5492, RFC 7607) ------------------------------------

TEST(CodecOpenErrorTest, UnsupportedVersionCarriesVersionFour) {
  EXPECT_EQ(DecodeFails(Frame(1, "03 fc00 005a c0a8ce0a 00"), kFourOctet), Expected(2, 1, "0004"));
}

TEST(CodecOpenErrorTest, AsZeroIsBadPeerAs) {
  EXPECT_EQ(DecodeFails(Frame(1, "04 0000 005a c0a8ce0a 00"), kFourOctet), Expected(2, 2));
  EXPECT_EQ(DecodeFails(Frame(1, "04 5ba0 005a c0a8ce0a 08 02 06 41 04 00000000"), kFourOctet),
            Expected(2, 2));
}

TEST(CodecOpenErrorTest, ZeroIdentifierIsBadBgpIdentifier) {
  EXPECT_EQ(DecodeFails(Frame(1, "04 fc00 005a 00000000 00"), kFourOctet), Expected(2, 3));
}

TEST(CodecOpenErrorTest, NonCapabilityParameterIsUnsupportedOptionalParameter) {
  EXPECT_EQ(DecodeFails(Frame(1, "04 fc00 005a c0a8ce0a 04 01 02 0000"), kFourOctet),
            Expected(2, 4));
}

TEST(CodecOpenErrorTest, HoldTimeOfOneOrTwoSecondsIsUnacceptable) {
  EXPECT_EQ(DecodeFails(Frame(1, "04 fc00 0001 c0a8ce0a 00"), kFourOctet), Expected(2, 6));
  EXPECT_EQ(DecodeFails(Frame(1, "04 fc00 0002 c0a8ce0a 00"), kFourOctet), Expected(2, 6));
  EXPECT_TRUE(std::holds_alternative<Open>(DecodeOk(Frame(1, "04 fc00 0000 c0a8ce0a 00"), kFourOctet)));
}

TEST(CodecOpenErrorTest, MalformedParametersAndCapabilitiesAreUnspecific) {
  // Parameter length disagrees with the message; capability overruns; MP capability of 3 bytes.
  EXPECT_EQ(DecodeFails(Frame(1, "04 fc00 005a c0a8ce0a 05 02 02 0200"), kFourOctet), Expected(2, 0));
  EXPECT_EQ(DecodeFails(Frame(1, "04 fc00 005a c0a8ce0a 04 02 02 0203"), kFourOctet), Expected(2, 0));
  EXPECT_EQ(DecodeFails(Frame(1, "04 fc00 005a c0a8ce0a 07 02 05 0103 000100"), kFourOctet),
            Expected(2, 0));
}

TEST(CodecOpenErrorTest, UnknownCapabilitiesAreKeptRaw) {
  Message message = DecodeOk(Frame(1, "04 fc00 005a c0a8ce0a 07 02 05 4503 000101"), kFourOctet);
  ASSERT_TRUE(std::holds_alternative<Open>(message));
  EXPECT_EQ(std::get<Open>(message).capabilities.unknown,
            (std::vector<RawCapability>{RawCapability{0x45, {0, 1, 1}}}));
}

Open PeerOpen() {
  Open open;
  open.my_as = 64512;
  open.hold_time = 90;
  open.bgp_identifier = 0xc0a8ce14;
  open.capabilities.multiprotocol = {kIpv4Unicast};
  open.capabilities.four_octet_as = 64512;
  return open;
}

TEST(CheckOpenTest, AcceptsTheExpectedPeer) {
  OpenExpectations expect{64512, 64512, 0xc0a8ce0a, true, {kIpv4Unicast}};
  EXPECT_EQ(CheckOpen(PeerOpen(), expect), std::nullopt);
}

TEST(CheckOpenTest, WrongAsIsBadPeerAs) {
  OpenExpectations expect{64513, 64512, 0xc0a8ce0a, false, {}};
  std::optional<DecodeError> error = CheckOpen(PeerOpen(), expect);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->notification, Expected(2, 2));
}

TEST(CheckOpenTest, InternalPeerWithOurIdentifierIsBadBgpIdentifier) {
  OpenExpectations expect{64512, 64512, 0xc0a8ce14, false, {}};
  std::optional<DecodeError> error = CheckOpen(PeerOpen(), expect);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->notification, Expected(2, 3));
}

TEST(CheckOpenTest, MissingRequiredCapabilitiesAreListedInUnsupportedCapability) {
  Open open = PeerOpen();
  open.capabilities = Capabilities{};
  OpenExpectations expect{64512, 64512, 0xc0a8ce0a, true, {kIpv4Unicast}};
  std::optional<DecodeError> error = CheckOpen(open, expect);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->notification, Expected(2, 7, "01 04 0001 00 01  41 04 0000fc00"));
}

// ---- UPDATE errors, strict RFC 4271 §6.3 ------------------------------------------------

std::string GoodAttributes() { return Cat({kOriginIgp, kAsPath64512, kNextHop}); }

TEST(CodecUpdateErrorTest, OverrunningLengthsAreMalformedAttributeList) {
  // Withdrawn Routes Length beyond the message.
  EXPECT_EQ(DecodeFails(Frame(2, "0009 1a0af40100 0000"), kFourOctet), Expected(3, 1));
  // Total Attribute Length beyond the message.
  EXPECT_EQ(DecodeFails(Frame(2, "0000 0010 40010100"), kFourOctet), Expected(3, 1));
  // An attribute whose length overruns the attribute field.
  EXPECT_EQ(DecodeFails(UpdateBytes("", "40 01 05 00", kNoNlri), kFourOctet), Expected(3, 1));
  // A truncated attribute header.
  EXPECT_EQ(DecodeFails(UpdateBytes("", "40", kNoNlri), kFourOctet), Expected(3, 1));
}

TEST(CodecUpdateErrorTest, RepeatedAttributeIsMalformedAttributeListWhenStrict) {
  EXPECT_EQ(DecodeFails(UpdateBytes("", Cat({GoodAttributes(), kOriginIgp}), kTwoPrefixes), kStrict),
            Expected(3, 1));
}

TEST(CodecUpdateErrorTest, UnknownWellKnownAttributeIsReportedWithTheAttribute) {
  for (const CodecOptions& options : {kStrict, kFourOctet}) {
    EXPECT_EQ(DecodeFails(UpdateBytes("", "40 63 02 abcd", kNoNlri), options),
              Expected(3, 2, "40 63 02 abcd"));
  }
}

TEST(CodecUpdateErrorTest, MissingWellKnownAttributeCarriesItsType) {
  EXPECT_EQ(DecodeFails(UpdateBytes("", Cat({kOriginIgp, kAsPath64512}), kTwoPrefixes), kStrict),
            Expected(3, 3, "03"));
  EXPECT_EQ(DecodeFails(UpdateBytes("", Cat({kAsPath64512, kNextHop}), kTwoPrefixes), kStrict),
            Expected(3, 3, "01"));
  EXPECT_EQ(DecodeFails(UpdateBytes("", Cat({kOriginIgp, kNextHop}), kTwoPrefixes), kStrict),
            Expected(3, 3, "02"));
}

TEST(CodecUpdateErrorTest, WrongFlagsAreAttributeFlagsError) {
  EXPECT_EQ(DecodeFails(UpdateBytes("", Cat({"c0 01 01 00", kAsPath64512, kNextHop}), kTwoPrefixes),
                        kStrict),
            Expected(3, 4, "c0 01 01 00"));
}

TEST(CodecUpdateErrorTest, WrongFixedLengthIsAttributeLengthError) {
  EXPECT_EQ(DecodeFails(UpdateBytes("", Cat({GoodAttributes(), "40 05 03 000064"}), kTwoPrefixes),
                        kStrict),
            Expected(3, 5, "40 05 03 000064"));
  EXPECT_EQ(DecodeFails(UpdateBytes("", Cat({GoodAttributes(), "40 06 01 00"}), kTwoPrefixes),
                        kStrict),
            Expected(3, 5, "40 06 01 00"));
}

TEST(CodecUpdateErrorTest, UndefinedOriginIsInvalidOrigin) {
  EXPECT_EQ(DecodeFails(UpdateBytes("", Cat({"40 01 01 03", kAsPath64512, kNextHop}), kTwoPrefixes),
                        kStrict),
            Expected(3, 6, "40 01 01 03"));
}

TEST(CodecUpdateErrorTest, NonHostNextHopIsInvalidNextHop) {
  EXPECT_EQ(DecodeFails(UpdateBytes("", Cat({kOriginIgp, kAsPath64512, "40 03 04 00000000"}),
                                    kTwoPrefixes),
                        kStrict),
            Expected(3, 8, "40 03 04 00000000"));
  EXPECT_EQ(DecodeFails(UpdateBytes("", Cat({kOriginIgp, kAsPath64512, "40 03 04 e0000001"}),
                                    kTwoPrefixes),
                        kStrict),
            Expected(3, 8, "40 03 04 e0000001"));
}

TEST(CodecUpdateErrorTest, BadCommunitiesLengthIsOptionalAttributeError) {
  EXPECT_EQ(DecodeFails(UpdateBytes("", Cat({GoodAttributes(), "c0 08 03 000001"}), kTwoPrefixes),
                        kStrict),
            Expected(3, 9, "c0 08 03 000001"));
}

TEST(CodecUpdateErrorTest, MalformedMpReachResetsTheSessionInBothModes) {
  for (const CodecOptions& options : {kStrict, kFourOctet}) {
    EXPECT_EQ(DecodeFails(UpdateBytes("", Cat({kOriginIgp, kAsPath64512, "80 0e 03 000101"}), ""),
                          options),
              Expected(3, 9, "80 0e 03 000101"));
    // IPv4 unicast with a 16-byte next hop.
    std::string reach = "80 0e 15 0001 01 10 20010db8000000000000000000000001 00";
    EXPECT_EQ(DecodeFails(UpdateBytes("", Cat({kOriginIgp, kAsPath64512, reach}), ""), options),
              Expected(3, 9, reach));
  }
}

TEST(CodecUpdateErrorTest, RepeatedMpAttributeIsMalformedAttributeListInBothModes) {
  std::string unreach = "80 0f 03 000101";
  for (const CodecOptions& options : {kStrict, kFourOctet}) {
    EXPECT_EQ(DecodeFails(UpdateBytes("", Cat({unreach, unreach}), ""), options), Expected(3, 1));
  }
}

TEST(CodecUpdateErrorTest, BadPrefixIsInvalidNetworkField) {
  for (const CodecOptions& options : {kStrict, kFourOctet}) {
    EXPECT_EQ(DecodeFails(UpdateBytes("", GoodAttributes(), "21 0af40100 00"), options),
              Expected(3, 10));
    EXPECT_EQ(DecodeFails(UpdateBytes("", GoodAttributes(), "1a 0af4"), options), Expected(3, 10));
    EXPECT_EQ(DecodeFails(UpdateBytes("1a 0af4", "", ""), options), Expected(3, 10));
  }
}

TEST(CodecUpdateErrorTest, BadSegmentIsMalformedAsPath) {
  // Segment type 5, a zero-length segment, and a segment overrunning the attribute.
  for (std::string_view as_path : {"40 02 06 05 01 0000fc00", "40 02 02 02 00",
                                   "40 02 06 02 02 0000fc00"}) {
    EXPECT_EQ(DecodeFails(UpdateBytes("", Cat({kOriginIgp, as_path, kNextHop}), kTwoPrefixes),
                          kStrict),
              Expected(3, 11));
  }
}

// ---- RFC 7606 revised error handling ----------------------------------------------------

void ExpectTreatAsWithdraw(std::string_view attributes) {
  Update update = DecodeUpdate(UpdateBytes("", attributes, kTwoPrefixes), kFourOctet);
  EXPECT_TRUE(update.treat_as_withdraw) << attributes;
  EXPECT_FALSE(update.attribute_errors.empty());
  EXPECT_EQ(update.nlri.size(), 2u);
}

TEST(CodecRevisedErrorTest, MalformedRouteAttributesAreTreatAsWithdraw) {
  ExpectTreatAsWithdraw(Cat({"40 01 01 03", kAsPath64512, kNextHop}));         // ORIGIN value
  ExpectTreatAsWithdraw(Cat({"c0 01 01 00", kAsPath64512, kNextHop}));         // ORIGIN flags
  ExpectTreatAsWithdraw(Cat({kOriginIgp, "40 02 02 02 00", kNextHop}));        // AS_PATH
  ExpectTreatAsWithdraw(Cat({kOriginIgp, kAsPath64512, "40 03 04 00000000"}));  // NEXT_HOP
  ExpectTreatAsWithdraw(Cat({kOriginIgp, kAsPath64512, "40 03 03 0a0000"}));   // NEXT_HOP len
  ExpectTreatAsWithdraw(Cat({GoodAttributes(), "80 04 03 000001"}));           // MED
  ExpectTreatAsWithdraw(Cat({GoodAttributes(), "40 05 02 0064"}));             // LOCAL_PREF
  ExpectTreatAsWithdraw(Cat({GoodAttributes(), "c0 08 00"}));                  // COMMUNITIES
  ExpectTreatAsWithdraw(Cat({GoodAttributes(), "80 09 02 0000"}));             // ORIGINATOR_ID
  ExpectTreatAsWithdraw(Cat({GoodAttributes(), "80 0a 05 0000000000"}));       // CLUSTER_LIST
  ExpectTreatAsWithdraw(Cat({kOriginIgp, kAsPath64512}));                      // NEXT_HOP missing
}

TEST(CodecRevisedErrorTest, MalformedAggregationAttributesAreDiscarded) {
  Update update = DecodeUpdate(
      UpdateBytes("", Cat({GoodAttributes(), "40 06 01 00", "c0 07 06 fc00 0a000001"}), kTwoPrefixes),
      kFourOctet);
  EXPECT_FALSE(update.treat_as_withdraw);
  EXPECT_FALSE(update.attributes.atomic_aggregate);
  EXPECT_FALSE(update.attributes.aggregator.has_value());
  EXPECT_EQ(update.attribute_errors.size(), 2u);
}

TEST(CodecRevisedErrorTest, RepeatedAttributeKeepsTheFirst) {
  Update update = DecodeUpdate(
      UpdateBytes("", Cat({GoodAttributes(), "40 01 01 02"}), kTwoPrefixes), kFourOctet);
  EXPECT_FALSE(update.treat_as_withdraw);
  EXPECT_EQ(update.attributes.origin, Origin::kIgp);
  EXPECT_EQ(update.attribute_errors.size(), 1u);
}

TEST(CodecRevisedErrorTest, UnknownOptionalAttributesAreKeptWithTheirFlags) {
  Update update = DecodeUpdate(
      UpdateBytes("", Cat({GoodAttributes(), "e0 20 04 01020304", "80 63 00"}), kTwoPrefixes),
      kFourOctet);
  EXPECT_EQ(update.attributes.unknown,
            (std::vector<RawAttribute>{RawAttribute{0xe0, 0x20, {1, 2, 3, 4}},
                                       RawAttribute{0x80, 0x63, {}}}));
}

TEST(CodecRevisedErrorTest, UnknownAttributesAreOrderedByTypeAsTheEncoderWritesThem) {
  // Found by the fuzzer: out-of-order unknown attributes did not survive a round trip.
  std::vector<uint8_t> bytes =
      UpdateBytes("", Cat({GoodAttributes(), "c0 87 01 aa", "e0 20 01 bb"}), kTwoPrefixes);
  Update update = DecodeUpdate(bytes, kFourOctet);
  ASSERT_EQ(update.attributes.unknown.size(), 2u);
  EXPECT_EQ(update.attributes.unknown[0].type, 0x20);
  EXPECT_EQ(update.attributes.unknown[1].type, 0x87);
  EXPECT_EQ(DecodeOk(Encode(update, kFourOctet).value(), kFourOctet), Message(update));
}

// ---- 4-octet AS on a 2-octet session (RFC 6793) -----------------------------------------

TEST(CodecAs4Test, As4PathReplacesTheTrailingAsTransEntries) {
  // AS_PATH [65001 23456 23456], AS4_PATH [4200000000 4200000001] -> [65001 4200000000 4200000001]
  Update update = DecodeUpdate(
      UpdateBytes("", Cat({kOriginIgp, "40 02 08 02 03 fde9 5ba0 5ba0", kNextHop,
                           "c0 11 0a 02 02 fa56ea00 fa56ea01"}),
                  kTwoPrefixes),
      kTwoOctet);
  ASSERT_TRUE(update.attributes.as_path.has_value());
  EXPECT_EQ(update.attributes.as_path->segments,
            (std::vector<AsPathSegment>{{AsSegmentType::kAsSequence, {65001}},
                                        {AsSegmentType::kAsSequence, {4200000000u, 4200000001u}}}));
}

TEST(CodecAs4Test, As4AggregatorReplacesAsTransAggregator) {
  Update update = DecodeUpdate(
      UpdateBytes("", Cat({kOriginIgp, "40 02 04 02 01 5ba0", kNextHop,
                           "c0 07 06 5ba0 0a000001", "c0 12 08 fa56ea00 0a000001"}),
                  kTwoPrefixes),
      kTwoOctet);
  EXPECT_EQ(update.attributes.aggregator, (Aggregator{4200000000u, 0x0a000001}));
}

TEST(CodecAs4Test, MalformedAs4PathIsDiscardedEvenWhenStrict) {
  CodecOptions strict_two_octet{.four_octet_as = false, .revised_error_handling = false};
  Update update = DecodeUpdate(
      UpdateBytes("", Cat({kOriginIgp, "40 02 04 02 01 5ba0", kNextHop, "c0 11 02 02 00"}),
                  kTwoPrefixes),
      strict_two_octet);
  EXPECT_EQ(update.attributes.as_path->segments[0].asns, std::vector<uint32_t>{kAsTrans});
  EXPECT_EQ(update.attribute_errors.size(), 1u);
}

// ---- streaming --------------------------------------------------------------------------

// A stream of several messages and the offsets at which each one ends.
std::vector<uint8_t> SeveralMessages(std::vector<size_t>& message_ends) {
  std::vector<uint8_t> stream;
  for (const Message& message : {Message(PeerOpen()), Message(Keepalive{}), Message(GoldenUpdate()),
                                  Message(Update{}), Message(Notification{6, 2, {}})}) {
    std::vector<uint8_t> bytes = Encode(message, kFourOctet).value();
    stream.insert(stream.end(), bytes.begin(), bytes.end());
    message_ends.push_back(stream.size());
  }
  return stream;
}

TEST(CodecStreamTest, EverySplitPointDecodesTheWholeMessagesThenNeedsMoreBytes) {
  std::vector<size_t> message_ends;
  std::vector<uint8_t> stream = SeveralMessages(message_ends);
  for (size_t split = 0; split <= stream.size(); ++split) {
    std::span<const uint8_t> received(stream.data(), split);
    size_t decoded_count = 0;
    while (!received.empty()) {
      DecodeResult result = Decode(received, kFourOctet);
      if (const auto* more = std::get_if<NeedMoreBytes>(&result)) {
        EXPECT_GT(more->at_least, 0u) << "split at " << split;
        EXPECT_LE(more->at_least, stream.size() - split) << "split at " << split;
        break;
      }
      const auto* decoded = std::get_if<DecodedMessage>(&result);
      ASSERT_NE(decoded, nullptr) << "split at " << split;
      received = received.subspan(decoded->consumed);
      ++decoded_count;
    }
    size_t complete = 0;
    while (complete < message_ends.size() && message_ends[complete] <= split) ++complete;
    EXPECT_EQ(decoded_count, complete) << "split at " << split;
  }
}

}  // namespace
}  // namespace kelp::bgp
