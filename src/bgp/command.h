// The `kelp bgp` commands: run a standalone speaker from a YAML file, or print a running
// speaker's peer table and routes through its control socket. main.cc parses the flags.
#pragma once

#include <string>

namespace kelp::bgp {

inline constexpr char kDefaultControlSocket[] = "/run/kelp/bgp.sock";

struct BgpCommandOptions {
  std::string config_path;
  std::string control_socket = kDefaultControlSocket;
  // Replace this process by the kelp-bgp binary next to it (same arguments and log level)
  // when there is one: the slim speaker needs about 6 MB less memory than all of kelp.
  bool exec_kelp_bgp = true;
};

// Runs until SIGINT/SIGTERM (in this process, or as kelp-bgp, see exec_kelp_bgp). Returns the
// process exit code (1 on configuration or bind errors).
int RunBgpSpeaker(const BgpCommandOptions& options);
// Prints the status tables; 1 when the speaker cannot be reached.
int RunBgpStatus(const BgpCommandOptions& options);

}  // namespace kelp::bgp
