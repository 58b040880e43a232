// `kelp server`'s entry points: ServerOptions (the command-line surface), Server (start on a
// port, possibly 0, stop; used in-process by tests) and RunServer (serve until SIGTERM or
// SIGINT). Start-up prepares <data-dir>: TLS material, the cluster and agent tokens, the store
// (<data-dir>/db/state.db, with the default namespaces) and the kubeconfig.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "api/defaults.h"

#include "apiserver/router.h"
#include "common/clock.h"
#include "common/status.h"
#include "storage/store.h"

namespace kelp::apiserver {

class HttpsServer;
class KubeletConnector;
class MetricsApi;
class RestApi;
class ServiceAllocator;
class WatchCache;

struct ServerOptions {
  std::string data_dir = "/var/lib/kelp/server";
  std::string bind_address = "0.0.0.0";
  uint16_t https_port = 6443;  // 0 picks a free port
  std::string advertise_address;  // address put in the kubeconfig; 127.0.0.1 when empty
  std::vector<std::string> tls_sans;  // extra IPs / DNS names for the serving certificate
  std::string token;  // cluster bearer token; empty: <data-dir>/token, created once
  std::string write_kubeconfig;  // empty: <data-dir>/kubeconfig.yaml
  std::string cluster_cidr = "10.244.0.0/16";  // pod network; validated, used by node IPAM later
  std::string service_cidr = "10.96.0.0/12";   // ClusterIPs (allocator.h)
  std::string service_node_port_range = "30000-32767";
  std::string flannel_backend = "vxlan";  // vxlan | host-gw | udp | none; for the agent later
  bool disable_agent = false;  // no embedded agent (main.cc starts it otherwise)
  api::DefaultingOptions defaulting;  // DefaultTolerationSeconds
};

class Server {
 public:
  // Prepares the data directory, starts serving and writes the kubeconfig. `stop_signals`
  // (e.g. SIGTERM, SIGINT) stop the server when delivered to the process.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                               std::vector<int> stop_signals = {});
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();  // Stop()

  uint16_t port() const;
  const std::filesystem::path& kubeconfig_path() const { return kubeconfig_path_; }
  void Stop();
  // Blocks until the server has stopped.
  void Wait();

 private:
  Server() = default;

  // Declared in dependency order: the HTTPS server stops (and is destroyed) before the
  // handlers and the store it calls into.
  RealClock clock_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<ServiceAllocator> allocator_;
  std::unique_ptr<WatchCache> watch_cache_;
  std::unique_ptr<KubeletConnector> kubelets_;
  std::unique_ptr<MetricsApi> metrics_;
  std::unique_ptr<RestApi> rest_;
  std::unique_ptr<HttpsServer> https_;
  std::filesystem::path kubeconfig_path_;
};

// The request pipeline the server runs for every parsed request: bearer authentication
// against `token` (else a 401 Status), then `routes`.
RequestHandler BuildRequestPipeline(const std::string& token, Router routes);
// The same accepting any of `tokens` (the cluster token and the agent token).
RequestHandler BuildRequestPipeline(const std::vector<std::string>& tokens, Router routes);
// The same with the routes that need no storage (version, health, discovery).
RequestHandler BuildRequestPipeline(const std::string& token);

// Serves until SIGTERM or SIGINT, then stops accepting, closes connections and returns OK.
Status RunServer(const ServerOptions& options);

}  // namespace kelp::apiserver
