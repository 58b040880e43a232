// `kelp flannel` (see command.h).
#include "flannel/command.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <csignal>

#include "client/https_client.h"

namespace kelp::flannel {

Status RunFlannel(client::ClientConfig config, FlannelCommandOptions options) {
  if (options.network.empty() != options.backend.empty()) {
    return InvalidArgumentError("--network and --backend go together (or neither: the ConfigMap)");
  }
  if (!options.network.empty()) {
    KELP_ASSIGN_OR_RETURN(std::string text, MakeNetConf(options.network, options.backend));
    KELP_ASSIGN_OR_RETURN(options.flannel.network, ParseNetConf(text));
  }
  // Blocked before any thread starts, so every thread inherits the mask and sigwait gets them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<client::HttpsApiClient> client,
                        client::HttpsApiClient::Create(std::move(config)));
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<FlannelNode> node,
                        FlannelNode::StartWithKernel(*client, std::move(options.flannel)));
  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("flannel: signal {}, stopping (kernel state and subnet.env stay)", signal);
  node->Stop();
  return Status::Ok();
}

}  // namespace kelp::flannel
