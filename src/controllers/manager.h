// ControllerManager: what `kelp server` runs beside the API — every controller plus the
// scheduler, as kube-controller-manager and kube-scheduler would, talking to the API only
// through an ApiClient (in `kelp server`, HTTPS over loopback with the admin credentials of
// the kubeconfig the server wrote). It shares one InformerFactory among them, starts the
// informers, waits until they synced, then starts the controllers; Stop() stops the
// controllers first, then the informers.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <vector>

#include "client/api_client.h"
#include "client/informer.h"
#include "common/clock.h"
#include "common/status.h"
#include "controllers/controller.h"

namespace kelp::controllers {

struct ManagerOptions {
  ControllerOptions controllers;
  bool run_scheduler = true;
  std::chrono::milliseconds sync_timeout{30000};
};

class ControllerManager {
 public:
  // Takes `client` over; the controllers use it and `clock` for as long as the manager runs.
  // Unavailable if the informers do not sync within options.sync_timeout.
  static Result<std::unique_ptr<ControllerManager>> Start(std::unique_ptr<client::ApiClient> client,
                                                          Clock& clock, ManagerOptions options);
  ~ControllerManager();  // Stop()
  ControllerManager(const ControllerManager&) = delete;
  ControllerManager& operator=(const ControllerManager&) = delete;

  void Stop();
  // Names of the running controllers, in start order.
  std::vector<std::string> controller_names() const;

 private:
  ControllerManager(std::unique_ptr<client::ApiClient> client, Clock& clock,
                    ControllerOptions options);

  // Declared in dependency order: controllers go before the informers and the client.
  std::unique_ptr<client::ApiClient> client_;
  client::InformerFactory informers_;
  ControllerContext context_;
  std::vector<std::unique_ptr<Controller>> controllers_;
  bool stopped_ = false;
};

// An ApiClient for the server's own controllers: the CA and token of the kubeconfig the
// server wrote, pointed at https://`host`:`port` (the server's own listening address).
Result<std::unique_ptr<client::ApiClient>> LoopbackClient(
    const std::filesystem::path& kubeconfig_path, const std::string& host, uint16_t port);

}  // namespace kelp::controllers
