// cni_bench: CNI ADD and DEL latency (p50/p99) of kelp-cni (kelp-bridge + kelp-ipam) against
// the reference bridge + host-local plugins (/usr/lib/cni) measured in the same run with the
// same configuration. Each implementation gets its own "host" namespace; every iteration uses
// a fresh container namespace, and the two alternate iteration by iteration so that load from
// elsewhere on the machine hits both alike. Lease directories live under /var/tmp (a real
// disk, like /var/lib/cni) or under the directory given as the only argument (e.g. /dev/shm to
// see what lease fsyncs cost). Runs as root; namespaces are removed by RAII.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "signal_janitor.h"
#include "common/process.h"
#include "net/netns.h"

namespace kelp::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kWarmup = 5;
constexpr int kIterations = 300;
constexpr const char* kReferenceDir = "/usr/lib/cni";

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& base) {
    std::string pattern = base + "/kelp-cni-bench-XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// One plugin implementation: its binary, its configuration and its host namespace.
struct Impl {
  std::string label;
  std::string binary;
  std::string config;
  std::unique_ptr<net::NamedNetns> host;
  std::vector<double> add_ms;
  std::vector<double> del_ms;
};

std::string Config(const std::string& type, const std::string& ipam_type,
                   const std::string& data_dir) {
  return R"({"cniVersion":"1.0.0","name":"benchnet","type":")" + type +
         R"(","bridge":"cbr0","isGateway":true,"isDefaultGateway":true,"hairpinMode":true,)"
         R"("mtu":1400,"ipam":{"type":")" + ipam_type +
         R"(","subnet":"10.99.0.0/16","routes":[{"dst":"10.98.0.0/16"}],"dataDir":")" +
         data_dir + R"("}})";
}

// Runs one CNI command of `impl` from inside its host namespace; the time is the plugin
// process's, from spawn to exit. Returns the milliseconds, or a negative value on failure.
double RunCni(ProcessRunner& runner, Impl& impl, const std::string& command,
              const std::string& netns, const std::string& id) {
  ProcessRequest request;
  request.argv = {impl.binary};
  request.env = std::vector<std::string>{
      "CNI_COMMAND=" + command, "CNI_CONTAINERID=" + id, "CNI_NETNS=" + netns,
      "CNI_IFNAME=eth0", "CNI_PATH=" + std::string(kReferenceDir),
      "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  request.stdin_data = impl.config;
  request.timeout = std::chrono::seconds(60);
  double ms = -1;
  Status status = net::RunInNetns(impl.host->fd(), [&]() -> Status {
    Clock::time_point start = Clock::now();
    Result<ProcessResult> r = runner.Run(request);
    double elapsed = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (!r.ok()) return r.status();
    if (r->exit_code != 0 || r->term_signal != 0) {
      return InternalError(impl.label + " " + command + " failed: " + r->stdout_data +
                           r->stderr_data);
    }
    ms = elapsed;
    return Status::Ok();
  });
  if (!status.ok()) std::fprintf(stderr, "%s\n", status.ToString().c_str());
  return status.ok() ? ms : -1;
}

// One ADD + DEL in a fresh container namespace; false if anything failed.
bool Iterate(ProcessRunner& runner, Impl& impl, int i, bool record) {
  std::string id = "bench" + std::to_string(i);
  auto ctr = net::NamedNetns::Create("kelp-cnib-c-" + std::to_string(getpid()));
  if (!ctr.ok()) {
    std::fprintf(stderr, "container namespace: %s\n", ctr.status().ToString().c_str());
    return false;
  }
  std::string netns = (*ctr)->path().string();
  double add = RunCni(runner, impl, "ADD", netns, id);
  if (add < 0) return false;
  double del = RunCni(runner, impl, "DEL", netns, id);
  if (del < 0) return false;
  if (record) {
    impl.add_ms.push_back(add);
    impl.del_ms.push_back(del);
  }
  return true;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t at = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(at, v.size() - 1)];
}

int Main(int argc, char** argv) {
  if (argc > 2) {
    std::fprintf(stderr, "usage: cni_bench [lease directory base, default /var/tmp]\n");
    return 2;
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "cni_bench needs root (network namespaces)\n");
    return 1;
  }
  InstallSignalJanitor([suffix = "-" + std::to_string(getpid())](std::string_view name) {
    return name.starts_with("kelp-cnib-") && name.ends_with(suffix);
  });
  ScratchDir scratch(argc == 2 ? argv[1] : "/var/tmp");
  if (!scratch.ok()) {
    std::fprintf(stderr, "cannot create a scratch directory under %s\n",
                 argc == 2 ? argv[1] : "/var/tmp");
    return 1;
  }
  std::vector<Impl> impls(2);
  impls[0].label = "kelp";
  impls[0].binary = KELP_CNI_BINARY;
  impls[0].config = Config("kelp-bridge", "kelp-ipam", scratch.path() + "/kelp");
  impls[1].label = "reference";
  impls[1].binary = std::string(kReferenceDir) + "/bridge";
  impls[1].config = Config("bridge", "host-local", scratch.path() + "/ref");
  for (Impl& impl : impls) {
    auto host = net::NamedNetns::Create("kelp-cnib-" + impl.label + "-" + std::to_string(getpid()));
    if (!host.ok()) {
      std::fprintf(stderr, "host namespace: %s\n", host.status().ToString().c_str());
      return 1;
    }
    impl.host = std::move(host).value();
  }
  SubprocessRunner runner;
  for (int i = 0; i < kWarmup + kIterations; ++i) {
    for (Impl& impl : impls) {
      if (!Iterate(runner, impl, i, i >= kWarmup)) return 1;
    }
  }
  std::printf("CNI ADD/DEL latency, %d iterations each, fresh container netns per iteration, "
              "leases under %s\n",
              kIterations, scratch.path().c_str());
  for (const Impl& impl : impls) {
    std::printf("  %-9s ADD p50 %7.2f ms  p99 %7.2f ms   DEL p50 %7.2f ms  p99 %7.2f ms\n",
                impl.label.c_str(), Percentile(impl.add_ms, 0.5), Percentile(impl.add_ms, 0.99),
                Percentile(impl.del_ms, 0.5), Percentile(impl.del_ms, 0.99));
  }
  double add_ratio = Percentile(impls[0].add_ms, 0.5) / Percentile(impls[1].add_ms, 0.5);
  double del_ratio = Percentile(impls[0].del_ms, 0.5) / Percentile(impls[1].del_ms, 0.5);
  std::printf("kelp ADD p50 / reference ADD p50 = %.2f (target <= 0.5)\n", add_ratio);
  std::printf("kelp DEL p50 / reference DEL p50 = %.2f\n", del_ratio);
  return 0;
}

}  // namespace
}  // namespace kelp::bench

int main(int argc, char** argv) { return kelp::bench::Main(argc, argv); }
