// The kelp-cni plugin's entry point as a testable function: it takes the environment, the
// network configuration from stdin and the name it was invoked as, and returns the exit code
// with what to print on stdout. main() in plugin_main.cc only binds it to the process.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cni/spec.h"
#include "cni/system.h"

namespace kelp::cni {

struct PluginOutput {
  int exit_code = 0;
  std::string stdout_data;
};

using SystemFactory = std::function<Result<std::unique_ptr<System>>()>;

// `make_system` is called only once a request needs the OS (not for VERSION or bad input).
PluginOutput RunPlugin(const EnvLookup& env, std::string_view stdin_data,
                       std::string_view invoked_as, const SystemFactory& make_system);

}  // namespace kelp::cni
