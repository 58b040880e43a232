// Golden nft transaction for flannel's masquerade rules, applied through FakeNftables; and the
// CNI installation (conflist content, links, existing plugins left alone, missing kelp-cni).
#include "flannel/masquerade.h"

#include <gtest/gtest.h>

#include "common/file.h"
#include "common/testing/temp_dir.h"
#include "flannel/cni_install.h"
#include "proxy/testing/fake_nftables.h"

namespace kelp::flannel {
namespace {

TEST(MasqueradeTest, GoldenRuleset) {
  proxy::testing::FakeNftables nft;
  ASSERT_TRUE(ApplyMasquerade(nft, *net::Ipv4Prefix::Parse("10.244.0.0/16"),
                              *net::Ipv4Prefix::Parse("10.244.1.0/24"))
                  .ok());
  ASSERT_EQ(nft.transactions().size(), 1u);
  EXPECT_EQ(nft.transactions()[0],
            "add table ip kelp-flannel\n"
            "delete table ip kelp-flannel\n"
            "table ip kelp-flannel {\n"
            "  chain postrouting {\n"
            "    type nat hook postrouting priority srcnat; policy accept;\n"
            "    ip saddr 10.244.1.0/24 ip daddr 10.244.0.0/16 return\n"
            "    ip saddr 10.244.0.0/16 ip daddr 10.244.1.0/24 return\n"
            "    ip saddr != 10.244.0.0/16 ip daddr 10.244.1.0/24 return\n"
            "    ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random\n"
            "    ip saddr != 10.244.0.0/16 ip daddr 10.244.0.0/16 masquerade fully-random\n"
            "  }\n"
            "}\n");
  ASSERT_TRUE(DeleteMasquerade(nft).ok());
  EXPECT_EQ(nft.last_applied(), "add table ip kelp-flannel\ndelete table ip kelp-flannel\n");
  nft.FailNext(1, InvalidArgumentError("syntax error"));
  Status failed = ApplyMasquerade(nft, *net::Ipv4Prefix::Parse("10.244.0.0/16"),
                                  *net::Ipv4Prefix::Parse("10.244.1.0/24"));
  EXPECT_EQ(failed.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(failed.message().find("nftables masquerade"), std::string::npos);
}

TEST(CniInstallTest, WritesTheConflistAndLinksOnlyMissingPlugins) {
  kelp::testing::ScopedTempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.path() / "kelp-cni", "binary", 0755).ok());
  ASSERT_TRUE(CreateDirectories(dir.path() / "bin", 0755).ok());
  ASSERT_TRUE(WriteFileAtomic(dir.path() / "bin" / "kelp-ipam", "someone else's", 0755).ok());
  CniInstallOptions options{.conf_dir = dir.path() / "net.d",
                            .bin_dir = dir.path() / "bin",
                            .kelp_cni_binary = dir.path() / "kelp-cni"};
  ASSERT_TRUE(InstallCni(options).ok());
  EXPECT_EQ(*ReadFile(dir.path() / "net.d" / kConflistName),
            R"({"cniVersion":"1.0.0","name":"cbr0","plugins":[{"type":"kelp-flannel",)"
            R"("delegate":{"hairpinMode":true,"isDefaultGateway":true}}]})"
            "\n");
  EXPECT_EQ(std::filesystem::read_symlink(dir.path() / "bin" / "kelp-flannel"),
            dir.path() / "kelp-cni");
  EXPECT_EQ(std::filesystem::read_symlink(dir.path() / "bin" / "kelp-bridge"),
            dir.path() / "kelp-cni");
  EXPECT_EQ(*ReadFile(dir.path() / "bin" / "kelp-ipam"), "someone else's");
  // Idempotent.
  ASSERT_TRUE(InstallCni(options).ok());

  CniInstallOptions missing{.conf_dir = dir.path() / "net2.d",
                            .bin_dir = dir.path() / "bin2",
                            .kelp_cni_binary = dir.path() / "no-such-kelp-cni"};
  Status status = InstallCni(missing);
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("--kelp-cni"), std::string::npos);
}

}  // namespace
}  // namespace kelp::flannel
