// `kelp agent --hollow` (see hollow_command.h).
#include "agent/hollow_command.h"

#include <pthread.h>

#include <csignal>

#include <spdlog/spdlog.h>

#include "agent/credentials.h"

namespace kelp::agent {

Result<client::ClientConfig> AgentClientConfig(const HollowAgentOptions& options) {
  if (options.server.empty()) return InvalidArgumentError("--server is required");
  if (options.token.empty()) return InvalidArgumentError("--token is required");
  client::ClientConfig config{.server = options.server, .token = options.token};
  if (!options.ca_file.empty()) {
    config.ca_file = options.ca_file;
    return config;
  }
  Result<std::string> ca_hash = K10CaHash(options.token);
  if (!ca_hash.ok()) {
    return InvalidArgumentError(
        "no --ca-file given and the " + ca_hash.status().message() +
        ": pass --ca-file with the server's CA (<data-dir>/tls/ca.crt) or use the agent token");
  }
  config.ca_sha256 = *ca_hash;
  return config;
}

Status RunHollowAgent(const HollowAgentOptions& options) {
  // Blocked before any thread starts, so every thread inherits the mask and sigwait gets them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  KELP_ASSIGN_OR_RETURN(client::ClientConfig config, AgentClientConfig(options));
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<client::HttpsApiClient> client,
                        client::HttpsApiClient::Create(std::move(config)));
  RealClock clock;
  HollowNodes nodes(*client, clock, options.nodes);
  KELP_RETURN_IF_ERROR(nodes.Start());
  spdlog::info("hollow: {} node(s) registered with {} ({} … {})", nodes.node_names().size(),
               options.server, nodes.node_names().front(), nodes.node_names().back());
  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("hollow: signal {}, stopping", signal);
  nodes.Stop();
  return Status::Ok();
}

}  // namespace kelp::agent
