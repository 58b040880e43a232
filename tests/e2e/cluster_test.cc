// End to end: `kelp server` (controllers and scheduler inside) with three `kelp agent --hollow`
// processes, driven by the real kubectl — what issue 4 promises a user: deployments spread
// across nodes, heal, scale, roll out and roll back; Services list their pods' IPs; deleting
// a namespace deletes what is in it; a node that stops heartbeating turns NotReady and its
// pods move to the others. Controller periods, the node grace period and the pods' default
// tolerations are shortened by flags so the whole file runs in well under two minutes. Every
// process runs on loopback from the test's temp directory and is stopped in TearDown.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/file.h"
#include "common/testing/temp_dir.h"
#include "tests/e2e/harness.h"

namespace kelp::e2e {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr int kNodes = 3;
// Short enough to keep the NotReady test quick, long enough that a hollow agent starved by a
// loaded machine (parallel tests on 2 cores) does not lose its node.
constexpr char kNodeMonitorGrace[] = "8s";

std::string At(const json::value& value, std::initializer_list<std::string_view> path) {
  const json::value* at = &value;
  for (std::string_view key : path) {
    const json::object* object = at->if_object();
    if (object == nullptr || !object->contains(key)) return "";
    at = &object->at(key);
  }
  return at->is_string() ? std::string(at->get_string()) : "";
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    ASSERT_TRUE(CreateDirectories(dir_.path() / "home", 0700).ok());
    ASSERT_TRUE(server_
                    .Start({"--node-monitor-grace-period", kNodeMonitorGrace,
                            "--node-monitor-period", "1s", "--default-not-ready-toleration-seconds",
                            "2", "--default-unreachable-toleration-seconds", "2"})
                    .ok())
        << server_.log();
    ASSERT_TRUE(WaitForFileToContain(server_.data_dir() / "agent-token", "K10", 10s));
    std::string token = ReadFile(server_.data_dir() / "agent-token").value_or("");
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    const std::string url = ServerUrl();
    ASSERT_FALSE(url.empty());
    for (int i = 0; i < kNodes; ++i) {
      const std::string name = "hollow-" + std::to_string(i);
      Result<std::unique_ptr<ChildProcess>> agent = runner_.Start(
          {.argv = {KELP_BINARY, "agent", "--hollow", "--server", url, "--token", token,
                    "--node-name", name, "--node-ip", "10.250.0." + std::to_string(i + 1),
                    "--node-lease-duration-seconds", "2"},
           .output_file = (dir_.path() / (name + ".log")).string()});
      ASSERT_TRUE(agent.ok()) << agent.status().ToString();
      agents_[name] = std::move(*agent);
    }
    ASSERT_TRUE(WaitFor("3 Ready nodes with a podCIDR", 30s, [&] {
      int ready = 0;
      for (const json::value& node : Items({"get", "nodes"})) {
        ready += NodeReady(node) && !At(node, {"spec", "podCIDR"}).empty() ? 1 : 0;
      }
      return ready == kNodes;
    }));
  }

  void TearDown() override {
    for (auto& [name, agent] : agents_) {
      if (!agent) continue;
      Result<ProcessExit> exit = agent->Terminate(10s);
      if (!exit.ok()) {
        ADD_FAILURE() << name << ": " << exit.status().ToString();
        continue;
      }
      EXPECT_EQ(exit->term_signal, 0) << name << " needed SIGKILL";
      EXPECT_EQ(exit->exit_code, 0) << name;
    }
    agents_.clear();
    Result<ProcessExit> stopped = server_.Stop();
    ASSERT_TRUE(stopped.ok());
    EXPECT_EQ(stopped->term_signal, 0) << "kelp server needed SIGKILL";
    EXPECT_EQ(stopped->exit_code, 0) << "kelp server";
    if (HasFailure()) ADD_FAILURE() << "server log:\n" << server_.log();
  }

  std::string ServerUrl() const {
    const std::string kubeconfig = ReadFile(server_.kubeconfig()).value_or("");
    const size_t at = kubeconfig.find("server: ");
    if (at == std::string::npos) return "";
    const size_t begin = at + 8;
    std::string url = kubeconfig.substr(begin, kubeconfig.find('\n', begin) - begin);
    std::erase(url, '"');  // the kubeconfig quotes it
    return url;
  }

  // kubectl that must succeed; its stdout.
  std::string Kubectl(const std::vector<std::string>& args) {
    ProcessResult result = kubectl_.Run(args);
    EXPECT_EQ(result.exit_code, 0)
        << "kubectl " << ::testing::PrintToString(args) << ": " << result.stderr_data;
    return result.stdout_data;
  }

  // `kubectl <args> -o json`; the object (empty when kubectl failed).
  json::value Json(std::vector<std::string> args) {
    args.insert(args.end(), {"-o", "json"});
    ProcessResult result = kubectl_.Run(args);
    if (result.exit_code != 0) return json::object();
    boost::system::error_code error;
    json::value parsed = json::parse(result.stdout_data, error);
    return error ? json::value(json::object()) : parsed;
  }
  json::array Items(std::vector<std::string> args) {
    json::value list = Json(std::move(args));
    const json::object* object = list.if_object();
    if (object == nullptr || !object->contains("items")) return {};
    return object->at("items").as_array();
  }

  // Polls `condition` (each poll runs kubectl, which paces it) until it holds.
  static bool WaitFor(const std::string& what, std::chrono::seconds timeout,
                      const std::function<bool()>& condition) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "timed out after " << timeout.count() << " s waiting for " << what;
        return false;
      }
      std::this_thread::sleep_for(100ms);  // poll interval of the bounded wait
    }
    return true;
  }

  static bool NodeReady(const json::value& node) {
    const json::object* object = node.if_object();
    const json::value* status = object ? object->if_contains("status") : nullptr;
    const json::value* conditions =
        status && status->is_object() ? status->get_object().if_contains("conditions") : nullptr;
    if (conditions == nullptr || !conditions->is_array()) return false;
    for (const json::value& condition : conditions->as_array()) {
      if (At(condition, {"type"}) == "Ready") return At(condition, {"status"}) == "True";
    }
    return false;
  }

  // The namespace's pods that are not being deleted.
  std::vector<json::value> ActivePods(const std::string& ns) {
    std::vector<json::value> active;
    for (const json::value& pod : Items({"get", "pods", "-n", ns})) {
      if (!pod.at("metadata").as_object().contains("deletionTimestamp")) active.push_back(pod);
    }
    return active;
  }
  // Exactly `count` active pods, all Running with an IP; their names.
  bool RunningPods(const std::string& ns, size_t count, std::vector<std::string>* names = nullptr) {
    std::vector<json::value> pods = ActivePods(ns);
    if (pods.size() != count) return false;
    for (const json::value& pod : pods) {
      if (At(pod, {"status", "phase"}) != "Running" || At(pod, {"status", "podIP"}).empty()) {
        return false;
      }
    }
    if (names != nullptr) {
      names->clear();
      for (const json::value& pod : pods) names->push_back(At(pod, {"metadata", "name"}));
    }
    return true;
  }

  void CreateDeployment(const std::string& ns, int replicas) {
    Kubectl({"create", "namespace", ns});
    Kubectl({"create", "deployment", "web", "-n", ns, "--image=nginx:1.22",
             "--replicas=" + std::to_string(replicas)});
  }

  kelp::testing::ScopedTempDir dir_;
  SubprocessRunner runner_;
  ServerProcess server_{runner_, dir_.path()};
  e2e::Kubectl kubectl_{runner_, dir_.path() / "home", server_.kubeconfig()};
  std::map<std::string, std::unique_ptr<ChildProcess>> agents_;
};

TEST_F(ClusterTest, DeploymentSpreadsHealsAndScales) {
  CreateDeployment("web", 3);
  ASSERT_TRUE(WaitFor("3 Running pods", 30s, [&] { return RunningPods("web", 3); }));
  std::set<std::string> nodes;
  for (const json::value& pod : ActivePods("web")) nodes.insert(At(pod, {"spec", "nodeName"}));
  EXPECT_EQ(nodes.size(), 3u) << "one pod per hollow node";

  // A deleted pod is replaced by a differently named one.
  std::vector<std::string> names;
  ASSERT_TRUE(RunningPods("web", 3, &names));
  const std::string victim = names.front();
  Kubectl({"delete", "pod", victim, "-n", "web"});
  ASSERT_TRUE(WaitFor("a replacement for " + victim, 30s, [&] {
    std::vector<std::string> now;
    return RunningPods("web", 3, &now) && std::find(now.begin(), now.end(), victim) == now.end();
  }));

  Kubectl({"scale", "deployment", "web", "-n", "web", "--replicas=1"});
  ASSERT_TRUE(WaitFor("1 pod", 30s, [&] { return RunningPods("web", 1); }));
  Kubectl({"scale", "deployment", "web", "-n", "web", "--replicas=5"});
  ASSERT_TRUE(WaitFor("5 Running pods", 30s, [&] { return RunningPods("web", 5); }));
  // READY comes from readyReplicas, which follows the pods through two controllers.
  EXPECT_TRUE(WaitFor("deployment web 5/5", 30s, [&] {
    return Kubectl({"get", "deployment", "web", "-n", "web"}).find("5/5") != std::string::npos;
  }));
}

TEST_F(ClusterTest, SetImageRollsOutAndUndoRestoresTheOldTemplate) {
  CreateDeployment("roll", 3);
  ProcessResult status =
      kubectl_.Run({"rollout", "status", "deployment/web", "-n", "roll", "--timeout=60s"});
  ASSERT_EQ(status.exit_code, 0) << status.stderr_data << status.stdout_data;

  Kubectl({"set", "image", "deployment/web", "-n", "roll", "nginx=nginx:1.23"});
  status = kubectl_.Run({"rollout", "status", "deployment/web", "-n", "roll", "--timeout=60s"});
  ASSERT_EQ(status.exit_code, 0) << status.stderr_data;
  EXPECT_NE(status.stdout_data.find("successfully rolled out"), std::string::npos)
      << status.stdout_data;
  ASSERT_TRUE(WaitFor("3 pods of nginx:1.23", 30s, [&] {
    std::vector<json::value> pods = ActivePods("roll");
    if (pods.size() != 3 || !RunningPods("roll", 3)) return false;
    for (const json::value& pod : pods) {
      if (At(pod.at("spec").at("containers").at(0), {"image"}) != "nginx:1.23") return false;
    }
    return true;
  }));
  EXPECT_EQ(Items({"get", "replicasets", "-n", "roll"}).size(), 2u);

  Kubectl({"rollout", "undo", "deployment/web", "-n", "roll"});
  status = kubectl_.Run({"rollout", "status", "deployment/web", "-n", "roll", "--timeout=60s"});
  ASSERT_EQ(status.exit_code, 0) << status.stderr_data;
  json::value deployment = Json({"get", "deployment", "web", "-n", "roll"});
  EXPECT_EQ(At(deployment.at("spec").at("template").at("spec").at("containers").at(0), {"image"}),
            "nginx:1.22");
  EXPECT_EQ(At(deployment, {"metadata", "annotations", "deployment.kubernetes.io/revision"}), "3");
  ASSERT_TRUE(WaitFor("3 pods of nginx:1.22", 30s, [&] {
    std::vector<json::value> pods = ActivePods("roll");
    if (pods.size() != 3 || !RunningPods("roll", 3)) return false;
    for (const json::value& pod : pods) {
      if (At(pod.at("spec").at("containers").at(0), {"image"}) != "nginx:1.22") return false;
    }
    return true;
  }));
  EXPECT_NE(Kubectl({"rollout", "history", "deployment/web", "-n", "roll"}).find("3 "),
            std::string::npos);
}

TEST_F(ClusterTest, ExposedDeploymentsEndpointsListThePodIps) {
  CreateDeployment("svc", 3);
  ASSERT_TRUE(WaitFor("3 Running pods", 30s, [&] { return RunningPods("svc", 3); }));
  Kubectl({"expose", "deployment", "web", "-n", "svc", "--port=80"});
  std::set<std::string> pod_ips;
  for (const json::value& pod : ActivePods("svc")) pod_ips.insert(At(pod, {"status", "podIP"}));
  ASSERT_EQ(pod_ips.size(), 3u);
  EXPECT_TRUE(WaitFor("the Endpoints to list the 3 pod IPs", 30s, [&] {
    json::value endpoints = Json({"get", "endpoints", "web", "-n", "svc"});
    std::set<std::string> listed;
    const json::value* subsets = endpoints.as_object().if_contains("subsets");
    if (subsets == nullptr || !subsets->is_array()) return false;
    for (const json::value& subset : subsets->as_array()) {
      const json::value* addresses = subset.as_object().if_contains("addresses");
      if (addresses == nullptr || !addresses->is_array()) continue;
      for (const json::value& address : addresses->as_array()) listed.insert(At(address, {"ip"}));
    }
    return listed == pod_ips;
  }));
}

TEST_F(ClusterTest, DeletingANamespaceDeletesEverythingInIt) {
  CreateDeployment("abc", 2);
  Kubectl({"create", "configmap", "settings", "-n", "abc", "--from-literal=a=b"});
  ASSERT_TRUE(WaitFor("2 Running pods", 30s, [&] { return RunningPods("abc", 2); }));
  Kubectl({"expose", "deployment", "web", "-n", "abc", "--port=80"});

  ProcessResult deleted = kubectl_.Run({"delete", "namespace", "abc", "--timeout=60s"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.stderr_data;
  ProcessResult gone = kubectl_.Run({"get", "namespace", "abc"});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_NE(gone.stderr_data.find("NotFound"), std::string::npos) << gone.stderr_data;
  for (const std::string resource :
       {"pods", "replicasets", "deployments", "services", "endpoints", "configmaps"}) {
    for (const json::value& item : Items({"get", resource, "-A"})) {
      EXPECT_NE(At(item, {"metadata", "namespace"}), "abc") << resource << " left behind";
    }
  }
}

TEST_F(ClusterTest, AStoppedNodeTurnsNotReadyAndItsPodsMoveToTheOthers) {
  CreateDeployment("fail", 3);
  ASSERT_TRUE(WaitFor("3 Running pods", 30s, [&] { return RunningPods("fail", 3); }));
  const std::string failed = At(ActivePods("fail").front(), {"spec", "nodeName"});
  ASSERT_TRUE(agents_.contains(failed)) << failed;
  const auto stopped_at = std::chrono::steady_clock::now();
  Result<ProcessExit> exit = agents_[failed]->Terminate(10s);
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->exit_code, 0);
  agents_.erase(failed);

  ASSERT_TRUE(WaitFor(failed + " to turn NotReady", 30s, [&] {
    return !NodeReady(Json({"get", "node", failed}));
  }));
  EXPECT_GE(std::chrono::steady_clock::now() - stopped_at, 6s)
      << "NotReady before its lease could have expired";
  // The taints follow the Unknown condition in an update of their own.
  std::set<std::string> taints;
  EXPECT_TRUE(WaitFor("the unreachable taints on " + failed, 30s, [&] {
    json::value node = Json({"get", "node", failed});
    taints.clear();
    const json::value* list = node.is_object() ? node.as_object().if_contains("spec") : nullptr;
    list = list && list->is_object() ? list->as_object().if_contains("taints") : nullptr;
    if (!list || !list->is_array()) return false;
    for (const json::value& taint : list->as_array()) {
      taints.insert(At(taint, {"key"}) + ":" + At(taint, {"effect"}));
    }
    return taints.contains("node.kubernetes.io/unreachable:NoExecute") &&
           taints.contains("node.kubernetes.io/unreachable:NoSchedule");
  }));

  // The 2 s default toleration runs out: the pod is evicted and replaced on a live node.
  ASSERT_TRUE(WaitFor("3 Running pods on the other nodes", 60s, [&] {
    if (!RunningPods("fail", 3)) return false;
    for (const json::value& pod : ActivePods("fail")) {
      if (At(pod, {"spec", "nodeName"}) == failed) return false;
    }
    return true;
  }));
  // Events are recorded asynchronously.
  EXPECT_TRUE(WaitFor("the TaintManagerEviction event", 30s, [&] {
    return Kubectl({"get", "events", "-n", "fail"}).find("TaintManagerEviction") !=
           std::string::npos;
  }));
}

}  // namespace
}  // namespace kelp::e2e
