// YAML → SpeakerConfig with yaml-cpp. yaml-cpp reports errors by throwing; every call into it
// stays inside ParseSpeakerConfig's try block so no exception leaves this file.
#include "bgp/config.h"

#include <yaml-cpp/yaml.h>

#include <limits>
#include <set>
#include <string>

#include "common/file.h"

namespace kelp::bgp {
namespace {

Status KeyError(const std::string& key, const std::string& problem) {
  return InvalidArgumentError(key + ": " + problem);
}

Result<uint64_t> ParseUnsigned(const YAML::Node& node, const std::string& key, uint64_t max) {
  if (!node.IsScalar()) return KeyError(key, "expected a number");
  const std::string& text = node.Scalar();
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
      text.size() > 10 || std::stoull(text) > max) {
    return KeyError(key, "expected a number from 0 to " + std::to_string(max) + ", got \"" +
                             text + "\"");
  }
  return std::stoull(text);
}

Result<uint32_t> ParseAddress(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) return KeyError(key, "expected an IPv4 address");
  Result<uint32_t> address = ParseIpv4(node.Scalar());
  if (!address.ok()) return KeyError(key, "\"" + node.Scalar() + "\" is not an IPv4 address");
  return address;
}

Result<bool> ParseBool(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar() || (node.Scalar() != "true" && node.Scalar() != "false")) {
    return KeyError(key, "expected true or false");
  }
  return node.Scalar() == "true";
}

Result<uint16_t> ParseHoldTime(const YAML::Node& node, const std::string& key) {
  KELP_ASSIGN_OR_RETURN(uint64_t hold, ParseUnsigned(node, key, 65535));
  // RFC 4271 §4.2: zero or at least three seconds.
  if (hold == 1 || hold == 2) return KeyError(key, "must be 0 or at least 3 seconds");
  return static_cast<uint16_t>(hold);
}

Status CheckKeys(const YAML::Node& map, const std::string& where,
                 const std::set<std::string>& known) {
  for (const auto& entry : map) {
    std::string key = entry.first.as<std::string>();
    if (!known.contains(key)) return KeyError(where + key, "unknown key");
  }
  return Status::Ok();
}

// "0.0.0.0:179", "127.0.0.1:1790" or just "0.0.0.0".
Status ParseListen(const YAML::Node& node, SpeakerConfig& config) {
  if (!node.IsScalar()) return KeyError("listen", "expected ADDRESS[:PORT]");
  std::string text = node.Scalar();
  size_t colon = text.find(':');
  Result<uint32_t> address = ParseIpv4(text.substr(0, colon));
  if (!address.ok()) return KeyError("listen", "\"" + text + "\" is not ADDRESS[:PORT]");
  config.listen_address = *address;
  if (colon == std::string::npos) return Status::Ok();
  KELP_ASSIGN_OR_RETURN(uint64_t port, ParseUnsigned(YAML::Node(text.substr(colon + 1)),
                                                     "listen", 65535));
  config.listen_port = static_cast<uint16_t>(port);
  return Status::Ok();
}

Result<PeerConfig> ParsePeer(const YAML::Node& node, const std::string& where) {
  if (!node.IsMap()) return KeyError(where, "expected a map");
  KELP_RETURN_IF_ERROR(CheckKeys(node, where + ".",
                                 {"address", "as", "port", "hold_time", "keepalive_time",
                                  "route_reflector_client", "passive"}));
  PeerConfig peer;
  if (!node["address"]) return KeyError(where + ".address", "missing");
  KELP_ASSIGN_OR_RETURN(peer.address, ParseAddress(node["address"], where + ".address"));
  if (!node["as"]) return KeyError(where + ".as", "missing");
  KELP_ASSIGN_OR_RETURN(uint64_t as, ParseUnsigned(node["as"], where + ".as", 0xffffffff));
  if (as == 0) return KeyError(where + ".as", "must not be 0");
  peer.as = static_cast<uint32_t>(as);
  if (node["port"]) {
    KELP_ASSIGN_OR_RETURN(uint64_t port, ParseUnsigned(node["port"], where + ".port", 65535));
    peer.port = static_cast<uint16_t>(port);
  }
  if (node["hold_time"]) {
    KELP_ASSIGN_OR_RETURN(peer.hold_time, ParseHoldTime(node["hold_time"], where + ".hold_time"));
  }
  if (node["keepalive_time"]) {
    KELP_ASSIGN_OR_RETURN(uint64_t keepalive,
                          ParseUnsigned(node["keepalive_time"], where + ".keepalive_time", 65535));
    if (keepalive == 0) return KeyError(where + ".keepalive_time", "must be at least 1 second");
    peer.keepalive_time = static_cast<uint16_t>(keepalive);
  }
  if (node["route_reflector_client"]) {
    KELP_ASSIGN_OR_RETURN(peer.route_reflector_client,
                          ParseBool(node["route_reflector_client"],
                                    where + ".route_reflector_client"));
  }
  if (node["passive"]) {
    KELP_ASSIGN_OR_RETURN(peer.passive, ParseBool(node["passive"], where + ".passive"));
  }
  return peer;
}

Result<SpeakerConfig> ParseRoot(const YAML::Node& root) {
  if (!root.IsMap()) return InvalidArgumentError("the configuration must be a YAML map");
  KELP_RETURN_IF_ERROR(
      CheckKeys(root, "",
                {"as", "router_id", "listen", "announce", "kernel", "graceful_restart", "peers"}));
  SpeakerConfig config;
  if (!root["as"]) return KeyError("as", "missing");
  KELP_ASSIGN_OR_RETURN(uint64_t as, ParseUnsigned(root["as"], "as", 0xffffffff));
  if (as == 0) return KeyError("as", "must not be 0");
  config.as = static_cast<uint32_t>(as);
  if (!root["router_id"]) return KeyError("router_id", "missing");
  KELP_ASSIGN_OR_RETURN(config.router_id, ParseAddress(root["router_id"], "router_id"));
  if (config.router_id == 0) return KeyError("router_id", "must not be 0.0.0.0");
  if (root["listen"]) KELP_RETURN_IF_ERROR(ParseListen(root["listen"], config));
  if (const YAML::Node announce = root["announce"]) {
    if (!announce.IsSequence()) return KeyError("announce", "expected a list of prefixes");
    for (size_t i = 0; i < announce.size(); ++i) {
      std::string key = "announce[" + std::to_string(i) + "]";
      if (!announce[i].IsScalar()) return KeyError(key, "expected a prefix");
      Result<Ipv4Prefix> prefix = Ipv4Prefix::Parse(announce[i].Scalar());
      if (!prefix.ok()) return KeyError(key, prefix.status().message());
      config.announce.push_back(*prefix);
    }
  }
  if (const YAML::Node kernel = root["kernel"]) {
    if (!kernel.IsMap()) return KeyError("kernel", "expected a map");
    KELP_RETURN_IF_ERROR(CheckKeys(kernel, "kernel.", {"install"}));
    if (kernel["install"]) {
      KELP_ASSIGN_OR_RETURN(config.kernel_install, ParseBool(kernel["install"], "kernel.install"));
    }
  }
  if (const YAML::Node restart = root["graceful_restart"]) {
    if (!restart.IsMap()) return KeyError("graceful_restart", "expected a map");
    KELP_RETURN_IF_ERROR(CheckKeys(restart, "graceful_restart.", {"enabled", "restart_time"}));
    if (restart["enabled"]) {
      KELP_ASSIGN_OR_RETURN(config.graceful_restart,
                            ParseBool(restart["enabled"], "graceful_restart.enabled"));
    }
    if (restart["restart_time"]) {
      KELP_ASSIGN_OR_RETURN(uint64_t seconds, ParseUnsigned(restart["restart_time"],
                                                            "graceful_restart.restart_time", 4095));
      if (seconds == 0) return KeyError("graceful_restart.restart_time", "must be 1..4095");
      config.restart_time = static_cast<uint16_t>(seconds);
    }
  }
  if (const YAML::Node peers = root["peers"]) {
    if (!peers.IsSequence()) return KeyError("peers", "expected a list");
    for (size_t i = 0; i < peers.size(); ++i) {
      KELP_ASSIGN_OR_RETURN(PeerConfig peer,
                            ParsePeer(peers[i], "peers[" + std::to_string(i) + "]"));
      config.peers.push_back(peer);
    }
  }
  return config;
}

}  // namespace

Result<SpeakerConfig> ParseSpeakerConfig(std::string_view yaml) {
  try {
    return ParseRoot(YAML::Load(std::string(yaml)));
  } catch (const YAML::Exception& error) {
    return InvalidArgumentError(std::string("invalid YAML: ") + error.what());
  }
}

Result<SpeakerConfig> LoadSpeakerConfig(const std::filesystem::path& path) {
  KELP_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  Result<SpeakerConfig> config = ParseSpeakerConfig(text);
  if (!config.ok()) return config.status().WithContext(path.string());
  return config;
}

}  // namespace kelp::bgp
