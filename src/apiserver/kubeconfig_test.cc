// Tests for the admin kubeconfig text and file.
#include "apiserver/kubeconfig.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/file.h"
#include "common/testing/temp_dir.h"

namespace kelp::apiserver {
namespace {

TEST(ServerUrlTest, BracketsIpv6Hosts) {
  EXPECT_EQ(ServerUrl("127.0.0.1", 6443), "https://127.0.0.1:6443");
  EXPECT_EQ(ServerUrl("fd00::10", 6443), "https://[fd00::10]:6443");
  EXPECT_EQ(ServerUrl("master.lab", 443), "https://master.lab:443");
}

TEST(RenderKubeconfigTest, MatchesGolden) {
  KubeconfigParams params{.server_host = "192.168.206.10", .server_port = 6443,
                          .ca_cert_pem = "PEM", .token = "tok\"en"};
  EXPECT_EQ(RenderKubeconfig(params),
            "apiVersion: v1\n"
            "kind: Config\n"
            "clusters:\n"
            "- name: default\n"
            "  cluster:\n"
            "    server: \"https://192.168.206.10:6443\"\n"
            "    certificate-authority-data: UEVN\n"
            "users:\n"
            "- name: default\n"
            "  user:\n"
            "    token: \"tok\\\"en\"\n"
            "contexts:\n"
            "- name: default\n"
            "  context:\n"
            "    cluster: default\n"
            "    user: default\n"
            "current-context: default\n"
            "preferences: {}\n");
}

TEST(WriteKubeconfigTest, WritesMode0600CreatingTheDirectory) {
  kelp::testing::ScopedTempDir dir;
  auto path = dir.path() / "home" / ".kube" / "config";
  KubeconfigParams params{.server_host = "127.0.0.1", .server_port = 1, .ca_cert_pem = "x",
                          .token = "t"};
  ASSERT_TRUE(WriteKubeconfig(path, params).ok());
  EXPECT_EQ(ReadFile(path).value_or(""), RenderKubeconfig(params));
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600u);
}

}  // namespace
}  // namespace kelp::apiserver
