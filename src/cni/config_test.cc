#include "cni/config.h"

#include <gtest/gtest.h>

namespace kelp::cni {
namespace {

CniError IpamError(const std::string& ipam) {
  CniResult<NetConf> conf =
      ParseNetConf(R"({"cniVersion":"1.0.0","name":"n","type":"kelp-ipam","ipam":)" + ipam + "}");
  EXPECT_TRUE(std::holds_alternative<NetConf>(conf));
  CniResult<IpamConf> parsed = ParseIpamConf(std::get<NetConf>(conf));
  EXPECT_TRUE(std::holds_alternative<CniError>(parsed));
  return std::get<CniError>(parsed);
}

TEST(ConfigTest, IpamErrorsNameTheField) {
  EXPECT_EQ(IpamError(R"({})").msg, "ipam has no ranges or subnet");
  EXPECT_EQ(IpamError(R"({"subnet":"10.1.0.0"})").msg, "invalid CIDR in subnet: \"10.1.0.0\"");
  EXPECT_EQ(IpamError(R"({"subnet":"10.1.0.0/24","rangeStart":"10.2.0.1"})").msg,
            "rangeStart 10.2.0.1 is outside subnet 10.1.0.0/24");
  EXPECT_EQ(IpamError(R"({"ranges":[[]]})").msg, "each ipam range set must be a non-empty array");
  EXPECT_EQ(IpamError(R"({"subnet":"10.1.0.0/24","routes":[{"gw":"1.2.3.4"}]})").msg,
            "each route needs a dst");
}

TEST(ConfigTest, HostLocalDefaultsAndRanges) {
  CniResult<NetConf> conf = ParseNetConf(
      R"({"cniVersion":"0.4.0","name":"n","ipam":{"type":"host-local","ranges":[[{"subnet":"10.1.0.5/24"}]]}})");
  IpamConf ipam = std::get<IpamConf>(ParseIpamConf(std::get<NetConf>(conf)));
  ASSERT_EQ(ipam.range_sets.size(), 1u);
  const IpRange& r = ipam.range_sets[0][0];
  EXPECT_EQ(r.subnet.ToString(), "10.1.0.0/24");
  EXPECT_EQ(r.start.ToString(), "10.1.0.1");
  EXPECT_EQ(r.end.ToString(), "10.1.0.254");
  EXPECT_EQ(r.gateway.ToString(), "10.1.0.1");
  EXPECT_EQ(ipam.data_dir, "/var/lib/cni/networks");
}

TEST(ConfigTest, BridgeFieldsAndTypeErrors) {
  CniResult<NetConf> conf = ParseNetConf(
      R"({"cniVersion":"1.0.0","name":"n","bridge":"br9","isDefaultGateway":true,"mtu":1400,"ipam":{}})");
  BridgeConf b = std::get<BridgeConf>(ParseBridgeConf(std::get<NetConf>(conf)));
  EXPECT_EQ(b.bridge, "br9");
  EXPECT_TRUE(b.is_gateway);  // implied by isDefaultGateway, as in the reference plugin
  EXPECT_EQ(b.mtu, 1400u);
  conf = ParseNetConf(R"({"cniVersion":"1.0.0","name":"n","ipMasq":"yes","ipam":{}})");
  EXPECT_EQ(std::get<CniError>(ParseBridgeConf(std::get<NetConf>(conf))).msg,
            "ipMasq must be a boolean");
  EXPECT_EQ(std::get<CniError>(ParseNetConf(R"({"cniVersion":"1.0.0"})")).msg, "name is missing");
  EXPECT_EQ(std::get<CniError>(ParseNetConf("[1]")).code, ErrorCode::kDecodeFailure);
}

TEST(ConfigTest, ResultJsonPerVersion) {
  CniOutput out;
  out.ips.push_back({*net::Ipv4Prefix::Parse("10.1.0.2/24"), *net::Ipv4Address::Parse("10.1.0.1"), 2});
  out.routes.push_back({*net::Ipv4Prefix::Parse("0.0.0.0/0"), std::nullopt});
  EXPECT_EQ(ResultJson(out, "1.0.0"),
            R"({"cniVersion":"1.0.0","ips":[{"interface":2,"address":"10.1.0.2/24","gateway":"10.1.0.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}})");
  EXPECT_EQ(ResultJson(out, "0.4.0"),
            R"({"cniVersion":"0.4.0","ips":[{"version":"4","interface":2,"address":"10.1.0.2/24","gateway":"10.1.0.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}})");
}

}  // namespace
}  // namespace kelp::cni
