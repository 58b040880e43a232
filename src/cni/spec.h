// CNI specification facts shared by the kelp-cni plugin and (later) the agent's CNI runtime:
// supported versions, the well-known error codes, the plugin environment (CNI_COMMAND & co.)
// and the error JSON a plugin prints on failure. Kept free of heavy dependencies because the
// plugin binary links it.
#pragma once

#include <functional>
#include <optional>
#include <utility>
#include <variant>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kelp::cni {

inline constexpr std::string_view kLatestVersion = "1.1.0";
// Versions of the spec whose configurations and results kelp-cni understands, oldest first.
const std::vector<std::string>& SupportedVersions();
bool IsSupportedVersion(std::string_view version);

// Error codes from the CNI spec ("Error" section). 100+ are plugin specific.
enum class ErrorCode : int {
  kIncompatibleVersion = 1,
  kUnsupportedField = 2,
  kContainerUnknown = 3,
  kInvalidEnvironment = 4,
  kIoFailure = 5,
  kDecodeFailure = 6,
  kInvalidNetworkConfig = 7,
  kTryAgainLater = 11,
  kNotAvailable = 50,
  kNotAvailableDegraded = 51,
  kNotImplemented = 100,  // kelp-specific: the verb or plugin type is not built yet
};

struct CniError {
  ErrorCode code;
  std::string msg;
  std::string details;
};

// A value or the CNI error to print; the plugin's counterpart of kelp::Result.
template <typename T>
using CniResult = std::variant<T, CniError>;

// `{"cniVersion":"...","code":N,"msg":"...","details":"..."}` (details omitted when empty).
std::string ErrorJson(const CniError& error, std::string_view cni_version);
// The VERSION verb's answer.
std::string VersionJson();

enum class Command { kAdd, kDel, kCheck, kVersion, kGc, kStatus };

// The plugin's invocation environment, validated per verb as the spec requires.
struct Environment {
  Command command;
  std::string container_id;
  std::string netns;
  std::string ifname;
  std::string args;                     // CNI_ARGS, "K=V;K2=V2"
  std::vector<std::string> path;        // CNI_PATH split on ':'
};

using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Reads and checks CNI_COMMAND and the variables that verb requires; a missing or unknown
// value yields a CniError with code kInvalidEnvironment naming the variable.
CniResult<Environment> ParseEnvironment(const EnvLookup& lookup);

// CNI_ARGS "K=V;K2=V2" as pairs; malformed entries yield kInvalidEnvironment.
CniResult<std::vector<std::pair<std::string, std::string>>> ParseArgs(std::string_view args);

}  // namespace kelp::cni
