// Tests of the `kelp bgp` YAML configuration: the example from the issue, defaults, and
// errors that name the offending key.
#include "bgp/config.h"

#include <gtest/gtest.h>

namespace kelp::bgp {
namespace {

TEST(SpeakerConfigTest, ParsesTheDocumentedExample) {
  Result<SpeakerConfig> config = ParseSpeakerConfig(R"(
as: 64512
router_id: 192.168.206.10
listen: 0.0.0.0:179
announce: [10.244.1.0/26]
kernel: {install: true}
peers:
  - {address: 192.168.206.20, as: 64512, hold_time: 9, route_reflector_client: false}
  - {address: 192.168.206.30, as: 65001, port: 1790, passive: true, keepalive_time: 1}
)");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->as, 64512u);
  EXPECT_EQ(config->router_id, 0xc0a8ce0au);
  EXPECT_EQ(config->listen_address, 0u);
  EXPECT_EQ(config->listen_port, 179);
  EXPECT_EQ(config->announce, std::vector<Ipv4Prefix>{*Ipv4Prefix::Parse("10.244.1.0/26")});
  EXPECT_TRUE(config->kernel_install);
  ASSERT_EQ(config->peers.size(), 2u);
  EXPECT_EQ(config->peers[0].address, 0xc0a8ce14u);
  EXPECT_EQ(config->peers[0].hold_time, 9);
  EXPECT_EQ(config->peers[0].port, 179);
  EXPECT_FALSE(config->peers[0].passive);
  EXPECT_EQ(config->peers[1].as, 65001u);
  EXPECT_EQ(config->peers[1].port, 1790);
  EXPECT_TRUE(config->peers[1].passive);
  EXPECT_EQ(config->peers[1].keepalive_time, 1);
}

TEST(SpeakerConfigTest, ErrorsNameTheKey) {
  struct Case {
    const char* yaml;
    const char* error;
  };
  for (const Case& c : {
           Case{"router_id: 1.2.3.4", "as: missing"},
           Case{"as: 64512\nrouter_id: 1.2.3", "router_id: \"1.2.3\" is not an IPv4 address"},
           Case{"as: 64512\nrouter_id: 1.2.3.4\nannounce: [10.244.1.1/26]", "announce[0]"},
           Case{"as: 64512\nrouter_id: 1.2.3.4\npeers: [{address: 1.1.1.1, as: 1, hold_time: 2}]",
                "peers[0].hold_time: must be 0 or at least 3 seconds"},
           Case{"as: 64512\nrouter_id: 1.2.3.4\npeers: [{as: 1}]", "peers[0].address: missing"},
           Case{"as: 64512\nrouter_id: 1.2.3.4\npeers: [{address: 1.1.1.1, as: 1, colour: red}]",
                "peers[0].colour: unknown key"},
           Case{"as: 64512\nrouter_id: 1.2.3.4\nkernel: {install: maybe}",
                "kernel.install: expected true or false"},
           Case{"as: 64512\nrouter_id: 1.2.3.4\nlisten: 0.0.0.0:99999", "listen: expected"},
           Case{"as: [", "invalid YAML"},
       }) {
    Result<SpeakerConfig> config = ParseSpeakerConfig(c.yaml);
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_NE(config.status().message().find(c.error), std::string::npos)
        << config.status().message();
  }
}

}  // namespace
}  // namespace kelp::bgp
