// Wires the apiserver together: PKI, token and kubeconfig on disk, then the request pipeline
// (bearer authentication → Router) on an HttpsServer.
#include "apiserver/server.h"

#include <csignal>

#include <spdlog/spdlog.h>

#include "apiserver/core_routes.h"
#include "common/file.h"
#include "apiserver/https_server.h"
#include "apiserver/kubeconfig.h"
#include "apiserver/pki.h"
#include "apiserver/router.h"
#include "apiserver/token.h"

namespace kelp::apiserver {

RequestHandler BuildRequestPipeline(const std::string& token) {
  Router router;
  AddCoreRoutes(router);
  return [authenticator = BearerTokenAuthenticator(token),
          router = std::move(router)](const HttpRequest& request) {
    if (!authenticator.Authenticate(request.Header("Authorization"))) {
      return StatusFailureResponse(401, "Unauthorized", "Unauthorized");
    }
    return router.Handle(request);
  };
}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                              std::vector<int> stop_signals) {
  const std::filesystem::path data_dir = options.data_dir;
  KELP_RETURN_IF_ERROR(CreateDirectories(data_dir, 0700));
  KELP_ASSIGN_OR_RETURN(
      PkiFiles pki,
      EnsurePki(data_dir / "tls", ServingCertificateNames(options.bind_address,
                                                          options.advertise_address,
                                                          options.tls_sans)));
  KELP_ASSIGN_OR_RETURN(std::string token, LoadOrCreateToken(data_dir, options.token));

  HttpsServerOptions https_options{.bind_address = options.bind_address,
                                   .port = options.https_port,
                                   .cert_path = pki.serving_cert_path,
                                   .key_path = pki.serving_key_path,
                                   .stop_signals = std::move(stop_signals)};
  KELP_ASSIGN_OR_RETURN(
      std::unique_ptr<HttpsServer> https,
      HttpsServer::Start(https_options, BuildRequestPipeline(token)));

  std::filesystem::path kubeconfig_path = options.write_kubeconfig.empty()
                                              ? data_dir / "kubeconfig.yaml"
                                              : std::filesystem::path(options.write_kubeconfig);
  KubeconfigParams kubeconfig{
      .server_host = options.advertise_address.empty() ? "127.0.0.1" : options.advertise_address,
      .server_port = https->port(),
      .ca_cert_pem = pki.ca_cert_pem,
      .token = token};
  KELP_RETURN_IF_ERROR(WriteKubeconfig(kubeconfig_path, kubeconfig)
                           .WithContext("write kubeconfig " + kubeconfig_path.string()));
  return std::unique_ptr<Server>(new Server(std::move(https), std::move(kubeconfig_path)));
}

Server::Server(std::unique_ptr<HttpsServer> https, std::filesystem::path kubeconfig_path)
    : https_(std::move(https)), kubeconfig_path_(std::move(kubeconfig_path)) {}

Server::~Server() { Stop(); }

uint16_t Server::port() const { return https_->port(); }

void Server::Stop() { https_->Stop(); }

void Server::Wait() { https_->Wait(); }

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
