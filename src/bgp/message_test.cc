// Tests of the BGP message value helpers: IPv4 prefix canonical form and text, End-of-RIB.
#include "bgp/message.h"

#include <gtest/gtest.h>

namespace kelp::bgp {
namespace {

TEST(Ipv4PrefixTest, ParsesAndPrintsCanonicalPrefix) {
  Result<Ipv4Prefix> prefix = Ipv4Prefix::Parse("10.244.1.0/26");
  ASSERT_TRUE(prefix.ok()) << prefix.status().ToString();
  EXPECT_EQ(prefix->address(), 0x0af40100u);
  EXPECT_EQ(prefix->length(), 26);
  EXPECT_EQ(prefix->ToString(), "10.244.1.0/26");
  EXPECT_EQ(Ipv4Prefix::Parse("0.0.0.0/0")->ToString(), "0.0.0.0/0");
  EXPECT_EQ(Ipv4Prefix::Parse("192.168.206.10/32")->ToString(), "192.168.206.10/32");
}

TEST(Ipv4PrefixTest, RejectsHostBitsAndBadLengths) {
  EXPECT_FALSE(Ipv4Prefix::Parse("10.244.1.5/26").ok());
  EXPECT_FALSE(Ipv4Prefix::Parse("10.244.1.0/33").ok());
  EXPECT_FALSE(Ipv4Prefix::Parse("10.244.1.0/").ok());
  EXPECT_FALSE(Ipv4Prefix::Parse("10.244.1.0").ok());
  EXPECT_FALSE(Ipv4Prefix::Parse("10.244.1/24").ok());
  EXPECT_FALSE(Ipv4Prefix::Parse("10.244.1.256/32").ok());
  EXPECT_FALSE(Ipv4Prefix::Create(0x0af40101, 24).ok());
  EXPECT_FALSE(Ipv4Prefix::Create(0, 33).ok());
}

TEST(Ipv4Test, FormatsAndParsesAddresses) {
  EXPECT_EQ(FormatIpv4(0xc0a8ce0a), "192.168.206.10");
  EXPECT_EQ(ParseIpv4("192.168.206.10").value(), 0xc0a8ce0au);
  EXPECT_FALSE(ParseIpv4("192.168.206").ok());
  EXPECT_FALSE(ParseIpv4("192.168.206.10.1").ok());
  EXPECT_FALSE(ParseIpv4("").ok());
}

TEST(UpdateTest, RecognizesEndOfRibMarkers) {
  EXPECT_EQ(Update{}.EndOfRibFamily(), kIpv4Unicast);
  Update ipv6_end;
  ipv6_end.attributes.mp_unreach = MpUnreach{AfiSafi{2, 1}, {}, {}};
  EXPECT_EQ(ipv6_end.EndOfRibFamily(), (AfiSafi{2, 1}));
  Update withdraw;
  withdraw.withdrawn.push_back(Ipv4Prefix::Parse("10.244.1.0/26").value());
  EXPECT_EQ(withdraw.EndOfRibFamily(), std::nullopt);
}

TEST(OpenTest, TwoOctetAsFieldUsesAsTransForBigAses) {
  EXPECT_EQ(TwoOctetAsField(64512), 64512);
  EXPECT_EQ(TwoOctetAsField(4200000000u), kAsTrans);
}

}  // namespace
}  // namespace kelp::bgp
