// Real traffic through kelp's Service proxy, all inside network namespaces this test creates:
//   <p>-client 192.168.206.99 ──┐ LAN bridge (<p>-lan) ┌── <p>-node 192.168.206.20
//                                                      │     cbr0 10.244.1.1/24 (pod bridge)
//                                  <p>-pod1..3 10.244.1.2-4, busybox httpd :8080 answering "podN"
// The node runs the ServiceProxy (informers over FakeApiClient, real libnftables, real
// conntrack). Checked: successive connections to a ClusterIP and to a NodePort visit every pod
// in turn; an endpoint that goes stops getting connections; a Service without endpoints, and
// an unknown port of a ClusterIP, are refused at once instead of timing out; a pod reaches
// itself and its neighbours through its own Service (hairpin); ClientIP affinity sticks.
// The second test does the same through the real binaries: `kelp server`, kubectl and
// `kelp proxy`, all in the node's namespace. Everything is removed afterwards, even on failure.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/informer.h"
#include "client/testing/fake_api_client.h"
#include "common/file.h"
#include "common/testing/temp_dir.h"
#include "net/netns.h"
#include "proxy/conntrack_netfilter.h"
#include "proxy/libnftables.h"
#include "proxy/service_proxy.h"
#include "common/json.h"
#include "tests/e2e/bgp_lab.h"
#include "tests/e2e/harness.h"

namespace kelp::e2e {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using ::testing::ElementsAre;

constexpr int kPods = 3;

std::string Prefix() { return "kpt" + std::to_string(getpid() % 100000); }

// One HTTP/1.0 GET from inside namespace `netns`: the response body, or an error whose code
// says what happened (kUnavailable "refused", kDeadlineExceeded on a timeout).
Result<std::string> HttpGet(const std::string& netns, const std::string& address, int port,
                            std::chrono::milliseconds timeout = 10s) {
  Result<std::string> result = InternalError("not run");
  std::thread([&] {
    UniqueFd ns(::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns.valid() || ::setns(ns.get(), CLONE_NEWNET) != 0) {
      result = ErrnoError("enter " + netns, errno);
      return;
    }
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, address.c_str(), &sa.sin_addr);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto wait = [&](short events) -> Status {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd.get(), events, 0};
      int n = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
      if (n == 0) return DeadlineExceededError("timed out");
      if (n < 0) return ErrnoError("poll", errno);
      return Status::Ok();
    };
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 &&
        errno != EINPROGRESS) {
      result = ErrnoError("connect", errno);
      return;
    }
    if (Status s = wait(POLLOUT); !s.ok()) {
      result = s.WithContext("connect");
      return;
    }
    int error = 0;
    socklen_t len = sizeof(error);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
    if (error == ECONNREFUSED) {
      result = UnavailableError("connection refused");
      return;
    }
    if (error != 0) {
      result = ErrnoError("connect", error);
      return;
    }
    const std::string request = "GET / HTTP/1.0\r\nHost: test\r\n\r\n";
    if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
      result = ErrnoError("send", errno);
      return;
    }
    std::string response;
    char buffer[4096];
    while (true) {
      if (Status s = wait(POLLIN); !s.ok()) {
        result = s.WithContext("read");
        return;
      }
      ssize_t n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n < 0) {
        result = ErrnoError("recv", errno);
        return;
      }
      if (n == 0) break;
      response.append(buffer, static_cast<size_t>(n));
    }
    size_t body = response.find("\r\n\r\n");
    if (body == std::string::npos) {
      result = InternalError("no HTTP response: " + response);
      return;
    }
    std::string text = response.substr(body + 4);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    result = text;
  }).join();
  return result;
}

// `count` GETs in a row; a failed one shows up as its error text.
std::vector<std::string> Visits(const std::string& netns, const std::string& address, int port,
                                int count) {
  std::vector<std::string> visits;
  for (int i = 0; i < count; ++i) {
    Result<std::string> body = HttpGet(netns, address, port);
    visits.push_back(body.ok() ? *body : body.status().ToString());
  }
  return visits;
}

// The node, its pods with their web servers, and a client on the LAN.
class ServiceTopology {
 public:
  explicit ServiceTopology(ProcessRunner& runner)
      : runner_(runner), lan_(runner, Prefix()), prefix_(Prefix()) {}
  ~ServiceTopology() {
    for (ScopedChild& server : servers_) server.Stop();
    for (auto it = pods_.rbegin(); it != pods_.rend(); ++it) {
      (void)runner_.Run({.argv = {"ip", "netns", "del", *it}, .timeout = 20s});
    }
  }

  std::string node() const { return lan_.Netns("node"); }
  std::string client() const { return lan_.Netns("client"); }
  std::string pod(int i) const { return prefix_ + "-pod" + std::to_string(i); }
  static std::string PodIp(int i) { return "10.244.1." + std::to_string(i + 1); }

  Status Create(const std::filesystem::path& dir) {
    KELP_RETURN_IF_ERROR(lan_.Create());
    KELP_RETURN_IF_ERROR(lan_.AddHost("node", "192.168.206.20"));
    KELP_RETURN_IF_ERROR(lan_.AddHost("client", "192.168.206.99"));
    const std::string node_ns = node();
    for (std::vector<std::string> argv : std::vector<std::vector<std::string>>{
             {"ip", "-n", node_ns, "link", "add", "cbr0", "type", "bridge"},
             {"ip", "-n", node_ns, "addr", "add", "10.244.1.1/24", "dev", "cbr0"},
             {"ip", "-n", node_ns, "link", "set", "cbr0", "up"},
             // Any destination routes somewhere, as on a real node, so a Service address
             // without rules is not simply unreachable.
             {"ip", "-n", node_ns, "route", "add", "default", "via", "192.168.206.1"},
             {"ip", "netns", "exec", node_ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
             {"ip", "netns", "exec", node_ns, "sysctl", "-qw",
              "net.bridge.bridge-nf-call-iptables=1"},
             {"ip", "-n", client(), "route", "add", "10.96.0.0/12", "via", "192.168.206.20"}}) {
      KELP_RETURN_IF_ERROR(RunChecked(runner_, argv).status());
    }
    for (int i = 1; i <= kPods; ++i) KELP_RETURN_IF_ERROR(AddPod(i, dir));
    // Every server answers before the test starts.
    for (int i = 1; i <= kPods; ++i) {
      const bool up = WaitFor([&] { return HttpGet(node_ns, PodIp(i), 8080, 2s).ok(); }, 20s);
      if (!up) return DeadlineExceededError("pod" + std::to_string(i) + " does not answer");
    }
    return Status::Ok();
  }

 private:
  Status AddPod(int i, const std::filesystem::path& dir) {
    const std::string ns = pod(i), host_end = "vp" + std::to_string(i);
    KELP_RETURN_IF_ERROR(RunChecked(runner_, {"ip", "netns", "add", ns}).status());
    pods_.push_back(ns);
    for (std::vector<std::string> argv : std::vector<std::vector<std::string>>{
             {"ip", "-n", node(), "link", "add", host_end, "type", "veth", "peer", "name", "eth0",
              "netns", ns},
             {"ip", "-n", node(), "link", "set", host_end, "master", "cbr0", "up"},
             // A pod reaching itself through a Service comes back out of its own port.
             {"ip", "netns", "exec", node(), "bridge", "link", "set", "dev", host_end, "hairpin",
              "on"},
             {"ip", "-n", ns, "addr", "add", PodIp(i) + "/24", "dev", "eth0"},
             {"ip", "-n", ns, "link", "set", "eth0", "up"},
             {"ip", "-n", ns, "link", "set", "lo", "up"},
             {"ip", "-n", ns, "route", "add", "default", "via", "10.244.1.1"}}) {
      KELP_RETURN_IF_ERROR(RunChecked(runner_, argv).status());
    }
    const std::filesystem::path root = dir / ("pod" + std::to_string(i));
    KELP_RETURN_IF_ERROR(CreateDirectories(root, 0755));
    KELP_RETURN_IF_ERROR(WriteFileAtomic(root / "index.html", "pod" + std::to_string(i) + "\n"));
    KELP_ASSIGN_OR_RETURN(
        std::unique_ptr<ChildProcess> child,
        runner_.Start({.argv = {"ip", "netns", "exec", ns, "/bin/busybox", "httpd", "-f", "-p",
                                "8080", "-h", root.string()},
                       .output_file = (dir / ("pod" + std::to_string(i) + ".log")).string()}));
    servers_.emplace_back(std::move(child));
    return Status::Ok();
  }

  ProcessRunner& runner_;
  Lan lan_;
  std::string prefix_;
  std::vector<std::string> pods_;
  std::vector<ScopedChild> servers_;
};

json::object ServiceObject(std::string_view name, std::string_view cluster_ip, int node_port,
                           bool affinity = false) {
  json::object port{{"name", "http"}, {"port", 80}, {"protocol", "TCP"}};
  if (node_port != 0) port["nodePort"] = node_port;
  json::object spec{{"type", node_port != 0 ? "NodePort" : "ClusterIP"},
                    {"clusterIP", cluster_ip},
                    {"ports", json::array{port}}};
  if (affinity) spec["sessionAffinity"] = "ClientIP";
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", json::object{{"namespace", "default"}, {"name", name}}},
          {"spec", std::move(spec)}};
}

json::object SliceObject(std::string_view service, std::vector<int> pods) {
  json::array endpoints;
  for (int i : pods) {
    endpoints.push_back(
        json::object{{"addresses", json::array{json::string(ServiceTopology::PodIp(i))}},
                     {"conditions", json::object{{"ready", true}}},
                     {"nodeName", "node01"}});
  }
  return {
      {"apiVersion", "discovery.k8s.io/v1"},
      {"kind", "EndpointSlice"},
      {"metadata", json::object{{"namespace", "default"},
                                {"name", std::string(service) + "-1"},
                                {"labels", json::object{{"kubernetes.io/service-name",
                                                         json::string(service)}}}}},
      {"addressType", "IPv4"},
      {"ports", json::array{json::object{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}},
      {"endpoints", std::move(endpoints)}};
}

class ProxyTrafficTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    Status created = topology_.Create(dir_.path());
    ASSERT_TRUE(created.ok()) << created.ToString();
  }
  void TearDown() override {
    if (proxy_) proxy_->Stop();
    informers_.Stop();
  }

  void StartProxy() {
    auto node = net::OpenNetns("/run/netns/" + topology_.node());
    ASSERT_TRUE(node.ok());
    Status opened = net::RunInNetns(node->get(), [&]() -> Status {
      KELP_ASSIGN_OR_RETURN(nft_, proxy::LibNftables::Create());
      KELP_ASSIGN_OR_RETURN(conntrack_, proxy::NetfilterConntrack::Create());
      return Status::Ok();
    });
    ASSERT_TRUE(opened.ok()) << opened.ToString();
    proxy::ServiceProxyOptions options;
    options.proxier.ruleset.node_name = "node01";
    options.proxier.ruleset.nodeport_addresses = {*net::Ipv4Address::Parse("192.168.206.20")};
    options.proxier.ruleset.cluster_cidr = *net::Ipv4Prefix::Parse("10.244.0.0/16");
    options.min_sync_interval = 0ms;
    proxy_ = std::make_unique<proxy::ServiceProxy>(informers_, *nft_, *conntrack_, clock_, options);
    informers_.Start();
    proxy_->Start();
  }

  // Waits until table ip kelp-proxy in the node contains `text`.
  void WaitForRules(const std::string& text) {
    const bool found = WaitFor(
        [&] {
          return nft_->List("list table ip kelp-proxy").value_or("").find(text) !=
                 std::string::npos;
        },
        30s);
    ASSERT_TRUE(found) << "rules never contained: " << text << "\n"
                       << nft_->List("list table ip kelp-proxy").value_or("(no table)");
  }

  kelp::testing::ScopedTempDir dir_;
  SubprocessRunner runner_;
  ServiceTopology topology_{runner_};
  RealClock clock_;
  client::testing::FakeApiClient api_{clock_};
  client::InformerFactory informers_{api_};
  std::unique_ptr<proxy::LibNftables> nft_;
  std::unique_ptr<proxy::NetfilterConntrack> conntrack_;
  std::unique_ptr<proxy::ServiceProxy> proxy_;
};

TEST_F(ProxyTrafficTest, ClusterIpAndNodePortVisitEveryPodInTurn) {
  api_.Seed(client::kServices, ServiceObject("web", "10.96.0.20", 30080));
  api_.Seed(client::kEndpointSlices, SliceObject("web", {1, 2, 3}));
  StartProxy();
  WaitForRules("numgen inc mod 3 0");

  EXPECT_THAT(Visits(topology_.client(), "10.96.0.20", 80, 6),
              ElementsAre("pod1", "pod2", "pod3", "pod1", "pod2", "pod3"));
  EXPECT_THAT(Visits(topology_.client(), "192.168.206.20", 30080, 6),
              ElementsAre("pod1", "pod2", "pod3", "pod1", "pod2", "pod3"));

  // pod3 leaves the Service: the next connections alternate between the two others.
  ASSERT_TRUE(api_.Update(client::kEndpointSlices, SliceObject("web", {1, 2})).ok());
  WaitForRules("numgen inc mod 2 0 meta l4proto tcp dnat to 10.244.1.2:8080");
  EXPECT_THAT(Visits(topology_.client(), "10.96.0.20", 80, 4),
              ElementsAre("pod1", "pod2", "pod1", "pod2"));
}

TEST_F(ProxyTrafficTest, AServiceWithoutEndpointsIsRefusedAtOnce) {
  api_.Seed(client::kServices, ServiceObject("empty", "10.96.0.30", 30081));
  api_.Seed(client::kServices, ServiceObject("web", "10.96.0.20", 0));
  api_.Seed(client::kEndpointSlices, SliceObject("web", {1}));
  StartProxy();
  WaitForRules("10.96.0.30 . tcp . 80 : goto reject-connection");

  // Refused, well within the 10 s the client would wait for a black hole.
  for (auto [address, port] : std::vector<std::pair<std::string, int>>{
           {"10.96.0.30", 80}, {"192.168.206.20", 30081}, {"10.96.0.20", 81}}) {
    const auto start = std::chrono::steady_clock::now();
    Result<std::string> body = HttpGet(topology_.client(), address, port, 10s);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(body.status().code(), StatusCode::kUnavailable)
        << address << ":" << port << " " << body.status().ToString();
    EXPECT_LT(took, 8s) << address << ":" << port;
  }
  // The Service next to it still works.
  EXPECT_EQ(HttpGet(topology_.client(), "10.96.0.20", 80).value_or("failed"), "pod1");
}

TEST_F(ProxyTrafficTest, APodReachesItselfAndItsNeighboursThroughItsService) {
  api_.Seed(client::kServices, ServiceObject("web", "10.96.0.20", 0));
  api_.Seed(client::kEndpointSlices, SliceObject("web", {1, 2, 3}));
  StartProxy();
  WaitForRules("numgen inc mod 3 0");
  EXPECT_THAT(Visits(topology_.pod(1), "10.96.0.20", 80, 6),
              ElementsAre("pod1", "pod2", "pod3", "pod1", "pod2", "pod3"));
}

TEST_F(ProxyTrafficTest, ClientIpAffinityKeepsAClientOnOnePod) {
  api_.Seed(client::kServices, ServiceObject("sticky", "10.96.0.40", 0, /*affinity=*/true));
  api_.Seed(client::kEndpointSlices, SliceObject("sticky", {1, 2, 3}));
  StartProxy();
  WaitForRules("update @affinity-default/sticky/tcp/http/10.244.1.2/8080");
  std::vector<std::string> visits = Visits(topology_.client(), "10.96.0.40", 80, 6);
  EXPECT_THAT(visits, ElementsAre("pod1", "pod1", "pod1", "pod1", "pod1", "pod1"));
  // Another client starts its own affinity (the rotation moved on: pod2).
  EXPECT_THAT(Visits(topology_.pod(3), "10.96.0.40", 80, 2), ElementsAre("pod2", "pod2"));
}

// The same through the real binaries: `kelp server` and `kelp proxy` run in the node's
// namespace (the proxy reaches the API on the node's loopback, trusting it through the K10
// agent token), kubectl writes the Service and its EndpointSlice there.
class KelpProxyCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    ASSERT_TRUE(CreateDirectories(dir_.path() / "home", 0700).ok());
    Status created = topology_.Create(dir_.path());
    ASSERT_TRUE(created.ok()) << created.ToString();
  }

  std::vector<std::string> InNode(std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {"ip", "netns", "exec", topology_.node()});
    return argv;
  }
  std::filesystem::path data() const { return dir_.path() / "data"; }
  std::string Log(const std::string& name) const {
    return ReadFile(dir_.path() / name).value_or("(no log)");
  }

  Status StartServer() {
    KELP_ASSIGN_OR_RETURN(
        std::unique_ptr<ChildProcess> child,
        runner_.Start(
            {.argv = InNode({KELP_BINARY, "server", "--data-dir", data().string(), "--bind-address",
                             "127.0.0.1", "--https-listen-port", "6443", "--disable-agent"}),
             .output_file = (dir_.path() / "server.log").string()}));
    server_ = ScopedChild(std::move(child));
    if (!WaitFor([&] { return std::filesystem::exists(data() / "kubeconfig.yaml"); }, 30s)) {
      return DeadlineExceededError("kelp server wrote no kubeconfig: " + Log("server.log"));
    }
    return Status::Ok();
  }

  ProcessResult Kubectl(std::vector<std::string> args) {
    args.insert(args.begin(), {kKubectl, "--kubeconfig", (data() / "kubeconfig.yaml").string()});
    Result<ProcessResult> result =
        runner_.Run({.argv = InNode(std::move(args)),
                     .env = std::vector<std::string>{"HOME=" + (dir_.path() / "home").string(),
                                                     "PATH=/usr/bin:/bin"},
                     .timeout = 60s});
    return result.ok() ? *result : ProcessResult{.stderr_data = result.status().ToString()};
  }

  Result<std::unique_ptr<ChildProcess>> StartProxy(std::vector<std::string> extra = {}) {
    Result<std::string> token = ReadFile(data() / "agent-token");
    if (!token.ok()) return token.status();
    while (!token->empty() && token->back() == '\n') token->pop_back();
    std::vector<std::string> argv = {KELP_BINARY,
                                     "proxy",
                                     "--server",
                                     "https://127.0.0.1:6443",
                                     "--token",
                                     *token,
                                     "--node-name",
                                     "node01",
                                     "--node-ip",
                                     "192.168.206.20",
                                     "--cluster-cidr",
                                     "10.244.0.0/16",
                                     "--min-sync-period-ms",
                                     "0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return runner_.Start(
        {.argv = InNode(argv), .output_file = (dir_.path() / "proxy.log").string()});
  }

  std::string Table() {
    Result<ProcessResult> listed =
        runner_.Run({.argv = InNode({"nft", "list", "table", "ip", "kelp-proxy"}), .timeout = 20s});
    return listed.ok() && listed->exit_code == 0 ? listed->stdout_data : "";
  }

  kelp::testing::ScopedTempDir dir_;
  SubprocessRunner runner_;
  ServiceTopology topology_{runner_};
  ScopedChild server_;
};

TEST_F(KelpProxyCommandTest, KubectlServicesReachPodsThroughKelpProxy) {
  Status started = StartServer();
  ASSERT_TRUE(started.ok()) << started.ToString();
  ASSERT_TRUE(WriteFileAtomic(dir_.path() / "service.json",
                              SerializeJson(ServiceObject("web", "10.96.0.20", 30080)))
                  .ok());
  ASSERT_TRUE(
      WriteFileAtomic(dir_.path() / "slice.json", SerializeJson(SliceObject("web", {1, 2, 3})))
          .ok());
  ProcessResult created = Kubectl({"create", "-f", (dir_.path() / "service.json").string(), "-f",
                                   (dir_.path() / "slice.json").string()});
  ASSERT_EQ(created.exit_code, 0) << created.stdout_data << created.stderr_data;

  Result<std::unique_ptr<ChildProcess>> proxy = StartProxy();
  ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
  ScopedChild proxy_process(std::move(proxy).value());
  ASSERT_TRUE(WaitFor([&] { return Table().find("numgen inc mod 3 0") != std::string::npos; }, 60s))
      << Log("proxy.log");
  EXPECT_THAT(Visits(topology_.client(), "10.96.0.20", 80, 6),
              ElementsAre("pod1", "pod2", "pod3", "pod1", "pod2", "pod3"));
  EXPECT_THAT(Visits(topology_.client(), "192.168.206.20", 30080, 3),
              ElementsAre("pod1", "pod2", "pod3"));

  // kubectl takes pod3 out of the slice; the proxy follows.
  ProcessResult patched = Kubectl({"patch", "endpointslice", "web-1", "--type=json", "-p",
                                   R"([{"op": "remove", "path": "/endpoints/2"}])"});
  ASSERT_EQ(patched.exit_code, 0) << patched.stderr_data;
  ASSERT_TRUE(WaitFor([&] { return Table().find("numgen inc mod 2 0") != std::string::npos; }, 60s))
      << Log("proxy.log");
  EXPECT_THAT(Visits(topology_.client(), "10.96.0.20", 80, 4),
              ElementsAre("pod1", "pod2", "pod1", "pod2"));

  // The Service goes: its rules go, and its address is no longer served.
  ProcessResult deleted = Kubectl({"delete", "service", "web"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.stderr_data;
  ASSERT_TRUE(WaitFor([&] { return Table().find("10.96.0.20") == std::string::npos; }, 60s))
      << Table();

  // SIGTERM stops the proxy cleanly and leaves the table; --cleanup removes it.
  ASSERT_EQ(proxy_process.get()->Signal(SIGTERM).code(), StatusCode::kOk);
  Result<ProcessExit> exit = proxy_process.get()->Wait(30s);
  ASSERT_TRUE(exit.ok()) << Log("proxy.log");
  EXPECT_EQ(exit->exit_code, 0) << Log("proxy.log");
  EXPECT_NE(Table(), "");
  Result<ProcessResult> cleanup =
      runner_.Run({.argv = InNode({KELP_BINARY, "proxy", "--cleanup"}), .timeout = 20s});
  ASSERT_TRUE(cleanup.ok());
  EXPECT_EQ(cleanup->exit_code, 0) << cleanup->stderr_data;
  EXPECT_EQ(Table(), "");
}

}  // namespace
}  // namespace kelp::e2e
