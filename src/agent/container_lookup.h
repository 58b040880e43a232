// ContainerLookup: how the kubelet server (kubelet_server.h) finds the runtime container behind
// "namespace/pod/container" for logs and exec. The kubelet implements it from its pod manager;
// RuntimeContainerLookup answers from the runtime's own records (sandbox name/namespace,
// container name and attempt), which is all a node needs when it has no other index.
#pragma once

#include <string>
#include <string_view>

#include "agent/runtime/runtime.h"
#include "common/status.h"

namespace kelp::agent {

class ContainerLookup {
 public:
  virtual ~ContainerLookup() = default;
  // The runtime id of container `container` of pod `pod_namespace/pod`: its current attempt
  // (running or most recently started), or with `previous` the attempt before that, as
  // `kubectl logs --previous` wants. NotFound with a message fit for the user otherwise.
  virtual Result<std::string> FindContainer(std::string_view pod_namespace, std::string_view pod,
                                            std::string_view container, bool previous) = 0;
};

// Looks the pod up among the runtime's sandboxes (the newest Ready one, else the newest) and
// the container among that sandbox's containers by name, highest attempt first.
class RuntimeContainerLookup final : public ContainerLookup {
 public:
  explicit RuntimeContainerLookup(ContainerRuntime& runtime) : runtime_(runtime) {}
  Result<std::string> FindContainer(std::string_view pod_namespace, std::string_view pod,
                                    std::string_view container, bool previous) override;

 private:
  ContainerRuntime& runtime_;
};

}  // namespace kelp::agent
