// The `kelp bgp` configuration file (YAML): our AS and router id, where to listen, which
// prefixes to announce, kernel installation, and the peers. Parsing checks every value and
// names the offending key in its error ("peers[0].hold_time: must be 0 or 3..65535").
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "bgp/message.h"
#include "common/status.h"

namespace kelp::bgp {

inline constexpr uint16_t kBgpPort = 179;

struct PeerConfig {
  uint32_t address = 0;
  uint32_t as = 0;
  uint16_t port = kBgpPort;
  uint16_t hold_time = 90;       // 0 or >= 3
  uint16_t keepalive_time = 30;  // upper bound; the session uses min(this, hold / 3)
  bool route_reflector_client = false;
  bool passive = false;  // wait for the peer to connect
};

struct SpeakerConfig {
  uint32_t as = 0;
  uint32_t router_id = 0;
  uint32_t listen_address = 0;  // 0.0.0.0: every address
  uint16_t listen_port = kBgpPort;
  std::vector<Ipv4Prefix> announce;
  bool kernel_install = false;
  // RFC 4724: advertise the capability, keep a restarting peer's routes as stale (helper),
  // and restart without disturbing forwarding (restarting speaker).
  bool graceful_restart = false;
  uint16_t restart_time = 120;  // seconds (1..4095) peers keep our routes while we restart
  std::vector<PeerConfig> peers;
};

Result<SpeakerConfig> ParseSpeakerConfig(std::string_view yaml);
Result<SpeakerConfig> LoadSpeakerConfig(const std::filesystem::path& path);

}  // namespace kelp::bgp
