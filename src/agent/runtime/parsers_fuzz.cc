// Fuzz target over the runtime's parsers of outside input: CNI configuration lists and plugin
// output (results, error JSON), libcni cache files, runc's JSON, CRI log lines, the image's
// /etc/passwd and /etc/group, and the shim's state files.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/runtime/cgroups.h"
#include "agent/runtime/cni_runner.h"
#include "agent/runtime/cri_log.h"
#include "agent/runtime/runc.h"
#include "agent/runtime/shim.h"
#include "agent/runtime/user.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  using namespace kelp::agent;
  (void)ParseNetworkList(input);
  (void)ParseNetworkConf(input);
  (void)ParseCniPluginError(input);
  (void)ParseCniCacheEntry(input);
  (void)ParseRuncList(input);
  (void)ParseRuncState(input);
  (void)ParseCriLogLine(input);
  (void)ParsePasswd(input);
  (void)ParseGroup(input);
  (void)ParseExitInfo(input);
  (void)ParseShimInfo(input);
  (void)ParseRfc3339(input);
  (void)ParseCgroupMounts(input);
  (void)ParseProcCgroup(input);
  auto user = ResolveUser("app:www", {}, ParsePasswd(input), ParseGroup(input));
  (void)user;
  return 0;
}
