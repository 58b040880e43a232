// What every controller of `kelp server` shares: the context it is built from (the API client,
// the shared informers, the clock, the options from the command line) and the Controller
// interface the manager starts and stops. A controller registers its informer handlers in its
// constructor; the manager starts the informers, waits for them to sync, then calls Start().
// Controllers reconcile: handlers enqueue keys, workers call an idempotent Sync(key) and
// requeue with backoff on error (see STYLE.md §8).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "client/api_client.h"
#include "client/informer.h"
#include "common/clock.h"

namespace kelp::controllers {

struct ControllerOptions {
  std::string cluster_cidr = "10.244.0.0/16";
  int node_cidr_mask_size = 24;  // flannel's SubnetLen
  // A node whose Lease is not renewed for this long turns Ready=Unknown.
  std::chrono::seconds node_monitor_grace_period{40};
  // How often the node-lifecycle controller checks the nodes' health.
  std::chrono::seconds node_monitor_period{5};
  // How often each HorizontalPodAutoscaler is evaluated, and how long a scale-down waits for
  // the highest recent recommendation to pass (kube-controller-manager's defaults).
  std::chrono::seconds hpa_sync_period{15};
  std::chrono::seconds hpa_downscale_stabilization{300};
  int workers = 2;  // workers per controller
};

struct ControllerContext {
  client::ApiClient& client;
  client::InformerFactory& informers;
  Clock& clock;
  ControllerOptions options;
};

class Controller {
 public:
  virtual ~Controller() = default;
  virtual std::string_view name() const = 0;
  // Starts the workers; informers have synced.
  virtual void Start() = 0;
  // Stops the workers and waits for them.
  virtual void Stop() = 0;
};

}  // namespace kelp::controllers
