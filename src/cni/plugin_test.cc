#include "cni/plugin.h"

#include <map>

#include "common/status.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace kelp::cni {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// The OS is never reached by these requests; a factory that fails shows when it would be.
Result<std::unique_ptr<System>> NoSystem() { return UnavailableError("no OS in unit tests"); }

PluginOutput RunPlugin(const EnvLookup& env, std::string_view stdin_data,
                       std::string_view invoked_as) {
  return kelp::cni::RunPlugin(env, stdin_data, invoked_as, NoSystem);
}

boost::json::object Json(const std::string& text) { return boost::json::parse(text).as_object(); }

std::map<std::string, std::string> AddEnv() {
  return {{"CNI_COMMAND", "ADD"}, {"CNI_CONTAINERID", "c1"}, {"CNI_NETNS", "/var/run/netns/x"},
          {"CNI_IFNAME", "eth0"}, {"CNI_PATH", "/opt/cni/bin"}};
}

constexpr std::string_view kConfig =
    R"({"cniVersion":"1.0.0","name":"n","type":"kelp-bridge","ipam":{"type":"kelp-ipam","subnet":"10.1.0.0/24"}})";

TEST(PluginTest, VersionListsSupportedVersions) {
  PluginOutput out = RunPlugin(FakeEnv({{"CNI_COMMAND", "VERSION"}}), "", "kelp-cni");
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(out.stdout_data,
            "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n");
}

TEST(PluginTest, MissingCommandIsInvalidEnvironment) {
  PluginOutput out = RunPlugin(FakeEnv({}), "", "kelp-cni");
  EXPECT_EQ(out.exit_code, 1);
  boost::json::object error = Json(out.stdout_data);
  EXPECT_EQ(error.at("code").as_int64(), 4);
  EXPECT_EQ(error.at("cniVersion").as_string(), "1.1.0");
  EXPECT_EQ(error.at("msg").as_string(), "CNI_COMMAND is not set");
}

TEST(PluginTest, UnknownVerbIsInvalidEnvironment) {
  PluginOutput out = RunPlugin(FakeEnv({{"CNI_COMMAND", "FROB"}}), "", "kelp-cni");
  EXPECT_EQ(out.exit_code, 1);
  boost::json::object error = Json(out.stdout_data);
  EXPECT_EQ(error.at("code").as_int64(), 4);
  EXPECT_EQ(error.at("msg").as_string(), "unknown CNI_COMMAND FROB");
}

TEST(PluginTest, AddWithoutNetnsNamesTheVariable) {
  auto env = AddEnv();
  env.erase("CNI_NETNS");
  PluginOutput out = RunPlugin(FakeEnv(env), kConfig, "kelp-bridge");
  EXPECT_EQ(out.exit_code, 1);
  boost::json::object error = Json(out.stdout_data);
  EXPECT_EQ(error.at("code").as_int64(), 4);
  EXPECT_EQ(error.at("msg").as_string(), "CNI_NETNS is required for ADD");
}

TEST(PluginTest, DelDoesNotNeedNetns) {
  auto env = AddEnv();
  env["CNI_COMMAND"] = "DEL";
  env.erase("CNI_NETNS");
  PluginOutput out = RunPlugin(FakeEnv(env), kConfig, "kelp-bridge");
  // Gets past environment validation to the point where the OS is needed.
  EXPECT_EQ(Json(out.stdout_data).at("code").as_int64(), 5);
  EXPECT_EQ(Json(out.stdout_data).at("msg").as_string(), "cannot reach the kernel");
}

TEST(PluginTest, MalformedConfigIsDecodeFailure) {
  PluginOutput out = RunPlugin(FakeEnv(AddEnv()), "{not json", "kelp-bridge");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(Json(out.stdout_data).at("code").as_int64(), 6);
}

TEST(PluginTest, UnsupportedVersionIsIncompatible) {
  PluginOutput out =
      RunPlugin(FakeEnv(AddEnv()), R"({"cniVersion":"0.3.1","name":"n"})", "kelp-bridge");
  EXPECT_EQ(out.exit_code, 1);
  boost::json::object error = Json(out.stdout_data);
  EXPECT_EQ(error.at("code").as_int64(), 1);
  EXPECT_EQ(error.at("msg").as_string(), "unsupported cniVersion 0.3.1");
}

TEST(PluginTest, UnknownTypeIsInvalidConfigAndEchoesTheConfigVersion) {
  PluginOutput out = RunPlugin(FakeEnv(AddEnv()),
                               R"({"cniVersion":"0.4.0","name":"n","type":"frob"})", "kelp-cni");
  EXPECT_EQ(out.exit_code, 1);
  boost::json::object error = Json(out.stdout_data);
  EXPECT_EQ(error.at("cniVersion").as_string(), "0.4.0");
  EXPECT_EQ(error.at("code").as_int64(), 7);
  EXPECT_EQ(error.at("msg").as_string(), "unknown plugin type frob");
}

TEST(PluginTest, BadCidrIsInvalidConfigBeforeTouchingTheOs) {
  PluginOutput out = RunPlugin(
      FakeEnv(AddEnv()),
      R"({"cniVersion":"1.0.0","name":"n","type":"kelp-ipam","ipam":{"subnet":"10.1.0.0/40"}})",
      "kelp-ipam");
  boost::json::object error = Json(out.stdout_data);
  EXPECT_EQ(error.at("code").as_int64(), 7);
  EXPECT_EQ(error.at("msg").as_string(), "invalid CIDR in subnet: \"10.1.0.0/40\"");
}

TEST(PluginTest, MalformedCniArgsIsInvalidEnvironment) {
  auto env = AddEnv();
  env["CNI_ARGS"] = "K8S_POD_NAME=a;garbage";
  PluginOutput out = RunPlugin(FakeEnv(env), kConfig, "kelp-bridge");
  boost::json::object error = Json(out.stdout_data);
  EXPECT_EQ(error.at("code").as_int64(), 4);
  EXPECT_EQ(error.at("msg").as_string(), "CNI_ARGS entry \"garbage\" is not KEY=VALUE");
}

TEST(SpecTest, ParseArgsSplitsPairs) {
  auto args = ParseArgs("K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-1;IgnoreUnknown=1");
  auto* pairs = std::get_if<std::vector<std::pair<std::string, std::string>>>(&args);
  ASSERT_NE(pairs, nullptr);
  ASSERT_EQ(pairs->size(), 3u);
  EXPECT_EQ((*pairs)[1].first, "K8S_POD_NAME");
  EXPECT_EQ((*pairs)[1].second, "web-1");
}

TEST(SpecTest, ErrorJsonOmitsEmptyDetails) {
  EXPECT_EQ(ErrorJson({ErrorCode::kTryAgainLater, "wait", ""}, "1.1.0"),
            R"({"cniVersion":"1.1.0","code":11,"msg":"wait"})");
}

}  // namespace
}  // namespace kelp::cni
