// The endpointslice controller, as Kubernetes' pkg/controller/endpointslice: for every Service
// with a selector, discovery.k8s.io/v1 EndpointSlices (addressType IPv4, labels
// kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by, owned by the
// Service) listing its pods with conditions ready/serving/terminating, nodeName and targetRef.
// Pods serving the same ports share slices of at most 100 endpoints; a Service without pods
// keeps one empty slice. Slices of a deleted Service go with it through the garbage collector.
#pragma once

#include <string>

#include "client/work_queue.h"
#include "controllers/controller.h"
#include "controllers/object_meta.h"
#include "controllers/queue_workers.h"

namespace kelp::controllers {

inline constexpr std::string_view kManagedByLabel = "endpointslice.kubernetes.io/managed-by";
inline constexpr std::string_view kEndpointSliceController = "endpointslice-controller.k8s.io";
inline constexpr std::string_view kServiceNameLabel = "kubernetes.io/service-name";
inline constexpr size_t kMaxEndpointsPerSlice = 100;

class EndpointSliceController final : public Controller {
 public:
  explicit EndpointSliceController(ControllerContext& context);
  std::string_view name() const override { return "endpointslice-controller"; }
  void Start() override;
  void Stop() override;

  // Brings the slices of Service "ns/name" in line with its pods.
  Status Sync(const std::string& key);

 private:
  ControllerContext& context_;
  client::Informer& services_;
  client::Informer& pods_;
  client::WorkQueue queue_;
  QueueWorkers workers_;
};

}  // namespace kelp::controllers
