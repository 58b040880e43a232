// kelp-flannel: reads the subnet.env flanneld (or the kelp agent) writes and delegates to
// kelp-bridge + kelp-ipam the way flannel's CNI plugin does: name, cniVersion, ipMasq
// (!FLANNEL_IPMASQ), mtu (FLANNEL_MTU) and, for a bridge delegate, isGateway, unless the
// delegate sets them; hairpinMode and isDefaultGateway come from the configuration's
// "delegate" as in flannel's own conflist. ADD waits a bounded time for subnet.env, then
// answers code 11; the delegate is saved per container so DEL works after subnet.env is gone.
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include "cni/types.h"
#include "common/file.h"

namespace kelp::cni {
namespace {

namespace json = boost::json;

// Parses the subnet.env flannel writes ("KEY=VALUE" lines).
std::map<std::string, std::string> ParseEnvFile(const std::string& text) {
  std::map<std::string, std::string> vars;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    std::string line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? text.size() : end + 1;
    size_t eq = line.find('=');
    if (eq != std::string::npos && eq > 0) vars[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return vars;
}

}  // namespace

CniResult<std::string> RunFlannel(const Invocation& inv) {
  CniResult<FlannelConf> parsed = ParseFlannelConf(inv.conf);
  if (auto* e = std::get_if<CniError>(&parsed)) return *e;
  const FlannelConf& f = std::get<FlannelConf>(parsed);
  std::string saved = f.data_dir + "/" + inv.env.container_id;
  auto delegate_type = [](const json::object& d) {
    const json::value* t = d.if_contains("type");
    return t && t->is_string() ? std::string(t->get_string()) : std::string("kelp-bridge");
  };
  if (inv.env.command == Command::kDel || inv.env.command == Command::kCheck) {
    Result<std::string> text = ReadFile(saved);
    if (!text.ok()) {
      if (inv.env.command == Command::kDel) return std::string();  // nothing was added
      return CniError{ErrorCode::kContainerUnknown, "no delegate saved for this container", ""};
    }
    boost::system::error_code ec;
    json::value d = json::parse(*text, ec);
    if (ec || !d.is_object()) return CniError{ErrorCode::kDecodeFailure, "bad saved delegate", saved};
    if (const json::value* prev = inv.conf.raw.if_contains("prevResult")) {
      d.get_object()["prevResult"] = *prev;
    }
    CniResult<std::string> out = Delegate(inv, d.get_object(), delegate_type(d.get_object()),
                                          inv.env.command);
    if (inv.env.command == Command::kDel && std::holds_alternative<std::string>(out)) {
      std::filesystem::remove(saved);
    }
    return out;
  }
  // ADD, GC and STATUS need subnet.env; ADD waits for it a bounded time.
  Result<std::string> env = ReadFile(f.subnet_file);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(f.subnet_wait_ms);
  while (!env.ok() && inv.env.command == Command::kAdd &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    env = ReadFile(f.subnet_file);
  }
  if (!env.ok()) {
    if (inv.env.command == Command::kGc) return std::string();
    return CniError{inv.env.command == Command::kAdd ? ErrorCode::kTryAgainLater
                                                     : ErrorCode::kNotAvailable,
                    f.subnet_file + " is not there yet", "the flannel network is not ready"};
  }
  std::map<std::string, std::string> vars = ParseEnvFile(*env);
  if (!vars.contains("FLANNEL_NETWORK") || !vars.contains("FLANNEL_SUBNET")) {
    return CniError{ErrorCode::kInvalidNetworkConfig,
                    f.subnet_file + " lacks FLANNEL_NETWORK or FLANNEL_SUBNET", ""};
  }
  json::object d = f.delegate;
  d["cniVersion"] = inv.conf.cni_version;
  d["name"] = inv.conf.name;
  if (!d.contains("type")) d["type"] = "kelp-bridge";
  if (!d.contains("isGateway") && (d["type"] == "kelp-bridge" || d["type"] == "bridge")) {
    d["isGateway"] = true;
  }
  if (!d.contains("ipMasq")) d["ipMasq"] = vars["FLANNEL_IPMASQ"] != "true";
  if (!d.contains("mtu") && vars.contains("FLANNEL_MTU")) {
    d["mtu"] = std::strtol(vars["FLANNEL_MTU"].c_str(), nullptr, 10);
  }
  json::object ipam{{"type", "kelp-ipam"},
                    {"ranges", json::array{json::array{json::object{
                                   {"subnet", vars["FLANNEL_SUBNET"]}}}}},
                    {"routes", json::array{json::object{{"dst", vars["FLANNEL_NETWORK"]}}}}};
  if (const json::value* dir = inv.conf.raw.if_contains("ipamDataDir")) ipam["dataDir"] = *dir;
  d["ipam"] = std::move(ipam);
  if (const json::value* valid = inv.conf.raw.if_contains("cni.dev/valid-attachments")) {
    d["cni.dev/valid-attachments"] = *valid;
  }
  if (inv.env.command != Command::kAdd) {
    return Delegate(inv, d, delegate_type(d), inv.env.command);
  }
  Status made = CreateDirectories(f.data_dir, 0700);
  if (made.ok()) made = WriteFileAtomic(saved, json::serialize(d), 0600);
  if (!made.ok()) return CniError{ErrorCode::kIoFailure, "cannot save delegate", made.message()};
  CniResult<std::string> out = Delegate(inv, d, delegate_type(d), Command::kAdd);
  if (std::holds_alternative<CniError>(out)) std::filesystem::remove(saved);
  return out;
}

}  // namespace kelp::cni
