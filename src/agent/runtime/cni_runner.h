// CniRunner: what libcni does for a container runtime. It picks the node's network
// configuration (the first *.conf/*.conflist/*.json in the conf dir, lexical order), executes
// each plugin of the list from the bin dirs with the CNI_* environment and its config (name,
// cniVersion and prevResult injected), chains ADD results, runs DEL in reverse with the
// cached result, CHECK and STATUS, and keeps libcni's result cache
// (<cache_dir>/results/<network>-<containerid>-<ifname>). Plugins run through ProcessRunner.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "common/process.h"
#include "common/status.h"

namespace kelp::agent {

struct CniOptions {
  std::filesystem::path conf_dir = "/etc/cni/net.d";
  // Searched in order for a plugin binary named after its "type".
  std::vector<std::filesystem::path> bin_dirs = {"/opt/cni/bin", "/usr/lib/cni"};
  // libcni's cache dir; results live in <cache_dir>/results.
  std::filesystem::path cache_dir = "/var/lib/cni";
  std::chrono::milliseconds plugin_timeout = std::chrono::seconds(60);
};

// A network configuration list, as loaded from a .conflist (or a single-plugin .conf wrapped
// into a list, as libcni's ConfListFromConf does).
struct CniNetworkList {
  std::string name;
  std::string cni_version;
  bool disable_check = false;
  std::vector<boost::json::object> plugins;
  std::string bytes;  // the list as JSON: what the cache stores as "config"
  std::filesystem::path source;  // the file it came from (empty when cached)
};

// Parses a .conflist document. InvalidArgument names the problem.
Result<CniNetworkList> ParseNetworkList(std::string_view bytes);
// Parses a single-plugin .conf document into a one-plugin list.
Result<CniNetworkList> ParseNetworkConf(std::string_view bytes);
// The first valid configuration file of `conf_dir` in lexical order (*.conf, *.conflist,
// *.json; invalid files are skipped with a warning, like CRI runtimes do). NotFound if none.
Result<CniNetworkList> LoadFirstNetworkList(const std::filesystem::path& conf_dir);

// What identifies one attachment (libcni's RuntimeConf).
struct CniAttachment {
  std::string container_id;
  std::string netns;  // path of the namespace; may be empty for DEL
  std::string ifname = "eth0";
  std::vector<std::pair<std::string, std::string>> args;  // CNI_ARGS, in order
};

// CNI_ARGS for a Kubernetes pod, as containerd sends them.
std::vector<std::pair<std::string, std::string>> KubernetesCniArgs(const std::string& pod_namespace,
                                                                   const std::string& pod_name,
                                                                   const std::string& sandbox_id,
                                                                   const std::string& pod_uid);

// The error JSON a failed plugin prints ({"code":N,"msg":"...","details":"..."}).
struct CniPluginError {
  int code = 0;
  std::string msg;
  std::string details;
};
// nullopt when `output` is not a CNI error object.
std::optional<CniPluginError> ParseCniPluginError(std::string_view output);

struct CniAddResult {
  boost::json::object result;  // the last plugin's result
  std::string ip;              // first IPv4 address of the result, without prefix ("" if none)
  std::string ip_prefix;       // the same with its prefix length ("10.244.1.5/24")
  std::string gateway;
};

// One entry of the result cache (libcni's cachedInfo).
struct CniCacheEntry {
  std::string container_id;
  std::string network_name;
  std::string ifname;
  std::string netns;
  std::vector<std::pair<std::string, std::string>> args;
  std::string config;  // the network list JSON used for ADD
  std::optional<boost::json::object> result;
};
// Parses a cache file's contents.
Result<CniCacheEntry> ParseCniCacheEntry(std::string_view bytes);

class CniRunner {
 public:
  CniRunner(CniOptions options, ProcessRunner& runner)
      : options_(std::move(options)), runner_(runner) {}

  const CniOptions& options() const { return options_; }

  // The node's current configuration (LoadFirstNetworkList over options().conf_dir).
  Result<CniNetworkList> LoadNetworkList() const;

  // ADD through every plugin of `list`, each getting the previous result as prevResult; the
  // final result is cached. A failing plugin's error is returned with its CNI code and msg;
  // nothing is undone (the caller runs Del, as CRI runtimes do).
  Result<CniAddResult> Add(const CniNetworkList& list, const CniAttachment& attachment);
  // DEL through the plugins in reverse order with the cached result as prevResult (for
  // cniVersion >= 0.4.0); the cache entry is removed once every plugin succeeded.
  Status Del(const CniNetworkList& list, const CniAttachment& attachment);
  // CHECK (cniVersion >= 0.4.0, needs the cached result); a no-op when disableCheck is set.
  Status Check(const CniNetworkList& list, const CniAttachment& attachment);
  // STATUS (cniVersion >= 1.1.0; older lists are always ready).
  Status NetworkStatus(const CniNetworkList& list);

  // The cache file path for `network` and `attachment`.
  std::filesystem::path CachePath(const std::string& network,
                                  const CniAttachment& attachment) const;
  // Every cache entry for `container_id` (any network, any interface). Unreadable entries are
  // skipped.
  std::vector<CniCacheEntry> CachedEntries(const std::string& container_id) const;
  // The network list an attachment was added with, from its cache entry. NotFound without one.
  Result<CniNetworkList> CachedNetworkList(const std::string& container_id,
                                           const std::string& ifname) const;

 private:
  enum class Verb { kAdd, kDel, kCheck, kStatus };
  Result<boost::json::object> Invoke(Verb verb, const CniNetworkList& list,
                                     const boost::json::object& plugin,
                                     const boost::json::object* prev_result,
                                     const CniAttachment* attachment);
  Result<std::filesystem::path> FindPlugin(const std::string& type) const;
  Status WriteCache(const CniNetworkList& list, const CniAttachment& attachment,
                    const boost::json::object& result);
  Result<std::optional<boost::json::object>> ReadCachedResult(const std::string& network,
                                                              const CniAttachment& attachment);

  const CniOptions options_;
  ProcessRunner& runner_;
};

// "1.0.0" >= "0.4.0"; unparsable versions compare as 0.0.0.
bool CniVersionAtLeast(std::string_view version, std::string_view minimum);

}  // namespace kelp::agent
