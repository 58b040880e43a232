// `kelp flannel`: FlannelNode as a standalone process for one node (the node agent hosts the
// same object in-process). It connects to the API, programs the network namespace it runs
// in, and runs until SIGTERM or SIGINT; kernel state and subnet.env stay, so pods keep their
// network across a restart, which sweeps whatever went stale meanwhile.
#pragma once

#include <string>

#include "client/client_config.h"
#include "common/status.h"
#include "flannel/flannel_node.h"

namespace kelp::flannel {

struct FlannelCommandOptions {
  FlannelOptions flannel;
  // Instead of the ConfigMap: the network and backend (both or neither).
  std::string network;
  std::string backend;
};

// Blocks SIGTERM and SIGINT, runs flannel and returns once one of them arrives.
Status RunFlannel(client::ClientConfig config, FlannelCommandOptions options);

}  // namespace kelp::flannel
