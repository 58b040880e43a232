// `kelp`: one binary, several commands. This file only parses the command line (CLI11) and
// hands over to the component that implements each command; commands arrive as their
// components do (server and bgp now; agent, lab, images, kubectl later).
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "apiserver/server.h"
#include "bgp/command.h"
#include "common/log.h"
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
  cmd.add_flag("--disable-agent", options.disable_agent,
               "Do not run the embedded agent (there is none yet)");
}

int ServeApi(const kelp::apiserver::ServerOptions& options) {
  kelp::Status status = kelp::apiserver::RunServer(options);
  if (!status.ok()) {
    spdlog::error("server: {}", status.ToString());
    return 1;
  }
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

  CLI11_PARSE(app, argc, argv);

  kelp::Result<spdlog::level::level_enum> level = kelp::log::ParseLevel(log_level);
  if (!level.ok()) {
    std::fprintf(stderr, "kelp: %s\n", level.status().ToString().c_str());
    return 2;
  }
  if (version->parsed()) return RunVersion();
  if (bgp_status->parsed()) return kelp::bgp::RunBgpStatus(bgp_options);
  kelp::log::Init({.level = *level,
                   .component = server->parsed() ? "server" : bgp->parsed() ? "bgp" : ""});
  if (server->parsed()) return ServeApi(server_options);
  if (bgp->parsed()) {
    if (bgp_options.config_path.empty()) {
      std::fprintf(stderr, "kelp bgp: --config is required\n");
      return 2;
    }
    return kelp::bgp::RunBgpSpeaker(bgp_options);
  }
  return 1;
}
