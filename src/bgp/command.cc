// `kelp bgp` and `kelp bgp status`: glue between the command line and Speaker.
#include "bgp/command.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "bgp/config.h"
#include "bgp/kernel_routes.h"
#include "bgp/speaker.h"
#include "common/clock.h"
#include "net/netlink_libnl.h"

namespace kelp::bgp {

namespace {

// Execs kelp-bgp from kelp's own directory; returns only when there is none or exec failed.
void ExecKelpBgp(const BgpCommandOptions& options) {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return;
  const std::filesystem::path binary = self.parent_path() / "kelp-bgp";
  if (self.filename() == binary.filename() || ::access(binary.c_str(), X_OK) != 0) return;
  const auto level = spdlog::level::to_string_view(spdlog::default_logger()->level());
  std::vector<std::string> args = {binary.string(), "--config", options.config_path,
                                   "--control-socket", options.control_socket, "--log-level",
                                   std::string(level.data(), level.size())};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  spdlog::default_logger()->flush();
  ::execv(binary.c_str(), argv.data());
  spdlog::warn("bgp: exec {}: {}; running in this process", binary.string(),
               std::strerror(errno));
}

}  // namespace

int RunBgpSpeaker(const BgpCommandOptions& options) {
  if (options.exec_kelp_bgp) ExecKelpBgp(options);
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
