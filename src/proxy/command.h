// `kelp proxy`: the ServiceProxy as a standalone process for one node (the node agent will run
// the same object in-process). It connects to the API, programs table ip kelp-proxy in the
// network namespace it runs in, and runs until SIGTERM or SIGINT; the table stays, so
// Services keep working until the next start rebuilds it. `--cleanup` only deletes the table.
#pragma once

#include <string>
#include <vector>

#include "client/client_config.h"
#include "common/status.h"
#include "proxy/ruleset.h"

namespace kelp::proxy {

struct ProxyCommandOptions {
  std::string node_name;
  std::string node_ip;
  // kube-proxy's --nodeport-addresses: CIDRs whose local addresses accept NodePorts, or
  // "primary" (the node IP, the default); 0.0.0.0/0 means every local address.
  std::vector<std::string> nodeport_addresses;
  std::string cluster_cidr;  // optional: the pod network
  int min_sync_period_ms = 1000;
  int sync_period_seconds = 3600;
  bool cleanup = false;
};

// The node settings `options` describe, with NodePort CIDRs resolved against the addresses of
// this network namespace's interfaces. InvalidArgument for a malformed address or CIDR.
Result<RulesetOptions> NodeRulesetOptions(const ProxyCommandOptions& options);

// Deletes table ip kelp-proxy in this network namespace (NotFound is not an error).
Status DeleteProxyTable();

// Blocks SIGTERM and SIGINT, runs the proxy and returns once one of them arrives.
Status RunProxy(client::ClientConfig config, const ProxyCommandOptions& options);

}  // namespace kelp::proxy
