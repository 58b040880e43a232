// RemoveRuntimeLeftovers (see leftovers.h).
#include "agent/runtime/testing/leftovers.h"

#include <signal.h>

#include <filesystem>

#include "agent/runtime/cgroups.h"
#include "agent/runtime/runc.h"
#include "agent/runtime/shim.h"
#include "common/file.h"

namespace kelp::agent::testing {

Status RemoveRuntimeLeftovers(ContainerRuntime* runtime, const RuntimeOptions& options,
                              ProcessRunner& runner) {
  Status first;
  auto note = [&first](const Status& status) {
    if (!status.ok() && first.ok()) first = status;
  };
  if (runtime != nullptr) {
    Result<std::vector<SandboxStatus>> sandboxes = runtime->ListPodSandboxes();
    if (sandboxes.ok()) {
      for (const SandboxStatus& s : *sandboxes) note(runtime->RemovePodSandbox(s.id));
    }
  }
  Runc runc(options.runc_binary, options.runc_root.string(), runner);
  if (Result<std::vector<RuncState>> left = runc.List(); left.ok()) {
    for (const RuncState& s : *left) (void)runc.Delete(s.id, true);
  }
  std::error_code ec;
  for (const auto& dir : std::filesystem::directory_iterator(options.run_state_dir / "containers", ec)) {
    Result<std::string> text = ReadFile(dir.path() / kShimInfoFile);
    Result<ShimInfo> shim = text.ok() ? ParseShimInfo(*text) : text.status();
    if (!shim.ok()) continue;
    // Only a process that still is a kelp-shim: the pid may have been reused since.
    Result<std::string> cmdline = ReadFile("/proc/" + std::to_string(shim->shim_pid) + "/cmdline");
    if (cmdline.ok() && cmdline->find("kelp-shim") != std::string::npos) {
      ::kill(shim->shim_pid, SIGKILL);
    }
  }
  if (Result<Cgroups> cgroups = Cgroups::Discover(); cgroups.ok()) {
    note(cgroups->RemoveTree(options.cgroup_parent));
  }
  return first;
}

}  // namespace kelp::agent::testing
