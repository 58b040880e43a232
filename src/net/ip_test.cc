#include "net/ip.h"

#include <gtest/gtest.h>

namespace kelp::net {
namespace {

TEST(IpTest, ParsesAndFormatsAddresses) {
  Result<Ipv4Address> a = Ipv4Address::Parse("10.244.1.5");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->value, 0x0af40105u);
  EXPECT_EQ(a->ToString(), "10.244.1.5");
  EXPECT_FALSE(Ipv4Address::Parse("10.244.1").ok());
  EXPECT_FALSE(Ipv4Address::Parse("10.244.1.256").ok());
}

TEST(IpTest, ParsesPrefixes) {
  Result<Ipv4Prefix> p = Ipv4Prefix::Parse("10.244.1.5/24");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->ToString(), "10.244.1.5/24");
  EXPECT_EQ(p->Network().ToString(), "10.244.1.0/24");
  EXPECT_EQ(p->Broadcast().ToString(), "10.244.1.255");
  EXPECT_TRUE(p->Contains(*Ipv4Address::Parse("10.244.1.200")));
  EXPECT_FALSE(p->Contains(*Ipv4Address::Parse("10.244.2.1")));
  EXPECT_EQ(Ipv4Prefix::Parse("0.0.0.0/0")->Mask(), 0u);
  EXPECT_EQ(Ipv4Prefix::Parse("1.2.3.4")->length, 32);
  EXPECT_FALSE(Ipv4Prefix::Parse("10.0.0.0/33").ok());
  EXPECT_FALSE(Ipv4Prefix::Parse("10.0.0.0/").ok());
  EXPECT_FALSE(Ipv4Prefix::Parse("10.0.0.0/2x").ok());
}

TEST(IpTest, ParsesMacs) {
  Result<MacAddress> m = MacAddress::Parse("AA:bb:0c:dd:ee:01");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->ToString(), "aa:bb:0c:dd:ee:01");
  EXPECT_FALSE(MacAddress::Parse("aa:bb:cc:dd:ee").ok());
  EXPECT_FALSE(MacAddress::Parse("aa-bb-cc-dd-ee-ff").ok());
  EXPECT_FALSE(MacAddress::Parse("zz:bb:cc:dd:ee:ff").ok());
}

}  // namespace
}  // namespace kelp::net
