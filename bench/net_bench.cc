// net_bench: pod-to-pod TCP throughput (iperf3, one stream) and ping latency across two
// nodes of a `kelp lab` (hollow agents, one `kelp flannel` per node), for each flannel
// backend, against the raw underlay (node namespace to node namespace) measured in the same
// run. On one kernel every path shares the same veth/bridge cost, so the ratios show what
// each backend adds (vxlan: encapsulation and the smaller MTU; host-gw: one more hop; udp:
// two trips through user space).
// CNI ADD/DEL latency of kelp-cni vs the reference plugins is bench/cni_bench's.
// Runs as root; each lab is taken down at the end (also after a failure).
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "common/file.h"
#include "common/json.h"
#include "common/process.h"
#include "lab/bare_pod.h"
#include "lab/topology.h"

namespace kelp::bench {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

struct Figures {
  double gbits = 0;
  double rtt_us = 0;
};

std::vector<std::string> With(std::vector<std::string> prefix,
                              const std::vector<std::string>& argv) {
  prefix.insert(prefix.end(), argv.begin(), argv.end());
  return prefix;
}

class Lab {
 public:
  Lab(SubprocessRunner& runner, std::string backend, std::filesystem::path dir)
      : runner_(runner), backend_(std::move(backend)) {
    const int id = getpid() % 100000;
    options_.nodes = 3;
    options_.flannel_backend = backend_;
    options_.prefix = "kn" + std::to_string(id);
    options_.subnet = "10.217." + std::to_string(id % 250) + ".0/24";
    options_.dir = dir / backend_;
    topology_ = *lab::MakeTopology(options_);
    pods_ = std::make_unique<lab::BarePods>(runner_, KELP_BINARY, options_);
  }
  ~Lab() {
    flannels_.clear();
    (void)runner_.Run({.argv = {KELP_BINARY, "lab", "down", "--prefix", options_.prefix, "--dir",
                                options_.dir.string()},
                       .timeout = 120s});
  }

  Status Up() {
    KELP_ASSIGN_OR_RETURN(
        ProcessResult up,
        runner_.Run({.argv = {KELP_BINARY, "lab", "up", "--hollow", "--prefix", options_.prefix,
                              "--dir", options_.dir.string(), "--subnet", options_.subnet,
                              "--flannel-backend", backend_},
                     .timeout = 180s}));
    if (up.exit_code != 0) return InternalError("kelp lab up: " + up.stdout_data + up.stderr_data);
    KELP_ASSIGN_OR_RETURN(std::string token, ReadFile(topology_.nodes.front().root /
                                                      "var-lib-kelp" / "server" / "agent-token"));
    while (!token.empty() && token.back() == '\n') token.pop_back();
    for (const lab::LabNode& node : topology_.nodes) {
      KELP_ASSIGN_OR_RETURN(
          flannels_[node.name],
          runner_.Start(
              {.argv = pods_->InNode(
                   node.name, {KELP_BINARY, "flannel", "--server", topology_.ServerUrl(), "--token",
                               token, "--node-name", node.name, "--node-ip", node.address,
                               "--kelp-cni", KELP_CNI_BINARY}),
               .output_file = (options_.dir / ("flannel-" + node.name + ".log")).string()}));
    }
    KELP_ASSIGN_OR_RETURN(client_ip_, pods_->Add("node01", "pa"));
    KELP_ASSIGN_OR_RETURN(server_ip_, pods_->Add("node02", "pc"));
    // Until flannel on both nodes knows the other (routes, or the udp proxy's peer table).
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (true) {
      Result<ProcessResult> ping =
          runner_.Run({.argv = pods_->InPod("node01", "pa",
                                            {"busybox", "ping", "-c", "1", "-W", "1", server_ip_}),
                       .timeout = 20s});
      if (ping.ok() && ping->exit_code == 0) break;
      if (std::chrono::steady_clock::now() > deadline) {
        return DeadlineExceededError("pods on node01 and node02 cannot reach each other");
      }
      std::this_thread::sleep_for(200ms);
    }
    return Status::Ok();
  }

  // One iperf3 run (-t 3) from `client` to the server in `server` at `to_ip`; Gbit/s.
  Result<double> Throughput(const std::vector<std::string>& client,
                            const std::vector<std::string>& server, const std::string& to_ip) {
    KELP_ASSIGN_OR_RETURN(
        std::unique_ptr<ChildProcess> iperf_server,
        runner_.Start({.argv = With(server, {"iperf3", "-s", "-1"}),
                       .output_file = (options_.dir / "iperf3-server.log").string()}));
    Result<ProcessResult> iperf = InternalError("not run");
    for (int attempt = 0; attempt < 50; ++attempt) {
      iperf = runner_.Run(
          {.argv = With(client, {"iperf3", "-c", to_ip, "-t", "3", "-J"}), .timeout = 30s});
      // Until the server listens (iperf3 -J may exit 0 with an "error" in its report).
      const bool refused = !iperf.ok() || iperf->exit_code != 0 ||
                           iperf->stdout_data.find("Connection refused") != std::string::npos;
      if (!refused) break;
      std::this_thread::sleep_for(100ms);
    }
    (void)iperf_server->Wait(5s);
    if (!iperf.ok()) return iperf.status();
    if (iperf->exit_code != 0)
      return InternalError("iperf3: " + iperf->stdout_data + iperf->stderr_data);
    KELP_ASSIGN_OR_RETURN(json::object report, ParseJsonObject(iperf->stdout_data));
    const json::value* bps = FindPath(report, "end.sum_received.bits_per_second");
    if (bps == nullptr || !bps->is_number()) {
      const json::value* error = report.if_contains("error");
      return InternalError("iperf3 -J: no end.sum_received" +
                           (error ? ": " + json::serialize(*error) : std::string()));
    }
    return bps->to_number<double>() / 1e9;
  }

  // Median throughput of three iperf3 runs and the average RTT of 1000 adaptive pings.
  Result<Figures> Measure(const std::vector<std::string>& client,
                          const std::vector<std::string>& server, const std::string& to_ip) {
    std::vector<double> runs;
    for (int attempt = 0; attempt < 6 && runs.size() < 3; ++attempt) {
      Result<double> gbits = Throughput(client, server, to_ip);
      if (gbits.ok()) {
        runs.push_back(*gbits);
      } else {
        std::fprintf(stderr, "iperf3 run failed, retrying: %s\n",
                     gbits.status().ToString().c_str());
      }
    }
    if (runs.size() < 3) return InternalError("iperf3 failed too often");
    std::sort(runs.begin(), runs.end());
    Figures figures;
    figures.gbits = runs[1];
    KELP_ASSIGN_OR_RETURN(
        ProcessResult ping,
        runner_.Run({.argv = With(client, {"busybox", "ping", "-q", "-A", "-c", "1000", to_ip}),
                     .timeout = 60s}));
    std::smatch match;
    static const std::regex kRtt(R"(min/avg/max = ([0-9.]+)/([0-9.]+)/([0-9.]+) ms)");
    if (!std::regex_search(ping.stdout_data, match, kRtt)) {
      return InternalError("ping: " + ping.stdout_data + ping.stderr_data);
    }
    figures.rtt_us = std::stod(match[2]) * 1000;
    return figures;
  }

  Result<Figures> Underlay() {
    return Measure(pods_->InNode("node01", {}), pods_->InNode("node02", {}),
                   topology_.Find("node02")->address);
  }
  Result<Figures> PodToPod() {
    return Measure(pods_->InPod("node01", "pa", {}), pods_->InPod("node02", "pc", {}), server_ip_);
  }

 private:
  SubprocessRunner& runner_;
  std::string backend_;
  lab::LabOptions options_;
  lab::LabTopology topology_;
  std::unique_ptr<lab::BarePods> pods_;
  std::map<std::string, std::unique_ptr<ChildProcess>> flannels_;
  std::string client_ip_;
  std::string server_ip_;
};

int Run() {
  if (geteuid() != 0) {
    std::fprintf(stderr, "net_bench needs root (network namespaces)\n");
    return 1;
  }
  char pattern[] = "/tmp/kelp-net-bench-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return 1;
  const std::filesystem::path dir = pattern;
  SubprocessRunner runner;
  // Each backend in its own lab, with the underlay measured in that same lab right before,
  // so each ratio compares two figures taken under the same load.
  std::map<std::string, std::pair<Figures, Figures>> results;  // backend → (underlay, pods)
  int failures = 0;
  // NET_BENCH_BACKENDS=udp (comma-separated) measures only those.
  std::vector<std::string> backends = {"host-gw", "vxlan", "udp"};
  if (const char* only = std::getenv("NET_BENCH_BACKENDS")) {
    backends.clear();
    std::string list = only;
    for (size_t start = 0; start <= list.size();) {
      size_t end = std::min(list.find(',', start), list.size());
      if (end > start) backends.push_back(list.substr(start, end - start));
      start = end + 1;
    }
  }
  for (const std::string& backend : backends) {
    Lab lab(runner, backend, dir);
    Status up = lab.Up();
    Result<Figures> underlay = up.ok() ? lab.Underlay() : Result<Figures>(up);
    Result<Figures> pods = underlay.ok() ? lab.PodToPod() : Result<Figures>(underlay.status());
    if (!pods.ok()) {
      std::fprintf(stderr, "%s: %s\n", backend.c_str(), pods.status().ToString().c_str());
      ++failures;
      continue;
    }
    results[backend] = {*underlay, *pods};
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  std::printf(
      "pod→pod across two lab nodes vs node→node (the raw underlay) in the same lab;\n"
      "iperf3 TCP 1 stream, median of 3 x 3 s; RTT: busybox ping -A x1000, avg\n");
  std::printf("%-8s %14s %12s %8s %14s %12s %8s\n", "backend", "underlay Gb/s", "pods Gb/s",
              "ratio", "underlay RTTus", "pods RTTus", "ratio");
  for (const std::string& backend : backends) {
    if (!results.contains(backend)) {
      std::printf("%-8s %14s\n", backend.c_str(), "failed");
      continue;
    }
    const auto& [base, pods] = results[backend];
    std::printf("%-8s %14.2f %12.2f %8.2f %14.1f %12.1f %8.2f\n", backend.c_str(), base.gbits,
                pods.gbits, base.gbits > 0 ? pods.gbits / base.gbits : 0.0, base.rtt_us,
                pods.rtt_us, base.rtt_us > 0 ? pods.rtt_us / base.rtt_us : 0.0);
  }
  if (results.contains("udp") && results.contains("vxlan")) {
    std::printf("udp / vxlan throughput = %.2f\n",
                results["udp"].second.gbits / results["vxlan"].second.gbits);
  }
  std::printf("(CNI ADD/DEL p50/p99 of kelp-cni vs bridge+host-local: see cni_bench)\n");
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace kelp::bench

int main() { return kelp::bench::Run(); }
