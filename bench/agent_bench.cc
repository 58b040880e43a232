// agent_bench: the node agent under a burst — 30 busybox pods created at once through the API
// (30 client threads) on one real `kelp agent` (runc + kelp-shim, reference bridge +
// host-local CNI), timed from each create call to the pod's first Running status seen by a
// watch: p50/p99, and the agent's RSS (now and peak) once they all run. The baseline, measured
// first in the same run, is one pod created alone. Root; `kelp server --disable-agent` and
// `kelp agent` run as processes inside a private mount namespace and a network namespace of
// the bench's own, with temp directories bound over /run/netns and /var/lib/cni.
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include "agent/runtime/cgroups.h"
#include "agent/runtime/runc.h"
#include "agent/runtime/testing/mounts.h"
#include "client/https_client.h"
#include "client/informer.h"
#include "common/file.h"
#include "common/json.h"
#include "common/process.h"
#include "common/testing/temp_dir.h"
#include "net/netns.h"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::duration<double, std::milli>;
using namespace std::chrono_literals;

constexpr int kPods = 30;

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5)];
}

double StatusKb(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::atof(line.c_str() + field.size());
  }
  return 0;
}

int Fail(const std::string& what, const std::string& why) {
  std::fprintf(stderr, "agent_bench: %s: %s\n", what.c_str(), why.c_str());
  return 1;
}

template <typename Fn>
bool WaitFor(Fn condition, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

json::object BusyboxPod(const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"terminationGracePeriodSeconds", 0},
            {"containers", json::array{json::object{{"name", "main"},
                                                    {"image", "busybox:1.35"},
                                                    {"command", json::array{"sleep", "3600"}}}}}}}};
}

// Records when each pod was first seen bound (spec.nodeName) and Running.
class RunningWatch {
 public:
  void Seen(const json::object& pod) {
    std::string name(kelp::FindPath(pod, "metadata.name")->as_string());
    const json::value* node = kelp::FindPath(pod, "spec.nodeName");
    std::lock_guard lock(mutex_);
    if (node && node->is_string() && !node->as_string().empty()) bound_.emplace(name, Clock::now());
    const json::value* phase = kelp::FindPath(pod, "status.phase");
    if (!phase || !phase->is_string() || phase->as_string() != "Running") return;
    running_.emplace(name, Clock::now());
  }
  std::optional<Clock::time_point> Bound(const std::string& name) {
    std::lock_guard lock(mutex_);
    auto it = bound_.find(name);
    if (it == bound_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<Clock::time_point> When(const std::string& name) {
    std::lock_guard lock(mutex_);
    auto it = running_.find(name);
    if (it == running_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, Clock::time_point> running_;
  std::map<std::string, Clock::time_point> bound_;
};

int RunBench(const fs::path& tmp, const std::string& suffix, kelp::SubprocessRunner& runner,
             std::vector<std::unique_ptr<kelp::ChildProcess>>& children) {
  const fs::path tar = tmp / "busybox.tar";
  auto built = runner.Run(
      {.argv = {"bash", fs::path(KELP_SOURCE_DIR) / "tools" / "mkimage", "busybox", tar.string()},
       .timeout = 600s});
  if (!built.ok() || built->exit_code != 0) {
    return Fail("mkimage busybox", built.ok() ? built->stderr_data : built.status().ToString());
  }
  auto loaded = runner.Run({.argv = {KELP_BINARY, "images", "load", "--data-dir",
                                     (tmp / "agent").string(), "-i", tar.string()},
                            .timeout = 120s});
  if (!loaded.ok() || loaded->exit_code != 0) {
    return Fail("images load", loaded.ok() ? loaded->stderr_data : loaded.status().ToString());
  }
  const fs::path data = tmp / "server";
  auto server =
      runner.Start({.argv = {KELP_BINARY, "server", "--data-dir", data.string(), "--bind-address",
                             "127.0.0.1", "--https-listen-port", "0", "--disable-agent"},
                    .output_file = (tmp / "server.log").string()});
  if (!server.ok()) return Fail("start server", server.status().ToString());
  children.push_back(std::move(*server));
  if (!WaitFor([&] { return fs::exists(data / "kubeconfig.yaml"); }, 30s)) {
    return Fail("server", kelp::ReadFile(tmp / "server.log").value_or(""));
  }
  std::smatch match;
  std::string kubeconfig = kelp::ReadFile(data / "kubeconfig.yaml").value_or("");
  if (!std::regex_search(kubeconfig, match, std::regex("server: \"?(https://[^\"\\s]+)"))) {
    return Fail("kubeconfig", "no server URL");
  }
  const std::string url = match[1];
  auto trim = [](std::string text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    return text;
  };
  const std::string agent_token = trim(kelp::ReadFile(data / "agent-token").value_or(""));
  const std::string token = trim(kelp::ReadFile(data / "token").value_or(""));
  const std::string node = "ab-" + suffix;
  auto agent = runner.Start({.argv = {KELP_BINARY,      "agent",
                                      "--server",       url,
                                      "--token",        agent_token,
                                      "--node-name",    node,
                                      "--node-ip",      "192.0.2.10",
                                      "--data-dir",     (tmp / "agent").string(),
                                      "--run-dir",      (tmp / "run").string(),
                                      "--pod-log-dir",  (tmp / "pods").string(),
                                      "--disable-flannel", "--cni-bin-dir",  "/usr/lib/cni",
                                      "--cni-conf-dir", (tmp / "net.d").string()},
                             .output_file = (tmp / "agent.log").string()});
  if (!agent.ok()) return Fail("start agent", agent.status().ToString());
  const pid_t agent_pid = (*agent)->pid();
  children.push_back(std::move(*agent));

  auto client = kelp::client::HttpsApiClient::Create(
      {.server = url, .token = token, .ca_file = data / "tls" / "ca.crt"});
  if (!client.ok()) return Fail("client", client.status().ToString());
  if (!WaitFor([&] { return (*client)->Get(kelp::client::kNodes, "", node).ok(); }, 30s)) {
    return Fail("agent did not register", kelp::ReadFile(tmp / "agent.log").value_or(""));
  }
  RunningWatch watch;
  kelp::client::Informer pods(**client, kelp::client::kPods);
  pods.AddHandlers({.on_add = [&](const kelp::client::ObjectPtr& pod) { watch.Seen(*pod); },
                    .on_update = [&](const kelp::client::ObjectPtr&,
                                     const kelp::client::ObjectPtr& pod) { watch.Seen(*pod); }});
  pods.Start();
  if (!pods.WaitForSync(30s)) return Fail("informer", "no sync");

  std::vector<double> scheduled;  // create -> bound, of the last call
  auto create_and_time = [&](const std::vector<std::string>& names) -> std::vector<double> {
    std::vector<Clock::time_point> created(names.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < names.size(); ++i) {
      threads.emplace_back([&, i] {
        created[i] = Clock::now();
        auto result = (*client)->Create(kelp::client::kPods, "default", BusyboxPod(names[i]));
        if (!result.ok())
          std::fprintf(stderr, "create %s: %s\n", names[i].c_str(),
                       result.status().ToString().c_str());
      });
    }
    for (std::thread& thread : threads) thread.join();
    std::vector<double> latencies;
    bool all = WaitFor(
        [&] {
          return std::all_of(names.begin(), names.end(),
                             [&](const std::string& name) { return watch.When(name).has_value(); });
        },
        180s);
    if (!all) return latencies;
    scheduled.clear();
    for (size_t i = 0; i < names.size(); ++i) {
      latencies.push_back(Millis(*watch.When(names[i]) - created[i]).count());
      if (auto bound = watch.Bound(names[i]))
        scheduled.push_back(Millis(*bound - created[i]).count());
    }
    return latencies;
  };

  std::vector<double> single = create_and_time({"alone"});
  if (single.empty()) return Fail("one pod", kelp::ReadFile(tmp / "agent.log").value_or(""));
  const double rss_idle = StatusKb(agent_pid, "VmRSS:") / 1024;
  std::vector<std::string> names;
  for (int i = 0; i < kPods; ++i) names.push_back("burst-" + std::to_string(i));
  std::vector<double> burst = create_and_time(names);
  if (burst.empty()) return Fail("30 pods", kelp::ReadFile(tmp / "agent.log").value_or(""));
  // Settle: a few resync rounds with everything running, then the agent's memory.
  std::this_thread::sleep_for(3s);  // measuring steady-state memory, not waiting for a state
  const double rss = StatusKb(agent_pid, "VmRSS:") / 1024;
  const double peak = StatusKb(agent_pid, "VmHWM:") / 1024;
  pods.Stop();

  double load = 0;
  (void)::getloadavg(&load, 1);
  std::printf(
      "agent_bench: %d busybox pods created at once through the API on one kelp agent "
      "(runc + kelp-shim, bridge + host-local); %u cores, load average %.1f\n",
      kPods, std::thread::hardware_concurrency(), load);
  std::printf("  create -> Running, one pod alone (baseline)   %7.1f ms\n", single[0]);
  std::printf(
      "  create -> Running, %d at once                 p50 %7.1f ms   p99 %7.1f ms   "
      "(target p99 < 2000 ms)\n",
      kPods, Percentile(burst, 0.5), Percentile(burst, 0.99));
  std::printf("    of which create -> bound by the scheduler   p50 %7.1f ms   p99 %7.1f ms\n",
              Percentile(scheduled, 0.5), Percentile(scheduled, 0.99));
  std::printf("  ratio p99 (%d at once) / one pod alone: %.2f\n", kPods,
              Percentile(burst, 0.99) / single[0]);
  std::printf(
      "  agent RSS: %.1f MB with 1 pod, %.1f MB with %d pods, peak %.1f MB "
      "(target < 30 MB)\n",
      rss_idle, rss, kPods + 1, peak);
  return 0;
}

}  // namespace

int main() {
  if (::geteuid() != 0) {
    std::fprintf(stderr, "agent_bench: needs root\n");
    return 1;
  }
  if (::unshare(CLONE_NEWNS) != 0 || ::mount("", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    std::perror("agent_bench: private mount namespace");
    return 1;
  }
  kelp::testing::ScopedTempDir tmp;
  const std::string suffix = std::to_string(::getpid());
  auto node = kelp::net::NamedNetns::Create("kelp-ab-" + suffix);
  if (!node.ok()) return Fail("node netns", node.status().ToString());
  if (::setns((*node)->fd(), CLONE_NEWNET) != 0) {
    std::perror("agent_bench: setns");
    return 1;
  }
  kelp::SubprocessRunner runner;
  (void)runner.Run({.argv = {"ip", "link", "set", "lo", "up"}});
  (void)runner.Run({.argv = {"ip", "addr", "add", "192.0.2.10/32", "dev", "lo"}});
  for (const char* dir : {"netns", "cni", "net.d", "run", "pods", "agent"}) {
    fs::create_directories(tmp.path() / dir);
  }
  std::vector<std::string> bound;
  for (const auto& [source, target] : {std::pair{"netns", "/run/netns"}, {"cni", "/var/lib/cni"}}) {
    fs::create_directories(target);
    if (::mount((tmp.path() / source).c_str(), target, nullptr, MS_BIND, nullptr) != 0) {
      return Fail(std::string("bind ") + target, std::strerror(errno));
    }
    bound.push_back(target);
  }
  std::ofstream(tmp.path() / "net.d" / "10-bench.conflist")
      << R"({"cniVersion":"1.0.0","name":"abnet","plugins":[{"type":"bridge","bridge":"ab)"
      << suffix.substr(0, 10) << R"(","isGateway":true,"ipam":{"type":"host-local",)"
      << R"("subnet":"10.90.0.0/24","dataDir":")" << (tmp.path() / "ipam").string() << R"("}}]})";

  std::vector<std::unique_ptr<kelp::ChildProcess>> children;
  int exit_code = RunBench(tmp.path(), suffix, runner, children);

  // Agent first (containers keep running), then the server; then every container and shim.
  for (auto it = children.rbegin(); it != children.rend(); ++it) (void)(*it)->Terminate(10s);
  children.clear();
  const std::string runc = fs::exists("/usr/sbin/runc") ? "/usr/sbin/runc" : "runc";
  kelp::agent::Runc runc_client(runc, (tmp.path() / "run" / "runc").string(), runner);
  if (auto left = runc_client.List(); left.ok()) {
    for (const auto& state : *left) (void)runc_client.Delete(state.id, true);
  }
  std::error_code ec;
  for (const auto& dir :
       fs::directory_iterator(tmp.path() / "agent" / "runtime" / "containers", ec)) {
    auto text = kelp::ReadFile(dir.path() / "shim.json");
    auto shim =
        text.ok() ? kelp::ParseJsonObject(*text) : kelp::Result<json::object>(text.status());
    const json::value* pid = shim.ok() ? kelp::FindPath(*shim, "shim_pid") : nullptr;
    if (pid && pid->is_int64()) {
      auto cmdline = kelp::ReadFile("/proc/" + std::to_string(pid->as_int64()) + "/cmdline");
      if (cmdline.ok() && cmdline->find("kelp-shim") != std::string::npos) {
        ::kill(static_cast<pid_t>(pid->as_int64()), SIGKILL);
      }
    }
  }
  if (auto cgroups = kelp::agent::CgroupV1::Discover(); cgroups.ok()) {
    (void)cgroups->RemoveTree("kelp/ab-" + suffix);
  }
  for (const std::string& target : bound) ::umount2(target.c_str(), MNT_DETACH);
  kelp::agent::testing::UnmountAllUnder(tmp.path());
  return exit_code;
}
