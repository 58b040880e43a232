// `kelp`: one binary, several commands. This file only parses the command line (CLI11) and
// hands over to the component that implements each command; commands arrive as their
// components do.
#include <cctype>
#include <csignal>
#include <filesystem>
#include <cstdio>
#include <map>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "agent/agent.h"
#include "agent/hollow_command.h"
#include "agent/images/command.h"
#include "apiserver/server.h"
#include "bgp/command.h"
#include "common/file.h"
#include "common/log.h"
#include "controllers/manager.h"
#include "flannel/command.h"
#include "lab/command.h"
#include "proxy/command.h"
#include "version.h"

namespace {

int RunVersion() {
  std::printf("kelp version v%s (commit %s)\n", kelp::kVersion, kelp::kGitCommit);
  std::printf("Kubernetes API compatibility: v1.32\n");
  return 0;
}

// Flags in k3s style, as `kelp server --help` shows them.
void AddServerFlags(CLI::App& cmd, kelp::apiserver::ServerOptions& options) {
  cmd.add_option("--data-dir", options.data_dir, "Directory for the store, TLS material, token")
      ->capture_default_str();
  cmd.add_option("--bind-address", options.bind_address, "Address the API listens on")
      ->capture_default_str();
  cmd.add_option("--https-listen-port", options.https_port, "HTTPS port of the API")
      ->capture_default_str();
  cmd.add_option("--advertise-address", options.advertise_address,
                 "Address clients and nodes reach the API on (default 127.0.0.1)");
  cmd.add_option("--tls-san", options.tls_sans,
                 "Extra IP or DNS name for the serving certificate (repeatable)");
  cmd.add_option("--token", options.token,
                 "Cluster token (default: <data-dir>/token, generated once)");
  cmd.add_option("--write-kubeconfig", options.write_kubeconfig,
                 "Where to write the admin kubeconfig (default <data-dir>/kubeconfig.yaml)");
  cmd.add_option("--cluster-cidr", options.cluster_cidr, "IPv4 network for pod IPs")
      ->capture_default_str();
  cmd.add_option("--service-cidr", options.service_cidr, "IPv4 network for Service ClusterIPs")
      ->capture_default_str();
  cmd.add_option("--service-node-port-range", options.service_node_port_range,
                 "Port range reserved for NodePort Services")
      ->capture_default_str();
  cmd.add_option("--flannel-backend", options.flannel_backend,
                 "One of vxlan, host-gw, udp or none")
      ->capture_default_str();
  cmd.add_option("--default-not-ready-toleration-seconds",
                 options.defaulting.not_ready_toleration_seconds,
                 "tolerationSeconds of the not-ready:NoExecute toleration given to pods without one")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd.add_option("--default-unreachable-toleration-seconds",
                 options.defaulting.unreachable_toleration_seconds,
                 "tolerationSeconds of the unreachable:NoExecute toleration given to pods without one")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd.add_flag("--disable-agent", options.disable_agent,
               "Do not run the embedded node agent");
}

// The embedded agent's flags (`kelp server`) and the same ones of `kelp agent`.
void AddAgentNodeFlags(CLI::App& cmd, kelp::agent::AgentOptions& options, bool embedded) {
  cmd.add_option("--node-name", options.node_name, "Node name (default: the hostname)");
  cmd.add_option("--node-ip", options.node_ip,
                 "Node InternalIP (default: the address of the default route's interface)");
  CLI::Option* data_dir =
      cmd.add_option(embedded ? "--agent-data-dir" : "--data-dir", options.data_dir,
                     embedded ? "The embedded agent's data directory (default <data-dir>/agent)"
                              : "Agent data directory (images, runtime state)");
  if (!embedded) data_dir->capture_default_str();
  cmd.add_option("--cni-bin-dir", options.cni_bin_dir, "Where CNI plugin binaries are")
      ->capture_default_str();
  cmd.add_option("--cni-conf-dir", options.cni_conf_dir,
                 "CNI configuration directory (the first conflist is used)")
      ->capture_default_str();
  cmd.add_option("--run-dir", options.run_dir, "Runtime state in tmpfs (runc's root is <dir>/runc)")
      ->capture_default_str();
  cmd.add_option("--pod-log-dir", options.pod_log_dir, "Container logs (CRI format)")
      ->capture_default_str();
  cmd.add_option("--cgroup-root", options.cgroup_root,
                 "Pods' cgroups go under <cgroup-root>/<node-name>/")
      ->capture_default_str();
  cmd.add_flag(embedded ? "--disable-kube-proxy" : "--disable-proxy", options.disable_proxy,
               "Do not run the Service proxy in the agent");
  if (!embedded) {
    // The server's agent follows the server's --flannel-backend (none: no flannel).
    cmd.add_flag("--disable-flannel", options.disable_flannel,
                 "Run no flannel even when the server publishes kube-flannel-cfg; pods use the "
                 "CNI conf dir as is");
  }
  cmd.add_option("--flannel-iface", options.flannel_iface,
                 "flannel's uplink interface (default: the one holding the node IP)");
  cmd.add_flag("--disable-kubelet-api", options.disable_kubelet_server,
               "Serve no kubelet API on :10250 (then kubectl logs/exec/top fail)");
  cmd.add_option("--node-stats-cgroup", options.node_stats_cgroup,
                 "cgroup whose usage `kubectl top node` shows: / is the whole machine; an empty "
                 "value, the node's pods only (nodes sharing a machine, as in kelp lab)")
      ->capture_default_str();
  cmd.add_flag("!--disable-sealed-runc", options.sealed_runc,
               "Run runc from its file, not from one sealed in-memory copy (saves the binary's "
               "size in memory; each container start then costs more CPU)");
}

// The controller-manager flags of kube-controller-manager that `kelp server` takes.
struct ControllerFlags {
  int node_monitor_grace_seconds = 40;
  int node_monitor_period_seconds = 5;
  int hpa_sync_period_seconds = 15;
  int hpa_downscale_stabilization_seconds = 300;
  bool disable_controllers = false;
};

void AddControllerFlags(CLI::App& cmd, ControllerFlags& flags) {
  cmd.add_option("--node-monitor-grace-period", flags.node_monitor_grace_seconds,
                 "How long a node's Lease may go unrenewed before it turns NotReady (e.g. 40s)")
      ->transform(CLI::AsNumberWithUnit(std::map<std::string, int>{{"s", 1}, {"m", 60}}))
      ->capture_default_str();
  const std::map<std::string, int> units{{"s", 1}, {"m", 60}};
  cmd.add_option("--node-monitor-period", flags.node_monitor_period_seconds,
                 "How often node health is checked (e.g. 5s)")
      ->transform(CLI::AsNumberWithUnit(units))
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--horizontal-pod-autoscaler-sync-period", flags.hpa_sync_period_seconds,
                 "How often each HorizontalPodAutoscaler is evaluated (e.g. 15s)")
      ->transform(CLI::AsNumberWithUnit(units))
      ->capture_default_str();
  cmd.add_option("--horizontal-pod-autoscaler-downscale-stabilization",
                 flags.hpa_downscale_stabilization_seconds,
                 "How long a scale-down waits for higher recent recommendations to pass (e.g. 5m)")
      ->transform(CLI::AsNumberWithUnit(units))
      ->capture_default_str();
  cmd.add_flag("--disable-controllers", flags.disable_controllers,
               "Serve the API only: no controllers, no scheduler");
}

// The API server, then the controllers and the scheduler over loopback HTTPS; SIGTERM or
// SIGINT stops the server, then the controllers.
int ServeApi(const kelp::apiserver::ServerOptions& options, const ControllerFlags& flags,
             kelp::agent::AgentOptions agent_options) {
  if (flags.disable_controllers && options.disable_agent) {
    kelp::Status status = kelp::apiserver::RunServer(options);
    if (!status.ok()) spdlog::error("server: {}", status.ToString());
    return status.ok() ? 0 : 1;
  }
  auto server = kelp::apiserver::Server::Start(options, {SIGTERM, SIGINT});
  if (!server.ok()) {
    spdlog::error("server: {}", server.status().ToString());
    return 1;
  }
  spdlog::info("serving the Kubernetes API on https://{}:{}", options.bind_address,
               (*server)->port());
  const std::string local_host = options.bind_address == "0.0.0.0" || options.bind_address == "::"
                                     ? "127.0.0.1"
                                     : options.bind_address;
  auto client = kelp::controllers::LoopbackClient((*server)->kubeconfig_path(), local_host,
                                                  (*server)->port());
  kelp::RealClock clock;
  kelp::controllers::ManagerOptions manager_options;
  manager_options.controllers.cluster_cidr = options.cluster_cidr;
  manager_options.controllers.node_monitor_grace_period =
      std::chrono::seconds(flags.node_monitor_grace_seconds);
  manager_options.controllers.node_monitor_period =
      std::chrono::seconds(flags.node_monitor_period_seconds);
  manager_options.controllers.hpa_sync_period = std::chrono::seconds(flags.hpa_sync_period_seconds);
  manager_options.controllers.hpa_downscale_stabilization =
      std::chrono::seconds(flags.hpa_downscale_stabilization_seconds);
  std::unique_ptr<kelp::controllers::ControllerManager> manager;
  if (!flags.disable_controllers) {
    auto started = client.ok() ? kelp::controllers::ControllerManager::Start(std::move(*client),
                                                                            clock, manager_options)
                               : client.status();
    if (!started.ok()) {
      spdlog::error("server: controllers: {}", started.status().ToString());
      (*server)->Stop();
      return 1;
    }
    manager = std::move(*started);
  }
  // The embedded agent connects like any other: the agent token and the server's CA.
  std::unique_ptr<kelp::agent::Agent> agent;
  if (!options.disable_agent) {
    const std::filesystem::path data_dir = options.data_dir;
    agent_options.connection.server = fmt::format("https://{}:{}", local_host, (*server)->port());
    kelp::Result<std::string> token = kelp::ReadFile(data_dir / "agent-token");
    agent_options.connection.token = token.ok() ? *token : "";
    while (!agent_options.connection.token.empty() &&
           std::isspace(static_cast<unsigned char>(agent_options.connection.token.back()))) {
      agent_options.connection.token.pop_back();
    }
    agent_options.connection.ca_file = (data_dir / "tls" / "ca.crt").string();
    if (agent_options.data_dir.empty()) agent_options.data_dir = (data_dir / "agent").string();
    agent_options.cluster_cidr = options.cluster_cidr;
    agent_options.disable_flannel = options.flannel_backend == "none";
    auto started = kelp::agent::Agent::Start(agent_options);
    if (!started.ok()) {
      spdlog::error("server: agent: {}", started.status().ToString());
      if (manager) manager->Stop();
      (*server)->Stop();
      return 1;
    }
    agent = std::move(*started);
  }
  spdlog::info("kubeconfig written to {}", (*server)->kubeconfig_path().string());
  (*server)->Wait();
  if (agent) agent->Stop();
  if (manager) manager->Stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kelp: a lightweight Kubernetes-compatible cluster with built-in pod networking",
               "kelp"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug, info, warn or error")->capture_default_str();

  CLI::App* version = app.add_subcommand("version", "Print the kelp version");
  kelp::apiserver::ServerOptions server_options;
  CLI::App* server = app.add_subcommand("server", "Run the Kubernetes API server");
  AddServerFlags(*server, server_options);
  ControllerFlags controller_flags;
  AddControllerFlags(*server, controller_flags);
  kelp::agent::AgentOptions embedded_agent_options;
  embedded_agent_options.data_dir.clear();  // <data-dir>/agent unless --agent-data-dir
  AddAgentNodeFlags(*server, embedded_agent_options, true);

  kelp::agent::HollowAgentOptions hollow_options;
  bool hollow = false;
  kelp::agent::AgentOptions agent_options;
  CLI::App* agent = app.add_subcommand("agent", "Run a node agent (kubelet, runtime, service proxy)");
  agent->add_flag("--hollow", hollow,
                  "Run hollow nodes: registered, heartbeating, pods reported Running, no containers");
  agent->add_option("--server", hollow_options.server, "API server URL, https://host:port")
      ->required();
  agent->add_option("--token", hollow_options.token,
                    "Bearer token: the server's <data-dir>/agent-token (K10...) or the cluster token")
      ->required();
  agent->add_option("--ca-file", hollow_options.ca_file,
                    "The server's CA certificate (not needed with a K10 agent token)");
  AddAgentNodeFlags(*agent, agent_options, false);
  agent->add_option("--count", hollow_options.nodes.count,
                    "Hollow nodes to run; with N > 1 they are <node-name>-0 ... <node-name>-<N-1>, "
                    "with InternalIPs --node-ip + i")
      ->capture_default_str();
  agent->add_option("--node-lease-duration-seconds", hollow_options.nodes.lease_duration_seconds,
                    "Hollow nodes: duration of each node's Lease; renewed every quarter of it")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  kelp::bgp::BgpCommandOptions bgp_options;
  CLI::App* bgp = app.add_subcommand("bgp", "Run a standalone BGP speaker");
  bgp->add_option("--config", bgp_options.config_path, "YAML configuration file");
  bgp->add_option("--control-socket", bgp_options.control_socket,
                  "Unix socket for `kelp bgp status`")
      ->capture_default_str();
  CLI::App* bgp_status = bgp->add_subcommand("status", "Print the peers and learned routes");
  bgp_status->add_option("--control-socket", bgp_options.control_socket,
                         "Unix socket of the running speaker")
      ->capture_default_str();

  kelp::lab::LabCommand lab(app);
  kelp::images::ImagesCommandOptions images_options;
  CLI::App* images =
      app.add_subcommand("images", "Manage the node's images (no registry: load image archives)");
  images->require_subcommand(1);
  auto add_data_dir = [&](CLI::App* cmd) {
    cmd->add_option("--data-dir", images_options.data_dir,
                    "Agent data directory; images live in <data-dir>/images")
        ->capture_default_str();
  };
  CLI::App* images_load = images->add_subcommand(
      "load", "Load images from a docker-archive (docker save) or OCI layout tarball");
  images_load->add_option("-i,--input", images_options.input,
                          "Archive to read (default: standard input)");
  images_load->add_option("--base-name", images_options.base_name,
                          "Repository for OCI images whose ref.name annotation is only a tag");
  add_data_dir(images_load);
  CLI::App* images_ls = images->add_subcommand("ls", "List images");
  images_ls->alias("list");
  images_ls->add_flag("-q,--quiet", images_options.quiet, "Only show image IDs");
  add_data_dir(images_ls);
  CLI::App* images_rm = images->add_subcommand("rm", "Remove images by reference or ID");
  images_rm->alias("rmi");
  images_rm->add_option("images", images_options.refs, "Image references or IDs")->required();
  images_rm->add_flag("-f,--force", images_options.force,
                      "Remove even if a mounted container root filesystem uses the image");
  add_data_dir(images_rm);
  CLI::App* images_prune = images->add_subcommand(
      "prune", "Remove images without a name, unused layers and leftovers of interrupted loads");
  add_data_dir(images_prune);
  kelp::agent::HollowAgentOptions proxy_connection;
  kelp::proxy::ProxyCommandOptions proxy_options;
  CLI::App* proxy = app.add_subcommand("proxy", "Run the Service proxy (kube-proxy) for one node");
  proxy->add_option("--server", proxy_connection.server, "API server URL, https://host:port");
  proxy->add_option("--token", proxy_connection.token, "Bearer token (agent token or cluster token)");
  proxy->add_option("--ca-file", proxy_connection.ca_file,
                    "The server's CA certificate (not needed with a K10 agent token)");
  proxy->add_option("--node-name", proxy_options.node_name, "This node's name");
  proxy->add_option("--node-ip", proxy_options.node_ip, "This node's IPv4 address");
  proxy->add_option("--nodeport-addresses", proxy_options.nodeport_addresses,
                    "CIDRs whose local addresses accept NodePorts, or 'primary' (default: --node-ip)")
      ->delimiter(',');
  proxy->add_option("--cluster-cidr", proxy_options.cluster_cidr,
                    "Pod network; traffic from outside it to ClusterIPs is masqueraded");
  proxy->add_option("--min-sync-period-ms", proxy_options.min_sync_period_ms,
                    "Shortest time between two rule updates")
      ->capture_default_str();
  proxy->add_option("--sync-period-seconds", proxy_options.sync_period_seconds,
                    "How often the whole table is rewritten from the API")
      ->capture_default_str();
  proxy->add_flag("--cleanup", proxy_options.cleanup, "Delete table ip kelp-proxy and exit");

  kelp::agent::HollowAgentOptions flannel_connection;
  kelp::flannel::FlannelCommandOptions flannel_options;
  int flannel_resync_seconds = 30;
  CLI::App* flannel =
      app.add_subcommand("flannel", "Run flannel (subnet lease + vxlan|host-gw|udp) for one node");
  flannel->add_option("--server", flannel_connection.server, "API server URL, https://host:port")
      ->required();
  flannel->add_option("--token", flannel_connection.token,
                      "Bearer token (agent token or cluster token)")
      ->required();
  flannel->add_option("--ca-file", flannel_connection.ca_file,
                      "The server's CA certificate (not needed with a K10 agent token)");
  flannel->add_option("--node-name", flannel_options.flannel.node_name, "This node's name")
      ->required();
  flannel->add_option("--node-ip", flannel_options.flannel.node_ip,
                      "This node's IPv4 address on the underlay (flannel's public-ip)")
      ->required();
  flannel->add_option("--iface", flannel_options.flannel.iface,
                      "Uplink interface (default: the one holding --node-ip)");
  flannel->add_option("--network", flannel_options.network,
                      "Pod network CIDR instead of the ConfigMap's (with --backend)");
  flannel->add_option("--backend", flannel_options.backend,
                      "vxlan, host-gw or udp instead of the ConfigMap's (with --network)");
  flannel->add_option("--subnet-file", flannel_options.flannel.subnet_file,
                      "Where to write subnet.env")
      ->capture_default_str();
  flannel->add_option("--cni-conf-dir", flannel_options.flannel.cni.conf_dir,
                      "Where to install the kelp-flannel conflist")
      ->capture_default_str();
  flannel->add_option("--cni-bin-dir", flannel_options.flannel.cni.bin_dir,
                      "Where to link kelp-flannel, kelp-bridge and kelp-ipam")
      ->capture_default_str();
  flannel->add_option("--kelp-cni", flannel_options.flannel.cni.kelp_cni_binary,
                      "The kelp-cni binary (default: next to kelp)");
  flannel->add_option("--resync-period", flannel_resync_seconds,
                      "Seconds between full sweeps of the kernel state (e.g. 30s)")
      ->transform(CLI::AsNumberWithUnit(std::map<std::string, int>{{"s", 1}, {"m", 60}}))
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  kelp::Result<spdlog::level::level_enum> level = kelp::log::ParseLevel(log_level);
  if (!level.ok()) {
    std::fprintf(stderr, "kelp: %s\n", level.status().ToString().c_str());
    return 2;
  }
  if (version->parsed()) return RunVersion();
  if (bgp_status->parsed()) return kelp::bgp::RunBgpStatus(bgp_options);
  if (lab.parsed()) return lab.Run();
  kelp::log::Init({.level = *level,
                   .component = server->parsed()  ? "server"
                                : bgp->parsed()   ? "bgp"
                                : agent->parsed() ? "agent"
                                : images->parsed() ? "images"
                                : proxy->parsed() ? "proxy"
                                : flannel->parsed() ? "flannel"
                                                  : ""});
  if (images_load->parsed()) return kelp::images::RunImagesLoad(images_options);
  if (images_ls->parsed()) return kelp::images::RunImagesList(images_options);
  if (images_rm->parsed()) return kelp::images::RunImagesRemove(images_options);
  if (images_prune->parsed()) return kelp::images::RunImagesPrune(images_options);
  if (server->parsed()) return ServeApi(server_options, controller_flags, embedded_agent_options);
  if (agent->parsed()) {
    if (!hollow) {
      agent_options.connection = hollow_options;
      kelp::Status status = kelp::agent::RunAgent(agent_options);
      if (!status.ok()) spdlog::error("agent: {}", status.ToString());
      return status.ok() ? 0 : 1;
    }
    if (agent_options.node_name.empty()) {
      std::fprintf(stderr, "kelp agent --hollow: --node-name is required\n");
      return 2;
    }
    hollow_options.nodes.node_name = agent_options.node_name;
    if (!agent_options.node_ip.empty()) hollow_options.nodes.node_ip = agent_options.node_ip;
    kelp::Status status = kelp::agent::RunHollowAgent(hollow_options);
    if (!status.ok()) spdlog::error("agent: {}", status.ToString());
    return status.ok() ? 0 : 1;
  }
  if (proxy->parsed()) {
    kelp::Status status = proxy_options.cleanup ? kelp::proxy::DeleteProxyTable() : [&] {
      kelp::Result<kelp::client::ClientConfig> config =
          kelp::agent::AgentClientConfig(proxy_connection);
      if (!config.ok()) return config.status();
      return kelp::proxy::RunProxy(std::move(*config), proxy_options);
    }();
    if (!status.ok()) spdlog::error("proxy: {}", status.ToString());
    return status.ok() ? 0 : 1;
  }
  if (flannel->parsed()) {
    flannel_options.flannel.resync_period = std::chrono::seconds(flannel_resync_seconds);
    kelp::Result<kelp::client::ClientConfig> config =
        kelp::agent::AgentClientConfig(flannel_connection);
    kelp::Status status = config.ok() ? kelp::flannel::RunFlannel(std::move(*config),
                                                                  std::move(flannel_options))
                                      : config.status();
    if (!status.ok()) spdlog::error("flannel: {}", status.ToString());
    return status.ok() ? 0 : 1;
  }
  if (bgp->parsed()) {
    if (bgp_options.config_path.empty()) {
      std::fprintf(stderr, "kelp bgp: --config is required\n");
      return 2;
    }
    return kelp::bgp::RunBgpSpeaker(bgp_options);
  }
  return 1;
}
