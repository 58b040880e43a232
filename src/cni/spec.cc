// CNI spec helpers: version list, error JSON and the per-verb environment checks.
#include "cni/spec.h"

#include <boost/json.hpp>

namespace kelp::cni {
namespace {

struct VerbSpec {
  std::string_view name;
  Command command;
  bool needs_container_id;
  bool needs_netns;
  bool needs_ifname;
  bool needs_path;
};

// Which variables each verb requires (CNI spec 1.1, "Parameters").
constexpr VerbSpec kVerbs[] = {
    {"ADD", Command::kAdd, true, true, true, true},
    {"DEL", Command::kDel, true, false, true, true},
    {"CHECK", Command::kCheck, true, true, true, true},
    {"VERSION", Command::kVersion, false, false, false, false},
    {"GC", Command::kGc, false, false, false, true},
    {"STATUS", Command::kStatus, false, false, false, false},
};

CniError MissingVariable(std::string_view name, std::string_view verb) {
  return CniError{ErrorCode::kInvalidEnvironment,
                  std::string(name) + " is required for " + std::string(verb), ""};
}

std::vector<std::string> SplitNonEmpty(std::string_view text, char separator) {
  std::vector<std::string> parts;
  while (!text.empty()) {
    size_t end = text.find(separator);
    std::string_view part = text.substr(0, end);
    if (!part.empty()) parts.emplace_back(part);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return parts;
}

}  // namespace

const std::vector<std::string>& SupportedVersions() {
  static const std::vector<std::string> versions = {"0.4.0", "1.0.0", "1.1.0"};
  return versions;
}

bool IsSupportedVersion(std::string_view version) {
  for (const auto& v : SupportedVersions()) {
    if (v == version) return true;
  }
  return false;
}

std::string ErrorJson(const CniError& error, std::string_view cni_version) {
  boost::json::object out;
  out["cniVersion"] = cni_version;
  out["code"] = static_cast<int>(error.code);
  out["msg"] = error.msg;
  if (!error.details.empty()) out["details"] = error.details;
  return boost::json::serialize(out);
}

std::string VersionJson() {
  boost::json::array versions;
  for (const auto& v : SupportedVersions()) versions.emplace_back(v);
  boost::json::object out;
  out["cniVersion"] = kLatestVersion;
  out["supportedVersions"] = std::move(versions);
  return boost::json::serialize(out);
}

CniResult<Environment> ParseEnvironment(const EnvLookup& lookup) {
  std::optional<std::string> command = lookup("CNI_COMMAND");
  if (!command || command->empty()) {
    return CniError{ErrorCode::kInvalidEnvironment, "CNI_COMMAND is not set", ""};
  }
  const VerbSpec* verb = nullptr;
  for (const auto& v : kVerbs) {
    if (v.name == *command) verb = &v;
  }
  if (verb == nullptr) {
    return CniError{ErrorCode::kInvalidEnvironment, "unknown CNI_COMMAND " + *command,
                    "expected one of ADD, DEL, CHECK, VERSION, GC, STATUS"};
  }

  Environment env{.command = verb->command};
  auto required = [&](std::string_view name, bool needed,
                      std::string& out) -> std::optional<CniError> {
    std::optional<std::string> value = lookup(name);
    if (value) out = *value;
    if (needed && out.empty()) return MissingVariable(name, verb->name);
    return std::nullopt;
  };
  std::string path;
  if (auto e = required("CNI_CONTAINERID", verb->needs_container_id, env.container_id)) return *e;
  if (auto e = required("CNI_NETNS", verb->needs_netns, env.netns)) return *e;
  if (auto e = required("CNI_IFNAME", verb->needs_ifname, env.ifname)) return *e;
  if (auto e = required("CNI_PATH", verb->needs_path, path)) return *e;
  if (auto e = required("CNI_ARGS", false, env.args)) return *e;
  env.path = SplitNonEmpty(path, ':');
  return env;
}

CniResult<std::vector<std::pair<std::string, std::string>>> ParseArgs(std::string_view args) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const std::string& item : SplitNonEmpty(args, ';')) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return CniError{ErrorCode::kInvalidEnvironment,
                      "CNI_ARGS entry \"" + item + "\" is not KEY=VALUE", ""};
    }
    pairs.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
  return pairs;
}

}  // namespace kelp::cni
