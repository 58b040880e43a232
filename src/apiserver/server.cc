// Wires the apiserver together: PKI, token, store and kubeconfig on disk, then the request
// pipeline (bearer authentication → Router: core routes, discovery, REST) on an HttpsServer.
#include "apiserver/server.h"

#include <malloc.h>

#include <csignal>

#include <spdlog/spdlog.h>

#include "api/printers.h"
#include "api/defaults.h"
#include "api/validation.h"
#include "apiserver/allocator.h"
#include "apiserver/core_routes.h"
#include "apiserver/discovery.h"
#include "apiserver/flannel_config.h"
#include "apiserver/https_server.h"
#include "apiserver/kubeconfig.h"
#include "apiserver/kubelet_certificates.h"
#include "apiserver/kubelet_proxy.h"
#include "apiserver/metrics_api.h"
#include "apiserver/kubernetes_service.h"
#include "apiserver/openapi_routes.h"
#include "apiserver/pki.h"
#include "apiserver/rest.h"
#include "apiserver/router.h"
#include "apiserver/token.h"
#include "apiserver/watch_cache.h"
#include "common/file.h"
#include "storage/sqlite/sqlite_store.h"

namespace kelp::apiserver {

namespace {

Router StoragelessRoutes() {
  Router router;
  AddCoreRoutes(router);
  AddDiscoveryRoutes(router);
  AddOpenApiRoutes(router);
  return router;
}

// src/api's pieces as ResourceHooks. Validation and defaulting join once they land there.
// src/api's per-resource behaviour: Kubernetes' defaulting, validation and Table columns.
ResourceHooks ApiHooks(const ResourceInfo& resource, const Clock& clock,
                       const api::DefaultingOptions& defaulting) {
  ResourceHooks hooks;
  hooks.defaulting = [&resource, defaulting](boost::json::object& object) {
    api::ApplyDefaults(resource.group, resource.plural, object, defaulting);
  };
  hooks.validate_create = [&resource](const boost::json::object& object) {
    return api::ValidateObject(resource.group, resource.plural, object, resource.namespaced);
  };
  hooks.validate_update = [&resource](const boost::json::object& old_object,
                                      const boost::json::object& updated) {
    return api::ValidateUpdate(resource.group, resource.plural, old_object, updated,
                               resource.namespaced);
  };
  hooks.print_table = [&resource, &clock](const std::vector<const boost::json::object*>& objects,
                                          const TableRequest& request)
      -> Result<boost::json::object> {
    KELP_ASSIGN_OR_RETURN(api::TableObjectKind include,
                          api::ParseIncludeObject(request.include_object));
    return api::BuildTable(resource.plural, resource.group, objects,
                           {.include_object = include,
                            .resource_version = request.resource_version,
                            .continue_token = request.continue_token},
                           clock);
  };
  hooks.table_writer = [&resource, &clock](const TableRequest& request)
      -> Result<std::unique_ptr<api::TableTextWriter>> {
    KELP_ASSIGN_OR_RETURN(api::TableObjectKind include,
                          api::ParseIncludeObject(request.include_object));
    return std::make_unique<api::TableTextWriter>(
        resource.plural, resource.group,
        api::TableOptions{.include_object = include,
                          .resource_version = request.resource_version,
                          .continue_token = request.continue_token},
        clock);
  };
  return hooks;
}

// Checks the network flags before anything touches the data directory; returns what the
// Service allocator needs.
Result<ServiceNetwork> ParseNetworkOptions(const ServerOptions& options) {
  if (Result<Ipv4Cidr> cluster = ParseIpv4Cidr(options.cluster_cidr); !cluster.ok()) {
    return InvalidArgumentError("--cluster-cidr " + cluster.status().message());
  }
  const std::string& backend = options.flannel_backend;
  if (backend != "vxlan" && backend != "host-gw" && backend != "udp" && backend != "none") {
    return InvalidArgumentError("--flannel-backend " + backend +
                                ": must be one of vxlan, host-gw, udp, none");
  }
  return ParseServiceNetwork(options.service_cidr, options.service_node_port_range);
}

}  // namespace

RequestHandler BuildRequestPipeline(const std::string& token, Router routes) {
  return BuildRequestPipeline(std::vector<std::string>{token}, std::move(routes));
}

RequestHandler BuildRequestPipeline(const std::vector<std::string>& tokens, Router routes) {
  return [authenticator = BearerTokenAuthenticator(tokens),
          router = std::move(routes)](const HttpRequest& request) {
    if (!authenticator.Authenticate(request.Header("Authorization"))) {
      return StatusFailureResponse(401, "Unauthorized", "Unauthorized");
    }
    return router.Handle(request);
  };
}

RequestHandler BuildRequestPipeline(const std::string& token) {
  return BuildRequestPipeline(token, StoragelessRoutes());
}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                              std::vector<int> stop_signals) {
  // Process-wide, but so is the server. glibc gives each thread an arena (up to 8 per core), and
  // each arena keeps freed memory mapped. With 2 arenas (tried to keep RSS low) the handler
  // threads queued on the arena locks: api_bench's creates spent ~25 % of CPU in futex waits and
  // wake-ups around malloc. 16 arenas cost ~10 MB more RSS at 10k pods and allow ~20 % more
  // creates per second.
  mallopt(M_ARENA_MAX, 16);
  // A fixed threshold (glibc's own grows with every large free) keeps the multi-megabyte
  // buffers of big LIST responses in mmap, handed back to the kernel when freed.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  KELP_ASSIGN_OR_RETURN(ServiceNetwork network, ParseNetworkOptions(options));
  const std::filesystem::path data_dir = options.data_dir;
  KELP_RETURN_IF_ERROR(CreateDirectories(data_dir, 0700));
  KELP_ASSIGN_OR_RETURN(
      PkiFiles pki,
      EnsurePki(data_dir / "tls", ServingCertificateNames(options.bind_address,
                                                          options.advertise_address,
                                                          options.tls_sans)));
  KELP_ASSIGN_OR_RETURN(std::string token, LoadOrCreateToken(data_dir, options.token));
  KELP_ASSIGN_OR_RETURN(std::string agent_token,
                        LoadOrCreateAgentToken(data_dir, pki.ca_cert_pem));

  std::unique_ptr<Server> server(new Server());
  KELP_RETURN_IF_ERROR(CreateDirectories(data_dir / "db", 0700));
  KELP_ASSIGN_OR_RETURN(server->store_,
                        storage::sqlite::SqliteStore::Open((data_dir / "db" / "state.db").string()));
  // Rebuilt from the stored Services before serving, so no address or port is handed out twice.
  server->allocator_ = std::make_unique<ServiceAllocator>(network);
  KELP_RETURN_IF_ERROR(RestoreServiceAllocations(*server->store_, *server->allocator_));
  KELP_ASSIGN_OR_RETURN(server->watch_cache_, WatchCache::Start(*server->store_));
  const Clock& clock = server->clock_;
  // Logs, exec and metrics come from the node agents' kubelet servers (mutual TLS).
  KELP_ASSIGN_OR_RETURN(KubeletClientFiles kubelet_client,
                        EnsureKubeletClientCertificate(data_dir / "tls"));
  server->kubelets_ = std::make_unique<KubeletConnector>(
      UpstreamTls{.ca_pem = pki.ca_cert_pem,
                  .client_cert_pem = kubelet_client.cert_pem,
                  .client_key_pem = kubelet_client.key_pem});
  server->metrics_ = std::make_unique<MetricsApi>(
      *server->store_,
      [kubelets = server->kubelets_.get()](const boost::json::object& node) {
        return kubelets->StatsSummary(node, std::chrono::seconds(5));
      },
      clock);
  server->rest_ = std::make_unique<RestApi>(
      *server->store_, clock,
      RestOptions{.hooks = [&clock, defaulting = options.defaulting](const ResourceInfo& resource) {
                    return ApiHooks(resource, clock, defaulting);
                  },
                  .service_allocator = server->allocator_.get(),
                  .watch_cache = server->watch_cache_.get(),
                  .kubelets = server->kubelets_.get()});
  KELP_RETURN_IF_ERROR(server->rest_->EnsureDefaultNamespaces());
  Router routes = StoragelessRoutes();
  server->rest_->AddRoutes(routes);
  server->metrics_->AddRoutes(routes);
  AddKubeletCertificateRoutes(routes, data_dir / "tls");

  HttpsServerOptions https_options{.bind_address = options.bind_address,
                                   .port = options.https_port,
                                   .cert_path = pki.serving_cert_path,
                                   .key_path = pki.serving_key_path,
                                   .stop_signals = std::move(stop_signals)};
  KELP_ASSIGN_OR_RETURN(server->https_,
                        HttpsServer::Start(https_options,
                                           BuildRequestPipeline({token, agent_token},
                                                                std::move(routes))));

  // Clients in pods reach the API at the first service address, as in Kubernetes.
  const std::string endpoint_ip =
      !options.advertise_address.empty() ? options.advertise_address
      : options.bind_address != "0.0.0.0" ? options.bind_address
                                          : "127.0.0.1";
  if (Status service = EnsureKubernetesService(*server->rest_, server->allocator_->network(),
                                               endpoint_ip, server->https_->port());
      !service.ok()) {
    // As kube-apiserver does, serve anyway: e.g. a Service of a user may hold the address.
    spdlog::warn("the kubernetes Service: {}", service.ToString());
  }
  if (Status flannel = EnsureFlannelConfig(*server->rest_, options.cluster_cidr,
                                           options.flannel_backend);
      !flannel.ok()) {
    spdlog::warn("the flannel ConfigMap: {}", flannel.ToString());
  }
  std::filesystem::path kubeconfig_path = options.write_kubeconfig.empty()
                                              ? data_dir / "kubeconfig.yaml"
                                              : std::filesystem::path(options.write_kubeconfig);
  KubeconfigParams kubeconfig{
      .server_host = options.advertise_address.empty() ? "127.0.0.1" : options.advertise_address,
      .server_port = server->https_->port(),
      .ca_cert_pem = pki.ca_cert_pem,
      .token = token};
  KELP_RETURN_IF_ERROR(WriteKubeconfig(kubeconfig_path, kubeconfig)
                           .WithContext("write kubeconfig " + kubeconfig_path.string()));
  server->kubeconfig_path_ = std::move(kubeconfig_path);
  return server;
}

Server::~Server() { Stop(); }

uint16_t Server::port() const { return https_->port(); }

void Server::Stop() {
  if (https_) https_->Stop();
}

void Server::Wait() {
  if (https_) https_->Wait();
}

Status RunServer(const ServerOptions& options) {
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<Server> server,
                        Server::Start(options, {SIGTERM, SIGINT}));
  spdlog::info("serving the Kubernetes API on https://{}:{}", options.bind_address,
               server->port());
  spdlog::info("kubeconfig written to {}", server->kubeconfig_path().string());
  server->Wait();
  spdlog::info("stopped");
  return Status::Ok();
}

}  // namespace kelp::apiserver
