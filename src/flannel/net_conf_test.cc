// net-conf.json parsing (defaults, every backend, bad input) and subnet.env text.
#include "flannel/net_conf.h"

#include <gtest/gtest.h>

namespace kelp::flannel {
namespace {

TEST(NetConfTest, DefaultsAreFlannels) {
  Result<NetworkConfig> config = ParseNetConf(R"({"Network":"10.244.0.0/16"})");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->network.ToString(), "10.244.0.0/16");
  EXPECT_EQ(config->subnet_len, 24);
  EXPECT_EQ(config->backend.type, "vxlan");
  EXPECT_EQ(config->backend.vni, 1u);
  EXPECT_EQ(config->backend.port, 8472);
  EXPECT_FALSE(config->backend.direct_routing);
}

TEST(NetConfTest, ParsesEachBackend) {
  Result<NetworkConfig> vxlan = ParseNetConf(
      R"({"Network":"10.1.0.0/16","SubnetLen":26,"Backend":{"Type":"vxlan","VNI":4,"Port":4789,"DirectRouting":true}})");
  ASSERT_TRUE(vxlan.ok()) << vxlan.status().ToString();
  EXPECT_EQ(vxlan->subnet_len, 26);
  EXPECT_EQ(vxlan->backend.vni, 4u);
  EXPECT_EQ(vxlan->backend.port, 4789);
  EXPECT_TRUE(vxlan->backend.direct_routing);
  Result<NetworkConfig> host_gw =
      ParseNetConf(R"({"Network":"10.1.0.0/16","Backend":{"Type":"host-gw"}})");
  ASSERT_TRUE(host_gw.ok());
  EXPECT_EQ(host_gw->backend.type, "host-gw");
  Result<NetworkConfig> udp = ParseNetConf(R"({"Network":"10.1.0.0/16","Backend":{"Type":"udp"}})");
  ASSERT_TRUE(udp.ok());
  EXPECT_EQ(udp->backend.port, 8285);
}

TEST(NetConfTest, RejectsBadInputWithTheField) {
  struct Case {
    const char* json;
    const char* error;
  } cases[] = {
      {"", "net-conf.json"},
      {"[]", "net-conf.json"},
      {R"({})", "Network"},
      {R"({"Network":"10.244.0.0/33"})", "Network"},
      {R"({"Network":7})", "Network"},
      {R"({"Network":"10.244.0.0/16","SubnetLen":16})", "SubnetLen"},
      {R"({"Network":"10.244.0.0/16","SubnetLen":"24"})", "SubnetLen"},
      {R"({"Network":"10.244.0.0/16","Backend":{"Type":"ipip"}})", "Backend.Type"},
      {R"({"Network":"10.244.0.0/16","Backend":"vxlan"})", "Backend"},
      {R"({"Network":"10.244.0.0/16","Backend":{"VNI":16777216}})", "VNI"},
      {R"({"Network":"10.244.0.0/16","Backend":{"Port":70000}})", "Port"},
      {R"({"Network":"10.244.0.0/16","Backend":{"DirectRouting":1}})", "DirectRouting"},
  };
  for (const Case& c : cases) {
    Result<NetworkConfig> config = ParseNetConf(c.json);
    ASSERT_FALSE(config.ok()) << c.json;
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument) << c.json;
    EXPECT_NE(config.status().message().find(c.error), std::string::npos)
        << c.json << ": " << config.status().message();
  }
}

TEST(NetConfTest, MakeNetConfRoundTrips) {
  Result<std::string> text = MakeNetConf("10.244.0.0/16", "host-gw");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, R"({"Network":"10.244.0.0/16","SubnetLen":24,"Backend":{"Type":"host-gw"}})"
                   "\n");
  Result<NetworkConfig> parsed = ParseNetConf(*MakeNetConf("10.50.0.0/16", "vxlan"));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->backend.type, "vxlan");
  EXPECT_EQ(parsed->backend.port, 8472);
  EXPECT_FALSE(MakeNetConf("10.244.0.0", "ipip").ok());
  EXPECT_FALSE(MakeNetConf("nope", "vxlan").ok());
}

TEST(NetConfTest, SubnetEnvIsFlannels) {
  SubnetEnv env{.network = *net::Ipv4Prefix::Parse("10.244.0.0/16"),
                .subnet = *net::Ipv4Prefix::Parse("10.244.1.0/24"),
                .mtu = 1450,
                .ip_masq = true};
  EXPECT_EQ(FormatSubnetEnv(env),
            "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\n"
            "FLANNEL_IPMASQ=true\n");
}

}  // namespace
}  // namespace kelp::flannel
