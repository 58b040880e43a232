// `kelp proxy`'s node settings: flag validation, and --nodeport-addresses CIDRs resolved
// against the interfaces of the namespace it runs in (a namespace this test creates).
#include "proxy/command.h"

#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/process.h"
#include "net/netns.h"

namespace kelp::proxy {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Addresses(const RulesetOptions& options) {
  std::vector<std::string> out;
  for (const net::Ipv4Address& a : options.nodeport_addresses) out.push_back(a.ToString());
  return out;
}

TEST(NodeRulesetOptionsTest, DefaultsToTheNodeIpAndValidatesFlags) {
  ProxyCommandOptions options{.node_name = "node01", .node_ip = "192.168.206.20"};
  Result<RulesetOptions> ruleset = NodeRulesetOptions(options);
  ASSERT_TRUE(ruleset.ok()) << ruleset.status().ToString();
  EXPECT_EQ(ruleset->node_name, "node01");
  EXPECT_THAT(Addresses(*ruleset), ElementsAre("192.168.206.20"));
  EXPECT_FALSE(ruleset->nodeport_all_local);
  EXPECT_FALSE(ruleset->cluster_cidr.has_value());

  options.cluster_cidr = "10.244.7.0/16";
  options.nodeport_addresses = {"0.0.0.0/0"};
  ruleset = NodeRulesetOptions(options);
  ASSERT_TRUE(ruleset.ok());
  EXPECT_TRUE(ruleset->nodeport_all_local);
  EXPECT_EQ(ruleset->cluster_cidr->ToString(), "10.244.0.0/16");

  for (ProxyCommandOptions bad :
       {ProxyCommandOptions{.node_ip = "192.168.206.20"},
        ProxyCommandOptions{.node_name = "n", .node_ip = "192.168.206"},
        ProxyCommandOptions{.node_name = "n", .node_ip = "10.0.0.1", .cluster_cidr = "x/8"},
        ProxyCommandOptions{
            .node_name = "n", .node_ip = "10.0.0.1", .nodeport_addresses = {"10.0.0.0/33"}}}) {
    EXPECT_EQ(NodeRulesetOptions(bad).status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(NodeRulesetOptionsTest, NodePortCidrsSelectThisNamespacesAddresses) {
  auto ns = net::NamedNetns::Create("kpx-cmd-" + std::to_string(getpid()));
  ASSERT_TRUE(ns.ok()) << ns.status().ToString();
  SubprocessRunner runner;
  for (std::vector<std::string> argv : std::vector<std::vector<std::string>>{
           {"ip", "-n", (*ns)->name(), "link", "add", "d0", "type", "veth", "peer", "name", "d1"},
           {"ip", "-n", (*ns)->name(), "addr", "add", "10.9.0.5/24", "dev", "d0"},
           {"ip", "-n", (*ns)->name(), "addr", "add", "172.16.3.3/24", "dev", "d0"},
           {"ip", "-n", (*ns)->name(), "link", "set", "lo", "up"}}) {
    Result<ProcessResult> r = runner.Run({.argv = argv, .timeout = std::chrono::seconds(20)});
    ASSERT_TRUE(r.ok() && r->exit_code == 0) << argv[4];
  }
  Result<RulesetOptions> ruleset = InternalError("not run");
  ASSERT_TRUE(net::RunInNetns((*ns)->fd(), [&] {
                ruleset = NodeRulesetOptions(
                    {.node_name = "node01",
                     .node_ip = "192.168.206.20",
                     .nodeport_addresses = {"10.9.0.0/16", "primary", "127.0.0.0/8"}});
                return Status::Ok();
              }).ok());
  ASSERT_TRUE(ruleset.ok()) << ruleset.status().ToString();
  // Loopback never answers NodePorts; 172.16.3.3 is outside every CIDR given.
  EXPECT_THAT(Addresses(*ruleset), ElementsAre("10.9.0.5", "192.168.206.20"));
}

}  // namespace
}  // namespace kelp::proxy
