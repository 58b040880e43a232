// kelp-cni dispatch: VERSION is answered for any configuration; the other verbs validate the
// environment and configuration as the spec requires, then run the plugin type named by the
// configuration's "type" (kelp-bridge, kelp-ipam, kelp-flannel; the invoked name when the
// configuration has none). Delegation to kelp-* types stays in-process; any other plugin
// (e.g. host-local) is executed from CNI_PATH with the same environment and stdin.
#include "cni/plugin.h"

#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>

#include "cni/ipam.h"
#include "cni/types.h"

namespace kelp::cni {
namespace {

namespace json = boost::json;

PluginOutput Fail(const CniError& error, std::string_view cni_version) {
  return PluginOutput{1, ErrorJson(error, cni_version) + "\n"};
}

CniResult<std::string> Dispatch(const Invocation& inv, std::string_view type) {
  if (type == "kelp-bridge") return RunBridge(inv);
  if (type == "kelp-ipam") return RunIpam(inv);
  if (type == "kelp-flannel") return RunFlannel(inv);
  return CniError{ErrorCode::kInvalidNetworkConfig,
                  "unknown plugin type " + std::string(type),
                  "kelp-cni provides kelp-bridge, kelp-ipam and kelp-flannel"};
}

std::string Join(const std::vector<std::string>& parts, char sep) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : std::string(1, sep)) + p;
  return out;
}

}  // namespace

std::string_view CommandName(Command command) {
  switch (command) {
    case Command::kAdd: return "ADD";
    case Command::kDel: return "DEL";
    case Command::kCheck: return "CHECK";
    case Command::kVersion: return "VERSION";
    case Command::kGc: return "GC";
    case Command::kStatus: return "STATUS";
  }
  return "";
}

CniResult<std::string> Delegate(const Invocation& inv, const json::object& config,
                                std::string_view type, Command command) {
  std::string text = json::serialize(config);
  if (type.rfind("kelp-", 0) == 0) {
    CniResult<NetConf> conf = ParseNetConf(text);
    if (auto* e = std::get_if<CniError>(&conf)) return *e;
    Invocation sub{inv.env, std::move(std::get<NetConf>(conf)), inv.sys};
    sub.env.command = command;
    return Dispatch(sub, type);
  }
  std::string binary;
  for (const std::string& dir : inv.env.path) {
    std::string candidate = dir + "/" + std::string(type);
    if (access(candidate.c_str(), X_OK) == 0) {
      binary = candidate;
      break;
    }
  }
  if (binary.empty()) {
    return CniError{ErrorCode::kInvalidNetworkConfig,
                    "failed to find plugin \"" + std::string(type) + "\" in path " +
                        Join(inv.env.path, ':'),
                    ""};
  }
  ProcessRequest request;
  request.argv = {binary};
  request.env = std::vector<std::string>{
      "CNI_COMMAND=" + std::string(CommandName(command)),
      "CNI_CONTAINERID=" + inv.env.container_id, "CNI_NETNS=" + inv.env.netns,
      "CNI_IFNAME=" + inv.env.ifname, "CNI_ARGS=" + inv.env.args,
      "CNI_PATH=" + Join(inv.env.path, ':'), "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  request.stdin_data = text;
  request.timeout = std::chrono::seconds(60);
  Result<ProcessResult> run = inv.sys.Runner().Run(request);
  if (!run.ok()) {
    return CniError{ErrorCode::kIoFailure, "cannot run " + binary, run.status().ToString()};
  }
  if (run->exit_code == 0 && run->term_signal == 0) return run->stdout_data;
  boost::system::error_code ec;
  json::value error = json::parse(run->stdout_data, ec);
  if (!ec && error.is_object() && error.get_object().contains("code")) {
    const json::object& o = error.get_object();
    auto str = [&](const char* key) {
      const json::value* v = o.if_contains(key);
      return v && v->is_string() ? std::string(v->get_string()) : std::string();
    };
    int64_t code = o.at("code").is_int64() ? o.at("code").get_int64() : 999;
    return CniError{static_cast<ErrorCode>(code), str("msg"), str("details")};
  }
  return CniError{ErrorCode::kIoFailure, binary + " failed", run->stderr_data};
}

CniResult<std::string> RunIpam(const Invocation& inv) {
  CniResult<IpamConf> conf = ParseIpamConf(inv.conf);
  if (auto* e = std::get_if<CniError>(&conf)) return *e;
  HostLocalIpam ipam(std::get<IpamConf>(conf), inv.conf.name);
  auto done = [](const CniResult<Done>& r) -> CniResult<std::string> {
    if (auto* e = std::get_if<CniError>(&r)) return *e;
    return std::string();
  };
  switch (inv.env.command) {
    case Command::kAdd: {
      CniResult<CniOutput> out = ipam.Add(inv.env.container_id, inv.env.ifname);
      if (auto* e = std::get_if<CniError>(&out)) return *e;
      return ResultJson(std::get<CniOutput>(out), inv.conf.cni_version);
    }
    case Command::kDel:
      return done(ipam.Del(inv.env.container_id, inv.env.ifname));
    case Command::kCheck:
      return done(ipam.Check(inv.env.container_id, inv.env.ifname));
    case Command::kGc: {
      CniResult<std::vector<std::pair<std::string, std::string>>> valid =
          ParseValidAttachments(inv.conf);
      if (auto* e = std::get_if<CniError>(&valid)) return *e;
      return done(ipam.Gc(std::get<std::vector<std::pair<std::string, std::string>>>(valid)));
    }
    case Command::kStatus:
      return done(ipam.Status());
    case Command::kVersion:
      break;
  }
  return std::string();
}

PluginOutput RunPlugin(const EnvLookup& env, std::string_view stdin_data,
                       std::string_view invoked_as, const SystemFactory& make_system) {
  CniResult<Environment> parsed = ParseEnvironment(env);
  if (auto* error = std::get_if<CniError>(&parsed)) return Fail(*error, kLatestVersion);
  Environment& environment = std::get<Environment>(parsed);
  if (environment.command == Command::kVersion) return PluginOutput{0, VersionJson() + "\n"};

  CniResult<NetConf> conf = ParseNetConf(stdin_data);
  if (auto* error = std::get_if<CniError>(&conf)) {
    // Echo the configuration's version when it is a supported one.
    std::string version(kLatestVersion);
    boost::system::error_code ec;
    json::value v = json::parse(stdin_data, ec);
    if (!ec && v.is_object() && v.get_object().contains("cniVersion") &&
        v.get_object().at("cniVersion").is_string() &&
        IsSupportedVersion(v.get_object().at("cniVersion").get_string())) {
      version = std::string(v.get_object().at("cniVersion").get_string());
    }
    return Fail(*error, version);
  }
  NetConf& net_conf = std::get<NetConf>(conf);
  std::string version = net_conf.cni_version;
  CniResult<std::vector<std::pair<std::string, std::string>>> args = ParseArgs(environment.args);
  if (auto* error = std::get_if<CniError>(&args)) return Fail(*error, version);
  std::string type = net_conf.type.empty() ? std::string(invoked_as) : net_conf.type;
  if (type != "kelp-bridge" && type != "kelp-ipam" && type != "kelp-flannel") {
    return Fail(CniError{ErrorCode::kInvalidNetworkConfig, "unknown plugin type " + type,
                         "kelp-cni provides kelp-bridge, kelp-ipam and kelp-flannel"},
                version);
  }
  // Configuration errors are reported before anything is touched.
  if (type == "kelp-bridge") {
    CniResult<BridgeConf> bridge = ParseBridgeConf(net_conf);
    if (auto* error = std::get_if<CniError>(&bridge)) return Fail(*error, version);
  }
  if (type != "kelp-flannel") {
    CniResult<IpamConf> ipam = ParseIpamConf(net_conf);
    if (auto* error = std::get_if<CniError>(&ipam)) return Fail(*error, version);
  }
  Result<std::unique_ptr<System>> sys = make_system();
  if (!sys.ok()) {
    return Fail(CniError{ErrorCode::kIoFailure, "cannot reach the kernel",
                         sys.status().ToString()},
                version);
  }
  Invocation inv{std::move(environment), std::move(net_conf), **sys};
  CniResult<std::string> out = Dispatch(inv, type);
  if (auto* error = std::get_if<CniError>(&out)) return Fail(*error, version);
  std::string text = std::get<std::string>(out);
  return PluginOutput{0, text.empty() ? text : text + "\n"};
}

}  // namespace kelp::cni
