// agent_bench: the node agent under a burst — 30 busybox pods created at once through the API
// (30 client threads) on one real `kelp agent` (runc + kelp-shim), timed from each create call
// to the pod's first Running status seen by a watch: p50/p99, the CPU the burst cost (server,
// agent, and everything they started: kelp-shim, runc, runc init, CNI plugins, containers,
// from a cpuacct cgroup of the bench's own), and the agent's RSS (now and peak) once they all
// run. The baselines of the same run: one pod created alone (first), and the burst with runc
// alone (after it): 30 bare `runc run -d` at once of the config.json kelp made for burst-0,
// runc run as kelp-shim runs it, with its p99 and CPU and the ratio of the two p99s — kelp's
// share, whatever the speed of the host at the time.
// Two CNI setups, each on a fresh server + agent (`--cni kelp|reference|both`, default both):
//   kelp       what a kelp user gets: the kelp-flannel conflist and plugin links the agent's
//              flannel installs (kelp-flannel -> kelp-bridge + kelp-ipam, one C++ process),
//              with a subnet.env as flanneld writes it;
//   reference  the reference Go plugins (bridge + host-local from /usr/lib/cni).
// `--runc sealed|file|both` (default sealed): the agent runs runc from its sealed in-memory copy,
// as it does by default, or from the binary's file (`kelp agent --disable-sealed-runc`).
// The 30 client threads' connections are open before the burst (a controller or a kubectl
// already talking to the server has its connection); `--cold-connections` makes each create
// open a new one, with its TLS handshake.
// `--runs N` repeats the setups N times, alternating them, and ends with each one's min /
// median / max p99, CPU per pod and bare-runc p99 (this 2-core VM varies by ~30 % from run to
// run).
// Every result line names its CNI. The burst's CLOCK_MONOTONIC window is printed so a
// system-wide `perf record -k CLOCK_MONOTONIC` can be cut to it (bench/agent_bench_profile.sh).
// Root; `kelp server --disable-agent` and `kelp agent` run as processes inside a private mount
// namespace and a network namespace of the bench's own, with temp directories bound over
// /run/netns, /var/lib/cni and /run/flannel (the /run ones on tmpfs, as on a systemd host).
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
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
#include <sstream>
#include <thread>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "agent/runtime/cgroups.h"
#include "agent/runtime/runc.h"
#include "agent/runtime/sealed_program.h"
#include "agent/runtime/testing/mounts.h"
#include "agent/runtime/timer_slack.h"
#include "client/https_client.h"
#include "client/informer.h"
#include "common/file.h"
#include "common/json.h"
#include "common/process.h"
#include "common/testing/temp_dir.h"
#include "flannel/cni_install.h"
#include "flannel/net_conf.h"
#include "net/netns.h"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::duration<double, std::milli>;
using namespace std::chrono_literals;

constexpr int kPods = 30;

// Per CNI label, every run's burst p99 and CPU per pod (for the --runs summary).
struct RunFigures {
  std::vector<double> p99_ms;
  std::vector<double> bare_p99_ms;  // the same run's bare runc baseline
  std::vector<double> cpu_per_pod_ms;
};
std::map<std::string, RunFigures> g_figures;
// Whether the client threads open their connections before the burst (--cold-connections: no).
bool g_warm_connections = true;

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

// CPU seconds (user + system) of one live process.
double ProcessCpuSeconds(pid_t pid) {
  std::string stat = kelp::ReadFile("/proc/" + std::to_string(pid) + "/stat").value_or("");
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::atof(field.c_str());  // utime, stime
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double MonotonicSeconds() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// A cpuacct cgroup below the bench's own: the server and the agent are started inside it, so
// everything they start (shims, runc, CNI plugins, and the containers, whose cgroups runc nests
// below its own) is counted in cpuacct.usage. The bench itself stays outside.
class CpuAccount {
 public:
  static std::optional<CpuAccount> Create(const std::string& name) {
    auto cgroups = kelp::agent::Cgroups::Discover();
    if (!cgroups.ok()) return std::nullopt;
    auto dir = cgroups->Resolve("cpuacct", name);
    if (!dir.ok()) return std::nullopt;
    CpuAccount account;
    account.name_ = name;
    account.parent_ = dir->parent_path();
    account.dir_ = *dir;
    std::error_code ec;
    fs::create_directories(account.dir_, ec);
    if (ec) return std::nullopt;
    return account;
  }
  // Moves the calling process in (Enter) or back (Leave); children started in between stay.
  bool Enter() { return Move(dir_); }
  bool Leave() { return Move(parent_); }
  double Seconds() const {
    return std::atof(kelp::ReadFile(dir_ / "cpuacct.usage").value_or("0").c_str()) / 1e9;
  }
  const std::string& name() const { return name_; }

 private:
  bool Move(const fs::path& to) const {
    std::ofstream procs(to / "cgroup.procs");
    procs << ::getpid() << std::flush;
    return procs.good();
  }
  std::string name_;
  fs::path parent_;
  fs::path dir_;
};

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

enum class Cni { kKelp, kReference };

std::string NodeName(Cni cni, const std::string& suffix) {
  return std::string(cni == Cni::kKelp ? "abk-" : "abr-") + suffix;
}

const char* CniLabel(Cni cni) {
  return cni == Cni::kKelp ? "kelp-cni (kelp-flannel -> kelp-bridge + kelp-ipam)"
                           : "reference bridge + host-local";
}

// One measured configuration: the CNI, and where runc runs from.
struct Setup {
  Cni cni;
  bool sealed_runc;
  std::string Label() const {
    return std::string(CniLabel(cni)) + (sealed_runc ? "" : ", runc from its file");
  }
};

// The node's CNI configuration in `tmp`; returns the --cni-bin-dir to give the agent.
kelp::Result<fs::path> SetUpCni(Cni cni, const fs::path& tmp, const std::string& suffix) {
  const fs::path conf_dir = tmp / "net.d";
  if (cni == Cni::kReference) {
    std::ofstream(conf_dir / "10-bench.conflist")
        << R"({"cniVersion":"1.0.0","name":"abnet","plugins":[{"type":"bridge","bridge":"ab)"
        << suffix.substr(0, 10) << R"(","isGateway":true,"ipam":{"type":"host-local",)"
        << R"("subnet":"10.90.0.0/24","dataDir":")" << (tmp / "ipam").string() << R"("}}]})";
    return fs::path("/usr/lib/cni");
  }
  // What the agent's flannel installs, and the subnet.env flanneld would write for the node.
  const fs::path bin_dir = tmp / "cni-bin";
  KELP_RETURN_IF_ERROR(kelp::flannel::InstallCni(
      {.conf_dir = conf_dir, .bin_dir = bin_dir, .kelp_cni_binary = KELP_CNI_BINARY}));
  using Prefix = kelp::net::Ipv4Prefix;
  KELP_ASSIGN_OR_RETURN(Prefix network, Prefix::Parse("10.91.0.0/16"));
  KELP_ASSIGN_OR_RETURN(Prefix subnet, Prefix::Parse("10.91.7.0/24"));
  KELP_RETURN_IF_ERROR(kelp::WriteFileAtomic(
      "/run/flannel/subnet.env",
      kelp::flannel::FormatSubnetEnv({.network = network, .subnet = subnet, .mtu = 1450})));
  return bin_dir;
}

// The same-run baseline of the burst: kPods bare `runc run --detach` at once of the config.json
// kelp generated for the pod `pod` (its namespaces, mounts, limits and rootfs; each in a cgroup
// of its own below the pod's), with no API server, kubelet, CNI or shim, but runc run as
// kelp-shim runs it (from a sealed copy when `sealed`, GOMAXPROCS=1, kRuncTimerSlack). What a burst
// costs this host right now with runc alone; the ratio of the two is kelp's share, whatever the
// host's speed. Runs inside `account` (when there is one), so its CPU is measured as the burst's.
struct BareBurst {
  std::vector<double> latencies_ms;
  double cpu_s = 0;
};

kelp::Result<BareBurst> BareRuncBurst(const fs::path& tmp, const std::string& pod, bool sealed,
                                      CpuAccount* account) {
  std::optional<json::object> spec;
  std::error_code ec;
  for (const auto& dir : fs::directory_iterator(tmp / "run" / "runtime" / "containers", ec)) {
    auto text = kelp::ReadFile(dir.path() / "config.json");
    auto doc = text.ok() ? kelp::ParseJsonObject(*text) : kelp::Result<json::object>(text.status());
    const json::object* annotations =
        doc.ok() && doc->contains("annotations") ? doc->at("annotations").if_object() : nullptr;
    const json::value* name =
        annotations != nullptr ? annotations->if_contains("io.kubernetes.pod.name") : nullptr;
    if (name != nullptr && *name == pod.c_str()) {
      spec = std::move(*doc);
      break;
    }
  }
  if (!spec) return kelp::NotFoundError("no bundle of pod " + pod);
  std::string runc = fs::exists("/usr/sbin/runc") ? "/usr/sbin/runc" : "runc";
  std::optional<kelp::agent::SealedProgram> copy;
  if (sealed) {
    KELP_ASSIGN_OR_RETURN(copy, kelp::agent::SealedProgram::Create(runc));
    runc = copy->path();
  }
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  if (::getenv("GOMAXPROCS") == nullptr) env.emplace_back("GOMAXPROCS=1");
  const fs::path root = tmp / "run" / "runc-bare";
  const std::string pod_cgroup =
      fs::path(std::string(spec->at("linux").at("cgroupsPath").as_string())).parent_path();
  for (int i = 0; i < kPods; ++i) {
    json::object config = *spec;
    config["linux"].as_object()["cgroupsPath"] = pod_cgroup + "/bare-" + std::to_string(i);
    const fs::path bundle = tmp / "bare" / std::to_string(i);
    fs::create_directories(bundle);
    KELP_RETURN_IF_ERROR(kelp::WriteFileAtomic(bundle / "config.json", json::serialize(config),
                                               0600, kelp::Durability::kProcessCrashSafe));
  }
  if (account && !account->Enter()) return kelp::InternalError("cannot enter " + account->name());
  const double cpu_before = account ? account->Seconds() : 0;
  BareBurst out;
  out.latencies_ms.resize(kPods);
  std::vector<std::string> errors(kPods);
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < kPods; ++i) {
    threads.emplace_back([&, i] {
      // Inherited by the runc this thread starts, as from kelp-shim's thread.
      ::prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(kelp::agent::kRuncTimerSlack.count()),
              0, 0, 0);
      kelp::SubprocessRunner plain;
      auto ran = plain.Run(
          {.argv = {runc, "--root", root.string(), "run", "--detach", "--bundle",
                    (tmp / "bare" / std::to_string(i)).string(), "bare-" + std::to_string(i)},
           .env = env});
      out.latencies_ms[i] = Millis(Clock::now() - start).count();
      if (!ran.ok()) errors[i] = ran.status().ToString();
      if (ran.ok() && ran->exit_code != 0) errors[i] = ran->stderr_data;
    });
  }
  for (std::thread& thread : threads) thread.join();
  out.cpu_s = (account ? account->Seconds() : 0) - cpu_before;
  if (account) account->Leave();
  kelp::SubprocessRunner plain;
  for (int i = 0; i < kPods; ++i) {
    (void)plain.Run({.argv = {runc, "--root", root.string(), "delete", "--force",
                              "bare-" + std::to_string(i)}});
  }
  for (const std::string& error : errors) {
    if (!error.empty()) return kelp::InternalError("bare runc run: " + error);
  }
  return out;
}

int RunBench(const Setup& setup, const fs::path& tmp, const std::string& suffix,
             kelp::SubprocessRunner& runner,
             std::vector<std::unique_ptr<kelp::ChildProcess>>& children, CpuAccount* account) {
  const Cni cni = setup.cni;
  auto bin_dir = SetUpCni(cni, tmp, suffix);
  if (!bin_dir.ok()) return Fail("CNI setup", bin_dir.status().ToString());
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
  // The server and the agent (and all they start) run in the accounting cgroup; the bench not.
  if (account && !account->Enter()) return Fail("cpuacct", "cannot enter " + account->name());
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
  const std::string node = NodeName(cni, suffix);
  std::vector<std::string> agent_argv = {KELP_BINARY,        "agent",
                                         "--server",         url,
                                         "--token",          agent_token,
                                         "--node-name",      node,
                                         "--node-ip",        "192.0.2.10",
                                         "--data-dir",       (tmp / "agent").string(),
                                         "--run-dir",        (tmp / "run").string(),
                                         "--pod-log-dir",    (tmp / "pods").string(),
                                         "--cni-bin-dir",    bin_dir->string(),
                                         "--cni-conf-dir",   (tmp / "net.d").string(),
                                         "--cgroup-root",    "kelp-ab-" + suffix,
                                         "--disable-flannel"};
  if (!setup.sealed_runc) agent_argv.push_back("--disable-sealed-runc");
  auto agent = runner.Start({.argv = agent_argv, .output_file = (tmp / "agent.log").string()});
  if (account) account->Leave();
  if (!agent.ok()) return Fail("start agent", agent.status().ToString());
  const pid_t agent_pid = (*agent)->pid();
  const pid_t server_pid = children.back()->pid();
  children.push_back(std::move(*agent));

  auto client = kelp::client::HttpsApiClient::Create({.server = url,
                                                      .token = token,
                                                      .ca_file = data / "tls" / "ca.crt",
                                                      .max_idle_connections = kPods + 2});
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
  if (g_warm_connections) {
    // Each client thread's connection is open before the burst, as a controller's or a
    // kubectl's that already talks to the server is: the burst times pods, not 30 TLS
    // handshakes (~3 ms of CPU per pod between the server and this client).
    std::vector<std::thread> warm;
    for (int i = 0; i < kPods; ++i) {
      warm.emplace_back([&] { (void)(*client)->Get(kelp::client::kNodes, "", node); });
    }
    for (std::thread& thread : warm) thread.join();
  }
  if (single.empty()) return Fail("one pod", kelp::ReadFile(tmp / "agent.log").value_or(""));
  const double rss_idle = StatusKb(agent_pid, "VmRSS:") / 1024;
  std::vector<std::string> names;
  for (int i = 0; i < kPods; ++i) names.push_back("burst-" + std::to_string(i));
  const double cpu_before = account ? account->Seconds() : 0;
  const double server_before = ProcessCpuSeconds(server_pid);
  const double agent_before = ProcessCpuSeconds(agent_pid);
  double load_before = 0;
  (void)::getloadavg(&load_before, 1);
  const double window_start = MonotonicSeconds();
  std::vector<double> burst = create_and_time(names);
  const double window_end = MonotonicSeconds();
  const double cpu = (account ? account->Seconds() : 0) - cpu_before;
  const double server_cpu = ProcessCpuSeconds(server_pid) - server_before;
  const double agent_cpu = ProcessCpuSeconds(agent_pid) - agent_before;
  if (burst.empty()) return Fail("30 pods", kelp::ReadFile(tmp / "agent.log").value_or(""));
  // Settle: a few resync rounds with everything running, then the agent's memory.
  std::this_thread::sleep_for(3s);  // measuring steady-state memory, not waiting for a state
  const double rss = StatusKb(agent_pid, "VmRSS:") / 1024;
  const double peak = StatusKb(agent_pid, "VmHWM:") / 1024;
  pods.Stop();
  // A failed baseline is reported after kelp's own figures, and fails the bench.
  kelp::Result<BareBurst> bare = BareRuncBurst(tmp, "burst-0", setup.sealed_runc, account);

  double load = 0;
  (void)::getloadavg(&load, 1);
  const std::string label_text = setup.Label();
  const char* label = label_text.c_str();
  std::printf(
      "agent_bench [%s]: %d busybox pods created at once through the API on one kelp agent "
      "(runc + kelp-shim; %s); %u cores, load average %.1f before the burst, %.1f after\n",
      label, kPods,
      g_warm_connections ? "client connections open before the burst"
                         : "a new client connection per create",
      std::thread::hardware_concurrency(), load_before, load);
  std::printf("  [%s] create -> Running, one pod alone (baseline)   %7.1f ms\n", label, single[0]);
  std::printf(
      "  [%s] create -> Running, %d at once   p50 %7.1f ms   p99 %7.1f ms   "
      "(target p99 < 2000 ms)\n",
      label, kPods, Percentile(burst, 0.5), Percentile(burst, 0.99));
  std::printf("  [%s]   of which create -> bound by the scheduler   p50 %7.1f ms   p99 %7.1f ms\n",
              label, Percentile(scheduled, 0.5), Percentile(scheduled, 0.99));
  std::printf("  [%s] ratio p99 (%d at once) / one pod alone: %.2f\n", label, kPods,
              Percentile(burst, 0.99) / single[0]);
  if (account) {
    std::printf(
        "  [%s] CPU of the burst: %.0f ms per pod (server %.0f, agent %.0f, the rest: kelp-shim, "
        "runc, runc init, CNI plugins, containers %.0f); %.2f s CPU in %.2f s wall\n",
        label, 1000 * cpu / kPods, 1000 * server_cpu / kPods, 1000 * agent_cpu / kPods,
        1000 * (cpu - server_cpu - agent_cpu) / kPods, cpu, window_end - window_start);
  }
  if (bare.ok()) {
    const double bare_p99 = Percentile(bare->latencies_ms, 0.99);
    std::printf(
        "  [%s] baseline: %d bare `runc run -d` at once of burst-0's config.json (no API, "
        "kubelet, CNI or shim; runc%s, GOMAXPROCS=1, %.0f ms timer slack)   p50 %7.1f ms   p99 "
        "%7.1f ms; CPU %.0f ms per container\n",
        label, kPods, setup.sealed_runc ? " from a sealed copy" : "",
        std::chrono::duration<double, std::milli>(kelp::agent::kRuncTimerSlack).count(),
        Percentile(bare->latencies_ms, 0.5), bare_p99, 1000 * bare->cpu_s / kPods);
    std::printf("  [%s] ratio p99 (%d pods at once) / p99 (%d bare runc at once): %.2f\n", label,
                kPods, kPods, Percentile(burst, 0.99) / bare_p99);
    g_figures[label].bare_p99_ms.push_back(bare_p99);
  }
  g_figures[label].p99_ms.push_back(Percentile(burst, 0.99));
  if (account) g_figures[label].cpu_per_pod_ms.push_back(1000 * cpu / kPods);
  std::printf("  [%s] burst window (CLOCK_MONOTONIC s): %.3f %.3f\n", label, window_start,
              window_end);
  std::printf(
      "  [%s] agent RSS: %.1f MB with 1 pod, %.1f MB with %d pods, peak %.1f MB "
      "(target < 30 MB)\n",
      label, rss_idle, rss, kPods + 1, peak);
  std::fflush(stdout);
  if (!bare.ok()) return Fail("bare runc baseline", bare.status().ToString());
  return 0;
}


// One setup on a fresh server + agent; everything it made is removed before returning.
int RunOne(const Setup& setup, const std::string& suffix, kelp::SubprocessRunner& runner) {
  const Cni cni = setup.cni;
  kelp::testing::ScopedTempDir tmp;
  for (const char* dir : {"netns", "cni", "flannel", "net.d", "run", "pods", "agent"}) {
    fs::create_directories(tmp.path() / dir);
  }
  std::vector<std::string> bound;
  int exit_code = 0;
  // What a node keeps under /run lives on tmpfs, as on any systemd host (this machine's /run
  // may be a plain directory on the root filesystem): the agent's --run-dir (runc's root, the
  // bundles and shim files), the pinned network namespaces and flannel's subnet.env. The
  // agent's data dir (container and sandbox records, overlay upper dirs), the pod logs and
  // /var/lib/cni stay on disk.
  for (const char* dir : {"run", "netns", "flannel"}) {
    if (::mount("tmpfs", (tmp.path() / dir).c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                "mode=0755") != 0) {
      exit_code = Fail(std::string("tmpfs on ") + dir, std::strerror(errno));
    }
  }
  for (const auto& [source, target] : {std::pair{"netns", "/run/netns"},
                                       {"cni", "/var/lib/cni"},
                                       {"flannel", "/run/flannel"}}) {
    fs::create_directories(target);
    if (::mount((tmp.path() / source).c_str(), target, nullptr, MS_BIND, nullptr) != 0) {
      exit_code = Fail(std::string("bind ") + target, std::strerror(errno));
      break;
    }
    bound.push_back(target);
  }
  const std::string node = NodeName(cni, suffix);
  std::optional<CpuAccount> account = CpuAccount::Create("kelp-" + node);
  if (!account) std::fprintf(stderr, "agent_bench: no cpuacct cgroup; CPU not measured\n");

  std::vector<std::unique_ptr<kelp::ChildProcess>> children;
  if (exit_code == 0) {
    exit_code =
        RunBench(setup, tmp.path(), suffix, runner, children, account ? &*account : nullptr);
  }

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
       fs::directory_iterator(tmp.path() / "run" / "runtime" / "containers", ec)) {
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
  if (auto cgroups = kelp::agent::Cgroups::Discover(); cgroups.ok()) {
    (void)cgroups->RemoveTree("kelp-ab-" + suffix);
    if (account) {
      // The pods' cgroups nest below the accounting one in its hierarchy; the shims just got
      // SIGKILL, so give the kernel a moment to empty it.
      WaitFor([&] { return cgroups->RemoveTree(account->name()).ok(); }, 10s);
    }
  }
  for (const std::string& target : bound) ::umount2(target.c_str(), MNT_DETACH);
  kelp::agent::testing::UnmountAllUnder(tmp.path());
  return exit_code;
}

}  // namespace

// "min / median / max" of a run's figures.
std::string Spread(const std::vector<double>& values) {
  if (values.empty()) return "-";
  char text[96];
  std::snprintf(text, sizeof(text), "%.0f / %.0f / %.0f",
                *std::min_element(values.begin(), values.end()), Percentile(values, 0.5),
                *std::max_element(values.begin(), values.end()));
  return text;
}

// The bench's data (server store, agent state, overlay upper dirs, pod logs) lives under the
// temp dir. On an ext4 without a journal, creating a file skips the inodes freed in the last
// 35 s (300 s while their table block is dirty), so a run right after another one (whose
// teardown freed thousands of inodes) pays for that scan in every file a pod start creates;
// a usual root filesystem has a journal, where ext4 does not do this. Says so when it applies.
void NoteUnjournaledExt4(const fs::path& dir) {
  struct statfs fs_info {};
  struct stat info {};
  if (::statfs(dir.c_str(), &fs_info) != 0 || fs_info.f_type != 0xEF53 ||  // EXT4_SUPER_MAGIC
      ::stat(dir.c_str(), &info) != 0) {
    return;
  }
  const std::string uevent = kelp::ReadFile(fmt::format("/sys/dev/block/{}:{}/uevent",
                                                        major(info.st_dev), minor(info.st_dev)))
                                 .value_or("");
  const size_t at = uevent.find("DEVNAME=");
  if (at == std::string::npos) return;
  const std::string device = uevent.substr(at + 8, uevent.find('\n', at) - at - 8);
  std::error_code ec;
  for (const auto& journal : fs::directory_iterator("/proc/fs/jbd2", ec)) {
    if (journal.path().filename().string().starts_with(device + "-")) return;
  }
  std::printf(
      "agent_bench: note: %s is on ext4 without a journal (%s): files created soon after the "
      "previous run's teardown cost more (ext4 recently_deleted); TMPDIR on a journaled "
      "filesystem gives figures comparable with a usual node\n",
      dir.c_str(), device.c_str());
}

int main(int argc, char** argv) {
  std::vector<Cni> cnis = {Cni::kKelp, Cni::kReference};
  std::vector<bool> sealed = {true};
  int runs = 1;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
      if (runs < 1 || runs > 50) {
        std::fprintf(stderr, "agent_bench: --runs takes 1..50\n");
        return 2;
      }
      continue;
    }
    if (arg == "--cold-connections") {
      g_warm_connections = false;
      continue;
    }
    if (arg == "--runc" && i + 1 < argc) {
      std::string_view runc = argv[++i];
      if (runc == "sealed" || runc == "file" || runc == "both") {
        sealed = runc == "sealed" ? std::vector<bool>{true}
                 : runc == "file" ? std::vector<bool>{false}
                                  : std::vector<bool>{true, false};
        continue;
      }
    }
    std::string_view value = arg.substr(0, 6) == "--cni=" ? arg.substr(6)
                             : arg == "--cni" && i + 1 < argc ? std::string_view(argv[++i])
                                                              : std::string_view("?");
    if (value == "kelp") {
      cnis = {Cni::kKelp};
    } else if (value == "reference") {
      cnis = {Cni::kReference};
    } else if (value == "both") {
      cnis = {Cni::kKelp, Cni::kReference};
    } else {
      std::fprintf(stderr,
                   "usage: agent_bench [--cni kelp|reference|both] [--runc sealed|file|both] "
                   "[--runs N] [--cold-connections]  (default both, sealed, 1)\n");
      return 2;
    }
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "agent_bench: needs root\n");
    return 1;
  }
  if (::unshare(CLONE_NEWNS) != 0 || ::mount("", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    std::perror("agent_bench: private mount namespace");
    return 1;
  }
  NoteUnjournaledExt4(fs::temp_directory_path());
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
  std::vector<Setup> setups;
  for (Cni cni : cnis) {
    for (bool s : sealed) setups.push_back({cni, s});
  }
  int exit_code = 0;
  // Several runs alternate the setups, so that a slower stretch of a shared machine does not
  // fall on one of them only.
  for (int run = 0; run < runs && exit_code == 0; ++run) {
    for (const Setup& setup : setups) {
      if (int code = RunOne(setup, suffix, runner); code != 0) exit_code = code;
    }
  }
  if (runs > 1 && exit_code == 0) {
    for (const Setup& setup : setups) {
      const RunFigures& f = g_figures[setup.Label()];
      std::printf(
          "agent_bench [%s] over %d runs (min / median / max): p99 %s ms, CPU per pod %s ms; "
          "bare runc baseline p99 %s ms\n",
          setup.Label().c_str(), runs, Spread(f.p99_ms).c_str(), Spread(f.cpu_per_pod_ms).c_str(),
          Spread(f.bare_p99_ms).c_str());
    }
  }
  return exit_code;
}
