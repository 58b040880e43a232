// The namespace controller, as Kubernetes' pkg/controller/namespace: a Terminating namespace
// (deletionTimestamp set, "kubernetes" in spec.finalizers) is emptied — every object of every
// namespaced resource is deleted — and once nothing is left the "kubernetes" finalizer is
// removed through the finalize subresource, which lets the apiserver remove the namespace.
// Its status conditions (NamespaceContentRemaining, NamespaceFinalizersRemaining, ...) say
// what it still waits for.
#pragma once

#include <chrono>
#include <string>

#include "client/work_queue.h"
#include "controllers/controller.h"
#include "controllers/object_meta.h"
#include "controllers/queue_workers.h"

namespace kelp::controllers {

class NamespaceController final : public Controller {
 public:
  // How long a namespace whose contents are still going waits before it is checked again
  // (pods may take their grace period).
  static constexpr std::chrono::seconds kRecheckDelay{1};

  explicit NamespaceController(ControllerContext& context);
  std::string_view name() const override { return "namespace-controller"; }
  void Start() override;
  void Stop() override;

  // One step of deleting namespace `name`. kUnavailable while content remains (the key is
  // checked again after kRecheckDelay).
  Status Sync(const std::string& name);

 private:
  ControllerContext& context_;
  client::Informer& namespaces_;
  client::WorkQueue queue_;
  QueueWorkers workers_;
};

}  // namespace kelp::controllers
