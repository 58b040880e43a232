// `kubectl logs`, `kubectl exec` and `kubectl top` end to end, as root: a pod run through
// ContainerRuntime (real runc, kelp-shim, a busybox rootfs, the reference bridge + host-local
// CNI plugins), the kubelet server serving it on loopback with a certificate the API server
// issued (agent token → POST .../kubeletcertificate), an in-process `kelp server` whose Node
// object points at that kubelet, and the real kubectl against the server. The test process is
// the node: it moves into a private mount namespace and a network namespace of its own, so
// every mount, link and listener goes with them; TearDown removes sandboxes, containers,
// shims and cgroups.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <cstring>
#include <fstream>
#include <regex>
#include <thread>

#include "agent/container_lookup.h"
#include "agent/kubelet_certificate.h"
#include "agent/kubelet_server.h"
#include "agent/runtime/runtime.h"
#include "agent/runtime/testing/fake_image_source.h"
#include "agent/runtime/testing/leftovers.h"
#include "agent/runtime/testing/mounts.h"
#include "apiserver/server.h"
#include "client/https_client.h"
#include "common/file.h"
#include "common/json.h"
#include "common/testing/temp_dir.h"
#include "net/netns.h"
#include "tests/e2e/harness.h"

namespace kelp::agent {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::string StringAt(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  return value && value->is_string() ? std::string(value->get_string()) : "";
}

template <typename Fn>
bool WaitFor(Fn condition, std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return condition();
}

// What a direct WebSocket exec against the kubelet saw.
struct ExecTranscript {
  std::string protocol;  // the subprotocol the kubelet chose
  std::string output;    // channel 1
  std::string status;    // channel 3
};

// A WebSocket client of the kubelet's /exec (Beast, blocking, 20 s receive limit): sends
// `frames` (channel byte + payload) after the handshake and reads until the kubelet closes.
Result<ExecTranscript> KubeletExec(uint16_t port, const std::string& target,
                                   const std::string& protocols, const fs::path& ca,
                                   const fs::path& cert, const fs::path& key,
                                   const std::vector<std::string>& frames) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace websocket = beast::websocket;
  try {
    asio::io_context io;
    asio::ssl::context context(asio::ssl::context::tls_client);
    context.load_verify_file(ca.string());
    if (!cert.empty()) {
      context.use_certificate_chain_file(cert.string());
      context.use_private_key_file(key.string(), asio::ssl::context::pem);
    }
    context.set_verify_mode(asio::ssl::verify_peer);
    websocket::stream<beast::ssl_stream<asio::ip::tcp::socket>> ws(io, context);
    auto& socket = beast::get_lowest_layer(ws);
    socket.connect({asio::ip::make_address("127.0.0.1"), port});
    timeval limit{.tv_sec = 20, .tv_usec = 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ws.next_layer().handshake(asio::ssl::stream_base::client);
    ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& request) {
      request.set(beast::http::field::sec_websocket_protocol, protocols);
    }));
    websocket::response_type response;
    ws.handshake(response, "127.0.0.1", target);
    ExecTranscript transcript{
        .protocol = std::string(response[beast::http::field::sec_websocket_protocol])};
    ws.binary(true);
    for (const std::string& frame : frames) ws.write(asio::buffer(frame));
    for (;;) {
      beast::flat_buffer buffer;
      beast::error_code error;
      ws.read(buffer, error);
      if (error) break;
      std::string data = beast::buffers_to_string(buffer.data());
      if (data.empty()) continue;
      if (data[0] == 1) transcript.output += data.substr(1);
      if (data[0] == 3) transcript.status += data.substr(1);
    }
    return transcript;
  } catch (const std::exception& e) {
    return UnavailableError(e.what());
  }
}

class StreamingE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "streaming e2e tests need root";
    ASSERT_EQ(::unshare(CLONE_NEWNS), 0) << std::strerror(errno);
    ASSERT_EQ(::mount("", "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    suffix_ = std::to_string(::getpid());
    node_name_ = "st-" + suffix_;
    Result<std::unique_ptr<net::NamedNetns>> node = net::NamedNetns::Create("kelp-st-" + suffix_);
    ASSERT_TRUE(node.ok()) << node.status().ToString();
    node_ = std::move(*node);
    Result<UniqueFd> host = net::OpenNetns("/proc/thread-self/ns/net");
    ASSERT_TRUE(host.ok());
    host_netns_ = std::move(*host);
    ASSERT_EQ(::setns(node_->fd(), CLONE_NEWNET), 0);
    ASSERT_TRUE(runner_.Run({.argv = {"ip", "link", "set", "lo", "up"}}).ok());

    fs::path layer = tmp_.path() / "layers" / "busybox";
    ASSERT_TRUE(testing::BuildBusyboxLayer(layer).ok());
    images_.Add("busybox", ResolvedImage{.id = "sha256:busybox-test",
                                         .ref = "docker.io/library/busybox:latest",
                                         .layers = {layer},
                                         .config = {.cmd = {"sh"}}});
    fs::create_directories(tmp_.path() / "net.d");
    std::ofstream(tmp_.path() / "net.d" / "10-kelp.conflist")
        << R"({"cniVersion":"1.0.0","name":"stnet","plugins":[{"type":"bridge","bridge":"ksb)"
        << suffix_.substr(0, 10)
        << R"(","isGateway":true,"ipMasq":false,"ipam":{"type":"host-local",)"
           R"("subnet":"10.89.0.0/24","dataDir":")"
        << (tmp_.path() / "ipam").string() << R"("}}]})";
    runc_ = fs::exists("/usr/sbin/runc") ? "/usr/sbin/runc" : "runc";
    // Its own cgroup parent: removing it never races with another test's cgroup creation.
    options_ = RuntimeOptions{.node_name = node_name_,
                              .state_dir = tmp_.path() / "state",
                              .runc_root = tmp_.path() / "runc",
                              .run_state_dir = tmp_.path() / "run",
                              .runc_binary = runc_,
                              .shim_binary = KELP_SHIM_BINARY,
                              .netns_dir = tmp_.path() / "netns",
                              .pod_log_dir = tmp_.path() / "pods",
                              .resolv_conf = tmp_.path() / "node-resolv.conf",
                              .cgroup_parent = "kelp-e2e-" + node_name_,
                              .cni = {.conf_dir = tmp_.path() / "net.d",
                                      .bin_dirs = {"/usr/lib/cni"},
                                      .cache_dir = tmp_.path() / "cni"}};
    std::ofstream(options_.resolv_conf) << "nameserver 10.96.0.10\n";
    Result<std::unique_ptr<ContainerRuntime>> runtime =
        ContainerRuntime::Open(options_, runner_, images_);
    ASSERT_TRUE(runtime.ok()) << runtime.status().ToString();
    runtime_ = std::move(*runtime);
    lookup_ = std::make_unique<RuntimeContainerLookup>(*runtime_);

    // The API server, in this process (and network namespace).
    Result<std::unique_ptr<apiserver::Server>> server =
        apiserver::Server::Start({.data_dir = (tmp_.path() / "server").string(),
                                  .bind_address = "127.0.0.1",
                                  .https_port = 0,
                                  .disable_agent = true});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    kubectl_ = std::make_unique<e2e::Kubectl>(runner_, tmp_.path() / "home",
                                              server_->kubeconfig_path().string());

    // The agent's side: its token gets the kubelet a serving certificate.
    Result<std::string> agent_token = ReadFile(tmp_.path() / "server" / "agent-token");
    ASSERT_TRUE(agent_token.ok()) << agent_token.status().ToString();
    while (!agent_token->empty() && agent_token->back() == '\n') agent_token->pop_back();
    Result<std::unique_ptr<client::HttpsApiClient>> api = client::HttpsApiClient::Create(
        {.server = "https://127.0.0.1:" + std::to_string(server_->port()),
         .token = *agent_token,
         .ca_file = tmp_.path() / "server" / "tls" / "ca.crt"});
    ASSERT_TRUE(api.ok()) << api.status().ToString();
    api_ = std::move(*api);
    Result<KubeletCertificate> certificate =
        RequestKubeletCertificate(*api_, node_name_, {"127.0.0.1"});
    ASSERT_TRUE(certificate.ok()) << certificate.status().ToString();
    Result<KubeletCertificateFiles> files =
        WriteKubeletCertificate(tmp_.path() / "kubelet", *certificate);
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    Result<std::unique_ptr<KubeletServer>> kubelet =
        KubeletServer::Start({.bind_address = "127.0.0.1",
                              .port = 0,
                              .cert_path = files->cert_path,
                              .key_path = files->key_path,
                              .client_ca_pem = files->ca_pem,
                              .node_name = node_name_},
                             *runtime_, *lookup_);
    ASSERT_TRUE(kubelet.ok()) << kubelet.status().ToString();
    kubelet_ = std::move(*kubelet);
    RegisterNode(kubelet_->port());
  }

  void TearDown() override {
    kubelet_.reset();
    server_.reset();
    // Whatever a failed test left: sandboxes, containers, shims, cgroups.
    Status left = testing::RemoveRuntimeLeftovers(runtime_.get(), options_, runner_);
    EXPECT_TRUE(left.ok()) << left.ToString();
    lookup_.reset();
    runtime_.reset();
    if (host_netns_.valid()) ::setns(host_netns_.get(), CLONE_NEWNET);
    node_.reset();
    testing::UnmountAllUnder(tmp_.path());
  }

  void RegisterNode(uint16_t kubelet_port) {
    Result<json::object> created =
        api_->Create(client::kNodes, "",
                     json::parse(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" +
                                 node_name_ + R"("}})")
                         .as_object());
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    (*created)["status"] = json::parse(
        R"({"addresses":[{"type":"InternalIP","address":"127.0.0.1"},{"type":"Hostname","address":")" +
        node_name_ + R"("}],"daemonEndpoints":{"kubeletEndpoint":{"Port":)" +
        std::to_string(kubelet_port) +
        R"(}},"capacity":{"cpu":"2","memory":"4Gi","pods":"110"},)"
        R"("allocatable":{"cpu":"2","memory":"4Gi","pods":"110"},)"
        R"("conditions":[{"type":"Ready","status":"True"}]})");
    Result<json::object> updated = api_->Update(client::kNodes, *created, "status");
    ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  }

  // A pod in the runtime and in the API (bound to this node, Running).
  void RunPod(const std::string& name, const std::vector<ContainerConfig>& containers) {
    Result<SandboxStatus> sandbox = runtime_->RunPodSandbox(
        {.name = name, .pod_namespace = "default", .uid = name + "-uid-" + suffix_});
    ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
    json::array spec_containers;
    json::array statuses;
    for (ContainerConfig config : containers) {
      config.image = "busybox";
      Result<std::string> id = runtime_->CreateContainer(sandbox->id, config);
      ASSERT_TRUE(id.ok()) << id.status().ToString();
      ASSERT_TRUE(runtime_->StartContainer(*id).ok());
      spec_containers.push_back(json::object{{"name", config.name}, {"image", "busybox"}});
      statuses.push_back(json::object{{"name", config.name},
                                      {"ready", true},
                                      {"restartCount", 0},
                                      {"image", "busybox"},
                                      {"imageID", "sha256:busybox-test"},
                                      {"containerID", "kelp://" + *id},
                                      {"state", json::object{{"running", json::object{}}}}});
    }
    json::object pod{{"apiVersion", "v1"},
                     {"kind", "Pod"},
                     {"metadata", json::object{{"name", name},
                                               {"namespace", "default"},
                                               {"labels", json::object{{"app", name}}}}},
                     {"spec", json::object{{"nodeName", node_name_},
                                           {"containers", std::move(spec_containers)}}}};
    Result<json::object> created = api_->Create(client::kPods, "default", pod);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    (*created)["status"] = json::object{{"phase", "Running"},
                                        {"podIP", sandbox->ip},
                                        {"hostIP", "127.0.0.1"},
                                        {"containerStatuses", std::move(statuses)}};
    Result<json::object> updated = api_->Update(client::kPods, *created, "status");
    ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  }

  ProcessResult Kubectl(const std::vector<std::string>& args) { return kubectl_->Run(args); }

  kelp::testing::ScopedTempDir tmp_;
  std::string suffix_;
  std::string node_name_;
  std::string runc_;
  std::unique_ptr<net::NamedNetns> node_;
  UniqueFd host_netns_;
  SubprocessRunner runner_;
  testing::FakeImageSource images_;
  RuntimeOptions options_;
  std::unique_ptr<ContainerRuntime> runtime_;
  std::unique_ptr<RuntimeContainerLookup> lookup_;
  std::unique_ptr<apiserver::Server> server_;
  std::unique_ptr<client::HttpsApiClient> api_;
  std::unique_ptr<KubeletServer> kubelet_;
  std::unique_ptr<e2e::Kubectl> kubectl_;
};

TEST_F(StreamingE2eTest, KubectlLogsExecAndTopThroughTheApiServer) {
  RunPod("web", {{.name = "app",
                  .command = {"sh", "-c",
                              "for i in 1 2 3 4 5; do echo line-$i; done; echo to-stderr >&2;"
                              " while true; do :; done"}},
                 {.name = "ticker",
                  .command = {"sh", "-c", "for i in 1 2 3; do echo tick-$i; sleep 1; done"}}});

  // logs: both streams, in order; --tail; -c picks the container.
  ProcessResult logs;
  ASSERT_TRUE(WaitFor([&] {
    logs = Kubectl({"logs", "web", "-c", "app"});
    return logs.exit_code == 0 && logs.stdout_data.find("to-stderr") != std::string::npos;
  })) << logs.stdout_data
      << logs.stderr_data;
  EXPECT_EQ(logs.stdout_data, "line-1\nline-2\nline-3\nline-4\nline-5\nto-stderr\n");
  ProcessResult tail = Kubectl({"logs", "web", "-c", "app", "--tail", "2"});
  EXPECT_EQ(tail.exit_code, 0) << tail.stderr_data;
  EXPECT_EQ(tail.stdout_data, "line-5\nto-stderr\n");
  ProcessResult stamped = Kubectl({"logs", "web", "-c", "app", "--tail", "1", "--timestamps"});
  EXPECT_TRUE(std::regex_match(stamped.stdout_data,
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z to-stderr\n)")))
      << stamped.stdout_data;

  // logs -f follows until the container exits, then kubectl ends by itself.
  const auto started = std::chrono::steady_clock::now();
  ProcessResult follow = Kubectl({"logs", "-f", "web", "-c", "ticker"});
  EXPECT_EQ(follow.exit_code, 0) << follow.stderr_data;
  EXPECT_FALSE(follow.timed_out);
  EXPECT_EQ(follow.stdout_data, "tick-1\ntick-2\ntick-3\n");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);

  // A container name the pod does not have, and a pod that is not there.
  ProcessResult wrong = Kubectl({"logs", "web", "-c", "nope"});
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_THAT(wrong.stderr_data, HasSubstr("container nope is not valid for pod web"));
  ProcessResult missing = Kubectl({"logs", "nothere"});
  EXPECT_THAT(missing.stderr_data, HasSubstr("pods \"nothere\" not found"));

  // exec: output, exit codes, stdin.
  ProcessResult hostname = Kubectl({"exec", "web", "-c", "app", "--", "cat", "/etc/hostname"});
  EXPECT_EQ(hostname.exit_code, 0) << hostname.stderr_data;
  EXPECT_EQ(hostname.stdout_data, "web\n");
  ProcessResult exit3 = Kubectl({"exec", "web", "-c", "app", "--", "sh", "-c", "exit 3"});
  EXPECT_EQ(exit3.exit_code, 3) << exit3.stderr_data;
  // Much output: framed, relayed and flow-controlled without loss.
  ProcessResult many = Kubectl({"exec", "web", "-c", "app", "--", "seq", "1", "200000"});
  EXPECT_EQ(many.exit_code, 0) << many.stderr_data;
  std::string expected;
  for (int i = 1; i <= 200000; ++i) expected += std::to_string(i) + "\n";
  EXPECT_TRUE(many.stdout_data == expected)
      << many.stdout_data.size() << " bytes, not " << expected.size();
  ProcessResult stderr_out =
      Kubectl({"exec", "web", "-c", "app", "--", "sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(stderr_out.exit_code, 0);
  EXPECT_EQ(stderr_out.stdout_data, "out\n");
  EXPECT_EQ(stderr_out.stderr_data, "err\n");
  Result<ProcessResult> piped =
      runner_.Run({.argv = {e2e::kKubectl, "--kubeconfig", server_->kubeconfig_path().string(),
                            "exec", "-i", "web", "-c", "app", "--", "sh", "-c", "tr a-z A-Z"},
                   .env = std::vector<std::string>{"HOME=" + (tmp_.path() / "home").string(),
                                                   "PATH=/usr/bin:/bin"},
                   .stdin_data = "hello from stdin\n",
                   .timeout = 60s});
  ASSERT_TRUE(piped.ok());
  EXPECT_EQ(piped->exit_code, 0) << piped->stderr_data;
  EXPECT_EQ(piped->stdout_data, "HELLO FROM STDIN\n");

  // exec -it: kubectl on a terminal (script(1) gives it one) gets a tty in the container.
  Result<ProcessResult> tty = runner_.Run(
      {.argv = {"script", "-qec",
                std::string(e2e::kKubectl) + " --kubeconfig " +
                    server_->kubeconfig_path().string() +
                    " exec -it web -c app -- sh -c 'tty; echo tty-done'",
                "/dev/null"},
       .env = std::vector<std::string>{"HOME=" + (tmp_.path() / "home").string(),
                                       "PATH=/usr/bin:/bin", "TERM=xterm"},
       .timeout = 60s});
  ASSERT_TRUE(tty.ok());
  EXPECT_EQ(tty->exit_code, 0) << tty->stdout_data << tty->stderr_data;
  EXPECT_THAT(tty->stdout_data, HasSubstr("/dev/pts/"));
  EXPECT_THAT(tty->stdout_data, HasSubstr("tty-done"));

  // top: numbers from the kubelet's cgroup stats (the app container spins).
  ProcessResult top_pod;
  ASSERT_TRUE(WaitFor([&] {
    top_pod = Kubectl({"top", "pod", "web", "--containers"});
    return top_pod.exit_code == 0;
  })) << top_pod.stderr_data;
  EXPECT_TRUE(
      std::regex_search(top_pod.stdout_data, std::regex(R"(web\s+app\s+[1-9]\d*m\s+\d+Mi)")))
      << top_pod.stdout_data;
  // What the HPA controller lists (controllers/hpa.cc): PodMetrics by label selector.
  constexpr client::Resource kPodMetrics{"metrics.k8s.io", "v1beta1", "pods", true};
  Result<client::ListResult> metrics =
      api_->List(kPodMetrics, "default", {.label_selector = "app=web"});
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  ASSERT_EQ(metrics->items.size(), 1u);
  EXPECT_EQ(StringAt(metrics->items[0], "metadata.name"), "web");
  EXPECT_THAT(StringAt(metrics->items[0], "window"), ::testing::MatchesRegex("[0-9]+s"));
  EXPECT_THAT(StringAt(metrics->items[0], "containers.0.usage.cpu"),
              ::testing::MatchesRegex("[0-9]+n"));
  ProcessResult top_node = Kubectl({"top", "node"});
  EXPECT_EQ(top_node.exit_code, 0) << top_node.stderr_data;
  EXPECT_TRUE(std::regex_search(top_node.stdout_data,
                                std::regex(node_name_ + R"(\s+[1-9]\d*m\s+\d+%\s+\d+Mi\s+\d+%)")))
      << top_node.stdout_data;
}

TEST_F(StreamingE2eTest, KubeletSpeaksV4WithTtyAndResizeAndRefusesStrangers) {
  RunPod("term", {{.name = "sh", .command = {"sh", "-c", "while true; do sleep 1; done"}}});
  const fs::path tls = tmp_.path() / "server" / "tls";
  const std::string target =
      "/exec/default/term/sh?command=sh&command=-c&command=read+x%3B+stty+size%3B+echo+got-%24x"
      "&stdin=true&stdout=true&tty=true";
  // An older client: v4 only. Resize first, then a line of input (a tty echoes it).
  Result<ExecTranscript> v4 = KubeletExec(
      kubelet_->port(), target, "v4.channel.k8s.io", tls / "ca.crt", tls / "kubelet-client.crt",
      tls / "kubelet-client.key",
      {std::string("\x04") + R"({"Width":100,"Height":30})", std::string("\x00", 1) + "abc\n"});
  ASSERT_TRUE(v4.ok()) << v4.status().ToString();
  EXPECT_EQ(v4->protocol, "v4.channel.k8s.io");
  EXPECT_THAT(v4->output, HasSubstr("30 100"));
  EXPECT_THAT(v4->output, HasSubstr("got-abc"));
  EXPECT_EQ(v4->status, R"({"metadata":{},"status":"Success"})");

  // No client certificate, or a certificate of the CA that is not for clients (the kubelet's
  // own serving one): the TLS handshake fails.
  const fs::path kubelet_dir = tmp_.path() / "kubelet";
  EXPECT_FALSE(
      KubeletExec(kubelet_->port(), target, "v5.channel.k8s.io", tls / "ca.crt", "", "", {}).ok());
  EXPECT_FALSE(KubeletExec(kubelet_->port(), target, "v5.channel.k8s.io", tls / "ca.crt",
                           kubelet_dir / "kubelet.crt", kubelet_dir / "kubelet.key", {})
                   .ok());
}

TEST_F(StreamingE2eTest, ClearErrorsWhenThePodCannotBeReached) {
  // Scheduled to a node that is not registered.
  Result<json::object> pod = api_->Create(
      client::kPods, "default",
      json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"lost"},)"
                  R"("spec":{"nodeName":"ghost","containers":[{"name":"c","image":"busybox"}]}})")
          .as_object());
  ASSERT_TRUE(pod.ok()) << pod.status().ToString();
  ProcessResult logs = Kubectl({"logs", "lost"});
  EXPECT_NE(logs.exit_code, 0);
  EXPECT_THAT(logs.stderr_data, HasSubstr("node \"ghost\" of pod lost is not registered"));
  ProcessResult exec = Kubectl({"exec", "lost", "--", "true"});
  EXPECT_NE(exec.exit_code, 0);
  EXPECT_THAT(exec.stderr_data, HasSubstr("not registered"));

  // Not scheduled at all.
  ASSERT_TRUE(
      api_->Create(client::kPods, "default",
                   json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"new"},)"
                               R"("spec":{"containers":[{"name":"c","image":"busybox"}]}})")
                       .as_object())
          .ok());
  ProcessResult unscheduled = Kubectl({"logs", "new"});
  EXPECT_THAT(unscheduled.stderr_data, HasSubstr("pod new does not have a host assigned"));

  // Bound to this node but not running here: the kubelet says so.
  ASSERT_TRUE(
      api_->Create(client::kPods, "default",
                   json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"idle"},)"
                               R"("spec":{"nodeName":")" +
                               node_name_ + R"(","containers":[{"name":"c","image":"busybox"}]}})")
                       .as_object())
          .ok());
  ProcessResult idle = Kubectl({"logs", "idle"});
  EXPECT_NE(idle.exit_code, 0);
  EXPECT_THAT(idle.stderr_data, HasSubstr("pod default/idle is not running on this node"));
  ProcessResult idle_exec = Kubectl({"exec", "idle", "--", "true"});
  EXPECT_NE(idle_exec.exit_code, 0);
  EXPECT_THAT(idle_exec.stderr_data, HasSubstr("pod default/idle is not running on this node"));

  // A kubelet that does not answer: the node's address has nothing listening.
  kubelet_->Stop();
  ProcessResult down = Kubectl({"logs", "idle"});
  EXPECT_NE(down.exit_code, 0);
  EXPECT_THAT(down.stderr_data, HasSubstr("error dialing backend"));
}

}  // namespace
}  // namespace kelp::agent
