// cluster_bench: the control plane under kubemark-style load — a real `kelp server` process
// (API, controllers, scheduler) and one `kelp agent --hollow --count 100` process, driven
// through src/client over HTTPS:
//  1. idle baseline: the server's CPU and RSS with 100 heartbeating nodes and no pods;
//  2. density: 300 Deployments x 10 replicas created at 100 pods/s; pod startup latency is
//     ADDED → phase Running as one watch of all pods sees it (p50/p99, against Kubernetes'
//     SLO of p99 <= 5 s), bound pods per second, the server's CPU seconds (and their ratio to
//     the idle baseline over the same wall time) and RSS;
//  3. scheduler burst: with every node cordoned, 1,000 bare pods are created (unschedulable),
//     then the nodes are uncordoned; bindings per second from the first uncordon to the last
//     binding measure the scheduler alone.
// Data lives under /var/tmp (a real disk); both processes are stopped at the end.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/api_client.h"
#include "client/client_config.h"
#include "client/https_client.h"
#include "common/file.h"
#include "common/json.h"
#include "common/process.h"
#include "common/status.h"

namespace kelp::bench {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kNodes = 100;
constexpr int kDeployments = 300;
constexpr int kReplicas = 10;
constexpr int kPodsPerSecond = 100;
constexpr int kBurstPods = 1000;
constexpr double kSloP99Seconds = 5.0;  // Kubernetes' pod startup SLO (at 20 pods/s)
constexpr char kDensityNamespace[] = "density";
constexpr char kBurstNamespace[] = "burst";
constexpr char kProbeNamespace[] = "probe";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// What Fail() cleans up before exiting: the started processes and the scratch directory.
struct Cleanup {
  std::vector<ChildProcess*> children;
  std::filesystem::path dir;
  void Run() {
    for (ChildProcess* child : children) (void)child->Terminate(10s);
    children.clear();
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }
};
// Fail() may run on a helper thread, but only while the main thread waits to join it.
Cleanup cleanup;

[[noreturn]] void Fail(const std::string& what, const Status& status) {
  std::fprintf(stderr, "cluster_bench: %s: %s\n", what.c_str(), status.ToString().c_str());
  cleanup.Run();
  std::_Exit(1);
}

// A process's CPU seconds (user + system) and resident memory, from /proc.
double CpuSeconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t end = text.rfind(')');
  if (end == std::string::npos) return 0;
  std::istringstream fields(text.substr(end + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}
double StatusMegabytes(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::atof(line.c_str() + field.size()) / 1024.0;
  }
  return 0;
}

struct PodTimes {
  Clock::time_point added;
  std::optional<Clock::time_point> bound;
  std::optional<Clock::time_point> running;
};

// One watch of all pods, timing each pod's ADDED, first nodeName and first Running.
class PodWatcher {
 public:
  explicit PodWatcher(client::ApiClient& api) : api_(api) {}
  ~PodWatcher() { Stop(); }

  Status Start() {
    KELP_ASSIGN_OR_RETURN(client::ListResult listed, api_.List(client::kPods, "", {}));
    KELP_ASSIGN_OR_RETURN(stream_, api_.Watch(client::kPods, "",
                                              {.resource_version = listed.resource_version,
                                               .timeout_seconds = 3600}));
    thread_ = std::thread([this] { Run(); });
    return Status::Ok();
  }
  void Stop() {
    if (stream_) stream_->Cancel();
    if (thread_.joinable()) thread_.join();
  }
  // Pods of `ns` and how many of them are Running and bound.
  std::map<std::string, PodTimes> Pods(const std::string& ns) {
    std::lock_guard lock(mutex_);
    std::map<std::string, PodTimes> pods;
    for (const auto& [key, times] : pods_) {
      if (key.rfind(ns + "/", 0) == 0) pods.emplace(key, times);
    }
    return pods;
  }
  bool WaitFor(const std::string& ns, size_t count, bool running, std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      size_t done = 0;
      for (const auto& [key, times] : Pods(ns))
        done += (running ? times.running : times.bound) ? 1 : 0;
      if (done >= count) return true;
      if (Clock::now() > deadline) {
        std::fprintf(stderr, "cluster_bench: only %zu of %zu pods in %s %s\n", done, count,
                     ns.c_str(), running ? "Running" : "bound");
        return false;
      }
      std::this_thread::sleep_for(50ms);  // poll interval of the bounded wait
    }
  }

 private:
  void Run() {
    for (;;) {
      Result<std::optional<client::WatchEvent>> event = stream_->Next();
      if (!event.ok() || !event->has_value()) return;
      const auto now = Clock::now();
      const json::object& pod = (*event)->object;
      if ((*event)->type == client::WatchEvent::Type::kBookmark) continue;
      const std::string key = client::ObjectKey(pod);
      const json::object& spec = pod.at("spec").as_object();
      const json::value* node = spec.if_contains("nodeName");
      const json::value* status = pod.if_contains("status");
      const json::value* phase =
          status && status->is_object() ? status->as_object().if_contains("phase") : nullptr;
      std::lock_guard lock(mutex_);
      auto [entry, added] = pods_.try_emplace(key, PodTimes{.added = now});
      if (node && node->is_string() && !node->as_string().empty() && !entry->second.bound) {
        entry->second.bound = now;
      }
      if (phase && phase->is_string() && phase->as_string() == "Running" &&
          !entry->second.running) {
        entry->second.running = now;
      }
    }
  }

  client::ApiClient& api_;
  std::unique_ptr<client::WatchStream> stream_;
  std::thread thread_;
  std::mutex mutex_;
  std::map<std::string, PodTimes> pods_;  // guarded by mutex_
};

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t index = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

json::object Deployment(int index) {
  const std::string name = "app-" + std::to_string(index);
  const json::object labels{{"app", name}};
  json::object container{{"name", "app"}, {"image", "registry.k8s.io/pause:3.9"}};
  container["resources"] =
      json::object{{"requests", json::object{{"cpu", "10m"}, {"memory", "10Mi"}}}};
  json::object pod_spec{{"containers", json::array{container}}};
  json::object pod_template{{"metadata", json::object{{"labels", labels}}},
                            {"spec", std::move(pod_spec)}};
  json::object spec{{"replicas", kReplicas},
                    {"selector", json::object{{"matchLabels", labels}}},
                    {"template", std::move(pod_template)}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", json::object{{"name", name}}},
          {"spec", std::move(spec)}};
}

void SetUnschedulable(client::ApiClient& api, const std::vector<std::string>& nodes, bool value) {
  const std::string body =
      std::string(R"({"spec":{"unschedulable":)") + (value ? "true" : "null") + "}}";
  std::vector<std::thread> threads;
  std::atomic<size_t> next{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < nodes.size(); i = next++) {
        Result<json::object> patched =
            api.Patch(client::kNodes, "", nodes[i], client::PatchType::kMerge, body);
        if (!patched.ok()) Fail("cordon " + nodes[i], patched.status());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
}

int Run() {
  std::string pattern = "/var/tmp/kelp-cluster-bench-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("cluster_bench: mkdtemp");
    return 1;
  }
  const std::filesystem::path dir = pattern;
  cleanup.dir = dir;
  SubprocessRunner runner;
  Result<std::unique_ptr<ChildProcess>> server = runner.Start(
      {.argv = {KELP_BINARY, "--log-level", "warn", "server", "--data-dir", (dir / "data").string(),
                "--bind-address", "127.0.0.1", "--https-listen-port", "0"},
       .output_file = (dir / "server.log").string()});
  if (!server.ok()) Fail("start kelp server", server.status());
  cleanup.children.push_back(server->get());
  const auto serving_deadline = Clock::now() + 30s;
  while (!std::filesystem::exists(dir / "data" / "kubeconfig.yaml") ||
         !std::filesystem::exists(dir / "data" / "agent-token")) {
    if (Clock::now() > serving_deadline)
      Fail("kelp server", DeadlineExceededError("no kubeconfig"));
    std::this_thread::sleep_for(20ms);  // poll interval of the bounded wait
  }
  Result<client::ClientConfig> config = client::LoadKubeconfig(dir / "data" / "kubeconfig.yaml");
  if (!config.ok()) Fail("kubeconfig", config.status());
  std::string token = ReadFile(dir / "data" / "agent-token").value_or("");
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  Result<std::unique_ptr<ChildProcess>> agent =
      runner.Start({.argv = {KELP_BINARY, "--log-level", "warn", "agent", "--hollow", "--server",
                             config->server, "--token", token, "--node-name", "hollow", "--count",
                             std::to_string(kNodes), "--node-ip", "10.200.0.1"},
                    .output_file = (dir / "agent.log").string()});
  if (!agent.ok()) Fail("start kelp agent --hollow", agent.status());
  cleanup.children.insert(cleanup.children.begin(), agent->get());
  Result<std::unique_ptr<client::HttpsApiClient>> api = client::HttpsApiClient::Create(*config);
  if (!api.ok()) Fail("client", api.status());
  const pid_t server_pid = (*server)->pid();

  std::vector<std::string> nodes;
  const auto nodes_deadline = Clock::now() + 60s;
  while (nodes.size() < kNodes) {
    if (Clock::now() > nodes_deadline) Fail("nodes", DeadlineExceededError("100 nodes not ready"));
    std::this_thread::sleep_for(100ms);  // poll interval of the bounded wait
    Result<client::ListResult> listed = (*api)->List(client::kNodes, "", {});
    if (!listed.ok()) continue;
    nodes.clear();
    for (const json::object& node : listed->items) {
      const json::value* cidr = node.at("spec").as_object().if_contains("podCIDR");
      if (cidr != nullptr) nodes.push_back(std::string(node.at("metadata").at("name").as_string()));
    }
  }

  // 1. Idle baseline over as long as the density phase's creation takes.
  const auto creation_time =
      std::chrono::milliseconds(1000 * kDeployments * kReplicas / kPodsPerSecond);
  const double idle_cpu_before = CpuSeconds(server_pid);
  std::this_thread::sleep_for(std::min<Clock::duration>(creation_time, 10s));  // measuring idle
  const double idle_cpu_rate = (CpuSeconds(server_pid) - idle_cpu_before) /
                               Seconds(std::min<Clock::duration>(creation_time, 10s));
  const double idle_rss = StatusMegabytes(server_pid, "VmRSS:");

  PodWatcher watcher(**api);
  if (Status started = watcher.Start(); !started.ok()) Fail("watch pods", started);
  for (const char* ns : {kDensityNamespace, kBurstNamespace, kProbeNamespace}) {
    Result<json::object> created =
        (*api)->Create(client::kNamespaces, "", json::object{{"metadata", {{"name", ns}}}});
    if (!created.ok()) Fail("namespace", created.status());
  }

  // 2. Density: one Deployment every kReplicas / kPodsPerSecond seconds.
  const double density_cpu_before = CpuSeconds(server_pid);
  const auto density_start = Clock::now();
  const auto interval = std::chrono::microseconds(1000000 * kReplicas / kPodsPerSecond);
  for (int i = 0; i < kDeployments; ++i) {
    std::this_thread::sleep_until(density_start + i * interval);  // the creation pace
    Result<json::object> created =
        (*api)->Create(client::kDeployments, kDensityNamespace, Deployment(i));
    if (!created.ok()) Fail("create deployment", created.status());
  }
  const bool all_running = watcher.WaitFor(kDensityNamespace, kDeployments * kReplicas, true, 120s);
  const auto density_end = Clock::now();
  const double density_cpu = CpuSeconds(server_pid) - density_cpu_before;
  const double density_rss = StatusMegabytes(server_pid, "VmRSS:");

  std::vector<double> startup;
  Clock::time_point first_bind = Clock::time_point::max();
  Clock::time_point last_bind = Clock::time_point::min();
  for (const auto& [key, times] : watcher.Pods(kDensityNamespace)) {
    if (times.running) startup.push_back(Seconds(*times.running - times.added));
    if (times.bound) {
      first_bind = std::min(first_bind, *times.bound);
      last_bind = std::max(last_bind, *times.bound);
    }
  }

  // 3. Scheduler burst. A probe pod that fits nowhere shows the scheduler has seen every
  // node cordoned; then the burst pods queue up behind it.
  SetUnschedulable(**api, nodes, true);
  auto burst_pod = [](const std::string& name) {
    json::object container{{"name", "app"}, {"image", "registry.k8s.io/pause:3.9"}};
    return json::object{{"metadata", json::object{{"name", name}}},
                        {"spec", json::object{{"containers", json::array{container}}}}};
  };
  // A probe bound before the scheduler saw every cordon is deleted and another one tried.
  const auto probe_deadline = Clock::now() + 60s;
  for (int attempt = 0;; ++attempt) {
    const std::string name = "probe-" + std::to_string(attempt);
    Result<json::object> created = (*api)->Create(client::kPods, kProbeNamespace, burst_pod(name));
    if (!created.ok()) Fail("create probe pod", created.status());
    std::optional<bool> unschedulable;
    while (!unschedulable) {
      if (Clock::now() > probe_deadline) {
        Fail("probe pod", DeadlineExceededError("never reported Unschedulable"));
      }
      std::this_thread::sleep_for(20ms);  // poll interval of the bounded wait
      Result<json::object> probe = (*api)->Get(client::kPods, kProbeNamespace, name);
      if (!probe.ok()) Fail("get probe pod", probe.status());
      if (SerializeJson(*probe).find("\"Unschedulable\"") != std::string::npos) {
        unschedulable = true;
      } else if (probe->at("spec").as_object().contains("nodeName")) {
        unschedulable = false;
      }
    }
    if (*unschedulable) break;
    (void)(*api)->Delete(client::kPods, kProbeNamespace, name, {});
  }
  std::atomic<int> next{0};
  std::vector<std::thread> creators;
  for (int t = 0; t < 4; ++t) {
    creators.emplace_back([&] {
      for (int i = next++; i < kBurstPods; i = next++) {
        Result<json::object> created =
            (*api)->Create(client::kPods, kBurstNamespace, burst_pod("burst-" + std::to_string(i)));
        if (!created.ok()) Fail("create pod", created.status());
      }
    });
  }
  for (std::thread& thread : creators) thread.join();
  const size_t bound_while_cordoned = [&] {
    size_t bound = 0;
    for (const auto& [key, times] : watcher.Pods(kBurstNamespace)) bound += times.bound ? 1 : 0;
    return bound;
  }();
  const auto uncordon_start = Clock::now();
  SetUnschedulable(**api, nodes, false);
  const bool burst_bound = watcher.WaitFor(kBurstNamespace, kBurstPods, false, 120s);
  Clock::time_point burst_last = uncordon_start;
  for (const auto& [key, times] : watcher.Pods(kBurstNamespace)) {
    if (times.bound) burst_last = std::max(burst_last, *times.bound);
  }
  const double peak_rss = StatusMegabytes(server_pid, "VmHWM:");
  watcher.Stop();

  const double p50 = Percentile(startup, 0.5);
  const double p99 = Percentile(startup, 0.99);
  const double density_seconds = Seconds(density_end - density_start);
  const double bind_rate =
      last_bind > first_bind ? static_cast<double>(startup.size()) / Seconds(last_bind - first_bind)
                             : 0;
  const double burst_rate = kBurstPods / Seconds(burst_last - uncordon_start);
  std::printf("cluster_bench: kelp server + %d hollow nodes (one agent process), %u cores\n",
              kNodes, std::thread::hardware_concurrency());
  std::printf("  idle baseline: server CPU %.3f s/s, RSS %.1f MB\n", idle_cpu_rate, idle_rss);
  std::printf("  density: %d deployments x %d replicas at %d pods/s: %zu pods Running%s\n",
              kDeployments, kReplicas, kPodsPerSecond, startup.size(),
              all_running ? "" : " (INCOMPLETE)");
  std::printf(
      "    pod startup (ADDED -> Running, watch): p50 %.0f ms  p99 %.0f ms"
      "  (target p99 < 1000 ms; ratio p99 / Kubernetes SLO 5 s: %.3f)\n",
      p50 * 1000, p99 * 1000, p99 / kSloP99Seconds);
  std::printf("    bound at %.0f pods/s (arrival %d pods/s)\n", bind_rate, kPodsPerSecond);
  std::printf(
      "    server CPU %.1f s over %.1f s (%.2f cores; ratio to idle baseline %.1fx),"
      " RSS %.1f MB (target < 200 MB)\n",
      density_cpu, density_seconds, density_cpu / density_seconds,
      idle_cpu_rate > 0 ? density_cpu / density_seconds / idle_cpu_rate : 0.0, density_rss);
  std::printf(
      "  scheduler burst: %d pending pods, %zu bound while cordoned, all bound %.2f s after"
      " the first uncordon (100 node PATCHes included): %.0f pods/s%s (target >= 500)\n",
      kBurstPods, bound_while_cordoned, Seconds(burst_last - uncordon_start), burst_rate,
      burst_bound ? "" : " (INCOMPLETE)");
  std::printf("  server peak RSS %.1f MB\n", peak_rss);

  cleanup.Run();
  return all_running && burst_bound ? 0 : 1;
}

}  // namespace
}  // namespace kelp::bench

int main() { return kelp::bench::Run(); }
