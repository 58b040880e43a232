// BarePods (see bare_pod.h): `kelp lab exec` + `ip netns` + the CNI plugins of the node.
#include "lab/bare_pod.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <thread>

#include "common/file.h"
#include "common/json.h"

namespace kelp::lab {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

Status Check(const Result<ProcessResult>& result, const std::string& what) {
  if (!result.ok()) return result.status().WithContext(what);
  if (result->exit_code != 0 || result->term_signal != 0) {
    return InternalError(fmt::format("{}: exit {}: {}{}", what, result->exit_code,
                                     result->stdout_data, result->stderr_data));
  }
  return Status::Ok();
}

}  // namespace

std::vector<std::string> BarePods::InNode(const std::string& node,
                                          std::vector<std::string> argv) const {
  std::vector<std::string> full = {
      kelp_.string(),        "lab", "exec", "--prefix", options_.prefix, "--dir",
      options_.dir.string(), node,  "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

std::vector<std::string> BarePods::InPod(const std::string& node, const std::string& pod,
                                         std::vector<std::string> argv) const {
  std::vector<std::string> inner = {"ip", "netns", "exec", pod};
  inner.insert(inner.end(), argv.begin(), argv.end());
  return InNode(node, std::move(inner));
}

Result<std::string> BarePods::Conflist(const std::string& node) const {
  KELP_ASSIGN_OR_RETURN(LabTopology lab, MakeTopology(options_));
  const LabNode* n = lab.Find(node);
  if (n == nullptr) return NotFoundError("the lab has no node " + node);
  const std::filesystem::path dir = n->root / "etc-cni" / "net.d";
  std::error_code error;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.path().extension() == ".conflist") files.push_back(entry.path());
  }
  if (files.empty()) return NotFoundError("no conflist in " + dir.string() + " yet");
  std::sort(files.begin(), files.end());
  return ReadFile(files.front());
}

Result<ProcessResult> BarePods::Cni(const std::string& node, const std::string& pod,
                                    const std::string& command) {
  KELP_ASSIGN_OR_RETURN(std::string text, Conflist(node));
  KELP_ASSIGN_OR_RETURN(json::object conflist, ParseJsonObject(text));
  KELP_ASSIGN_OR_RETURN(const json::array* plugins, GetArray(conflist, "plugins"));
  if (plugins->empty() || !plugins->front().is_object()) {
    return InvalidArgumentError("conflist of " + node + " has no plugin");
  }
  // As libcni: the first plugin's config with the list's name and version (kelp-flannel is
  // the only plugin flannel installs).
  json::object conf = plugins->front().get_object();
  conf["cniVersion"] = conflist["cniVersion"];
  conf["name"] = conflist["name"];
  KELP_ASSIGN_OR_RETURN(std::string type, GetString(conf, "type"));
  return runner_.Run(
      {.argv = InNode(node, {"/opt/cni/bin/" + type}),
       .env = std::vector<std::string>{"CNI_COMMAND=" + command, "CNI_CONTAINERID=" + pod,
                                       "CNI_NETNS=/run/netns/" + pod, "CNI_IFNAME=eth0",
                                       "CNI_PATH=/opt/cni/bin:/usr/lib/cni",
                                       "PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
       .stdin_data = json::serialize(conf),
       .timeout = 60s});
}

Result<std::string> BarePods::Add(const std::string& node, const std::string& pod,
                                  std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!Conflist(node).ok()) {
    if (std::chrono::steady_clock::now() > deadline) return Conflist(node).status();
    std::this_thread::sleep_for(100ms);
  }
  KELP_RETURN_IF_ERROR(
      Check(runner_.Run({.argv = InNode(node, {"ip", "netns", "add", pod}), .timeout = 20s}),
            "ip netns add " + pod + " on " + node));
  Result<ProcessResult> added = Cni(node, pod, "ADD");
  Status status = Check(added, "CNI ADD " + pod + " on " + node);
  Result<json::object> result =
      status.ok() ? ParseJsonObject(added->stdout_data) : Result<json::object>(status);
  Result<std::string> address =
      result.ok() ? Result<std::string>(NotFoundError("CNI ADD " + pod + ": no ips in the result"))
                  : Result<std::string>(result.status());
  if (result.ok()) {
    const json::value* ips = result->if_contains("ips");
    if (ips && ips->is_array() && !ips->get_array().empty() && ips->get_array()[0].is_object()) {
      address = GetString(ips->get_array()[0].get_object(), "address");
    }
  }
  if (!address.ok()) {
    (void)Delete(node, pod);
    return address.status();
  }
  return address->substr(0, address->find('/'));
}

Status BarePods::Delete(const std::string& node, const std::string& pod) {
  Result<ProcessResult> deleted = Cni(node, pod, "DEL");
  Status status = Check(deleted, "CNI DEL " + pod + " on " + node);
  // The namespace goes even when DEL failed; a missing one is fine.
  (void)runner_.Run({.argv = InNode(node, {"ip", "netns", "del", pod}), .timeout = 20s});
  return status;
}

}  // namespace kelp::lab
