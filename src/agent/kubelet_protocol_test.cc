#include "agent/kubelet_protocol.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "agent/kubelet_certificate.h"

namespace kelp::agent {
namespace {

using namespace std::chrono_literals;

TEST(KubeletProtocolTest, ExecQueryKeepsRepeatedCommandsAndDecodes) {
  Result<ExecRequest> exec = ParseExecQuery(
      "command=sh&command=-c&command=echo%20hi%3B+exit%203&container=c&stdin=true&stdout=true"
      "&stderr=1&tty=false");
  ASSERT_TRUE(exec.ok()) << exec.status().ToString();
  EXPECT_EQ(exec->command, (std::vector<std::string>{"sh", "-c", "echo hi; exit 3"}));
  EXPECT_TRUE(exec->stdin);
  EXPECT_TRUE(exec->stdout);
  EXPECT_TRUE(exec->stderr);
  EXPECT_FALSE(exec->tty);
}

TEST(KubeletProtocolTest, ExecQueryAcceptsTheKubeletsOlderNames) {
  Result<ExecRequest> exec = ParseExecQuery("command=ls&input=1&output=1&tty=1");
  ASSERT_TRUE(exec.ok());
  EXPECT_TRUE(exec->stdin);
  EXPECT_TRUE(exec->stdout);
  EXPECT_TRUE(exec->tty);
}

TEST(KubeletProtocolTest, ExecQueryRefusesWhatKubernetesRefuses) {
  EXPECT_EQ(ParseExecQuery("stdout=true").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseExecQuery("command=ls").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseExecQuery("command=ls&stdout=true&stderr=true&tty=true").status().code(),
            StatusCode::kInvalidArgument);
  // Malformed escapes stay as they are instead of failing.
  Result<ExecRequest> odd = ParseExecQuery("command=%zz%&stdout=true");
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->command.front(), "%zz%");
}

TEST(KubeletProtocolTest, LogQuery) {
  Result<LogRequest> log =
      ParseLogQuery("follow=true&tailLines=5&timestamps=true&limitBytes=100&sinceSeconds=30");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_TRUE(log->options.follow);
  EXPECT_EQ(log->options.tail_lines, 5);
  EXPECT_TRUE(log->options.timestamps);
  EXPECT_EQ(log->options.limit_bytes, 100);
  EXPECT_EQ(log->since_seconds, 30);
  EXPECT_FALSE(log->previous);
  EXPECT_EQ(ParseLogQuery("tailLines=-1").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseLogQuery("tailLines=x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseLogQuery("limitBytes=0").status().code(), StatusCode::kInvalidArgument);
  Result<LogRequest> plain = ParseLogQuery("");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->options.tail_lines.has_value());
}

TEST(KubeletProtocolTest, SubprotocolPrefersV5ThenV4) {
  EXPECT_EQ(ChooseStreamProtocol("v4.channel.k8s.io, v5.channel.k8s.io"), kStreamProtocolV5);
  EXPECT_EQ(ChooseStreamProtocol("channel.k8s.io,v4.channel.k8s.io"), kStreamProtocolV4);
  EXPECT_FALSE(ChooseStreamProtocol("channel.k8s.io, base64.channel.k8s.io").has_value());
  EXPECT_FALSE(ChooseStreamProtocol("").has_value());
}

TEST(KubeletProtocolTest, ExitStatusCarriesTheExitCodeAsKubectlReadsIt) {
  EXPECT_EQ(ExecExitStatus(0, {"true"}), R"({"metadata":{},"status":"Success"})");
  boost::json::object failure =
      boost::json::parse(ExecExitStatus(3, {"sh", "-c", "exit 3"})).as_object();
  EXPECT_EQ(failure["status"], "Failure");
  EXPECT_EQ(failure["reason"], "NonZeroExitCode");
  const auto& cause = failure["details"].as_object()["causes"].as_array()[0].as_object();
  EXPECT_EQ(cause.at("reason"), "ExitCode");
  EXPECT_EQ(cause.at("message"), "3");
  EXPECT_NE(failure["message"].as_string().find("[sh -c exit 3]"), std::string::npos);
}

TEST(KubeletProtocolTest, TerminalSize) {
  std::optional<TerminalSize> size = ParseTerminalSize(R"({"Width":120,"Height":40})");
  ASSERT_TRUE(size.has_value());
  EXPECT_EQ(size->columns, 120);
  EXPECT_EQ(size->rows, 40);
  EXPECT_FALSE(ParseTerminalSize(R"({"Width":-1,"Height":40})").has_value());
  EXPECT_FALSE(ParseTerminalSize(R"({"Width":70000,"Height":40})").has_value());
  EXPECT_FALSE(ParseTerminalSize("not json").has_value());
  EXPECT_FALSE(ParseTerminalSize(R"({"Width":80})").has_value());
}

TEST(KubeletProtocolTest, CpuRateBetweenSamples) {
  const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1000));
  CpuMemorySample a{.time = t0, .cpu_usage_ns = 1'000'000'000};
  CpuMemorySample b{.time = t0 + 2s, .cpu_usage_ns = 2'000'000'000};
  EXPECT_EQ(CpuRate(a, b), 500'000'000u);  // 1 s of CPU in 2 s: half a core
  EXPECT_FALSE(CpuRate(b, a).has_value());
  CpuMemorySample restarted{.time = t0 + 3s, .cpu_usage_ns = 10};
  EXPECT_FALSE(CpuRate(b, restarted).has_value());
}

TEST(KubeletProtocolTest, SummaryHasWhatMetricsServerReads) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  NodeSummary summary{.node_name = "node01", .start_time = t};
  summary.usage = {.sample = {.time = t, .cpu_usage_ns = 5, .memory_working_set_bytes = 7},
                   .usage_nano_cores = 1000};
  PodSummary pod{.name = "web", .pod_namespace = "default", .uid = "u1", .start_time = t};
  pod.usage = {.sample = {.time = t, .cpu_usage_ns = 3, .memory_working_set_bytes = 4096}};
  pod.containers.push_back(
      {.name = "nginx",
       .start_time = t,
       .usage = {.sample = {.time = t, .cpu_usage_ns = 3, .memory_working_set_bytes = 4096},
                 .usage_nano_cores = 250}});
  summary.pods.push_back(pod);
  boost::json::object doc = boost::json::parse(SummaryJson(summary)).as_object();
  EXPECT_EQ(doc["node"].as_object()["nodeName"], "node01");
  EXPECT_EQ(doc["node"].as_object()["cpu"].as_object()["usageNanoCores"], 1000);
  EXPECT_EQ(doc["node"].as_object()["memory"].as_object()["workingSetBytes"], 7);
  const auto& pod_json = doc["pods"].as_array()[0].as_object();
  EXPECT_EQ(pod_json.at("podRef").as_object().at("namespace"), "default");
  EXPECT_FALSE(pod_json.at("cpu").as_object().contains("usageNanoCores"));  // no rate yet
  const auto& container = pod_json.at("containers").as_array()[0].as_object();
  EXPECT_EQ(container.at("name"), "nginx");
  EXPECT_EQ(container.at("cpu").as_object().at("usageNanoCores"), 250);
  EXPECT_EQ(container.at("cpu").as_object().at("usageCoreNanoSeconds"), 3);
  EXPECT_EQ(container.at("cpu").as_object().at("time"), "2023-11-14T22:13:20.000000000Z");
}

TEST(KubeletCertificateTest, KeyAndCsrArePem) {
  Result<KeyAndCsr> made = NewKeyAndCsr("node01");
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_NE(made->key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  EXPECT_NE(made->csr_pem.find("BEGIN CERTIFICATE REQUEST"), std::string::npos);
}

}  // namespace
}  // namespace kelp::agent
