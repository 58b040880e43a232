// End to end: the command table of the classic three-node lab, run with the real kubectl
// against the real `kelp server` binary. No nodes exist here, so pods stay Pending (or are not
// created at all until the controllers issue): these tests cover what the API server answers.
#include <regex>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "common/file.h"
#include "common/testing/temp_dir.h"
#include "tests/e2e/harness.h"

namespace kelp::e2e {
namespace {

using namespace std::chrono_literals;

class LabCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    ASSERT_TRUE(CreateDirectories(dir_.path() / "home", 0700).ok());
    Status started = server_.Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  // Runs kubectl and expects success; returns stdout.
  std::string Ok(const std::vector<std::string>& args,
                 const std::vector<std::string>& extra_env = {}) {
    ProcessResult result = kubectl_.Run(args, extra_env);
    EXPECT_EQ(result.exit_code, 0) << "kubectl " << Join(args) << "\n" << result.stderr_data;
    return result.stdout_data;
  }
  // Runs kubectl and expects failure; returns stderr.
  std::string Fails(const std::vector<std::string>& args) {
    ProcessResult result = kubectl_.Run(args);
    EXPECT_NE(result.exit_code, 0) << "kubectl " << Join(args) << " succeeded";
    return result.stderr_data;
  }
  static std::string Join(const std::vector<std::string>& args) {
    std::string out;
    for (const auto& a : args) out += a + " ";
    return out;
  }
  std::filesystem::path File(const std::string& name, const std::string& contents) {
    std::filesystem::path path = dir_.path() / name;
    EXPECT_TRUE(WriteFileAtomic(path, contents).ok());
    return path;
  }

  kelp::testing::ScopedTempDir dir_;
  SubprocessRunner runner_;
  ServerProcess server_{runner_, dir_.path()};
  Kubectl kubectl_{runner_, dir_.path() / "home", server_.kubeconfig()};
};

TEST_F(LabCommandsTest, VersionAndApiResources) {
  EXPECT_NE(Ok({"version"}).find("Server Version: v1.32"), std::string::npos);
  std::string resources = Ok({"api-resources"});
  for (const char* line : {"deployments", "horizontalpodautoscalers", "endpointslices",
                           "leases", "configmaps", "services"}) {
    EXPECT_NE(resources.find(line), std::string::npos) << line << " missing:\n" << resources;
  }
}

TEST_F(LabCommandsTest, NamespacesDeploymentsScaleAndDelete) {
  std::string namespaces = Ok({"get", "ns"});
  EXPECT_TRUE(std::regex_search(namespaces, std::regex("kube-system +Active")));
  EXPECT_EQ(Ok({"create", "namespace", "abc"}), "namespace/abc created\n");
  EXPECT_EQ(Ok({"create", "deployment", "nginx1", "--image=nginx:1.22", "--replicas=3", "-n",
                "abc"}),
            "deployment.apps/nginx1 created\n");
  // No nodes: the controllers make the pods (UP-TO-DATE counts them as they appear) but none
  // is scheduled, so none is ready or available.
  EXPECT_TRUE(std::regex_search(Ok({"get", "deploy", "-n", "abc"}),
                                std::regex("nginx1 +0/3 +[0-3] +0 +[0-9]+s")));
  Ok({"get", "pod", "-o", "wide", "-n", "abc"});

  std::string described = Ok({"describe", "deployment", "nginx1", "-n", "abc"});
  EXPECT_TRUE(std::regex_search(described, std::regex("Replicas: +3 desired")));
  EXPECT_NE(described.find("nginx:1.22"), std::string::npos) << described;

  EXPECT_EQ(Ok({"scale", "deployment", "nginx1", "--replicas=1", "-n", "abc"}),
            "deployment.apps/nginx1 scaled\n");
  boost::json::value deployment =
      boost::json::parse(Ok({"get", "deploy", "nginx1", "-n", "abc", "-o", "json"}));
  EXPECT_EQ(deployment.at("spec").at("replicas").as_int64(), 1);
  EXPECT_EQ(deployment.at("spec").at("template").at("spec").at("containers").at(0).at("image"),
            "nginx:1.22");
  EXPECT_NE(Ok({"get", "deploy", "nginx1", "-n", "abc", "-o", "yaml"}).find("replicas: 1"),
            std::string::npos);

  EXPECT_EQ(Ok({"delete", "deployment", "nginx1", "-n", "abc"}),
            "deployment.apps \"nginx1\" deleted\n");
  EXPECT_NE(Fails({"get", "deploy", "nginx1", "-n", "abc"}).find("not found"), std::string::npos);
  EXPECT_EQ(Ok({"delete", "namespace", "abc"}), "namespace \"abc\" deleted\n");
}

TEST_F(LabCommandsTest, WatchReceivesEvents) {
  Ok({"create", "configmap", "first", "--from-literal=a=1"});
  const std::string output = (dir_.path() / "watch.out").string();
  Result<std::unique_ptr<ChildProcess>> watch = kubectl_.Start({"get", "cm", "-w"}, output);
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  ASSERT_TRUE(WaitForFileToContain(output, "first", 30s)) << ReadFile(output).value_or("");
  Ok({"create", "configmap", "second", "--from-literal=b=2"});
  EXPECT_TRUE(WaitForFileToContain(output, "second", 30s)) << ReadFile(output).value_or("");
  (void)(*watch)->Terminate(5s);
}

TEST_F(LabCommandsTest, InvalidInputGetsKubernetesErrors) {
  EXPECT_NE(Fails({"create", "namespace", "BAD"})
                .find("The Namespace \"BAD\" is invalid: metadata.name: Invalid value: \"BAD\": "
                      "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                      "characters or '-'"),
            std::string::npos);
  EXPECT_NE(Fails({"create", "deployment", "Web", "--image=nginx:1.22"})
                .find("metadata.name: Invalid value: \"Web\""),
            std::string::npos);
  Ok({"create", "deployment", "web", "--image=nginx:1.22"});
  EXPECT_NE(Fails({"create", "deployment", "web", "--image=nginx:1.22"})
                .find("deployments.apps \"web\" already exists"),
            std::string::npos);
  EXPECT_NE(Fails({"--token", "wrong", "get", "ns"}).find("You must be logged in to the server"),
            std::string::npos);
}

TEST_F(LabCommandsTest, RestartKeepsObjectsAndResourceVersions) {
  Ok({"create", "namespace", "abc"});
  Ok({"create", "deployment", "nginx1", "--image=nginx:1.22", "--replicas=3", "-n", "abc"});
  const std::vector<std::string> get_version = {
      "get", "deploy", "nginx1", "-n", "abc", "-o", "jsonpath={.metadata.resourceVersion}"};
  std::string before = Ok(get_version);
  ASSERT_FALSE(before.empty());
  ASSERT_TRUE(server_.Stop().ok());
  ASSERT_TRUE(server_.Start().ok());
  EXPECT_EQ(Ok(get_version), before);
  EXPECT_NE(Ok({"get", "ns"}).find("abc"), std::string::npos);
}

}  // namespace
}  // namespace kelp::e2e
