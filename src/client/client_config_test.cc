// ParseKubeconfig/LoadKubeconfig: the current context's server, CA and token, relative paths,
// and errors that say what is missing.
#include "client/client_config.h"

#include <gtest/gtest.h>

#include "common/file.h"
#include "common/testing/temp_dir.h"

namespace kelp::client {
namespace {

constexpr std::string_view kKubeconfig = R"(apiVersion: v1
kind: Config
clusters:
- name: other
  cluster:
    server: "https://10.0.0.9:6443"
- name: default
  cluster:
    server: "https://127.0.0.1:6443"
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
users:
- name: default
  user:
    token: "abc"
contexts:
- name: default
  context:
    cluster: default
    user: default
current-context: default
)";

TEST(ParseKubeconfigTest, ReadsTheCurrentContext) {
  Result<ClientConfig> config = ParseKubeconfig(kKubeconfig, "/unused");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://127.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, "-----BEGIN CERTIFICATE-----\n");
  EXPECT_EQ(config->token, "abc");
}

TEST(ParseKubeconfigTest, ErrorsSayWhatIsMissing) {
  struct Case {
    std::string_view yaml;
    std::string_view message;
  };
  for (const Case& c :
       {Case{"apiVersion: v1\n", "no current-context"},
        Case{"current-context: x\n", "context \"x\" not found"},
        Case{"current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n",
             "cluster \"c\" not found"},
        Case{"current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
             "clusters:\n- name: c\n  cluster: {}\n",
             "cluster \"c\" has no server"},
        Case{"[", "kubeconfig: "},
        Case{"- 1\n", "not a map"}}) {
    Result<ClientConfig> config = ParseKubeconfig(c.yaml, "/unused");
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_NE(config.status().message().find(c.message), std::string::npos)
        << config.status().message();
  }
}

TEST(LoadKubeconfigTest, ResolvesFilesNextToTheKubeconfig) {
  kelp::testing::ScopedTempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::filesystem::path path = dir.path() / "config";
  ASSERT_TRUE(WriteFileAtomic(path,
                              "current-context: c\ncontexts:\n- name: c\n  context:\n"
                              "    cluster: x\n    user: u\nclusters:\n- name: x\n  cluster:\n"
                              "    server: https://10.0.0.1:6443\n"
                              "    certificate-authority: ca.pem\n"
                              "users:\n- name: u\n  user:\n    tokenFile: token\n",
                              0600)
                  .ok());
  ASSERT_TRUE(WriteFileAtomic(dir.path() / "token", "abc\n", 0600).ok());
  Result<ClientConfig> config = LoadKubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://10.0.0.1:6443");
  EXPECT_EQ(config->ca_file, dir.path() / "ca.pem");
  EXPECT_EQ(config->token, "abc");
  EXPECT_EQ(LoadKubeconfig(dir.path() / "absent").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace kelp::client
