// RuntimeContainerLookup over ContainerRuntime's sandbox and container records.
#include "agent/container_lookup.h"

#include <algorithm>
#include <optional>

namespace kelp::agent {

Result<std::string> RuntimeContainerLookup::FindContainer(std::string_view pod_namespace,
                                                          std::string_view pod,
                                                          std::string_view container,
                                                          bool previous) {
  KELP_ASSIGN_OR_RETURN(std::vector<SandboxStatus> sandboxes, runtime_.ListPodSandboxes());
  const SandboxStatus* chosen = nullptr;
  for (const SandboxStatus& sandbox : sandboxes) {
    if (sandbox.pod_namespace != pod_namespace || sandbox.name != pod) continue;
    auto rank = [](const SandboxStatus& s) {
      return std::pair(s.state == SandboxState::kReady, s.created_at);
    };
    if (chosen == nullptr || rank(sandbox) > rank(*chosen)) chosen = &sandbox;
  }
  const std::string pod_name = std::string(pod_namespace) + "/" + std::string(pod);
  if (chosen == nullptr) return NotFoundError("pod " + pod_name + " is not running on this node");
  KELP_ASSIGN_OR_RETURN(std::vector<ContainerStatus> containers,
                        runtime_.ListContainers(chosen->id));
  std::vector<const ContainerStatus*> attempts;
  for (const ContainerStatus& status : containers) {
    if (status.name == container) attempts.push_back(&status);
  }
  std::sort(attempts.begin(), attempts.end(),
            [](const ContainerStatus* a, const ContainerStatus* b) {
              return std::pair(a->attempt, a->created_at) > std::pair(b->attempt, b->created_at);
            });
  const size_t index = previous ? 1 : 0;
  if (attempts.size() <= index) {
    if (previous) {
      return NotFoundError("previous terminated container \"" + std::string(container) +
                           "\" in pod \"" + std::string(pod) + "\" not found");
    }
    return NotFoundError("container \"" + std::string(container) + "\" in pod " + pod_name +
                         " not found");
  }
  return attempts[index]->id;
}

}  // namespace kelp::agent
