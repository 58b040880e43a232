// `kelp agent --hollow`: connects to the server (CA from --ca-file, or pinned through the K10
// agent token), runs HollowNodes until SIGTERM or SIGINT, then stops them.
#pragma once

#include <string>

#include "agent/hollow_node.h"
#include "client/https_client.h"
#include "common/status.h"

namespace kelp::agent {

struct HollowAgentOptions {
  std::string server;  // "https://host:port"
  std::string token;
  std::string ca_file;
  HollowNodeOptions nodes;
};

// The client configuration the agent connects with. Without a CA file the token must be a K10
// agent token, whose CA hash is pinned; otherwise InvalidArgument explains what to pass.
Result<client::ClientConfig> AgentClientConfig(const HollowAgentOptions& options);

// Blocks SIGTERM and SIGINT, starts the hollow nodes and returns once one of them arrives.
Status RunHollowAgent(const HollowAgentOptions& options);

}  // namespace kelp::agent
