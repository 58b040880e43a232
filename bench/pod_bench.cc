// pod_bench: start latency of 30 pods through ContainerRuntime (sandbox with the reference
// bridge + host-local CNI plugins, then one busybox container created and started), split
// into the CNI plugins' share, the shim (+ runc create) share and runc start, with p50/p99;
// then a second container of each pod through RunContainer (`runc run --detach`, the
// kubelet's path). As the baselines of the same run, bare `runc create` + `runc start` and
// bare `runc run --detach` of the config.json kelp generated for the first pod (no shim, no
// overlay, no CNI, no kelp bookkeeping). Root; everything runs in a private mount namespace
// and a network namespace of the bench's own.
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>

#include "agent/runtime/cgroups.h"
#include "agent/runtime/runtime.h"
#include "agent/runtime/testing/fake_image_source.h"
#include "agent/runtime/testing/mounts.h"
#include "common/file.h"
#include "common/testing/temp_dir.h"
#include "net/netns.h"

namespace {

namespace fs = std::filesystem;
using Millis = std::chrono::duration<double, std::milli>;
using kelp::agent::ContainerRuntime;

constexpr int kPods = 30;

// Times every child by kind: CNI plugin, kelp-shim (which runs `runc create`), runc.
class TimingRunner final : public kelp::ProcessRunner {
 public:
  kelp::Result<kelp::ProcessResult> Run(const kelp::ProcessRequest& request) override {
    auto start = std::chrono::steady_clock::now();
    kelp::Result<kelp::ProcessResult> result = real_.Run(request);
    Millis took = std::chrono::steady_clock::now() - start;
    std::string kind = request.argv[0].find("/cni/") != std::string::npos     ? "cni"
                       : request.argv[0].find("kelp-shim") != std::string::npos ? "shim"
                                                                                : "runc";
    std::lock_guard lock(mutex_);
    totals_[kind] += took.count();
    return result;
  }
  kelp::Result<std::unique_ptr<kelp::ChildProcess>> Start(
      const kelp::ProcessRequest& request) override {
    return real_.Start(request);
  }
  // Milliseconds spent in `kind` since the last call, then reset.
  double Take(const std::string& kind) {
    std::lock_guard lock(mutex_);
    double value = totals_[kind];
    totals_[kind] = 0;
    return value;
  }

 private:
  kelp::SubprocessRunner real_;
  std::mutex mutex_;
  std::map<std::string, double> totals_;
};

struct Series {
  std::vector<double> values;
  double Percentile(double p) const {
    std::vector<double> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    size_t index = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
    return sorted.empty() ? 0 : sorted[index];
  }
};

void Print(const char* name, const Series& s) {
  std::printf("  %-32s p50 %7.1f ms   p99 %7.1f ms\n", name, s.Percentile(0.5), s.Percentile(0.99));
}

int Fail(const std::string& what, const kelp::Status& status) {
  std::fprintf(stderr, "pod_bench: %s: %s\n", what.c_str(), status.ToString().c_str());
  return 1;
}

}  // namespace

int main() {
  if (::geteuid() != 0) {
    std::fprintf(stderr, "pod_bench: needs root\n");
    return 1;
  }
  if (::unshare(CLONE_NEWNS) != 0 || ::mount("", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    std::perror("pod_bench: private mount namespace");
    return 1;
  }
  kelp::testing::ScopedTempDir tmp;
  std::string suffix = std::to_string(::getpid());
  auto node = kelp::net::NamedNetns::Create("kelp-pb-" + suffix);
  if (!node.ok()) return Fail("node netns", node.status());
  if (::setns((*node)->fd(), CLONE_NEWNET) != 0) {
    std::perror("pod_bench: setns");
    return 1;
  }
  fs::path layer = tmp.path() / "layer";
  if (kelp::Status s = kelp::agent::testing::BuildBusyboxLayer(layer); !s.ok()) {
    return Fail("busybox layer", s);
  }
  kelp::agent::testing::FakeImageSource images;
  images.Add("busybox", {.id = "sha256:bench", .layers = {layer}, .config = {.cmd = {"sh"}}});
  fs::create_directories(tmp.path() / "net.d");
  std::ofstream(tmp.path() / "net.d" / "10-bench.conflist")
      << R"({"cniVersion":"1.0.0","name":"benchnet","plugins":[{"type":"bridge","bridge":"pb)"
      << suffix.substr(0, 10) << R"(","isGateway":true,"ipam":{"type":"host-local",)"
      << R"("subnet":"10.89.0.0/24","dataDir":")" << (tmp.path() / "ipam").string() << R"("}}]})";

  TimingRunner runner;
  const std::string runc = fs::exists("/usr/sbin/runc") ? "/usr/sbin/runc" : "runc";
  // A cgroup root of the bench's own: removing a shared "kelp" parent could race with an
  // agent creating its node's cgroups below it.
  const std::string cgroup_root = "kelp-pb-" + suffix;
  kelp::agent::RuntimeOptions options{.node_name = "pb-" + suffix,
                                      .state_dir = tmp.path() / "state",
                                      .runc_root = tmp.path() / "runc",
                                      .run_state_dir = tmp.path() / "run",
                                      .runc_binary = runc,
                                      .shim_binary = KELP_SHIM_BINARY,
                                      .netns_dir = tmp.path() / "netns",
                                      .pod_log_dir = tmp.path() / "pods",
                                      .cgroup_parent = cgroup_root,
                                      .cni = {.conf_dir = tmp.path() / "net.d",
                                              .bin_dirs = {"/usr/lib/cni"},
                                              .cache_dir = tmp.path() / "cni"}};
  auto runtime = ContainerRuntime::Open(options, runner, images);
  if (!runtime.ok()) return Fail("open runtime", runtime.status());

  Series sandbox, cni, create, shim, start, total, run;
  std::vector<std::string> sandboxes;
  std::string first_container;
  int exit_code = 0;
  for (int i = 0; i < kPods; ++i) {
    runner.Take("cni");
    runner.Take("shim");
    auto t0 = std::chrono::steady_clock::now();
    auto s = (*runtime)->RunPodSandbox(
        {.name = "pod-" + std::to_string(i), .pod_namespace = "bench", .uid = "u" + std::to_string(i)});
    auto t1 = std::chrono::steady_clock::now();
    if (!s.ok()) {
      exit_code = Fail("sandbox", s.status());
      break;
    }
    sandboxes.push_back(s->id);
    cni.values.push_back(runner.Take("cni"));
    auto id = (*runtime)->CreateContainer(
        s->id, {.name = "c", .image = "busybox", .command = {"sleep", "1000"}});
    auto t2 = std::chrono::steady_clock::now();
    if (!id.ok()) {
      exit_code = Fail("create", id.status());
      break;
    }
    shim.values.push_back(runner.Take("shim"));
    if (first_container.empty()) first_container = *id;
    kelp::Status started = (*runtime)->StartContainer(*id);
    auto t3 = std::chrono::steady_clock::now();
    if (!started.ok()) {
      exit_code = Fail("start", started);
      break;
    }
    // The kubelet's path: a second container of the pod through RunContainer (the shim runs
    // `runc run --detach`, one runc process).
    runner.Take("shim");
    auto run_id = (*runtime)->RunContainer(
        s->id, {.name = "r", .image = "busybox", .command = {"sleep", "1000"}});
    auto t4 = std::chrono::steady_clock::now();
    if (!run_id.ok()) {
      exit_code = Fail("run", run_id.status());
      break;
    }
    sandbox.values.push_back(Millis(t1 - t0).count());
    create.values.push_back(Millis(t2 - t1).count());
    start.values.push_back(Millis(t3 - t2).count());
    total.values.push_back(Millis(t3 - t0).count());
    run.values.push_back(Millis(t4 - t3).count());
  }
  // Baseline: bare `runc create` + `runc start` of the very config.json kelp generated for the
  // first pod's container (same namespaces to join, mounts, limits), on a plain copy of the
  // layer instead of the overlay: what is left of the difference is kelp's own work.
  Series baseline, baseline_run;
  fs::path bundle = tmp.path() / "bundle";
  std::error_code ec;
  fs::create_directories(bundle);
  fs::copy(layer, bundle / "rootfs", fs::copy_options::recursive | fs::copy_options::copy_symlinks,
           ec);
  auto config_text =
      kelp::ReadFile(options.run_state_dir / "containers" / first_container / "config.json");
  if (exit_code == 0 && (ec || !config_text.ok())) {
    std::fprintf(stderr, "pod_bench: baseline bundle: %s\n", ec.message().c_str());
    exit_code = 1;
  }
  kelp::SubprocessRunner plain;
  std::string root = (tmp.path() / "runc-baseline").string();
  if (exit_code == 0) {
    boost::json::object spec = boost::json::parse(*config_text).as_object();
    spec["root"].as_object()["path"] = (bundle / "rootfs").string();
    spec["linux"].as_object()["cgroupsPath"] = cgroup_root + "/baseline";
    std::ofstream(bundle / "config.json") << boost::json::serialize(spec);
  }
  for (int i = 0; i < kPods && exit_code == 0; ++i) {
    std::string id = "baseline" + std::to_string(i);
    auto t0 = std::chrono::steady_clock::now();
    auto created = plain.Run({.argv = {runc, "--root", root, "create", "--bundle",
                                       bundle.string(), id}});
    auto started = plain.Run({.argv = {runc, "--root", root, "start", id}});
    baseline.values.push_back(Millis(std::chrono::steady_clock::now() - t0).count());
    if (!created.ok() || created->exit_code != 0 || !started.ok() || started->exit_code != 0) {
      std::fprintf(stderr, "pod_bench: baseline runc failed: %s\n",
                   created.ok() ? created->stderr_data.c_str() : "");
      exit_code = 1;
    }
    (void)plain.Run({.argv = {runc, "--root", root, "delete", "--force", id}});
    // And `runc run --detach` of the same bundle (RunContainer's baseline).
    t0 = std::chrono::steady_clock::now();
    auto ran = plain.Run({.argv = {runc, "--root", root, "run", "--detach", "--bundle",
                                   bundle.string(), id}});
    baseline_run.values.push_back(Millis(std::chrono::steady_clock::now() - t0).count());
    if (!ran.ok() || ran->exit_code != 0) {
      std::fprintf(stderr, "pod_bench: baseline runc run failed: %s\n",
                   ran.ok() ? ran->stderr_data.c_str() : "");
      exit_code = 1;
    }
    (void)plain.Run({.argv = {runc, "--root", root, "delete", "--force", id}});
  }

  Series teardown;
  for (const std::string& id : sandboxes) {
    auto t0 = std::chrono::steady_clock::now();
    kelp::Status removed = (*runtime)->RemovePodSandbox(id);
    if (!removed.ok()) exit_code = Fail("remove", removed);
    teardown.values.push_back(Millis(std::chrono::steady_clock::now() - t0).count());
  }

  runtime->reset();
  auto cgroups = kelp::agent::Cgroups::Discover();
  if (cgroups.ok()) {
    (void)cgroups->RemoveTree(cgroup_root);
  }
  kelp::agent::testing::UnmountAllUnder(tmp.path());
  if (exit_code != 0) return exit_code;

  std::printf("pod_bench: %d pods, one busybox container each (runc + kelp-shim, bridge + "
              "host-local)\n", kPods);
  Print("RunPodSandbox", sandbox);
  Print("  of which CNI plugins (ADD)", cni);
  Print("CreateContainer", create);
  Print("  of which kelp-shim + runc create", shim);
  Print("StartContainer (runc start)", start);
  Print("pod total (sandbox+create+start)", total);
  Print("RunContainer (runc run -d)", run);
  Print("RemovePodSandbox (kill, CNI DEL, ...)", teardown);
  Print("baseline: bare runc create+start", baseline);
  Print("baseline: bare runc run -d", baseline_run);
  double container = create.Percentile(0.5) + start.Percentile(0.5);
  std::printf("  ratio container create+start / bare runc create+start (p50): %.2f\n",
              container / baseline.Percentile(0.5));
  std::printf("  ratio RunContainer / bare runc run -d (p50): %.2f\n",
              run.Percentile(0.5) / baseline_run.Percentile(0.5));
  std::printf("  CNI share of the pod total (p50): %.0f%%, shim+runc create share: %.0f%%\n",
              100 * cni.Percentile(0.5) / total.Percentile(0.5),
              100 * shim.Percentile(0.5) / total.Percentile(0.5));
  return 0;
}
