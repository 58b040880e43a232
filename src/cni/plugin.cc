// kelp-cni dispatch: VERSION is answered for any configuration; the other verbs validate the
// environment and configuration as the spec requires before reaching a plugin type. The
// plugin types themselves (kelp-bridge, kelp-ipam, kelp-flannel) are not built yet, so a
// well-formed request for them fails with a clear plugin-specific error instead of pretending.
#include "cni/plugin.h"

#include <boost/json.hpp>

namespace kelp::cni {
namespace {

PluginOutput Fail(const CniError& error, std::string_view cni_version) {
  return PluginOutput{1, ErrorJson(error, cni_version) + "\n"};
}

// The configuration's cniVersion, or an error for undecodable or unsupported configurations.
CniResult<std::string> ConfigVersion(std::string_view stdin_data) {
  boost::system::error_code ec;
  boost::json::value config = boost::json::parse(stdin_data, ec);
  if (ec) {
    return CniError{ErrorCode::kDecodeFailure, "cannot decode network configuration",
                    ec.message()};
  }
  const boost::json::object* object = config.if_object();
  if (object == nullptr) {
    return CniError{ErrorCode::kDecodeFailure, "network configuration is not a JSON object", ""};
  }
  const boost::json::value* version = object->if_contains("cniVersion");
  if (version == nullptr || !version->is_string()) {
    return CniError{ErrorCode::kInvalidNetworkConfig, "cniVersion is missing or not a string",
                    ""};
  }
  std::string v(version->get_string());
  if (!IsSupportedVersion(v)) {
    return CniError{ErrorCode::kIncompatibleVersion, "unsupported cniVersion " + v,
                    "supported: 0.4.0, 1.0.0, 1.1.0"};
  }
  return v;
}

}  // namespace

PluginOutput RunPlugin(const EnvLookup& env, std::string_view stdin_data,
                       std::string_view invoked_as) {
  CniResult<Environment> parsed = ParseEnvironment(env);
  if (auto* error = std::get_if<CniError>(&parsed)) return Fail(*error, kLatestVersion);
  const Environment& environment = std::get<Environment>(parsed);
  if (environment.command == Command::kVersion) return PluginOutput{0, VersionJson() + "\n"};

  CniResult<std::string> version = ConfigVersion(stdin_data);
  if (auto* error = std::get_if<CniError>(&version)) return Fail(*error, kLatestVersion);
  CniResult<std::vector<std::pair<std::string, std::string>>> args =
      ParseArgs(environment.args);
  if (auto* error = std::get_if<CniError>(&args)) {
    return Fail(*error, std::get<std::string>(version));
  }
  return Fail(CniError{ErrorCode::kNotImplemented,
                       "plugin type " + std::string(invoked_as) + " is not implemented yet",
                       "this kelp-cni build answers VERSION only"},
              std::get<std::string>(version));
}

}  // namespace kelp::cni
