// CniRunner: configuration loading, plugin execution per the CNI spec's "Execution protocol",
// result chaining and libcni's on-disk result cache.
#include "agent/runtime/cni_runner.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cstdio>
#include <system_error>

#include "common/file.h"
#include "common/json.h"

namespace kelp::agent {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Go's encoding/json writes []byte as standard base64 with padding.
std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out.push_back(kBase64Alphabet[(n >> shift) & 63]);
  }
  if (i < in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) n |= uint8_t(in[i + 1]) << 8;
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kBase64Alphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view in) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const char* at = std::char_traits<char>::find(kBase64Alphabet, 64, c);
    if (at == nullptr) return InvalidArgumentError("invalid base64");
    buffer = (buffer << 6) | uint32_t(at - kBase64Alphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((buffer >> bits) & 0xff));
    }
  }
  return out;
}

std::array<int, 3> ParseVersion(std::string_view version) {
  std::array<int, 3> parts{0, 0, 0};
  for (int i = 0; i < 3 && !version.empty(); ++i) {
    size_t dot = version.find('.');
    std::string_view part = version.substr(0, dot);
    int value = 0;
    for (char c : part) {
      if (c < '0' || c > '9') return {0, 0, 0};
      value = value * 10 + (c - '0');
      if (value > 100000) return {0, 0, 0};
    }
    parts[i] = value;
    version = dot == std::string_view::npos ? std::string_view() : version.substr(dot + 1);
  }
  return parts;
}

std::string_view VerbName(int verb) {
  static constexpr std::string_view kNames[] = {"ADD", "DEL", "CHECK", "STATUS"};
  return kNames[verb];
}

Status ValidatePlugin(const json::object& plugin, size_t index) {
  const json::value* type = plugin.if_contains("type");
  if (type == nullptr || !type->is_string() || type->as_string().empty()) {
    return InvalidArgumentError(fmt::format("plugins.{}.type: expected a non-empty string", index));
  }
  std::string_view name = type->as_string();
  if (name.find('/') != std::string_view::npos || name == "." || name == "..") {
    return InvalidArgumentError(fmt::format("plugins.{}.type: \"{}\" is not a plugin name", index,
                                            name));
  }
  return Status::Ok();
}

// The first IPv4 address of a result ("ips" of 0.3.0+).
void FillAddresses(CniAddResult& out) {
  const json::value* ips = out.result.if_contains("ips");
  if (ips == nullptr || !ips->is_array()) return;
  for (const json::value& ip : ips->as_array()) {
    if (!ip.is_object()) continue;
    const json::value* address = ip.as_object().if_contains("address");
    if (address == nullptr || !address->is_string()) continue;
    std::string prefix(address->as_string());
    if (prefix.find(':') != std::string::npos) continue;  // IPv6
    out.ip_prefix = prefix;
    out.ip = prefix.substr(0, prefix.find('/'));
    const json::value* gateway = ip.as_object().if_contains("gateway");
    if (gateway != nullptr && gateway->is_string()) out.gateway = gateway->as_string();
    return;
  }
}

std::string JoinArgs(const std::vector<std::pair<std::string, std::string>>& args) {
  std::string out;
  for (const auto& [key, value] : args) {
    if (!out.empty()) out += ';';
    out += key + "=" + value;
  }
  return out;
}

}  // namespace

bool CniVersionAtLeast(std::string_view version, std::string_view minimum) {
  return ParseVersion(version) >= ParseVersion(minimum);
}

Result<CniNetworkList> ParseNetworkList(std::string_view bytes) {
  KELP_ASSIGN_OR_RETURN(json::object doc, ParseJsonObject(bytes));
  CniNetworkList list;
  KELP_ASSIGN_OR_RETURN(list.name, GetString(doc, "name"));
  if (list.name.empty()) return InvalidArgumentError("name: must not be empty");
  KELP_ASSIGN_OR_RETURN(std::optional<std::string> version, FindString(doc, "cniVersion"));
  list.cni_version = version.value_or("0.1.0");
  KELP_ASSIGN_OR_RETURN(std::optional<bool> disable_check, FindBool(doc, "disableCheck"));
  list.disable_check = disable_check.value_or(false);
  KELP_ASSIGN_OR_RETURN(const json::array* plugins, GetArray(doc, "plugins"));
  if (plugins->empty()) return InvalidArgumentError("plugins: the list has no plugins");
  for (size_t i = 0; i < plugins->size(); ++i) {
    if (!(*plugins)[i].is_object()) {
      return InvalidArgumentError(fmt::format("plugins.{}: expected object", i));
    }
    KELP_RETURN_IF_ERROR(ValidatePlugin((*plugins)[i].as_object(), i));
    list.plugins.push_back((*plugins)[i].as_object());
  }
  list.bytes = std::string(bytes);
  return list;
}

Result<CniNetworkList> ParseNetworkConf(std::string_view bytes) {
  KELP_ASSIGN_OR_RETURN(json::object doc, ParseJsonObject(bytes));
  KELP_ASSIGN_OR_RETURN(std::string name, GetString(doc, "name"));
  KELP_ASSIGN_OR_RETURN(std::optional<std::string> version, FindString(doc, "cniVersion"));
  json::object list;
  list["cniVersion"] = version.value_or("0.1.0");
  list["name"] = name;
  list["plugins"] = json::array{doc};
  return ParseNetworkList(json::serialize(list));
}

Result<CniNetworkList> LoadFirstNetworkList(const fs::path& conf_dir) {
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(conf_dir, ec)) {
    std::string ext = entry.path().extension().string();
    if (ext == ".conf" || ext == ".conflist" || ext == ".json") files.push_back(entry.path());
  }
  if (ec) return ErrnoStatus("read CNI conf dir " + conf_dir.string(), ec.value());
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    Result<std::string> bytes = ReadFile(file);
    if (!bytes.ok()) continue;
    Result<CniNetworkList> list = file.extension() == ".conflist" ? ParseNetworkList(*bytes)
                                                                  : ParseNetworkConf(*bytes);
    if (!list.ok()) {
      spdlog::warn("CNI config {} skipped: {}", file.string(), list.status().message());
      continue;
    }
    list->source = file;
    return list;
  }
  return NotFoundError("no network config found in " + conf_dir.string());
}

std::vector<std::pair<std::string, std::string>> KubernetesCniArgs(const std::string& pod_namespace,
                                                                   const std::string& pod_name,
                                                                   const std::string& sandbox_id,
                                                                   const std::string& pod_uid) {
  return {{"IgnoreUnknown", "1"},
          {"K8S_POD_NAMESPACE", pod_namespace},
          {"K8S_POD_NAME", pod_name},
          {"K8S_POD_INFRA_CONTAINER_ID", sandbox_id},
          {"K8S_POD_UID", pod_uid}};
}

std::optional<CniPluginError> ParseCniPluginError(std::string_view output) {
  Result<json::object> doc = ParseJsonObject(output);
  if (!doc.ok()) return std::nullopt;
  Result<std::int64_t> code = GetInt64(*doc, "code");
  if (!code.ok() || *code < 0 || *code > 1'000'000) return std::nullopt;
  CniPluginError error{.code = static_cast<int>(*code)};
  Result<std::optional<std::string>> msg = FindString(*doc, "msg");
  if (msg.ok()) error.msg = msg->value_or("");
  Result<std::optional<std::string>> details = FindString(*doc, "details");
  if (details.ok()) error.details = details->value_or("");
  return error;
}

Result<CniCacheEntry> ParseCniCacheEntry(std::string_view bytes) {
  KELP_ASSIGN_OR_RETURN(json::object doc, ParseJsonObject(bytes));
  CniCacheEntry entry;
  KELP_ASSIGN_OR_RETURN(std::string kind, GetString(doc, "kind"));
  if (kind != "cniCacheV1") return InvalidArgumentError("kind: unknown cache kind " + kind);
  KELP_ASSIGN_OR_RETURN(entry.container_id, GetString(doc, "containerId"));
  KELP_ASSIGN_OR_RETURN(entry.network_name, GetString(doc, "networkName"));
  KELP_ASSIGN_OR_RETURN(entry.ifname, GetString(doc, "ifName"));
  KELP_ASSIGN_OR_RETURN(std::optional<std::string> netns, FindString(doc, "netns"));
  entry.netns = netns.value_or("");
  KELP_ASSIGN_OR_RETURN(std::string config, GetString(doc, "config"));
  KELP_ASSIGN_OR_RETURN(entry.config, Base64Decode(config));
  KELP_ASSIGN_OR_RETURN(const json::array* args, FindArray(doc, "cniArgs"));
  if (args != nullptr) {
    for (const json::value& pair : *args) {
      if (!pair.is_array() || pair.as_array().size() != 2 || !pair.as_array()[0].is_string() ||
          !pair.as_array()[1].is_string()) {
        return InvalidArgumentError("cniArgs: expected [key, value] pairs");
      }
      entry.args.emplace_back(pair.as_array()[0].as_string(), pair.as_array()[1].as_string());
    }
  }
  KELP_ASSIGN_OR_RETURN(const json::object* result, FindObject(doc, "result"));
  if (result != nullptr) entry.result = *result;
  return entry;
}

Result<CniNetworkList> CniRunner::LoadNetworkList() const {
  return LoadFirstNetworkList(options_.conf_dir);
}

Result<fs::path> CniRunner::FindPlugin(const std::string& type) const {
  for (const fs::path& dir : options_.bin_dirs) {
    fs::path candidate = dir / type;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  std::string dirs;
  for (const fs::path& dir : options_.bin_dirs) dirs += (dirs.empty() ? "" : ":") + dir.string();
  return NotFoundError(fmt::format("failed to find plugin \"{}\" in path [{}]", type, dirs));
}

Result<json::object> CniRunner::Invoke(Verb verb, const CniNetworkList& list,
                                       const json::object& plugin,
                                       const json::object* prev_result,
                                       const CniAttachment* attachment) {
  std::string type(plugin.at("type").as_string());
  KELP_ASSIGN_OR_RETURN(fs::path binary, FindPlugin(type));

  // libcni's buildOneConfig: the list's name and version win over the plugin's own.
  json::object config = plugin;
  config["name"] = list.name;
  config["cniVersion"] = list.cni_version;
  if (prev_result != nullptr) config["prevResult"] = *prev_result;

  std::string_view verb_name = VerbName(static_cast<int>(verb));
  std::string path;
  for (const fs::path& dir : options_.bin_dirs) path += (path.empty() ? "" : ":") + dir.string();
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).starts_with("CNI_")) continue;
    env.emplace_back(*e);
  }
  env.push_back("CNI_COMMAND=" + std::string(verb_name));
  if (attachment != nullptr) {
    env.push_back("CNI_CONTAINERID=" + attachment->container_id);
    env.push_back("CNI_NETNS=" + attachment->netns);
    env.push_back("CNI_IFNAME=" + attachment->ifname);
    env.push_back("CNI_ARGS=" + JoinArgs(attachment->args));
  }
  env.push_back("CNI_PATH=" + path);

  ProcessRequest request{.argv = {binary.string()},
                         .env = std::move(env),
                         .stdin_data = json::serialize(config),
                         .timeout = options_.plugin_timeout};
  std::string what = fmt::format("plugin type=\"{}\" name=\"{}\" {}", type, list.name, verb_name);
  KELP_ASSIGN_OR_RETURN(ProcessResult run, runner_.Run(request));
  if (run.timed_out) {
    return DeadlineExceededError(
        fmt::format("{}: timed out after {}ms", what, options_.plugin_timeout.count()));
  }
  if (run.term_signal != 0) {
    return InternalError(fmt::format("{}: killed by signal {}", what, run.term_signal));
  }
  if (run.exit_code != 0) {
    std::optional<CniPluginError> error = ParseCniPluginError(run.stdout_data);
    if (!error.has_value()) {
      std::string output = run.stderr_data.empty() ? run.stdout_data : run.stderr_data;
      while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
      return InternalError(
          fmt::format("{} failed (exit status {}): {}", what, run.exit_code, output));
    }
    std::string message = fmt::format("{} failed (code {}): {}", what, error->code, error->msg);
    if (!error->details.empty()) message += "; " + error->details;
    // CNI code 11 is "try again later".
    return Status(error->code == 11 ? StatusCode::kUnavailable : StatusCode::kInternal, message);
  }
  if (verb != Verb::kAdd) return json::object{};
  Result<json::object> result = ParseJsonObject(run.stdout_data);
  if (!result.ok()) {
    return InternalError(fmt::format("{}: invalid result: {}", what, result.status().message()));
  }
  return result;
}

Result<CniAddResult> CniRunner::Add(const CniNetworkList& list, const CniAttachment& attachment) {
  std::optional<json::object> previous;
  for (const json::object& plugin : list.plugins) {
    KELP_ASSIGN_OR_RETURN(json::object result,
                          Invoke(Verb::kAdd, list, plugin,
                                 previous.has_value() ? &*previous : nullptr, &attachment));
    previous = std::move(result);
  }
  CniAddResult out{.result = std::move(*previous)};
  FillAddresses(out);
  KELP_RETURN_IF_ERROR(WriteCache(list, attachment, out.result));
  return out;
}

Status CniRunner::Del(const CniNetworkList& list, const CniAttachment& attachment) {
  std::optional<json::object> cached;
  if (CniVersionAtLeast(list.cni_version, "0.4.0")) {
    Result<std::optional<json::object>> read = ReadCachedResult(list.name, attachment);
    // As libcni: an unreadable cache entry is dropped and DEL goes on without prevResult.
    if (read.ok()) cached = std::move(*read);
  }
  for (auto it = list.plugins.rbegin(); it != list.plugins.rend(); ++it) {
    KELP_RETURN_IF_ERROR(
        Invoke(Verb::kDel, list, *it, cached.has_value() ? &*cached : nullptr, &attachment)
            .status());
  }
  std::error_code ec;
  fs::remove(CachePath(list.name, attachment), ec);
  return Status::Ok();
}

Status CniRunner::Check(const CniNetworkList& list, const CniAttachment& attachment) {
  if (!CniVersionAtLeast(list.cni_version, "0.4.0")) {
    return InvalidArgumentError(
        fmt::format("configuration version \"{}\" does not support the CHECK command",
                    list.cni_version));
  }
  if (list.disable_check) return Status::Ok();
  KELP_ASSIGN_OR_RETURN(std::optional<json::object> cached,
                        ReadCachedResult(list.name, attachment));
  if (!cached.has_value()) {
    return NotFoundError(fmt::format("no cached result for network \"{}\"", list.name));
  }
  for (const json::object& plugin : list.plugins) {
    KELP_RETURN_IF_ERROR(Invoke(Verb::kCheck, list, plugin, &*cached, &attachment).status());
  }
  return Status::Ok();
}

Status CniRunner::NetworkStatus(const CniNetworkList& list) {
  if (!CniVersionAtLeast(list.cni_version, "1.1.0")) return Status::Ok();
  for (const json::object& plugin : list.plugins) {
    KELP_RETURN_IF_ERROR(Invoke(Verb::kStatus, list, plugin, nullptr, nullptr).status());
  }
  return Status::Ok();
}

fs::path CniRunner::CachePath(const std::string& network, const CniAttachment& attachment) const {
  return options_.cache_dir / "results" /
         fmt::format("{}-{}-{}", network, attachment.container_id, attachment.ifname);
}

Status CniRunner::WriteCache(const CniNetworkList& list, const CniAttachment& attachment,
                             const json::object& result) {
  json::array args;
  for (const auto& [key, value] : attachment.args) args.push_back(json::array{key, value});
  json::object entry{{"kind", "cniCacheV1"},
                     {"containerId", attachment.container_id},
                     {"config", Base64Encode(list.bytes)},
                     {"ifName", attachment.ifname},
                     {"networkName", list.name},
                     {"netns", attachment.netns},
                     {"cniArgs", std::move(args)},
                     {"result", result}};
  fs::path path = CachePath(list.name, attachment);
  KELP_RETURN_IF_ERROR(CreateDirectories(path.parent_path(), 0700));
  return WriteFileAtomic(path, json::serialize(entry), 0600, Durability::kProcessCrashSafe);
}

Result<std::optional<json::object>> CniRunner::ReadCachedResult(const std::string& network,
                                                                 const CniAttachment& attachment) {
  Result<std::string> bytes = ReadFile(CachePath(network, attachment));
  if (!bytes.ok()) {
    if (bytes.status().code() == StatusCode::kNotFound) return std::optional<json::object>();
    return bytes.status();
  }
  KELP_ASSIGN_OR_RETURN(CniCacheEntry entry, ParseCniCacheEntry(*bytes));
  return entry.result;
}

std::vector<CniCacheEntry> CniRunner::CachedEntries(const std::string& container_id) const {
  std::vector<CniCacheEntry> entries;
  std::error_code ec;
  for (const auto& file : fs::directory_iterator(options_.cache_dir / "results", ec)) {
    if (file.path().filename().string().find("-" + container_id + "-") == std::string::npos) {
      continue;
    }
    Result<std::string> bytes = ReadFile(file.path());
    if (!bytes.ok()) continue;
    Result<CniCacheEntry> entry = ParseCniCacheEntry(*bytes);
    if (entry.ok() && entry->container_id == container_id) entries.push_back(std::move(*entry));
  }
  return entries;
}

Result<CniNetworkList> CniRunner::CachedNetworkList(const std::string& container_id,
                                                    const std::string& ifname) const {
  for (CniCacheEntry& entry : CachedEntries(container_id)) {
    if (entry.ifname != ifname) continue;
    return ParseNetworkList(entry.config);
  }
  return NotFoundError(fmt::format("no cached CNI result for {} {}", container_id, ifname));
}

}  // namespace kelp::agent
