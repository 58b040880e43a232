// The kelp-cni plugin types. Each takes one invocation (validated environment, parsed
// configuration, the OS seam) and returns what to print on success (a result JSON, or empty
// for DEL/GC/STATUS) or the CNI error. A failing ADD undoes what it made.
#pragma once

#include <string>

#include "cni/config.h"
#include "cni/spec.h"
#include "cni/system.h"

namespace kelp::cni {

struct Invocation {
  Environment env;
  NetConf conf;
  System& sys;
};

std::string_view CommandName(Command command);

// kelp-ipam: host-local compatible IPAM (ipam.h).
CniResult<std::string> RunIpam(const Invocation& inv);
// kelp-bridge: the reference bridge plugin's semantics; IPAM runs in-process for kelp-ipam
// and is executed from CNI_PATH for any other type (host-local...).
CniResult<std::string> RunBridge(const Invocation& inv);
// kelp-flannel: subnet.env → a kelp-bridge + kelp-ipam delegate, as flannel's CNI plugin.
CniResult<std::string> RunFlannel(const Invocation& inv);

// Runs the plugin named by conf's ipam.type (or `type` for a delegate) for `command`:
// in-process for kelp-* types, else the binary found in CNI_PATH.
CniResult<std::string> Delegate(const Invocation& inv, const boost::json::object& config,
                                std::string_view type, Command command);

}  // namespace kelp::cni
