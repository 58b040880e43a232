// ControllerManager: constructs each controller over the shared informers, starts them once
// the informers synced, and stops them in reverse order (see manager.h).
#include "controllers/manager.h"

#include <spdlog/spdlog.h>

#include "client/https_client.h"
#include "controllers/deployment.h"
#include "controllers/endpoints.h"
#include "controllers/endpointslice.h"
#include "controllers/garbage_collector.h"
#include "controllers/hpa.h"
#include "controllers/namespace.h"
#include "controllers/node_ipam.h"
#include "controllers/node_lifecycle.h"
#include "controllers/replicaset.h"
#include "scheduler/scheduler.h"

namespace kelp::controllers {

ControllerManager::ControllerManager(std::unique_ptr<client::ApiClient> client, Clock& clock,
                                     ControllerOptions options)
    : client_(std::move(client)),
      informers_(*client_),
      context_{.client = *client_, .informers = informers_, .clock = clock, .options = options} {}

Result<std::unique_ptr<ControllerManager>> ControllerManager::Start(
    std::unique_ptr<client::ApiClient> client, Clock& clock, ManagerOptions options) {
  std::unique_ptr<ControllerManager> manager(
      new ControllerManager(std::move(client), clock, options.controllers));
  // Each controller registers its informer handlers while it is constructed.
  ControllerContext& context = manager->context_;
  auto& controllers = manager->controllers_;
  controllers.push_back(std::make_unique<ReplicaSetController>(context));
  controllers.push_back(std::make_unique<DeploymentController>(context));
  controllers.push_back(std::make_unique<GarbageCollector>(context));
  controllers.push_back(std::make_unique<NamespaceController>(context));
  controllers.push_back(std::make_unique<EndpointsController>(context));
  controllers.push_back(std::make_unique<EndpointSliceController>(context));
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<NodeIpamController> node_ipam,
                        NodeIpamController::Create(context));
  controllers.push_back(std::move(node_ipam));
  controllers.push_back(std::make_unique<NodeLifecycleController>(context));
  controllers.push_back(std::make_unique<HorizontalPodAutoscalerController>(context));
  if (options.run_scheduler) {
    manager->controllers_.push_back(std::make_unique<scheduler::Scheduler>(manager->context_));
  }
  manager->informers_.Start();
  if (!manager->informers_.WaitForSync(options.sync_timeout)) {
    manager->Stop();
    return UnavailableError("controller manager: informers did not sync within " +
                            std::to_string(options.sync_timeout.count()) + " ms");
  }
  for (const std::unique_ptr<Controller>& controller : manager->controllers_) {
    controller->Start();
  }
  spdlog::info("controller manager: started {}", fmt::join(manager->controller_names(), ", "));
  return manager;
}

ControllerManager::~ControllerManager() { Stop(); }

void ControllerManager::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto it = controllers_.rbegin(); it != controllers_.rend(); ++it) (*it)->Stop();
  informers_.Stop();
}

std::vector<std::string> ControllerManager::controller_names() const {
  std::vector<std::string> names;
  for (const std::unique_ptr<Controller>& controller : controllers_) {
    names.emplace_back(controller->name());
  }
  return names;
}

Result<std::unique_ptr<client::ApiClient>> LoopbackClient(
    const std::filesystem::path& kubeconfig_path, const std::string& host, uint16_t port) {
  KELP_ASSIGN_OR_RETURN(client::ClientConfig config, client::LoadKubeconfig(kubeconfig_path));
  config.server = "https://" + (host.find(':') == std::string::npos ? host : "[" + host + "]") +
                  ":" + std::to_string(port);
  config.user_agent = "kelp-controller-manager";
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<client::HttpsApiClient> client,
                        client::HttpsApiClient::Create(std::move(config)));
  return std::unique_ptr<client::ApiClient>(std::move(client));
}

}  // namespace kelp::controllers
