// Agent assembly and `kelp agent` (see agent.h).
#include "agent/agent.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <thread>

#include "agent/container_lookup.h"
#include "agent/images/image_store.h"
#include "agent/kubelet_certificate.h"
#include "agent/kubelet_server.h"
#include "agent/kubelet.h"
#include "agent/runtime/runtime.h"
#include "client/https_client.h"
#include "client/informer.h"
#include "common/process.h"
#include "flannel/flannel_node.h"
#include "proxy/command.h"
#include "proxy/conntrack_netfilter.h"
#include "proxy/libnftables.h"
#include "proxy/ruleset.h"
#include "proxy/service_proxy.h"

namespace kelp::agent {
namespace {

namespace fs = std::filesystem;

std::string Hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// The source address the kernel picks towards the default route (a UDP connect sends
// nothing), else the first non-loopback IPv4 address, else 127.0.0.1.
std::string DefaultNodeIp() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(53);
    ::inet_pton(AF_INET, "192.0.2.1", &remote.sin_addr);
    sockaddr_in local{};
    socklen_t length = sizeof(local);
    bool found = ::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) == 0 &&
                 ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0;
    ::close(fd);
    char text[INET_ADDRSTRLEN] = {};
    if (found && ::inet_ntop(AF_INET, &local.sin_addr, text, sizeof(text))) return text;
  }
  ifaddrs* list = nullptr;
  std::string address = "127.0.0.1";
  if (getifaddrs(&list) == 0) {
    for (ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
      if (!entry->ifa_addr || entry->ifa_addr->sa_family != AF_INET) continue;
      const auto* in = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
      if ((ntohl(in->sin_addr.s_addr) >> 24) == 127) continue;
      char text[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
      address = text;
      break;
    }
    freeifaddrs(list);
  }
  return address;
}

// kelp-shim lives next to the kelp binary; else it is looked up in PATH.
std::string ShimBinary() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path shim = self.parent_path() / "kelp-shim";
    if (fs::exists(shim, ec)) return shim.string();
  }
  return "kelp-shim";
}

}  // namespace

struct Agent::Parts {
  std::unique_ptr<client::HttpsApiClient> client;
  RealClock clock;
  SubprocessRunner runner;
  std::unique_ptr<kelp::images::ImageStore> images;
  std::unique_ptr<ContainerRuntime> runtime;
  std::unique_ptr<Kubelet> kubelet;
  std::unique_ptr<client::InformerFactory> proxy_informers;
  std::unique_ptr<proxy::LibNftables> nftables;
  std::unique_ptr<proxy::NetfilterConntrack> conntrack;
  std::unique_ptr<proxy::ServiceProxy> proxy;
  std::unique_ptr<RuntimeContainerLookup> lookup;
  std::unique_ptr<KubeletServer> kubelet_server;
  std::mutex flannel_mutex;  // guards flannel, flannel_stopping
  std::unique_ptr<flannel::FlannelNode> flannel;
  bool flannel_stopping = false;
  std::atomic<bool> flannel_cancel{false};  // the start thread gives up waiting when set
  std::thread flannel_thread;  // starts flannel: it waits for the ConfigMap and the podCIDR
};

Agent::Agent(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
Agent::~Agent() { Stop(); }

Kubelet& Agent::kubelet() { return *parts_->kubelet; }
ContainerRuntime& Agent::runtime() { return *parts_->runtime; }

void Agent::Stop() {
  if (!parts_) return;
  parts_->flannel_cancel = true;
  if (parts_->flannel_thread.joinable()) parts_->flannel_thread.join();
  {
    std::lock_guard lock(parts_->flannel_mutex);
    parts_->flannel_stopping = true;
    if (parts_->flannel) parts_->flannel->Stop();
  }
  if (parts_->kubelet_server) parts_->kubelet_server->Stop();
  if (parts_->proxy) parts_->proxy->Stop();
  if (parts_->proxy_informers) parts_->proxy_informers->Stop();
  if (parts_->kubelet) parts_->kubelet->Stop();
}

namespace {

// The kubelet API (logs, exec, stats) with a serving certificate the API server signs for the
// agent token. Without it the node still runs pods, so a failure is a warning, not fatal.
void StartKubeletServer(Agent::Parts& parts, const AgentOptions& options,
                        const std::string& node_name, const std::string& node_ip) {
  Result<KubeletCertificate> certificate =
      RequestKubeletCertificate(*parts.client, node_name, {node_ip});
  Result<KubeletCertificateFiles> files =
      certificate.ok() ? WriteKubeletCertificate(fs::path(options.data_dir) / "kubelet", *certificate)
                       : Result<KubeletCertificateFiles>(certificate.status());
  if (!files.ok()) {
    spdlog::warn("agent: no kubelet API (kubectl logs/exec/top will fail): certificate: {}",
                 files.status().ToString());
    return;
  }
  parts.lookup = std::make_unique<RuntimeContainerLookup>(*parts.runtime);
  Result<std::unique_ptr<KubeletServer>> server =
      KubeletServer::Start({.bind_address = "0.0.0.0",
                            .port = options.kubelet_port,
                            .cert_path = files->cert_path,
                            .key_path = files->key_path,
                            .client_ca_pem = files->ca_pem,
                            .node_name = node_name},
                           *parts.runtime, *parts.lookup);
  if (!server.ok()) {
    spdlog::warn("agent: no kubelet API (kubectl logs/exec/top will fail): {}",
                 server.status().ToString());
    return;
  }
  parts.kubelet_server = std::move(*server);
  spdlog::info("agent: kubelet API on port {}", parts.kubelet_server->port());
}

// flannel, when the server published its network configuration. Started on a thread of its
// own (in this process' network namespace): it waits for node-ipam's podCIDR, and pods wait for
// its CNI configuration meanwhile (their sync is retried).
void StartFlannel(Agent::Parts& parts, const AgentOptions& options, const std::string& node_name,
                  const std::string& node_ip) {
  Result<boost::json::object> config =
      parts.client->Get(client::kConfigMaps, "kube-system", "kube-flannel-cfg");
  if (!config.ok()) {
    spdlog::info("agent: no kube-system/kube-flannel-cfg ({}): flannel not started, pods use the "
                 "CNI configuration in {}",
                 config.status().message(), options.cni_conf_dir);
    return;
  }
  flannel::FlannelOptions flannel_options;
  flannel_options.node_name = node_name;
  flannel_options.node_ip = node_ip;
  flannel_options.iface = options.flannel_iface;
  flannel_options.cni.conf_dir = options.cni_conf_dir;
  flannel_options.cni.bin_dir = options.cni_bin_dir;
  flannel_options.cancel = &parts.flannel_cancel;
  parts.flannel_thread = std::thread([&parts, flannel_options = std::move(flannel_options)] {
    Result<std::unique_ptr<flannel::FlannelNode>> node =
        flannel::FlannelNode::StartWithKernel(*parts.client, flannel_options);
    if (!node.ok()) {
      if (node.status().code() == StatusCode::kCancelled) {
        spdlog::info("agent: flannel: stopped before it could start");
      } else {
        spdlog::error("agent: flannel: {}", node.status().ToString());
      }
      return;
    }
    spdlog::info("agent: flannel up, subnet {}", (*node)->subnet().ToString());
    std::lock_guard lock(parts.flannel_mutex);
    if (parts.flannel_stopping) {
      (*node)->Stop();
      return;
    }
    parts.flannel = std::move(*node);
  });
}

}  // namespace

Result<std::unique_ptr<Agent>> Agent::Start(const AgentOptions& options) {
  auto parts = std::make_unique<Parts>();
  const std::string node_name = options.node_name.empty() ? Hostname() : options.node_name;
  const std::string node_ip = options.node_ip.empty() ? DefaultNodeIp() : options.node_ip;
  KELP_ASSIGN_OR_RETURN(client::ClientConfig config, AgentClientConfig(options.connection));
  KELP_ASSIGN_OR_RETURN(parts->client, client::HttpsApiClient::Create(std::move(config)));
  const fs::path data_dir = options.data_dir;
  KELP_ASSIGN_OR_RETURN(parts->images, kelp::images::ImageStore::Open(data_dir / "images"));
  RuntimeOptions runtime_options{
      .node_name = node_name,
      .state_dir = data_dir / "runtime",
      .runc_root = fs::path(options.run_dir) / "runc",
      .run_state_dir = fs::path(options.run_dir) / "runtime",
      .sealed_runc = options.sealed_runc,
      .shim_binary = ShimBinary(),
      .pod_log_dir = options.pod_log_dir,
      .cgroup_parent = options.cgroup_root + "/" + node_name,
      .node_stats_cgroup = options.node_stats_cgroup,
  };
  runtime_options.cni.conf_dir = options.cni_conf_dir;
  runtime_options.cni.bin_dirs = {options.cni_bin_dir};
  KELP_ASSIGN_OR_RETURN(parts->runtime,
                        ContainerRuntime::Open(runtime_options, parts->runner, *parts->images));
  const RecoveryReport& recovery = parts->runtime->recovery();
  spdlog::info(
      "agent: runtime open: {} sandboxes, {} containers adopted; {} orphan containers, "
      "{} orphan sandboxes removed",
      recovery.sandboxes.size(), recovery.containers.size(),
      recovery.removed_orphan_containers.size(), recovery.removed_orphan_sandboxes.size());

  KELP_ASSIGN_OR_RETURN(NodeDescription node, DescribeMachine(node_name, node_ip));
  node.container_runtime_version = "runc://kelp";
  parts->kubelet = std::make_unique<Kubelet>(*parts->client, parts->clock, *parts->runtime,
                                             *parts->images, std::move(node));
  KELP_RETURN_IF_ERROR(parts->kubelet->Start());

  if (!options.disable_proxy) {
    proxy::ServiceProxyOptions proxy_options;
    KELP_ASSIGN_OR_RETURN(
        proxy_options.proxier.ruleset,
        proxy::NodeRulesetOptions(
            {.node_name = node_name, .node_ip = node_ip, .cluster_cidr = options.cluster_cidr}));
    KELP_ASSIGN_OR_RETURN(parts->nftables, proxy::LibNftables::Create());
    KELP_RETURN_IF_ERROR(parts->nftables->Apply(std::string("add table ") + proxy::kTable)
                             .WithContext("service proxy: cannot program nftables"));
    KELP_ASSIGN_OR_RETURN(parts->conntrack, proxy::NetfilterConntrack::Create());
    parts->proxy_informers = std::make_unique<client::InformerFactory>(*parts->client);
    parts->proxy = std::make_unique<proxy::ServiceProxy>(
        *parts->proxy_informers, *parts->nftables, *parts->conntrack, parts->clock, proxy_options);
    parts->proxy_informers->Start();
    parts->proxy->Start();
  }
  if (!options.disable_flannel) StartFlannel(*parts, options, node_name, node_ip);
  if (!options.disable_kubelet_server) StartKubeletServer(*parts, options, node_name, node_ip);
  spdlog::info("agent: node {} ({}) registered with {}{}", node_name, node_ip,
               options.connection.server, options.disable_proxy ? ", service proxy disabled" : "");
  return std::unique_ptr<Agent>(new Agent(std::move(parts)));
}

Status RunAgent(const AgentOptions& options) {
  // Blocked before any thread starts, so every thread inherits the mask and sigwait gets them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<Agent> agent, Agent::Start(options));
  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("agent: signal {}, stopping (containers keep running)", signal);
  agent->Stop();
  return Status::Ok();
}

}  // namespace kelp::agent
