// RemoveRuntimeLeftovers: for e2e tests of the container runtime — removes what a test may
// leave behind when it fails halfway: every sandbox the runtime still knows, runc containers
// under the runc root, kelp-shims still running for recorded containers, and the test's cgroup
// parent with everything below it.
#pragma once

#include <string>

#include "agent/runtime/runtime.h"
#include "common/process.h"
#include "common/status.h"

namespace kelp::agent::testing {

// `runtime` may be null (a test that failed before opening it). Returns the first error, after
// having tried everything.
Status RemoveRuntimeLeftovers(ContainerRuntime* runtime, const RuntimeOptions& options,
                              ProcessRunner& runner);

}  // namespace kelp::agent::testing
