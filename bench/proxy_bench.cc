// proxy_bench: kelp's Service proxy through the real libnftables, each measurement in a fresh
// network namespace, against kube-proxy's nftables layout in the same run:
//  1. full sync (table rebuild) of 1k and 10k Services × 5 endpoints, and the in-place resync
//     of the same table; wall and CPU time of the syncing thread, split into generating the
//     script (kelp), libnftables (user CPU inside Apply: parse, evaluate, ruleset cache) and
//     the kernel (system CPU inside Apply: the netlink batch, rule validation, commit);
//  2. one incremental endpoint change at 10k (median and p90 of 20, with the same split);
//  3. the anchor: kube-proxy's nftables-mode layout (a chain per endpoint, an anonymous
//     `numgen` verdict map per Service, written here from its documented design), applied
//     through the same libnftables: full load at 1k and 10k, one Service rewritten at 10k;
//  4. TCP throughput with iperf3 from a client namespace to a pod behind a node namespace —
//     to the pod's IP directly, through a ClusterIP and through a NodePort — with the 10k
//     table loaded on the node; ratios NodePort / direct and ClusterIP / direct.
// Root only; every namespace is removed on exit. `--quick` skips the 10k anchor (minutes).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "bench/process_status.h"
#include "bench/signal_janitor.h"
#include "common/json.h"
#include "common/process.h"
#include "common/testing/fake_clock.h"
#include "net/netns.h"
#include "proxy/libnftables.h"
#include "proxy/proxier.h"
#include "proxy/testing/fake_conntrack.h"
#include "tests/e2e/bgp_lab.h"

namespace kelp::bench {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr int kEndpoints = 5;
constexpr int kIncrementalRuns = 20;
constexpr int kThroughputRounds = 5;
constexpr int kIperfSeconds = 4;

std::string Prefix() { return "kpb" + std::to_string(getpid() % 100000); }

// Wall and CPU (user + system of the calling thread) time of `fn`.
struct Timing {
  double wall_ms = 0;
  double cpu_ms = 0;
};

struct ThreadCpu {
  double user_ms = 0;
  double system_ms = 0;
};

ThreadCpu ThreadCpuNow() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return {usage.ru_utime.tv_sec * 1e3 + usage.ru_utime.tv_usec / 1e3,
          usage.ru_stime.tv_sec * 1e3 + usage.ru_stime.tv_usec / 1e3};
}

double ThreadCpuMs() {
  const ThreadCpu now = ThreadCpuNow();
  return now.user_ms + now.system_ms;
}

Timing Measure(const std::function<void()>& fn) {
  const double cpu = ThreadCpuMs();
  const auto start = SteadyClock::now();
  fn();
  return {std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count(),
          ThreadCpuMs() - cpu};
}

// The real seam, timed: CPU spent inside Apply() in user mode (libnftables) and in system mode
// (the kernel processing the batch), summed since the last Take().
class TimedNftables final : public proxy::Nftables {
 public:
  explicit TimedNftables(proxy::Nftables& real) : real_(real) {}
  Status Apply(std::string_view transaction) override {
    const ThreadCpu before = ThreadCpuNow();
    Status status = real_.Apply(transaction);
    const ThreadCpu after = ThreadCpuNow();
    spent_.user_ms += after.user_ms - before.user_ms;
    spent_.system_ms += after.system_ms - before.system_ms;
    return status;
  }
  Result<std::string> List(std::string_view command) override { return real_.List(command); }
  ThreadCpu Take() { return std::exchange(spent_, ThreadCpu{}); }

 private:
  proxy::Nftables& real_;
  ThreadCpu spent_;
};

// How a sync's CPU time divides: the rest of `total` is kelp building the script.
struct Split {
  double kelp_ms = 0;
  double libnftables_ms = 0;
  double kernel_ms = 0;
};

Split SplitOf(const Timing& total, const ThreadCpu& apply) {
  return {total.cpu_ms - apply.user_ms - apply.system_ms, apply.user_ms, apply.system_ms};
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t at = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(at, v.size() - 1)];
}

net::Ipv4Address Address(uint32_t value) { return {value}; }

// Service i of a synthetic cluster: ClusterIP 10.96.0.0 + i + 1, port 80 → 8080 on five
// endpoints 10.128.0.0 + 5i..5i+4; every fifth Service also has a NodePort.
proxy::Service SyntheticService(int i) {
  proxy::Service service;
  service.namespace_name = "bench";
  service.name = "svc-" + std::to_string(i);
  service.cluster_ip = Address(0x0a600000u + static_cast<uint32_t>(i) + 1);
  service.ports = {
      {"http", proxy::Protocol::kTcp, 80, static_cast<uint16_t>(i % 5 == 0 ? 30000 + i / 5 : 0)}};
  return service;
}

proxy::EndpointSlice SyntheticSlice(int i, uint32_t first_endpoint) {
  proxy::EndpointSlice slice;
  slice.namespace_name = "bench";
  slice.name = "svc-" + std::to_string(i) + "-1";
  slice.service_name = "svc-" + std::to_string(i);
  slice.ports = {{"http", proxy::Protocol::kTcp, 8080}};
  for (int e = 0; e < kEndpoints; ++e) {
    slice.endpoints.push_back(
        {.address = Address(first_endpoint + static_cast<uint32_t>(e)), .node_name = "node02"});
  }
  return slice;
}

uint32_t FirstEndpoint(int i) { return 0x0a800000u + static_cast<uint32_t>(i) * kEndpoints; }

// libnftables bound to `ns` (created inside it).
std::unique_ptr<proxy::LibNftables> NftIn(const net::NamedNetns& ns) {
  std::unique_ptr<proxy::LibNftables> nft;
  Status status = net::RunInNetns(ns.fd(), [&]() -> Status {
    KELP_ASSIGN_OR_RETURN(nft, proxy::LibNftables::Create());
    return Status::Ok();
  });
  if (!status.ok()) std::fprintf(stderr, "libnftables: %s\n", status.ToString().c_str());
  return nft;
}

proxy::ProxierOptions BenchOptions() {
  proxy::ProxierOptions options;
  options.ruleset.node_name = "node01";
  options.ruleset.nodeport_addresses = {*net::Ipv4Address::Parse("192.168.206.20")};
  options.ruleset.cluster_cidr = *net::Ipv4Prefix::Parse("10.244.0.0/16");
  return options;
}

struct KelpFigures {
  Timing rebuild;
  Timing resync;
  Split rebuild_split, resync_split;
  std::vector<double> incremental_wall, incremental_cpu;
  std::vector<double> incremental_kelp, incremental_libnftables, incremental_kernel;
  size_t transaction_bytes = 0;
};

// Loads `services` synthetic Services into a Proxier over `nft`, rebuilds, resyncs in place,
// then (when `incremental`) changes one endpoint of one Service kIncrementalRuns times.
bool RunKelp(proxy::Nftables& real_nft, int services, bool incremental, KelpFigures& out,
             const std::function<void(proxy::Proxier&)>& extra = nullptr) {
  kelp::testing::FakeClock clock;
  proxy::testing::FakeConntrack conntrack;
  TimedNftables nft(real_nft);
  proxy::Proxier proxier(nft, conntrack, clock, BenchOptions());
  Status status;
  out.rebuild = Measure([&] {
    for (int i = 0; i < services; ++i) {
      proxier.SetService("bench/svc-" + std::to_string(i), SyntheticService(i),
                         {SyntheticSlice(i, FirstEndpoint(i))});
    }
    if (extra) extra(proxier);
    status = proxier.Sync();
  });
  if (!status.ok()) {
    std::fprintf(stderr, "kelp rebuild: %s\n", status.ToString().c_str());
    return false;
  }
  out.rebuild_split = SplitOf(out.rebuild, nft.Take());
  out.transaction_bytes = proxier.last_transaction().size();
  out.resync = Measure([&] { status = proxier.Resync(); });
  out.resync_split = SplitOf(out.resync, nft.Take());
  if (!status.ok()) {
    std::fprintf(stderr, "kelp resync: %s\n", status.ToString().c_str());
    return false;
  }
  for (int run = 0; incremental && run < kIncrementalRuns; ++run) {
    // One endpoint of Service `target` moves to a new address (a pod replaced), then back.
    const int target = services / 2;
    proxy::EndpointSlice slice = SyntheticSlice(target, FirstEndpoint(target));
    if (run % 2 == 0)
      slice.endpoints[2].address = Address(0x0af00000u + static_cast<uint32_t>(run));
    Timing t = Measure([&] {
      proxier.SetService("bench/svc-" + std::to_string(target), SyntheticService(target), {slice});
      status = proxier.Sync();
    });
    if (!status.ok()) {
      std::fprintf(stderr, "kelp incremental: %s\n", status.ToString().c_str());
      return false;
    }
    out.incremental_wall.push_back(t.wall_ms);
    out.incremental_cpu.push_back(t.cpu_ms);
    const Split split = SplitOf(t, nft.Take());
    out.incremental_kelp.push_back(split.kelp_ms);
    out.incremental_libnftables.push_back(split.libnftables_ms);
    out.incremental_kernel.push_back(split.kernel_ms);
  }
  return true;
}

// kube-proxy's nftables-mode layout (pkg/proxy/nftables, as its README describes it): per
// Service a chain that picks an endpoint chain with `numgen random mod N vmap { ... }`, per
// endpoint a chain (hairpin masquerade mark + DNAT), NodePorts through an external chain,
// dispatch by the service-ips / service-nodeports verdict maps.
std::string AnchorServiceChains(int i, uint32_t first_endpoint) {
  const proxy::Service service = SyntheticService(i);
  const std::string base = "bench/" + service.name + "/tcp/http";
  const std::string svc_chain = "service-" + base;
  std::string text, vmap;
  for (int e = 0; e < kEndpoints; ++e) {
    const std::string ip = Address(first_endpoint + static_cast<uint32_t>(e)).ToString();
    const std::string ep_chain = "endpoint-" + base + "__" + ip + "/8080";
    text += "\tchain " + ep_chain + " {\n\t\tip saddr " + ip +
            " jump mark-for-masquerade\n\t\tmeta l4proto tcp dnat to " + ip + ":8080\n\t}\n";
    vmap += (e ? ", " : "") + std::to_string(e) + " : goto " + ep_chain;
  }
  text +=
      "\tchain " + svc_chain + " {\n\t\tip daddr " + service.cluster_ip.ToString() +
      " tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade\n\t\tnumgen random mod " +
      std::to_string(kEndpoints) + " vmap { " + vmap + " }\n\t}\n";
  if (service.ports[0].node_port != 0) {
    text += "\tchain external-" + base + " {\n\t\tjump mark-for-masquerade\n\t\tgoto " + svc_chain +
            "\n\t}\n";
  }
  return text;
}

std::string AnchorTable(int services) {
  std::string text =
      "add table ip kube-proxy\ndelete table ip kube-proxy\ntable ip kube-proxy {\n"
      "\tmap service-ips {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n\t}\n"
      "\tmap service-nodeports {\n\t\ttype inet_proto . inet_service : verdict\n\t}\n"
      "\tset cluster-ips {\n\t\ttype ipv4_addr\n\t}\n"
      "\tchain mark-for-masquerade {\n\t\tmeta mark set meta mark | 0x4000\n\t}\n"
      "\tchain services {\n\t\tip daddr . meta l4proto . th dport vmap @service-ips\n"
      "\t\tip daddr 192.168.206.20 meta l4proto . th dport vmap @service-nodeports\n\t}\n"
      "\tchain nat-prerouting {\n\t\ttype nat hook prerouting priority -100; policy accept;\n"
      "\t\tjump services\n\t}\n";
  std::string service_ips, nodeports, cluster_ips;
  for (int i = 0; i < services; ++i) {
    text += AnchorServiceChains(i, FirstEndpoint(i));
    const proxy::Service service = SyntheticService(i);
    const std::string base = "bench/" + service.name + "/tcp/http";
    service_ips +=
        (i ? ",\n\t" : "\t") + service.cluster_ip.ToString() + " . tcp . 80 : goto service-" + base;
    cluster_ips += (i ? ",\n\t" : "\t") + service.cluster_ip.ToString();
    if (service.ports[0].node_port != 0) {
      nodeports += (nodeports.empty() ? "\t" : ",\n\t") + std::string("tcp . ") +
                   std::to_string(service.ports[0].node_port) + " : goto external-" + base;
    }
  }
  text += "}\nadd element ip kube-proxy service-ips {\n" + service_ips + "\n}\n";
  text += "add element ip kube-proxy cluster-ips {\n" + cluster_ips + "\n}\n";
  if (!nodeports.empty())
    text += "add element ip kube-proxy service-nodeports {\n" + nodeports + "\n}\n";
  return text;
}

// kube-proxy's update of one Service whose endpoint changed: its service chain rewritten,
// the new endpoint's chain created, the old one flushed.
std::string AnchorIncremental(int i, int run) {
  const std::string base = "bench/svc-" + std::to_string(i) + "/tcp/http";
  const uint32_t first = FirstEndpoint(i);
  std::string text = "flush chain ip kube-proxy service-" + base + "\n";
  std::string vmap;
  for (int e = 0; e < kEndpoints; ++e) {
    uint32_t value = first + static_cast<uint32_t>(e);
    if (e == 2) value = 0x0af10000u + static_cast<uint32_t>(run);
    const std::string ip = Address(value).ToString();
    const std::string ep_chain = "endpoint-" + base + "__" + ip + "/8080";
    if (e == 2) {
      text += "add chain ip kube-proxy " + ep_chain + "\n";
      text +=
          "add rule ip kube-proxy " + ep_chain + " ip saddr " + ip + " jump mark-for-masquerade\n";
      text += "add rule ip kube-proxy " + ep_chain + " meta l4proto tcp dnat to " + ip + ":8080\n";
    }
    vmap += (e ? ", " : "") + std::to_string(e) + " : goto " + ep_chain;
  }
  text += "add rule ip kube-proxy service-" + base + " numgen random mod " +
          std::to_string(kEndpoints) + " vmap { " + vmap + " }\n";
  return text;
}

struct AnchorFigures {
  Timing full;
  std::vector<double> incremental_wall, incremental_cpu;
};

bool RunAnchor(proxy::Nftables& nft, int services, bool incremental, AnchorFigures& out) {
  const std::string table = AnchorTable(services);
  Status status;
  out.full = Measure([&] { status = nft.Apply(table); });
  if (!status.ok()) {
    std::fprintf(stderr, "anchor load: %s\n", status.ToString().substr(0, 500).c_str());
    return false;
  }
  for (int run = 0; incremental && run < kIncrementalRuns; ++run) {
    const std::string change = AnchorIncremental(services / 2, run);
    Timing t = Measure([&] { status = nft.Apply(change); });
    if (!status.ok()) {
      std::fprintf(stderr, "anchor incremental: %s\n", status.ToString().c_str());
      return false;
    }
    out.incremental_wall.push_back(t.wall_ms);
    out.incremental_cpu.push_back(t.cpu_ms);
  }
  return true;
}

// Client ── LAN ── node ── cbr0 ── pod (iperf3 -s). The node forwards; the client routes the
// pod network and the Service network through it.
class ThroughputTopology {
 public:
  explicit ThroughputTopology(ProcessRunner& runner)
      : runner_(runner), lan_(runner, Prefix()), pod_(Prefix() + "-pod") {}
  ~ThroughputTopology() {
    server_.Stop();
    if (pod_created_) (void)runner_.Run({.argv = {"ip", "netns", "del", pod_}, .timeout = 20s});
  }
  std::string node() const { return lan_.Netns("node"); }
  std::string client() const { return lan_.Netns("client"); }

  Status Create() {
    KELP_RETURN_IF_ERROR(lan_.Create());
    KELP_RETURN_IF_ERROR(lan_.AddHost("node", "192.168.206.20"));
    KELP_RETURN_IF_ERROR(lan_.AddHost("client", "192.168.206.99"));
    KELP_RETURN_IF_ERROR(e2e::RunChecked(runner_, {"ip", "netns", "add", pod_}).status());
    pod_created_ = true;
    for (std::vector<std::string> argv : std::vector<std::vector<std::string>>{
             {"ip", "-n", node(), "link", "add", "cbr0", "type", "bridge"},
             {"ip", "-n", node(), "addr", "add", "10.244.1.1/24", "dev", "cbr0"},
             {"ip", "-n", node(), "link", "set", "cbr0", "up"},
             {"ip", "netns", "exec", node(), "sysctl", "-qw", "net.ipv4.ip_forward=1"},
             {"ip", "-n", node(), "link", "add", "vpod", "type", "veth", "peer", "name", "eth0",
              "netns", pod_},
             {"ip", "-n", node(), "link", "set", "vpod", "master", "cbr0", "up"},
             {"ip", "-n", pod_, "addr", "add", "10.244.1.2/24", "dev", "eth0"},
             {"ip", "-n", pod_, "link", "set", "eth0", "up"},
             {"ip", "-n", pod_, "link", "set", "lo", "up"},
             {"ip", "-n", pod_, "route", "add", "default", "via", "10.244.1.1"},
             {"ip", "-n", client(), "route", "add", "10.244.0.0/16", "via", "192.168.206.20"},
             {"ip", "-n", client(), "route", "add", "10.96.0.0/12", "via", "192.168.206.20"}}) {
      KELP_RETURN_IF_ERROR(e2e::RunChecked(runner_, argv).status());
    }
    KELP_ASSIGN_OR_RETURN(
        std::unique_ptr<ChildProcess> child,
        runner_.Start({.argv = {"ip", "netns", "exec", pod_, "iperf3", "-s", "-p", "5201"},
                       .output_file = "/dev/null"}));
    server_ = e2e::ScopedChild(std::move(child));
    const bool up = e2e::WaitFor([&] { return Iperf("10.244.1.2", 5201, 1).ok(); }, 30s);
    return up ? Status::Ok() : UnavailableError("iperf3 server does not answer");
  }

  // Gbit/s received by the server in a `seconds` long single-stream TCP test.
  Result<double> Iperf(const std::string& address, int port, int seconds) {
    KELP_ASSIGN_OR_RETURN(
        ProcessResult result,
        runner_.Run({.argv = {"ip", "netns", "exec", client(), "iperf3", "-c", address, "-p",
                              std::to_string(port), "-t", std::to_string(seconds), "-J"},
                     .timeout = std::chrono::seconds(seconds + 30)}));
    if (result.exit_code != 0)
      return UnavailableError("iperf3: " + result.stdout_data.substr(0, 300));
    KELP_ASSIGN_OR_RETURN(boost::json::object report, ParseJsonObject(result.stdout_data));
    const boost::json::value* bps = FindPath(report, "end.sum_received.bits_per_second");
    if (bps == nullptr || !bps->is_number()) return InternalError("iperf3 report without a rate");
    return bps->to_number<double>() / 1e9;
  }

 private:
  ProcessRunner& runner_;
  e2e::Lan lan_;
  std::string pod_;
  bool pod_created_ = false;
  e2e::ScopedChild server_;
};

double Median(std::vector<double> v) { return Percentile(std::move(v), 0.5); }

void PrintLoad() {
  std::ifstream loadavg("/proc/loadavg");
  std::string load;
  std::getline(loadavg, load);
  std::printf("machine: %ld CPUs, load average %s\n", sysconf(_SC_NPROCESSORS_ONLN), load.c_str());
}

int Main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  if (geteuid() != 0) {
    std::fprintf(stderr, "proxy_bench needs root (network namespaces, nftables)\n");
    return 1;
  }
  InstallSignalJanitor(
      [prefix = Prefix() + "-"](std::string_view name) { return name.starts_with(prefix); });
  PrintLoad();
  std::printf(
      "times are wall ms (CPU ms of the syncing thread); the machine is shared, so CPU is "
      "the steadier figure\n\n");

  // 1k: kelp and the anchor, each in a fresh namespace.
  KelpFigures kelp1k;
  AnchorFigures anchor1k;
  {
    auto ns = net::NamedNetns::Create(Prefix() + "-k1k");
    if (!ns.ok()) {
      std::fprintf(stderr, "%s\n", ns.status().ToString().c_str());
      return 1;
    }
    auto nft = NftIn(**ns);
    if (!nft || !RunKelp(*nft, 1000, false, kelp1k)) return 1;
  }
  {
    auto ns = net::NamedNetns::Create(Prefix() + "-a1k");
    if (!ns.ok()) return 1;
    auto nft = NftIn(**ns);
    if (!nft || !RunAnchor(*nft, 1000, false, anchor1k)) return 1;
  }

  // 10k in the node of the throughput topology, plus one Service in front of the iperf3 pod.
  SubprocessRunner runner;
  ThroughputTopology topology(runner);
  if (Status s = topology.Create(); !s.ok()) {
    std::fprintf(stderr, "topology: %s\n", s.ToString().c_str());
    return 1;
  }
  auto node_ns = net::OpenNetns("/run/netns/" + topology.node());
  if (!node_ns.ok()) return 1;
  std::unique_ptr<proxy::LibNftables> node_nft;
  if (!net::RunInNetns(node_ns->get(), [&]() -> Status {
         KELP_ASSIGN_OR_RETURN(node_nft, proxy::LibNftables::Create());
         return Status::Ok();
       }).ok()) {
    return 1;
  }
  KelpFigures kelp10k;
  proxy::Service iperf = SyntheticService(0);
  iperf.name = "iperf";
  iperf.cluster_ip = *net::Ipv4Address::Parse("10.111.0.1");
  iperf.ports = {{"iperf", proxy::Protocol::kTcp, 5201, 30201}};
  proxy::EndpointSlice iperf_slice{
      .namespace_name = "bench",
      .name = "iperf-1",
      .service_name = "iperf",
      .ports = {{"iperf", proxy::Protocol::kTcp, 5201}},
      .endpoints = {{.address = *net::Ipv4Address::Parse("10.244.1.2"), .node_name = "node01"}}};
  if (!RunKelp(*node_nft, 10000, true, kelp10k,
               [&](proxy::Proxier& p) { p.SetService("bench/iperf", iperf, {iperf_slice}); })) {
    return 1;
  }

  // Before the anchor runs in this process: what kelp's 10k rebuild needed at its peak.
  const std::string kelp_peak_rss = ProcStatusField("VmHWM:");

  AnchorFigures anchor10k;
  if (!quick) {
    auto ns = net::NamedNetns::Create(Prefix() + "-a10k");
    if (!ns.ok()) return 1;
    auto nft = NftIn(**ns);
    if (!nft || !RunAnchor(*nft, 10000, true, anchor10k)) return 1;
  }

  // Throughput, interleaved so that load from elsewhere hits all three alike.
  std::vector<double> direct, cluster_ip, node_port;
  for (int round = 0; round < kThroughputRounds; ++round) {
    for (auto [list, address, port] :
         std::vector<std::tuple<std::vector<double>*, std::string, int>>{
             {&direct, "10.244.1.2", 5201},
             {&cluster_ip, "10.111.0.1", 5201},
             {&node_port, "192.168.206.20", 30201}}) {
      Result<double> gbps = topology.Iperf(address, port, kIperfSeconds);
      if (!gbps.ok()) {
        std::fprintf(stderr, "iperf3 to %s:%d: %s\n", address.c_str(), port,
                     gbps.status().ToString().c_str());
        return 1;
      }
      list->push_back(*gbps);
    }
  }

  auto row = [](const char* what, Timing t) {
    std::printf("  %-44s %9.1f ms (%8.1f ms CPU)\n", what, t.wall_ms, t.cpu_ms);
  };
  auto split_row = [](Split s) {
    std::printf("  %-44s %9s    (%.1f kelp + %.1f libnftables + %.1f kernel)\n", "  CPU split", "",
                s.kelp_ms, s.libnftables_ms, s.kernel_ms);
  };
  std::printf("== full sync (rebuild of table ip kelp-proxy, one transaction)\n");
  row("kelp 1k Services x 5 endpoints", kelp1k.rebuild);
  row("kelp 1k, in-place resync", kelp1k.resync);
  row("kube-proxy nftables layout 1k (anchor)", anchor1k.full);
  row("kelp 10k Services x 5 endpoints", kelp10k.rebuild);
  split_row(kelp10k.rebuild_split);
  row("kelp 10k, in-place resync", kelp10k.resync);
  split_row(kelp10k.resync_split);
  if (!quick) row("kube-proxy nftables layout 10k (anchor)", anchor10k.full);
  std::printf(
      "  kelp 10k transaction: %.1f MB of nft text; peak RSS after it %s (mostly libnftables' "
      "parse)\n",
      kelp10k.transaction_bytes / 1e6, kelp_peak_rss.c_str());
  std::printf("== one endpoint change at 10k (median / p90 of %d)\n", kIncrementalRuns);
  std::printf("  %-44s %9.1f / %.1f ms (%.1f / %.1f ms CPU)\n", "kelp",
              Median(kelp10k.incremental_wall), Percentile(kelp10k.incremental_wall, 0.9),
              Median(kelp10k.incremental_cpu), Percentile(kelp10k.incremental_cpu, 0.9));
  split_row({Median(kelp10k.incremental_kelp), Median(kelp10k.incremental_libnftables),
             Median(kelp10k.incremental_kernel)});
  if (!quick) {
    std::printf("  %-44s %9.1f / %.1f ms (%.1f / %.1f ms CPU)\n", "kube-proxy nftables layout",
                Median(anchor10k.incremental_wall), Percentile(anchor10k.incremental_wall, 0.9),
                Median(anchor10k.incremental_cpu), Percentile(anchor10k.incremental_cpu, 0.9));
  }
  std::printf(
      "== TCP throughput client -> pod through the node, 10k Services loaded (median of %d x %d "
      "s)\n",
      kThroughputRounds, kIperfSeconds);
  std::printf("  %-44s %9.2f Gbit/s\n", "direct to the pod IP (baseline)", Median(direct));
  std::printf("  %-44s %9.2f Gbit/s\n", "ClusterIP", Median(cluster_ip));
  std::printf("  %-44s %9.2f Gbit/s\n", "NodePort", Median(node_port));
  std::printf("== ratios\n");
  std::printf("  full sync 1k, kelp / anchor:                 %.3f (wall) %.3f (CPU)\n",
              kelp1k.rebuild.wall_ms / anchor1k.full.wall_ms,
              kelp1k.rebuild.cpu_ms / anchor1k.full.cpu_ms);
  if (!quick) {
    std::printf("  full sync 10k, kelp / anchor:                %.3f (wall) %.3f (CPU)\n",
                kelp10k.rebuild.wall_ms / anchor10k.full.wall_ms,
                kelp10k.rebuild.cpu_ms / anchor10k.full.cpu_ms);
    std::printf("  incremental at 10k, kelp / anchor (median):  %.3f (wall) %.3f (CPU)\n",
                Median(kelp10k.incremental_wall) / Median(anchor10k.incremental_wall),
                Median(kelp10k.incremental_cpu) / Median(anchor10k.incremental_cpu));
  }
  std::printf("  NodePort / direct:                           %.3f (target >= 0.9)\n",
              Median(node_port) / Median(direct));
  std::printf("  ClusterIP / direct:                          %.3f\n",
              Median(cluster_ip) / Median(direct));
  std::printf("targets: 10k full sync < 1000 ms: %s (%.0f ms); incremental < 10 ms: %s (%.1f ms)\n",
              kelp10k.rebuild.wall_ms < 1000 ? "met" : "NOT met", kelp10k.rebuild.wall_ms,
              Median(kelp10k.incremental_wall) < 10 ? "met" : "NOT met",
              Median(kelp10k.incremental_wall));
  return 0;
}

}  // namespace
}  // namespace kelp::bench

int main(int argc, char** argv) { return kelp::bench::Main(argc, argv); }
