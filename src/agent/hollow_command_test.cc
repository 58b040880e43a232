// The agent's connection settings: --ca-file wins, a K10 token pins the CA, a plain token
// without a CA file is refused with advice.
#include "agent/hollow_command.h"

#include <gtest/gtest.h>

namespace kelp::agent {
namespace {

const std::string kK10 = "K10" + std::string(64, 'b') + "::node:secret";

TEST(AgentClientConfigTest, CaFileIsUsedWithAnyToken) {
  Result<client::ClientConfig> config = AgentClientConfig(
      {.server = "https://127.0.0.1:6443", .token = "plain", .ca_file = "/tmp/ca.crt"});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->ca_file, "/tmp/ca.crt");
  EXPECT_EQ(config->ca_sha256, "");
  EXPECT_EQ(config->token, "plain");
}

TEST(AgentClientConfigTest, K10TokenPinsTheCa) {
  Result<client::ClientConfig> config =
      AgentClientConfig({.server = "https://127.0.0.1:6443", .token = kK10});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->ca_sha256, std::string(64, 'b'));
  EXPECT_EQ(config->token, kK10);
}

TEST(AgentClientConfigTest, PlainTokenWithoutCaFileIsAClearError) {
  Result<client::ClientConfig> config =
      AgentClientConfig({.server = "https://127.0.0.1:6443", .token = "plain"});
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(config.status().message().find("--ca-file"), std::string::npos);
  EXPECT_EQ(AgentClientConfig({.token = kK10}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kelp::agent
