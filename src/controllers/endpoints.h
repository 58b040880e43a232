// The endpoints controller, as Kubernetes' pkg/controller/endpoint: for every Service with a
// selector, an Endpoints object of the same name listing the matching pods — ready ones under
// addresses, the others under notReadyAddresses (ip, nodeName, targetRef) — with the ports
// each pod serves (targetPort as a number or a named container port). Services without a
// selector keep the Endpoints their users write. Also the pod→Service helpers the
// endpointslice controller shares.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/selectors.h"
#include "client/work_queue.h"
#include "controllers/controller.h"
#include "controllers/object_meta.h"
#include "controllers/queue_workers.h"

namespace kelp::controllers {

// The selector a Service's spec.selector map stands for; nullopt when it has none (such
// Services' endpoints are managed by their users).
std::optional<api::LabelSelector> ServiceSelector(const boost::json::object& service);
// The pods of the Service's namespace its selector picks (none without a selector).
std::vector<client::ObjectPtr> SelectedPods(client::Informer& pods,
                                            const boost::json::object& service);
// The port a Service port reaches on `pod`: targetPort as a number, a named container port,
// or the port itself; nullopt when the pod has no container port of that name.
std::optional<int64_t> ResolveTargetPort(const boost::json::object& service_port,
                                         const boost::json::object& pod);
// An endpoint's reference to its pod: {kind: Pod, namespace, name, uid}.
boost::json::object PodTargetRef(const boost::json::object& pod);
// Informer handlers for pods that queue every Service whose selector matches the pod's old
// or new labels.
client::InformerHandlers ServicesOfPodHandlers(client::Informer& services,
                                               client::WorkQueue& queue);
// Handlers that queue an object's own key.
client::InformerHandlers EnqueueHandlers(client::WorkQueue& queue);

class EndpointsController final : public Controller {
 public:
  explicit EndpointsController(ControllerContext& context);
  std::string_view name() const override { return "endpoints-controller"; }
  void Start() override;
  void Stop() override;

  // Brings the Endpoints of Service "ns/name" in line with its pods.
  Status Sync(const std::string& key);

 private:
  ControllerContext& context_;
  client::Informer& services_;
  client::Informer& pods_;
  client::WorkQueue queue_;
  QueueWorkers workers_;
};

}  // namespace kelp::controllers
