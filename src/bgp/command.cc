// `kelp bgp` and `kelp bgp status`: glue between the command line and Speaker.
#include "bgp/command.h"

#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "bgp/config.h"
#include "bgp/kernel_routes.h"
#include "bgp/speaker.h"
#include "common/clock.h"
#include "net/netlink_libnl.h"

namespace kelp::bgp {

int RunBgpSpeaker(const BgpCommandOptions& options) {
  Result<SpeakerConfig> config = LoadSpeakerConfig(options.config_path);
  if (!config.ok()) {
    spdlog::error("bgp: {}", config.status().ToString());
    return 1;
  }
  std::unique_ptr<net::LibnlNetlink> netlink;
  std::unique_ptr<RouteSink> sink = std::make_unique<LoggingRouteSink>();
  if (config->kernel_install) {
    Result<std::unique_ptr<net::LibnlNetlink>> opened = net::LibnlNetlink::Open();
    if (!opened.ok()) {
      spdlog::error("bgp: kernel.install: {}", opened.status().ToString());
      return 1;
    }
    netlink = std::move(opened).value();
    sink = std::make_unique<KernelRouteSink>(*netlink);
  }
  std::error_code ignored;
  std::filesystem::create_directories(
      std::filesystem::path(options.control_socket).parent_path(), ignored);
  RealClock clock;
  Result<std::unique_ptr<Speaker>> speaker =
      Speaker::Create(std::move(config).value(), options.control_socket, *sink, clock);
  if (!speaker.ok()) {
    spdlog::error("bgp: {}", speaker.status().ToString());
    return 1;
  }
  (*speaker)->Run(/*handle_signals=*/true);
  return 0;
}

int RunBgpStatus(const BgpCommandOptions& options) {
  Result<std::string> status = QueryStatus(options.control_socket);
  if (!status.ok()) {
    std::fprintf(stderr, "kelp bgp status: %s\n", status.status().ToString().c_str());
    return 1;
  }
  std::fputs(status->c_str(), stdout);
  return 0;
}

}  // namespace kelp::bgp
