// End to end: flannel across three lab nodes (`kelp lab up --hollow`: namespaces on one
// underlay bridge, the server on the master, hollow agents registering the Nodes), one
// `kelp flannel` per node, bare pods attached by the kelp-flannel CNI plugin flannel
// installed. For vxlan, host-gw and udp: pods talk (ping, TCP) within a node and across nodes;
// a capture on the underlay shows VXLAN frames on UDP 8472 (vxlan) or datagrams on UDP 8285
// (udp) carrying the pods' packets (for udp a bulk TCP stream in kelp's segmented frame, never
// IP-fragmented), or the pods' own packets (host-gw). For vxlan and host-gw: a
// deleted Node's route, neighbour and FDB entry go on every other node; a flannel restart leaves
// the kernel state exactly as it was and sweeps a stale route planted while it was down. Each test
// has its own prefix, subnet and directory and runs `kelp lab down` at the end whatever happened.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <iostream>

#include "client/client_config.h"
#include "client/https_client.h"
#include "common/file.h"
#include "common/json.h"
#include "common/testing/temp_dir.h"
#include "lab/bare_pod.h"
#include "lab/topology.h"
#include "tests/e2e/bgp_lab.h"
#include "tests/e2e/harness.h"
#include "tests/e2e/underlay_capture.h"

namespace kelp::e2e {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

class FlannelLabTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "needs root (network namespaces)";
    const int id = getpid() % 100000;
    options_.nodes = 3;
    options_.flannel_backend = GetParam();
    options_.prefix = "kf" + std::to_string(id);
    options_.subnet = "10.216." + std::to_string(id % 250) + ".0/24";
    options_.dir = dir_.path() / "lab";
    Result<lab::LabTopology> topology = lab::MakeTopology(options_);
    ASSERT_TRUE(topology.ok()) << topology.status().ToString();
    topology_ = *topology;
    pods_ = std::make_unique<lab::BarePods>(runner_, KELP_BINARY, options_);
    Result<ProcessResult> up =
        runner_.Run({.argv = {KELP_BINARY, "lab", "up", "--hollow", "--prefix", options_.prefix,
                              "--dir", options_.dir.string(), "--subnet", options_.subnet,
                              "--flannel-backend", options_.flannel_backend},
                     .timeout = 180s});
    ASSERT_TRUE(up.ok()) << up.status().ToString();
    ASSERT_EQ(up->exit_code, 0) << up->stdout_data << up->stderr_data;
    Result<client::ClientConfig> config = client::LoadKubeconfig(topology_.kubeconfig);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    Result<std::unique_ptr<client::HttpsApiClient>> api = client::HttpsApiClient::Create(*config);
    ASSERT_TRUE(api.ok()) << api.status().ToString();
    api_ = std::move(*api);
    Result<std::string> token =
        ReadFile(topology_.nodes.front().root / "var-lib-kelp" / "server" / "agent-token");
    ASSERT_TRUE(token.ok());
    token_ = *token;
    while (!token_.empty() && (token_.back() == '\n' || token_.back() == '\r')) token_.pop_back();
  }

  void TearDown() override {
    flannels_.clear();  // SIGKILL whatever still runs (the lab's down would find it anyway)
    Result<ProcessResult> down =
        runner_.Run({.argv = {KELP_BINARY, "lab", "down", "--prefix", options_.prefix, "--dir",
                              options_.dir.string()},
                     .timeout = 120s});
    EXPECT_TRUE(down.ok() && down->exit_code == 0)
        << (down.ok() ? down->stdout_data + down->stderr_data : down.status().ToString());
  }

  const lab::LabNode& Node(const std::string& name) const { return *topology_.Find(name); }

  void StartFlannel(const std::string& node) {
    Result<std::unique_ptr<ChildProcess>> child = runner_.Start(
        {.argv = pods_->InNode(
             node, {KELP_BINARY, "flannel", "--server", topology_.ServerUrl(), "--token", token_,
                    "--node-name", node, "--node-ip", Node(node).address, "--kelp-cni",
                    KELP_CNI_BINARY, "--resync-period", "2s"}),
         .output_file = (dir_.path() / ("flannel-" + node + ".log")).string()});
    ASSERT_TRUE(child.ok()) << child.status().ToString();
    flannels_[node] = std::move(*child);
  }
  std::string FlannelLog(const std::string& node) const {
    return ReadFile(dir_.path() / ("flannel-" + node + ".log")).value_or("(no log)");
  }
  std::filesystem::path SubnetEnv(const std::string& node) const {
    return Node(node).root / "run" / "flannel" / "subnet.env";
  }
  // Starts flannel everywhere and waits until each node has routes to the two others.
  void StartAllAndWait() {
    for (const lab::LabNode& node : topology_.nodes) StartFlannel(node.name);
    for (const lab::LabNode& node : topology_.nodes) {
      ASSERT_TRUE(WaitFor([&] { return CountLines(Routes(node.name)) == 2; }, 60s))
          << node.name << " routes: " << Routes(node.name) << "\nlog: " << FlannelLog(node.name);
    }
  }

  std::string Run(std::vector<std::string> argv) {
    Result<ProcessResult> result = runner_.Run({.argv = std::move(argv), .timeout = 30s});
    if (!result.ok()) return "error: " + result.status().ToString();
    return result->stdout_data;
  }
  bool Succeeds(std::vector<std::string> argv, std::string* output = nullptr) {
    Result<ProcessResult> result = runner_.Run({.argv = std::move(argv), .timeout = 30s});
    if (output) *output = result.ok() ? result->stdout_data + result->stderr_data : "";
    return result.ok() && result->exit_code == 0;
  }
  static int CountLines(const std::string& text) {
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  }
  std::string Routes(const std::string& node) {
    return Run(pods_->InNode(node, {"ip", "-o", "route", "show", "proto", "87"}));
  }
  // Everything flannel owns in a node's kernel, as text: routes, permanent neighbours and FDB
  // entries of flannel.1, its addresses, the nft table.
  std::string KernelState(const std::string& node) {
    std::string state = "routes:\n" + Routes(node);
    if (GetParam() == "vxlan") {
      state += "neigh:\n" + Run(pods_->InNode(node, {"ip", "-o", "neigh", "show", "dev",
                                                     "flannel.1", "nud", "permanent"}));
      state += "fdb:\n" + Run(pods_->InNode(node, {"bridge", "fdb", "show", "dev", "flannel.1"}));
      state += "addr:\n" +
               Run(pods_->InNode(node, {"ip", "-o", "-4", "addr", "show", "dev", "flannel.1"}));
    }
    state += "nft:\n" + Run(pods_->InNode(node, {"nft", "list", "table", "ip", "kelp-flannel"}));
    return state;
  }
  bool Ping(const std::string& node, const std::string& pod, const std::string& ip,
            std::string* output = nullptr) {
    return Succeeds(pods_->InPod(node, pod, {"busybox", "ping", "-c", "2", "-W", "3", ip}), output);
  }
  std::string AddPod(const std::string& node, const std::string& pod) {
    Result<std::string> ip = pods_->Add(node, pod);
    EXPECT_TRUE(ip.ok()) << ip.status().ToString() << "\nlog: " << FlannelLog(node);
    return ip.ok() ? *ip : "";
  }

  kelp::testing::ScopedTempDir dir_;
  SubprocessRunner runner_;
  lab::LabOptions options_;
  lab::LabTopology topology_;
  std::unique_ptr<lab::BarePods> pods_;
  std::unique_ptr<client::HttpsApiClient> api_;
  std::string token_;
  std::map<std::string, std::unique_ptr<ChildProcess>> flannels_;
};

// Traffic for every backend; kernel state (below) for the backends that have per-peer state.
class FlannelTrafficTest : public FlannelLabTest {};
class FlannelStateTest : public FlannelLabTest {};

TEST_P(FlannelTrafficTest, PodsTalkWithinAndAcrossNodes) {
  const bool vxlan = GetParam() == "vxlan";
  const bool udp = GetParam() == "udp";
  if (udp) {
    // No per-peer kernel state to wait for: flannel0 and the subnet.env of each node.
    for (const lab::LabNode& node : topology_.nodes) StartFlannel(node.name);
    for (const lab::LabNode& node : topology_.nodes) {
      ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(SubnetEnv(node.name)); }, 60s))
          << FlannelLog(node.name);
    }
  } else {
    ASSERT_NO_FATAL_FAILURE(StartAllAndWait());
  }

  // What flannel published and wrote.
  Result<std::string> env = ReadFile(SubnetEnv("node01"));
  ASSERT_TRUE(env.ok());
  EXPECT_NE(env->find("FLANNEL_NETWORK=10.244.0.0/16\n"), std::string::npos) << *env;
  EXPECT_NE(env->find(vxlan ? "FLANNEL_MTU=1450\n"
                      : udp ? "FLANNEL_MTU=1472\n"
                            : "FLANNEL_MTU=1500\n"),
            std::string::npos)
      << *env;
  // flannel publishes the node's condition after writing subnet.env (which is all the udp
  // case waited for above): wait for it.
  Result<json::object> node01 = api_->Get(client::kNodes, "", "node01");
  ASSERT_TRUE(WaitFor(
      [&] {
        node01 = api_->Get(client::kNodes, "", "node01");
        return node01.ok() && SerializeJson(*node01).find(
                                  R"("type":"NetworkUnavailable","status":"False")") !=
                                  std::string::npos;
      },
      30s))
      << FlannelLog("node01");
  ASSERT_TRUE(node01.ok());
  const json::value* annotations = FindPath(*node01, "metadata.annotations");
  ASSERT_NE(annotations, nullptr);
  EXPECT_EQ(json::value_to<std::string>(annotations->at("flannel.alpha.coreos.com/backend-type")),
            GetParam());
  EXPECT_EQ(json::value_to<std::string>(annotations->at("flannel.alpha.coreos.com/public-ip")),
            Node("node01").address);
  EXPECT_NE(SerializeJson(*node01).find(R"("type":"NetworkUnavailable","status":"False")"),
            std::string::npos);

  const std::string a = AddPod("node01", "pa");
  const std::string b = AddPod("node01", "pb");
  const std::string c = AddPod("node02", "pc");
  ASSERT_FALSE(a.empty() || b.empty() || c.empty());
  std::string output;
  // Pings are retried for a while: a node learns its peers from the API asynchronously (the
  // udp backend's relay in particular), and a loaded machine can drop a first echo's timing.
  auto pings = [&](const std::string& node, const std::string& pod, const std::string& ip) {
    return WaitFor([&] { return Ping(node, pod, ip, &output); }, 30s);
  };
  EXPECT_TRUE(pings("node01", "pa", b)) << "same node: " << output;

  UnderlayCapture capture;
  ASSERT_TRUE(capture.Start("/run/netns/" + topology_.underlay_netns).ok());
  EXPECT_TRUE(pings("node01", "pa", c)) << "across nodes: " << output;
  EXPECT_TRUE(pings("node02", "pc", a)) << "back: " << output;
  std::vector<CapturedPacket> packets = capture.Stop();
  const int encapsulation_port = vxlan ? 8472 : udp ? 8285 : 0;
  int encapsulated = 0;
  int plain = 0;
  for (const CapturedPacket& p : packets) {
    if (p.udp_dport != 0 && p.udp_dport == encapsulation_port && p.src == Node("node01").address &&
        p.dst == Node("node02").address && p.inner_src == a && p.inner_dst == c &&
        p.inner_protocol == 1) {
      ++encapsulated;
    }
    if (p.src == a && p.dst == c && p.protocol == 1) ++plain;
  }
  std::cout << GetParam() << ": captured " << packets.size() << " packets, " << encapsulated
            << " encapsulated pod packets (UDP " << encapsulation_port << "), " << plain
            << " plain pod packets\n";
  if (encapsulation_port != 0) {
    EXPECT_GE(encapsulated, 2) << packets.size() << " packets captured";
    EXPECT_EQ(plain, 0);
  } else {
    EXPECT_GE(plain, 2) << packets.size() << " packets captured";
    EXPECT_EQ(encapsulated, 0);
  }

  // TCP across nodes: a listener in pc, a client in pa.
  const std::filesystem::path received = dir_.path() / "received.txt";
  Result<std::unique_ptr<ChildProcess>> listener =
      runner_.Start({.argv = pods_->InPod("node02", "pc", {"busybox", "nc", "-l", "-p", "5001"}),
                     .output_file = received.string()});
  ASSERT_TRUE(listener.ok());
  bool sent = WaitFor(
      [&] {
        Result<ProcessResult> client = runner_.Run(
            {.argv = pods_->InPod("node01", "pa", {"busybox", "nc", "-w", "2", c, "5001"}),
             .stdin_data = "kelp over flannel\n",
             .timeout = 10s});
        return client.ok() && client->exit_code == 0;
      },
      20s);
  EXPECT_TRUE(sent);
  EXPECT_TRUE(WaitForFileToContain(received, "kelp over flannel", 10s))
      << ReadFile(received).value_or("");

  // A 2 s bulk stream (TCP segmentation offload, full windows; for udp 64 KiB super-packets in
  // kelp's segmented frame) flows: iperf3 counts what the server received.
  UnderlayCapture bulk_capture;
  if (udp) {
    ASSERT_TRUE(bulk_capture.Start("/run/netns/" + topology_.underlay_netns).ok());
  }
  Result<std::unique_ptr<ChildProcess>> iperf_server =
      runner_.Start({.argv = pods_->InPod("node02", "pc", {"iperf3", "-s"}),
                     .output_file = (dir_.path() / "iperf3-server.log").string()});
  ASSERT_TRUE(iperf_server.ok());
  std::string report;
  ASSERT_TRUE(WaitFor(
      [&] {
        Result<ProcessResult> client =
            runner_.Run({.argv = pods_->InPod("node01", "pa", {"iperf3", "-c", c, "-t", "2", "-J"}),
                         .timeout = 30s});
        report = client.ok() ? client->stdout_data : client.status().ToString();
        // Retried until a run completes (the server may not listen yet; a run can fail).
        Result<json::object> run = ParseJsonObject(report);
        return run.ok() && !run->contains("error") &&
               FindPath(*run, "end.sum_received.bytes") != nullptr;
      },
      60s))
      << report;
  Result<json::object> iperf = ParseJsonObject(report);
  ASSERT_TRUE(iperf.ok()) << report;
  const json::value* bytes = FindPath(*iperf, "end.sum_received.bytes");
  ASSERT_NE(bytes, nullptr) << report;
  EXPECT_EQ(iperf->if_contains("error"), nullptr) << report;
  // A stream, not a speed test (the machine is shared with parallel tests): at least 1 MiB.
  EXPECT_GE(bytes->to_number<double>(), 1024.0 * 1024) << report;
  std::cout << GetParam() << ": bulk stream " << bytes->to_number<double>() / (1 << 20)
            << " MiB in 2 s\n";
  if (udp) {
    // The stream's super-packets cross the LAN as kelp's frame in MTU-sized UDP segments (a
    // GSO train is captured whole), never as IP fragments.
    int frames = 0;
    int fragments = 0;
    for (const CapturedPacket& p : bulk_capture.Stop()) {
      if (p.src != Node("node01").address || p.dst != Node("node02").address) continue;
      if (p.fragment) ++fragments;
      if (p.udp_dport == 8285 && p.kelp_frame && p.inner_src == a && p.inner_dst == c &&
          p.inner_protocol == 6) {
        ++frames;
      }
    }
    std::cout << "udp: bulk stream: " << frames << " kelp frames with the pods' TCP, "
              << fragments << " IP fragments\n";
    EXPECT_GE(frames, 1);
    EXPECT_EQ(fragments, 0);
  }

  Status deleted = pods_->Delete("node01", "pb");
  EXPECT_TRUE(deleted.ok()) << deleted.ToString();
}

TEST_P(FlannelStateTest, DeletedNodeAndRestartLeaveNoStaleState) {
  ASSERT_NO_FATAL_FAILURE(StartAllAndWait());
  const bool vxlan = GetParam() == "vxlan";
  const std::string ghost_ip = topology_.subnet.address.ToString().substr(
                                   0, topology_.subnet.address.ToString().rfind('.')) +
                               ".99";
  // A Node that flannel on another machine would have annotated.
  json::object ghost{
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata",
       json::object{{"name", "ghost"},
                    {"annotations",
                     json::object{{"flannel.alpha.coreos.com/backend-type", GetParam()},
                                  {"flannel.alpha.coreos.com/backend-data",
                                   vxlan ? R"({"VNI":1,"VtepMAC":"0a:6b:00:00:00:99"})" : "null"},
                                  {"flannel.alpha.coreos.com/public-ip", ghost_ip},
                                  {"flannel.alpha.coreos.com/kube-subnet-manager", "true"}}}}},
      {"spec",
       json::object{{"podCIDR", "10.244.200.0/24"}, {"podCIDRs", json::array{"10.244.200.0/24"}}}}};
  ASSERT_TRUE(api_->Create(client::kNodes, "", ghost).ok());
  for (const char* node : {"master", "node01", "node02"}) {
    ASSERT_TRUE(
        WaitFor([&] { return Routes(node).find("10.244.200.0/24") != std::string::npos; }, 30s))
        << node << ": " << Routes(node);
    if (vxlan) {
      EXPECT_NE(KernelState(node).find("0a:6b:00:00:00:99 dst " + ghost_ip), std::string::npos)
          << KernelState(node);
      EXPECT_NE(KernelState(node).find("10.244.200.0 lladdr 0a:6b:00:00:00:99"), std::string::npos);
    }
  }
  ASSERT_TRUE(api_->Delete(client::kNodes, "", "ghost", {}).ok());
  for (const char* node : {"master", "node01", "node02"}) {
    EXPECT_TRUE(WaitFor(
        [&] {
          const std::string state = KernelState(node);
          return state.find("10.244.200.0") == std::string::npos &&
                 state.find("0a:6b:00:00:00:99") == std::string::npos;
        },
        30s))
        << node << ":\n"
        << KernelState(node);
  }

  // Restart flannel on node01: stopped gracefully, a stale flannel route planted meanwhile.
  const std::string before = KernelState("node01");
  std::cout << "node01 kernel state before the restart:\n" << before;
  ASSERT_TRUE(flannels_["node01"]->Terminate(10s).ok());
  ASSERT_TRUE(Succeeds(pods_->InNode("node01", {"ip", "route", "add", "10.244.250.0/24", "via",
                                                Node("node02").address, "proto", "87"})));
  StartFlannel("node01");
  EXPECT_TRUE(WaitFor([&] { return KernelState("node01") == before; }, 30s))
      << "before:\n"
      << before << "after:\n"
      << KernelState("node01") << "\nlog: " << FlannelLog("node01");

  // Pods still talk across nodes after the restart.
  const std::string a = AddPod("node01", "pa");
  const std::string c = AddPod("node02", "pc");
  std::string output;
  EXPECT_TRUE(WaitFor([&] { return Ping("node01", "pa", c, &output); }, 30s)) << output;
}

std::string BackendName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param == "vxlan" ? "Vxlan" : info.param == "udp" ? "Udp" : "HostGw";
}
INSTANTIATE_TEST_SUITE_P(Backends, FlannelTrafficTest, ::testing::Values("vxlan", "host-gw", "udp"),
                         BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, FlannelStateTest, ::testing::Values("vxlan", "host-gw"),
                         BackendName);

}  // namespace
}  // namespace kelp::e2e
