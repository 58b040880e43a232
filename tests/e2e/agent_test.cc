// The node agent end to end, as root: `kelp server --disable-agent` and `kelp agent` as real
// processes with real runc, kelp-shim, the reference CNI plugins (bridge + host-local from
// /usr/lib/cni) and tools/mkimage's nginx and busybox images loaded with `kelp images load`;
// the real kubectl drives it. The test process plays the node: it moves into a private mount
// namespace and a network namespace of its own (the bridge and the pods live there; both
// vanish with it), and bind-mounts temp directories over /run/netns and /var/lib/cni so the
// agent's pinned namespaces and CNI cache stay inside the test. TearDown stops the processes,
// kills any container left, removes the cgroups and the namespace.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "agent/runtime/testing/leftovers.h"
#include "agent/runtime/testing/mounts.h"
#include "common/file.h"
#include "common/json.h"
#include "common/process.h"
#include "common/testing/temp_dir.h"
#include "net/netns.h"
#include "tests/e2e/harness.h"

namespace kelp::agent {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const fs::path kMkimage = fs::path(KELP_SOURCE_DIR) / "tools" / "mkimage";

template <typename Fn>
bool WaitFor(Fn condition, std::chrono::milliseconds timeout = 60s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(200ms);  // poll interval of the bounded wait
  }
  return condition();
}

std::string StringAt(const json::value& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

int64_t IntAt(const json::value& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  return value && value->is_int64() ? value->as_int64() : -1;
}

bool ConditionTrue(const json::value& pod, std::string_view type) {
  const json::value* conditions = FindPath(pod, "status.conditions");
  if (!conditions || !conditions->is_array()) return false;
  for (const json::value& c : conditions->as_array()) {
    if (StringAt(c, "type") == type) return StringAt(c, "status") == "True";
  }
  return false;
}

class AgentE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    images_dir_ = new kelp::testing::ScopedTempDir();
    SubprocessRunner runner;
    for (const char* image : {"nginx", "busybox"}) {
      Result<ProcessResult> built =
          runner.Run({.argv = {"bash", kMkimage.string(), image,
                               (images_dir_->path() / (std::string(image) + ".tar")).string()},
                      .timeout = 600s});
      ASSERT_TRUE(built.ok() && built->exit_code == 0)
          << (built.ok() ? built->stderr_data : built.status().ToString());
    }
  }
  static void TearDownTestSuite() {
    delete images_dir_;
    images_dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "agent e2e tests need root";
    ASSERT_FALSE(tmp_.path().empty());
    ASSERT_EQ(::unshare(CLONE_NEWNS), 0) << std::strerror(errno);
    ASSERT_EQ(::mount("", "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    suffix_ = std::to_string(::getpid());
    node_name_ = "agt-" + suffix_;
    Result<std::unique_ptr<net::NamedNetns>> node = net::NamedNetns::Create("kelp-agt-" + suffix_);
    ASSERT_TRUE(node.ok()) << node.status().ToString();
    node_ = std::move(*node);
    Result<UniqueFd> host = net::OpenNetns("/proc/thread-self/ns/net");
    ASSERT_TRUE(host.ok());
    host_netns_ = std::move(*host);
    ASSERT_EQ(::setns(node_->fd(), CLONE_NEWNET), 0);
    ASSERT_EQ(Run({"ip", "link", "set", "lo", "up"}).exit_code, 0);
    // lo carries the node's address too (what --node-ip names).
    ASSERT_EQ(Run({"ip", "addr", "add", "192.0.2.10/32", "dev", "lo"}).exit_code, 0);
    for (const char* dir : {"netns", "cni", "net.d", "home", "run", "pods", "agent"}) {
      fs::create_directories(tmp_.path() / dir);
    }
    for (const auto& [source, target] :
         {std::pair{"netns", "/run/netns"}, {"cni", "/var/lib/cni"}}) {
      fs::create_directories(target);
      ASSERT_EQ(::mount((tmp_.path() / source).c_str(), target, nullptr, MS_BIND, nullptr), 0)
          << target << ": " << std::strerror(errno);
      bound_.push_back(target);
    }
    std::ofstream(tmp_.path() / "net.d" / "10-bridge.conflist")
        << R"({"cniVersion":"1.0.0","name":"agtnet","plugins":[{"type":"bridge","bridge":"kagt)"
        << suffix_.substr(0, 8)
        << R"(","isGateway":true,"ipMasq":false,"ipam":{"type":"host-local",)"
           R"("subnet":"10.88.0.0/24","routes":[{"dst":"0.0.0.0/0"}],"dataDir":")"
        << (tmp_.path() / "ipam").string() << R"("}}]})";

    for (const char* image : {"nginx", "busybox"}) {
      ProcessResult loaded =
          Run({KELP_BINARY, "images", "load", "--data-dir", (tmp_.path() / "agent").string(), "-i",
               (images_dir_->path() / (std::string(image) + ".tar")).string()});
      ASSERT_EQ(loaded.exit_code, 0) << loaded.stderr_data;
    }
    if (Embedded()) {
      StartServerWithEmbeddedAgent();
      return;
    }
    server_ = std::make_unique<e2e::ServerProcess>(runner_, tmp_.path() / "server");
    fs::create_directories(tmp_.path() / "server");
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    kubectl_ = std::make_unique<e2e::Kubectl>(runner_, tmp_.path() / "home", server_->kubeconfig());
    StartAgent();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(WaitFor([&] {
      return kubectl_->Run({"get", "node", node_name_}).exit_code == 0;
    })) << AgentLog();
  }

  virtual bool Embedded() const { return false; }

  // `kelp server` with its embedded agent (no --disable-agent), the agent flags on the server.
  void StartServerWithEmbeddedAgent() {
    const fs::path data = tmp_.path() / "server" / "data";
    fs::create_directories(data);
    Result<std::unique_ptr<ChildProcess>> server =
        runner_.Start({.argv = {KELP_BINARY,           "server",
                                "--data-dir",          data.string(),
                                "--bind-address",      "127.0.0.1",
                                "--https-listen-port", "0",
                                "--flannel-backend",   "none",
                                "--node-name",         node_name_,
                                "--node-ip",           "192.0.2.10",
                                "--agent-data-dir",    (tmp_.path() / "agent").string(),
                                "--run-dir",           (tmp_.path() / "run").string(),
                                "--pod-log-dir",       (tmp_.path() / "pods").string(),
                                "--cgroup-root",       CgroupRoot(),
                                "--cni-bin-dir",       "/usr/lib/cni",
                                "--cni-conf-dir",      (tmp_.path() / "net.d").string()},
                       .output_file = (tmp_.path() / "agent.log").string()});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    agent_ = std::move(*server);  // one process: server and agent
    ASSERT_TRUE(WaitFor([&] { return fs::exists(data / "kubeconfig.yaml"); })) << AgentLog();
    kubectl_ = std::make_unique<e2e::Kubectl>(runner_, tmp_.path() / "home",
                                              (data / "kubeconfig.yaml").string());
    ASSERT_TRUE(WaitFor([&] {
      return kubectl_->Run({"get", "node", node_name_}).exit_code == 0;
    })) << AgentLog();
  }

  void TearDown() override {
    if (agent_) {
      (void)agent_->Terminate(10s);
      agent_.reset();
    }
    if (server_) (void)server_->Stop();
    // Whatever is left: containers, shims, cgroups (the agent's paths), then mounts.
    RuntimeOptions agent_paths{
        .node_name = node_name_,
        .runc_root = tmp_.path() / "run" / "runc",
        .run_state_dir = tmp_.path() / "run" / "runtime",
        .runc_binary = fs::exists("/usr/sbin/runc") ? "/usr/sbin/runc" : "runc",
        .cgroup_parent = CgroupRoot()};
    (void)agent::testing::RemoveRuntimeLeftovers(nullptr, agent_paths, runner_);
    for (const std::string& target : bound_) ::umount2(target.c_str(), MNT_DETACH);
    agent::testing::UnmountAllUnder(tmp_.path());
    if (host_netns_.valid()) ::setns(host_netns_.get(), CLONE_NEWNET);
    node_.reset();
  }

  // The agent's cgroup root: this test's own, so removing it never races with another test.
  std::string CgroupRoot() const { return "kelp-e2e-" + node_name_; }

  ProcessResult Run(std::vector<std::string> argv) {
    Result<ProcessResult> result = runner_.Run({.argv = std::move(argv), .timeout = 120s});
    return result.ok() ? *result
                       : ProcessResult{.exit_code = -1, .stderr_data = result.status().ToString()};
  }

  void StartAgent() {
    Result<std::string> token = ReadFile(server_->data_dir() / "agent-token");
    ASSERT_TRUE(token.ok());
    std::string trimmed = *token;
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back())))
      trimmed.pop_back();
    std::string server_url;
    {
      Result<std::string> kubeconfig = ReadFile(server_->kubeconfig());
      ASSERT_TRUE(kubeconfig.ok());
      std::smatch match;
      ASSERT_TRUE(
          std::regex_search(*kubeconfig, match, std::regex("server: \"?(https://[^\"\\s]+)")));
      server_url = match[1];
    }
    Result<std::unique_ptr<ChildProcess>> agent =
        runner_.Start({.argv = {KELP_BINARY,        "agent",
                                "--server",         server_url,
                                "--token",          trimmed,
                                "--node-name",      node_name_,
                                "--node-ip",        "192.0.2.10",
                                "--data-dir",       (tmp_.path() / "agent").string(),
                                "--run-dir",        (tmp_.path() / "run").string(),
                                "--pod-log-dir",    (tmp_.path() / "pods").string(),
                                "--cgroup-root",    CgroupRoot(),
                                "--cni-bin-dir",    "/usr/lib/cni",
                                "--cni-conf-dir",   (tmp_.path() / "net.d").string(),
                                "--disable-flannel"},
                       .output_file = (tmp_.path() / "agent.log").string()});
    ASSERT_TRUE(agent.ok()) << agent.status().ToString();
    agent_ = std::move(*agent);
  }

  std::string AgentLog() const { return ReadFile(tmp_.path() / "agent.log").value_or(""); }

  // kubectl get pods -o json, the items.
  std::vector<json::value> Pods(const std::string& selector = "") {
    std::vector<std::string> args = {"get", "pods", "-o", "json"};
    if (!selector.empty()) args.insert(args.end(), {"-l", selector});
    ProcessResult result = kubectl_->Run(args);
    if (result.exit_code != 0) return {};
    Result<json::object> list = ParseJsonObject(result.stdout_data);
    std::vector<json::value> items;
    if (!list.ok()) return items;
    if (const json::value* array = FindPath(*list, "items"); array && array->is_array()) {
      for (const json::value& item : array->as_array()) items.push_back(item);
    }
    return items;
  }

  std::optional<json::value> Pod(const std::string& name) {
    ProcessResult result = kubectl_->Run({"get", "pod", name, "-o", "json"});
    if (result.exit_code != 0) return std::nullopt;
    Result<json::object> pod = ParseJsonObject(result.stdout_data);
    if (!pod.ok()) return std::nullopt;
    return json::value(std::move(*pod));
  }

  ProcessResult Apply(const std::string& yaml) {
    fs::path file = tmp_.path() / ("manifest-" + std::to_string(++manifests_) + ".yaml");
    std::ofstream(file) << yaml;
    return kubectl_->Run({"apply", "-f", file.string()});
  }

  // Running pods with an IP (and not being deleted) among `pods`.
  static std::vector<json::value> RunningWithIp(const std::vector<json::value>& pods) {
    std::vector<json::value> out;
    for (const json::value& pod : pods) {
      if (StringAt(pod, "status.phase") == "Running" && !StringAt(pod, "status.podIP").empty() &&
          !FindPath(pod, "metadata.deletionTimestamp")) {
        out.push_back(pod);
      }
    }
    return out;
  }

  static inline kelp::testing::ScopedTempDir* images_dir_ = nullptr;
  kelp::testing::ScopedTempDir tmp_;
  SubprocessRunner runner_;
  std::string suffix_;
  std::string node_name_;
  std::unique_ptr<net::NamedNetns> node_;
  UniqueFd host_netns_;
  std::vector<std::string> bound_;
  std::unique_ptr<e2e::ServerProcess> server_;
  std::unique_ptr<e2e::Kubectl> kubectl_;
  std::unique_ptr<ChildProcess> agent_;
  int manifests_ = 0;
};

TEST_F(AgentE2eTest, NodeRegistersWithMachineCapacityAndLease) {
  std::optional<json::value> node;
  ASSERT_TRUE(WaitFor([&] {
    ProcessResult result = kubectl_->Run({"get", "node", node_name_, "-o", "json"});
    if (result.exit_code != 0) return false;
    Result<json::object> parsed = ParseJsonObject(result.stdout_data);
    if (!parsed.ok()) return false;
    node = json::value(std::move(*parsed));
    return ConditionTrue(*node, "Ready");
  }));
  EXPECT_EQ(StringAt(*node, "status.capacity.cpu"),
            std::to_string(std::thread::hardware_concurrency()));
  EXPECT_EQ(StringAt(*node, "status.capacity.pods"), "110");
  EXPECT_TRUE(StringAt(*node, "status.capacity.memory").ends_with("Ki"));
  EXPECT_EQ(StringAt(*node, "status.addresses.0.address"), "192.0.2.10");
  // The node registers first, its Lease comes right after.
  EXPECT_TRUE(WaitFor([&] {
    return kubectl_->Run({"get", "lease", "-n", "kube-node-lease", node_name_}).exit_code == 0;
  }));
}

TEST_F(AgentE2eTest, NginxDeploymentServesAndReplacesADeletedPod) {
  ProcessResult created =
      kubectl_->Run({"create", "deployment", "nginx", "--image=nginx:1.22", "--replicas=3"});
  ASSERT_EQ(created.exit_code, 0) << created.stderr_data;
  std::vector<json::value> running;
  ASSERT_TRUE(WaitFor(
      [&] {
        running = RunningWithIp(Pods("app=nginx"));
        return running.size() == 3;
      },
      120s))
      << AgentLog();
  std::set<std::string> ips;
  for (const json::value& pod : running) {
    const std::string ip = StringAt(pod, "status.podIP");
    ips.insert(ip);
    EXPECT_EQ(StringAt(pod, "spec.nodeName"), node_name_);
    EXPECT_EQ(StringAt(pod, "status.hostIP"), "192.0.2.10");
    EXPECT_TRUE(ConditionTrue(pod, "Ready"));
    EXPECT_TRUE(StringAt(pod, "status.containerStatuses.0.containerID").starts_with("kelp://"));
    EXPECT_TRUE(StringAt(pod, "status.containerStatuses.0.imageID").starts_with("sha256:"));
    std::string page;
    EXPECT_TRUE(WaitFor(
        [&] { return (page = e2e::HttpGet(ip)).find("200 OK") != std::string::npos; }, 20s));
    EXPECT_NE(page.find("Welcome to nginx"), std::string::npos) << page;
  }
  EXPECT_EQ(ips.size(), 3u);

  const std::string victim = StringAt(running.front(), "metadata.name");
  ProcessResult deleted = kubectl_->Run({"delete", "pod", victim, "--wait=false"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.stderr_data;
  ASSERT_TRUE(WaitFor(
      [&] {
        std::vector<json::value> pods = Pods("app=nginx");
        bool victim_gone = std::none_of(pods.begin(), pods.end(), [&](const json::value& pod) {
          return StringAt(pod, "metadata.name") == victim;
        });
        return victim_gone && RunningWithIp(pods).size() == 3;
      },
      120s))
      << AgentLog();
}

TEST_F(AgentE2eTest, CrashingContainerReachesCrashLoopBackOff) {
  ProcessResult applied = Apply(R"(apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:1.35
    command: ["sh", "-c", "echo dying; exit 3"]
)");
  ASSERT_EQ(applied.exit_code, 0) << applied.stderr_data;
  json::value seen;
  ASSERT_TRUE(WaitFor(
      [&] {
        std::optional<json::value> pod = Pod("crasher");
        if (!pod) return false;
        seen = *pod;
        return StringAt(seen, "status.containerStatuses.0.state.waiting.reason") ==
                   "CrashLoopBackOff" &&
               IntAt(seen, "status.containerStatuses.0.restartCount") >= 2;
      },
      90s))
      << (FindPath(seen, "status") ? SerializeJson(*FindPath(seen, "status")) : "") << AgentLog();
  EXPECT_EQ(IntAt(seen, "status.containerStatuses.0.lastState.terminated.exitCode"), 3);
  EXPECT_EQ(StringAt(seen, "status.phase"), "Running");
  EXPECT_FALSE(ConditionTrue(seen, "Ready"));
}

// The lab's `docker load` workflow in the wrong order: the pod comes first, waits in
// ErrImageNeverPull with an event, and starts by itself once the image is loaded.
TEST_F(AgentE2eTest, MissingImageIsErrImageNeverPullUntilItIsLoaded) {
  const std::string data_dir = (tmp_.path() / "agent").string();
  ProcessResult removed =
      Run({KELP_BINARY, "images", "rm", "--data-dir", data_dir, "busybox:1.35"});
  ASSERT_EQ(removed.exit_code, 0) << removed.stderr_data;
  ProcessResult created =
      kubectl_->Run({"run", "ghost", "--image=busybox:1.35", "--command", "--", "sleep", "3600"});
  ASSERT_EQ(created.exit_code, 0) << created.stderr_data;
  json::value seen;
  ASSERT_TRUE(WaitFor([&] {
    std::optional<json::value> pod = Pod("ghost");
    if (!pod) return false;
    seen = *pod;
    return StringAt(seen, "status.containerStatuses.0.state.waiting.reason") == "ErrImageNeverPull";
  })) << (FindPath(seen, "status") ? SerializeJson(*FindPath(seen, "status")) : "")
      << AgentLog();
  EXPECT_EQ(StringAt(seen, "status.phase"), "Pending");
  ASSERT_TRUE(WaitFor([&] {
    ProcessResult events = kubectl_->Run(
        {"get", "events", "--field-selector", "involvedObject.name=ghost", "-o", "json"});
    return events.stdout_data.find("ErrImageNeverPull") != std::string::npos &&
           events.stdout_data.find("Warning") != std::string::npos;
  }));

  ProcessResult loaded = Run({KELP_BINARY, "images", "load", "--data-dir", data_dir, "-i",
                              (images_dir_->path() / "busybox.tar").string()});
  ASSERT_EQ(loaded.exit_code, 0) << loaded.stderr_data;
  ASSERT_TRUE(WaitFor([&] {
    std::optional<json::value> pod = Pod("ghost");
    if (!pod) return false;
    seen = *pod;
    return StringAt(seen, "status.phase") == "Running" &&
           FindPath(seen, "status.containerStatuses.0.state.running") != nullptr;
  })) << (FindPath(seen, "status") ? SerializeJson(*FindPath(seen, "status")) : "")
      << AgentLog();
}

TEST_F(AgentE2eTest, FailingReadinessProbeKeepsThePodNotReadyAndOutOfEndpoints) {
  ProcessResult applied = Apply(R"(apiVersion: v1
kind: Pod
metadata: {name: unready, labels: {app: probe}}
spec:
  containers:
  - name: web
    image: nginx:1.22
    readinessProbe:
      httpGet: {path: /missing, port: 80}
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: ready, labels: {app: probe}}
spec:
  containers:
  - name: web
    image: nginx:1.22
    readinessProbe:
      httpGet: {path: /, port: 80}
      periodSeconds: 1
    livenessProbe:
      tcpSocket: {port: 80}
      periodSeconds: 1
      failureThreshold: 10
---
apiVersion: v1
kind: Pod
metadata: {name: exec-ready}
spec:
  containers:
  - name: main
    image: busybox:1.35
    command: ["sleep", "3600"]
    readinessProbe:
      exec: {command: ["true"]}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: probe}
spec:
  selector: {app: probe}
  ports: [{port: 80}]
)");
  ASSERT_EQ(applied.exit_code, 0) << applied.stderr_data;
  ASSERT_TRUE(WaitFor([&] {
    std::optional<json::value> ready = Pod("ready");
    std::optional<json::value> exec_ready = Pod("exec-ready");
    std::optional<json::value> unready = Pod("unready");
    return ready && ConditionTrue(*ready, "Ready") && exec_ready &&
           ConditionTrue(*exec_ready, "Ready") && unready &&
           FindPath(*unready, "status.containerStatuses.0.state.running") != nullptr &&
           !StringAt(*unready, "status.podIP").empty();
  })) << AgentLog();
  std::optional<json::value> unready = Pod("unready");
  ASSERT_TRUE(unready);
  EXPECT_EQ(StringAt(*unready, "status.phase"), "Running");
  EXPECT_FALSE(ConditionTrue(*unready, "Ready"));
  const json::value* ready_flag = FindPath(*unready, "status.containerStatuses.0.ready");
  ASSERT_TRUE(ready_flag && ready_flag->is_bool());
  EXPECT_FALSE(ready_flag->as_bool());
  std::optional<json::value> ready = Pod("ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(IntAt(*ready, "status.containerStatuses.0.restartCount"), 0);
  // The Endpoints list only the ready pod's address; the other is not ready.
  const std::string ready_ip = StringAt(*ready, "status.podIP");
  const std::string unready_ip = StringAt(*unready, "status.podIP");
  std::string endpoints;
  EXPECT_TRUE(WaitFor([&] {
    ProcessResult result = kubectl_->Run({"get", "endpoints", "probe", "-o", "json"});
    Result<json::object> parsed = ParseJsonObject(result.stdout_data);
    if (!parsed.ok()) return false;
    endpoints = result.stdout_data;
    json::value object(std::move(*parsed));
    return StringAt(object, "subsets.0.addresses.0.ip") == ready_ip &&
           !FindPath(object, "subsets.0.addresses.1") &&
           StringAt(object, "subsets.0.notReadyAddresses.0.ip") == unready_ip;
  })) << endpoints;
}

TEST_F(AgentE2eTest, FailingLivenessProbeRestartsAndStartupProbeGatesReadiness) {
  ProcessResult applied = Apply(R"(apiVersion: v1
kind: Pod
metadata: {name: unhealthy}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:1.35
    command: ["sleep", "3600"]
    livenessProbe:
      exec: {command: ["cat", "/tmp/alive"]}
      periodSeconds: 1
      failureThreshold: 2
---
apiVersion: v1
kind: Pod
metadata: {name: slow-start}
spec:
  containers:
  - name: main
    image: busybox:1.35
    command: ["sh", "-c", "sleep 3; touch /tmp/started; exec sleep 3600"]
    startupProbe:
      exec: {command: ["cat", "/tmp/started"]}
      periodSeconds: 1
      failureThreshold: 30
)");
  ASSERT_EQ(applied.exit_code, 0) << applied.stderr_data;
  json::value seen;
  ASSERT_TRUE(WaitFor([&] {
    std::optional<json::value> pod = Pod("unhealthy");
    if (!pod) return false;
    seen = *pod;
    return IntAt(seen, "status.containerStatuses.0.restartCount") >= 1;
  })) << (FindPath(seen, "status") ? SerializeJson(*FindPath(seen, "status")) : "")
      << AgentLog();
  // Killed by the agent: SIGTERM (143) or, after the grace period, SIGKILL (137).
  int64_t exit_code = IntAt(seen, "status.containerStatuses.0.lastState.terminated.exitCode");
  EXPECT_TRUE(exit_code == 143 || exit_code == 137) << exit_code;

  // Not started (so not ready) until the startup probe passes, then ready.
  std::optional<json::value> early = Pod("slow-start");
  ASSERT_TRUE(early);
  if (StringAt(*early, "status.phase") == "Running" && !ConditionTrue(*early, "Ready")) {
    const json::value* started = FindPath(*early, "status.containerStatuses.0.started");
    EXPECT_TRUE(started && started->is_bool() && !started->as_bool());
  }
  ASSERT_TRUE(WaitFor([&] {
    std::optional<json::value> pod = Pod("slow-start");
    return pod && ConditionTrue(*pod, "Ready");
  })) << AgentLog();
}

TEST_F(AgentE2eTest, KilledAgentAdoptsContainersAndCleansUpPodsDeletedMeanwhile) {
  ProcessResult created =
      kubectl_->Run({"create", "deployment", "web", "--image=nginx:1.22", "--replicas=2"});
  ASSERT_EQ(created.exit_code, 0) << created.stderr_data;
  std::vector<json::value> running;
  ASSERT_TRUE(WaitFor([&] { return (running = RunningWithIp(Pods("app=web"))).size() == 2; }, 120s))
      << AgentLog();
  std::map<std::string, std::string> container_ids;
  for (const json::value& pod : running) {
    container_ids[StringAt(pod, "metadata.name")] =
        StringAt(pod, "status.containerStatuses.0.containerID");
  }
  ASSERT_TRUE(agent_->Signal(SIGKILL).ok());
  ASSERT_TRUE(agent_->Wait(10s).ok());
  agent_.reset();
  // A pod force-deleted while the agent is down: its sandbox must go after the restart.
  const std::string doomed = StringAt(running.back(), "metadata.name");
  const std::string doomed_uid = StringAt(running.back(), "metadata.uid");
  ProcessResult forced =
      kubectl_->Run({"delete", "pod", doomed, "--grace-period=0", "--force", "--wait=false"});
  ASSERT_EQ(forced.exit_code, 0) << forced.stderr_data;
  container_ids.erase(doomed);
  auto sandbox_of = [&](const std::string& uid) {
    std::error_code ec;
    for (const auto& dir :
         fs::directory_iterator(tmp_.path() / "agent" / "runtime" / "sandboxes", ec)) {
      if (ReadFile(dir.path() / "sandbox.json").value_or("").find(uid) != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(sandbox_of(doomed_uid));
  StartAgent();
  // The log file is appended to: the restarted agent's line is the second one.
  auto count = [](const std::string& text, std::string_view needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  };
  ASSERT_TRUE(WaitFor([&] { return count(AgentLog(), "registered with") >= 2; }))
      << AgentLog();
  // Adopted: the agent's sync after the restart leaves them as they were.
  ASSERT_TRUE(WaitFor([&] { return AgentLog().find("adopted pod") != std::string::npos; }))
      << AgentLog();
  ASSERT_TRUE(WaitFor([&] { return !sandbox_of(doomed_uid); }, 30s)) << AgentLog();
  ASSERT_TRUE(WaitFor([&] { return RunningWithIp(Pods("app=web")).size() == 2; }, 60s));
  for (const json::value& pod : RunningWithIp(Pods("app=web"))) {
    const std::string name = StringAt(pod, "metadata.name");
    if (!container_ids.contains(name)) continue;  // the replacement of the force-deleted one
    EXPECT_EQ(StringAt(pod, "status.containerStatuses.0.containerID"), container_ids[name]);
    EXPECT_EQ(IntAt(pod, "status.containerStatuses.0.restartCount"), 0);
    const std::string ip = StringAt(pod, "status.podIP");
    EXPECT_TRUE(WaitFor(
        [&] { return e2e::HttpGet(ip).find("Welcome to nginx") != std::string::npos; }, 20s))
        << name;
  }
  EXPECT_EQ(RunningWithIp(Pods("app=web")).size(), 2u);
  // Still in charge: scaling down removes a pod.
  ASSERT_EQ(kubectl_->Run({"scale", "deployment", "web", "--replicas=1"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Pods("app=web").size() == 1; }, 60s)) << AgentLog();
}

// The classic lab's last step: a deployment with a CPU request, `kubectl autoscale`, load in a
// pod, and the HPA (reading metrics.k8s.io, which the apiserver fetches from this node's
// kubelet API) scales the deployment up.
TEST_F(AgentE2eTest, CpuLoadInAPodMakesTheAutoscalerScaleTheDeploymentUp) {
  ProcessResult created =
      kubectl_->Run({"create", "deployment", "nginx", "--image=nginx:1.22", "--replicas=1"});
  ASSERT_EQ(created.exit_code, 0) << created.stderr_data;
  ProcessResult requested =
      kubectl_->Run({"set", "resources", "deployment", "nginx", "--requests=cpu=50m"});
  ASSERT_EQ(requested.exit_code, 0) << requested.stderr_data;
  std::string loaded_pod;
  ASSERT_TRUE(WaitFor(
      [&] {
        std::vector<json::value> pods = Pods("app=nginx");
        std::vector<json::value> running = RunningWithIp(pods);
        if (pods.size() != 1 || running.size() != 1) return false;
        if (StringAt(running[0], "spec.containers.0.resources.requests.cpu") != "50m") return false;
        loaded_pod = StringAt(running[0], "metadata.name");
        return true;
      },
      120s))
      << AgentLog();
  ProcessResult autoscaled = kubectl_->Run(
      {"autoscale", "deployment", "nginx", "--cpu-percent=50", "--min=1", "--max=3"});
  ASSERT_EQ(autoscaled.exit_code, 0) << autoscaled.stderr_data;

  // A busy loop in the pod for as long as the exec session lasts (the agent ends the exec'd
  // process when the session closes).
  Result<std::unique_ptr<ChildProcess>> load =
      kubectl_->Start({"exec", loaded_pod, "--", "sh", "-c", "while :; do :; done"},
                      (tmp_.path() / "load.log").string());
  ASSERT_TRUE(load.ok()) << load.status().ToString();

  json::object hpa;
  const bool scaled = WaitFor(
      [&] {
        ProcessResult got = kubectl_->Run({"get", "hpa", "nginx", "-o", "json"});
        Result<json::object> parsed = ParseJsonObject(got.stdout_data);
        if (got.exit_code != 0 || !parsed.ok()) return false;
        hpa = std::move(*parsed);
        return IntAt(hpa, "status.desiredReplicas") > 1;
      },
      120s);
  (void)(*load)->Terminate(2s);
  ASSERT_TRUE(scaled) << SerializeJson(hpa) << "\n" << AgentLog();
  // One busy core against a 50m request: far above the 50 % target.
  EXPECT_GT(IntAt(hpa, "status.currentMetrics.0.resource.current.averageUtilization"), 50)
      << SerializeJson(hpa);
  EXPECT_LE(IntAt(hpa, "status.desiredReplicas"), 3);
  EXPECT_TRUE(WaitFor(
      [&] {
        return RunningWithIp(Pods("app=nginx")).size() ==
               static_cast<size_t>(IntAt(hpa, "status.desiredReplicas"));
      },
      120s))
      << AgentLog();
  ProcessResult table = kubectl_->Run({"get", "hpa", "nginx"});
  EXPECT_NE(table.stdout_data.find("/50%"), std::string::npos) << table.stdout_data;
  EXPECT_EQ(table.stdout_data.find("<unknown>"), std::string::npos) << table.stdout_data;
}

class EmbeddedAgentE2eTest : public AgentE2eTest {
 protected:
  bool Embedded() const override { return true; }
};

TEST_F(EmbeddedAgentE2eTest, ServerRunsPodsOnItsOwnNode) {
  ProcessResult created = kubectl_->Run({"run", "solo", "--image=nginx:1.22"});
  ASSERT_EQ(created.exit_code, 0) << created.stderr_data;
  std::optional<json::value> pod;
  ASSERT_TRUE(WaitFor(
      [&] {
        pod = Pod("solo");
        return pod && ConditionTrue(*pod, "Ready");
      },
      120s))
      << AgentLog();
  EXPECT_EQ(StringAt(*pod, "spec.nodeName"), node_name_);
  // Ready without a readiness probe means started, not yet listening: nginx binds port 80 a
  // moment after its exec, so the page is awaited (as in the deployment test above).
  std::string page;
  EXPECT_TRUE(WaitFor(
      [&] {
        return (page = e2e::HttpGet(StringAt(*pod, "status.podIP"))).find("200 OK") !=
               std::string::npos;
      },
      20s));
  EXPECT_NE(page.find("Welcome to nginx"), std::string::npos) << page;
}

}  // namespace
}  // namespace kelp::agent
