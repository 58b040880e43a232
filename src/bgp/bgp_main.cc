// kelp-bgp: the BGP speaker alone, what `kelp bgp` runs (execs) when this binary sits next to
// kelp. It links only the speaker's libraries, so a node's resident BGP daemon does not carry
// the code and shared libraries of every other kelp command (about 6 MB of RSS).
//   kelp-bgp --config FILE [--control-socket PATH] [--log-level LEVEL]
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "bgp/command.h"
#include "common/log.h"

int main(int argc, char** argv) {
  // Large blocks (the RIB's table, route batches, decoded UPDATEs) always come from mmap and go
  // back to the system when freed; glibc's dynamic threshold would move them into the heap
  // after the first such free, where they leave holes behind.
  ::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  CLI::App app{"kelp's BGP speaker (what `kelp bgp` runs)", "kelp-bgp"};
  kelp::bgp::BgpCommandOptions options;
  options.exec_kelp_bgp = false;
  std::string log_level = "info";
  app.add_option("--config", options.config_path, "YAML configuration file")->required();
  app.add_option("--control-socket", options.control_socket, "Unix socket for `kelp bgp status`")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  kelp::Result<spdlog::level::level_enum> level = kelp::log::ParseLevel(log_level);
  if (!level.ok()) {
    std::fprintf(stderr, "kelp-bgp: %s\n", level.status().ToString().c_str());
    return 2;
  }
  kelp::log::Init({.level = *level, .component = "bgp"});
  return kelp::bgp::RunBgpSpeaker(options);
}
