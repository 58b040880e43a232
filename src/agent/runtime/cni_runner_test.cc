// CniRunner over FakeProcessRunner: configuration choice, the environment and config each
// plugin gets, ADD chaining through prevResult, DEL in reverse with the cached result, the
// libcni cache file, CHECK/STATUS rules and plugin error JSON.
#include "agent/runtime/cni_runner.h"

#include <sys/stat.h>

#include <boost/json.hpp>
#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/file.h"
#include "common/testing/fake_process_runner.h"
#include "common/testing/temp_dir.h"

namespace kelp::agent {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kConflist[] = R"({
  "cniVersion": "1.0.0",
  "name": "kelpnet",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "ipam": {"type": "host-local", "subnet": "10.9.0.0/24"}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
})";

constexpr char kBridgeResult[] =
    R"({"cniVersion":"1.0.0","interfaces":[{"name":"cni0"},{"name":"eth0","sandbox":"/run/netns/x"}],)"
    R"("ips":[{"address":"10.9.0.7/24","gateway":"10.9.0.1","interface":1}]})";

std::string Env(const ProcessRequest& request, const std::string& key) {
  for (const std::string& e : *request.env) {
    if (e.starts_with(key + "=")) return e.substr(key.size() + 1);
  }
  return "<unset>";
}

class CniRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    fs::create_directories(tmp_.path() / "net.d");
    fs::create_directories(tmp_.path() / "bin");
    for (const char* plugin : {"bridge", "portmap"}) MakeExecutable(tmp_.path() / "bin" / plugin);
    options_.conf_dir = tmp_.path() / "net.d";
    options_.bin_dirs = {tmp_.path() / "missing", tmp_.path() / "bin"};
    options_.cache_dir = tmp_.path() / "cache";
  }

  static void MakeExecutable(const fs::path& path) {
    std::ofstream(path) << "#!/bin/sh\n";
    ::chmod(path.c_str(), 0755);
  }

  void WriteConf(const std::string& name, const std::string& text) {
    std::ofstream(tmp_.path() / "net.d" / name) << text;
  }

  CniAttachment Attachment() const {
    return {.container_id = "abc123",
            .netns = "/run/netns/x",
            .ifname = "eth0",
            .args = KubernetesCniArgs("default", "web-0", "abc123", "uid-1")};
  }

  testing::ScopedTempDir tmp_;
  CniOptions options_;
  testing::FakeProcessRunner runner_;
};

TEST_F(CniRunnerTest, PicksTheFirstValidConfigInLexicalOrder) {
  WriteConf("30-late.conflist", kConflist);
  WriteConf("10-broken.conflist", "{not json");
  WriteConf("05-readme.txt", "ignored");
  WriteConf("20-single.conf",
            R"({"cniVersion":"0.4.0","name":"single","type":"bridge","bridge":"br9"})");
  Result<CniNetworkList> list = LoadFirstNetworkList(options_.conf_dir);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->name, "single");
  EXPECT_EQ(list->cni_version, "0.4.0");
  ASSERT_EQ(list->plugins.size(), 1u);
  EXPECT_EQ(list->plugins[0].at("bridge").as_string(), "br9");
  EXPECT_EQ(list->source, options_.conf_dir / "20-single.conf");
}

TEST_F(CniRunnerTest, NoConfigIsNotFound) {
  EXPECT_EQ(LoadFirstNetworkList(options_.conf_dir).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(LoadFirstNetworkList(tmp_.path() / "nope").status().code(), StatusCode::kNotFound);
}

TEST_F(CniRunnerTest, RejectsBadLists) {
  EXPECT_THAT(ParseNetworkList(R"({"name":"x","plugins":[]})").status().message(),
              HasSubstr("no plugins"));
  EXPECT_THAT(ParseNetworkList(R"({"name":"x","plugins":[{"type":"../sh"}]})").status().message(),
              HasSubstr("not a plugin name"));
  EXPECT_THAT(ParseNetworkList(R"({"plugins":[{"type":"a"}]})").status().message(),
              HasSubstr("name"));
}

TEST_F(CniRunnerTest, AddChainsResultsAndCachesTheFinalOne) {
  Result<CniNetworkList> list = ParseNetworkList(kConflist);
  ASSERT_TRUE(list.ok());
  runner_.AddResult(ProcessResult{.exit_code = 0, .stdout_data = kBridgeResult});
  std::string portmap_result = std::string(kBridgeResult);
  runner_.AddResult(ProcessResult{.exit_code = 0, .stdout_data = portmap_result});

  CniRunner cni(options_, runner_);
  Result<CniAddResult> added = cni.Add(*list, Attachment());
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->ip, "10.9.0.7");
  EXPECT_EQ(added->ip_prefix, "10.9.0.7/24");
  EXPECT_EQ(added->gateway, "10.9.0.1");

  std::vector<ProcessRequest> runs = runner_.runs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].argv, std::vector<std::string>{(tmp_.path() / "bin" / "bridge").string()});
  EXPECT_EQ(runs[1].argv, std::vector<std::string>{(tmp_.path() / "bin" / "portmap").string()});
  const ProcessRequest& bridge = runs[0];
  EXPECT_EQ(Env(bridge, "CNI_COMMAND"), "ADD");
  EXPECT_EQ(Env(bridge, "CNI_CONTAINERID"), "abc123");
  EXPECT_EQ(Env(bridge, "CNI_NETNS"), "/run/netns/x");
  EXPECT_EQ(Env(bridge, "CNI_IFNAME"), "eth0");
  EXPECT_EQ(Env(bridge, "CNI_ARGS"),
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;"
            "K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=uid-1");
  EXPECT_EQ(Env(bridge, "CNI_PATH"),
            (tmp_.path() / "missing").string() + ":" + (tmp_.path() / "bin").string());
  EXPECT_EQ(bridge.timeout, options_.plugin_timeout);

  // Golden stdin: the plugin's own config plus the injected name and cniVersion; the second
  // plugin also gets the first one's result as prevResult.
  EXPECT_EQ(json::parse(bridge.stdin_data),
            json::parse(R"({"type":"bridge","bridge":"cni0","ipam":{"type":"host-local",)"
                        R"("subnet":"10.9.0.0/24"},"name":"kelpnet","cniVersion":"1.0.0"})"));
  json::value expected_portmap = json::parse(
      R"({"type":"portmap","capabilities":{"portMappings":true},"name":"kelpnet",)"
      R"("cniVersion":"1.0.0"})");
  expected_portmap.as_object()["prevResult"] = json::parse(kBridgeResult);
  EXPECT_EQ(json::parse(runs[1].stdin_data), expected_portmap);

  // The cache file, where and how libcni writes it.
  fs::path cache = options_.cache_dir / "results" / "kelpnet-abc123-eth0";
  EXPECT_EQ(cni.CachePath("kelpnet", Attachment()), cache);
  struct stat st {};
  ASSERT_EQ(::stat(cache.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  json::object entry = json::parse(*ReadFile(cache)).as_object();
  EXPECT_EQ(entry.at("kind"), "cniCacheV1");
  EXPECT_EQ(entry.at("containerId"), "abc123");
  EXPECT_EQ(entry.at("ifName"), "eth0");
  EXPECT_EQ(entry.at("networkName"), "kelpnet");
  EXPECT_EQ(entry.at("netns"), "/run/netns/x");
  EXPECT_EQ(entry.at("result"), json::parse(kBridgeResult));
  EXPECT_EQ(entry.at("cniArgs").as_array().at(1), (json::array{"K8S_POD_NAMESPACE", "default"}));
  // "config" is the list's bytes in base64, as Go marshals []byte.
  Result<CniCacheEntry> parsed = ParseCniCacheEntry(*ReadFile(cache));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->config, kConflist);
  Result<CniNetworkList> cached_list = cni.CachedNetworkList("abc123", "eth0");
  ASSERT_TRUE(cached_list.ok());
  EXPECT_EQ(cached_list->name, "kelpnet");
  EXPECT_EQ(cached_list->plugins.size(), 2u);
}

TEST_F(CniRunnerTest, DelRunsInReverseWithTheCachedResultAndDropsTheCache) {
  Result<CniNetworkList> list = ParseNetworkList(kConflist);
  ASSERT_TRUE(list.ok());
  runner_.AddResult(ProcessResult{.exit_code = 0, .stdout_data = kBridgeResult});
  runner_.AddResult(ProcessResult{.exit_code = 0, .stdout_data = kBridgeResult});
  CniRunner cni(options_, runner_);
  ASSERT_TRUE(cni.Add(*list, Attachment()).ok());

  runner_.AddResult(ProcessResult{.exit_code = 0});
  runner_.AddResult(ProcessResult{.exit_code = 0});
  CniAttachment del = Attachment();
  del.netns = "";  // the namespace may already be gone
  ASSERT_TRUE(cni.Del(*list, del).ok());
  std::vector<ProcessRequest> runs = runner_.runs();
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_THAT(runs[2].argv[0], HasSubstr("portmap"));
  EXPECT_THAT(runs[3].argv[0], HasSubstr("bridge"));
  for (int i : {2, 3}) {
    EXPECT_EQ(Env(runs[i], "CNI_COMMAND"), "DEL");
    EXPECT_EQ(Env(runs[i], "CNI_NETNS"), "");
    EXPECT_EQ(json::parse(runs[i].stdin_data).at("prevResult"), json::parse(kBridgeResult));
  }
  EXPECT_FALSE(fs::exists(options_.cache_dir / "results" / "kelpnet-abc123-eth0"));

  // A second DEL has no cached result: no prevResult, still succeeds.
  runner_.AddResult(ProcessResult{.exit_code = 0});
  runner_.AddResult(ProcessResult{.exit_code = 0});
  ASSERT_TRUE(cni.Del(*list, del).ok());
  EXPECT_FALSE(json::parse(runner_.runs()[5].stdin_data).as_object().contains("prevResult"));
}

TEST_F(CniRunnerTest, PluginErrorJsonBecomesTheStatus) {
  Result<CniNetworkList> list = ParseNetworkList(kConflist);
  ASSERT_TRUE(list.ok());
  runner_.AddResult(ProcessResult{
      .exit_code = 1,
      .stdout_data = R"({"cniVersion":"1.0.0","code":7,"msg":"invalid subnet","details":"x/33"})"});
  CniRunner cni(options_, runner_);
  Result<CniAddResult> added = cni.Add(*list, Attachment());
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.status().code(), StatusCode::kInternal);
  EXPECT_THAT(added.status().message(), HasSubstr("type=\"bridge\""));
  EXPECT_THAT(added.status().message(), HasSubstr("(code 7): invalid subnet; x/33"));
  EXPECT_EQ(runner_.runs().size(), 1u);  // the chain stops at the failing plugin
  EXPECT_FALSE(fs::exists(options_.cache_dir / "results" / "kelpnet-abc123-eth0"));

  runner_.AddResult(ProcessResult{.exit_code = 1,
                                  .stdout_data = R"({"code":11,"msg":"subnet.env missing"})"});
  EXPECT_EQ(cni.Add(*list, Attachment()).status().code(), StatusCode::kUnavailable);

  runner_.AddResult(ProcessResult{.exit_code = 2, .stderr_data = "panic: boom\n"});
  EXPECT_THAT(cni.Add(*list, Attachment()).status().message(),
              HasSubstr("failed (exit status 2): panic: boom"));

  runner_.AddResult(ProcessResult{.exit_code = 0, .stdout_data = "not json"});
  EXPECT_THAT(cni.Add(*list, Attachment()).status().message(), HasSubstr("invalid result"));

  runner_.AddResult(ProcessResult{.exit_code = -1, .timed_out = true});
  EXPECT_EQ(cni.Add(*list, Attachment()).status().code(), StatusCode::kDeadlineExceeded);
}

TEST_F(CniRunnerTest, MissingPluginIsNotFound) {
  Result<CniNetworkList> list =
      ParseNetworkList(R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":"nosuch"}]})");
  ASSERT_TRUE(list.ok());
  CniRunner cni(options_, runner_);
  Status status = cni.Add(*list, Attachment()).status();
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("failed to find plugin \"nosuch\""));
  EXPECT_TRUE(runner_.runs().empty());
}

TEST_F(CniRunnerTest, CheckNeedsTheCacheAndHonoursDisableCheckAndVersion) {
  Result<CniNetworkList> list = ParseNetworkList(kConflist);
  ASSERT_TRUE(list.ok());
  CniRunner cni(options_, runner_);
  EXPECT_EQ(cni.Check(*list, Attachment()).code(), StatusCode::kNotFound);

  runner_.AddResult(ProcessResult{.exit_code = 0, .stdout_data = kBridgeResult});
  runner_.AddResult(ProcessResult{.exit_code = 0, .stdout_data = kBridgeResult});
  ASSERT_TRUE(cni.Add(*list, Attachment()).ok());
  runner_.AddResult(ProcessResult{.exit_code = 0});
  runner_.AddResult(ProcessResult{.exit_code = 0});
  ASSERT_TRUE(cni.Check(*list, Attachment()).ok());
  std::vector<ProcessRequest> runs = runner_.runs();
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_THAT(runs[2].argv[0], HasSubstr("bridge"));  // CHECK goes in ADD order
  EXPECT_EQ(Env(runs[2], "CNI_COMMAND"), "CHECK");
  EXPECT_EQ(json::parse(runs[3].stdin_data).at("prevResult"), json::parse(kBridgeResult));

  CniNetworkList disabled = *list;
  disabled.disable_check = true;
  EXPECT_TRUE(cni.Check(disabled, Attachment()).ok());
  CniNetworkList old = *list;
  old.cni_version = "0.3.1";
  EXPECT_EQ(cni.Check(old, Attachment()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(runner_.runs().size(), 4u);
}

TEST_F(CniRunnerTest, StatusOnlyForVersionOnePointOne) {
  Result<CniNetworkList> list = ParseNetworkList(kConflist);
  ASSERT_TRUE(list.ok());
  CniRunner cni(options_, runner_);
  EXPECT_TRUE(cni.NetworkStatus(*list).ok());
  EXPECT_TRUE(runner_.runs().empty());
  list->cni_version = "1.1.0";
  runner_.AddResult(ProcessResult{.exit_code = 0});
  runner_.AddResult(ProcessResult{.exit_code = 1, .stdout_data = R"({"code":50,"msg":"no IPs"})"});
  Status status = cni.NetworkStatus(*list);
  EXPECT_THAT(status.message(), HasSubstr("(code 50): no IPs"));
  ASSERT_EQ(runner_.runs().size(), 2u);
  EXPECT_EQ(Env(runner_.runs()[0], "CNI_COMMAND"), "STATUS");
  EXPECT_EQ(Env(runner_.runs()[0], "CNI_CONTAINERID"), "<unset>");
}

TEST_F(CniRunnerTest, VersionsCompareNumerically) {
  EXPECT_TRUE(CniVersionAtLeast("1.0.0", "0.4.0"));
  EXPECT_TRUE(CniVersionAtLeast("0.10.0", "0.4.0"));
  EXPECT_FALSE(CniVersionAtLeast("0.3.1", "0.4.0"));
  EXPECT_FALSE(CniVersionAtLeast("garbage", "0.4.0"));
}

TEST_F(CniRunnerTest, ParsesPluginErrors) {
  std::optional<CniPluginError> error =
      ParseCniPluginError(R"({"code":3,"msg":"container unknown"})");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, 3);
  EXPECT_EQ(error->msg, "container unknown");
  EXPECT_FALSE(ParseCniPluginError("Error: oops").has_value());
  EXPECT_FALSE(ParseCniPluginError(R"({"msg":"no code"})").has_value());
}

}  // namespace
}  // namespace kelp::agent
