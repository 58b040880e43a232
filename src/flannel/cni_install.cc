// The kelp-flannel conflist and plugin links (see cni_install.h).
#include "flannel/cni_install.h"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "common/file.h"

namespace kelp::flannel {

namespace json = boost::json;

std::string FlannelConflist() {
  json::object conf{
      {"cniVersion", "1.0.0"},
      {"name", kCniNetworkName},
      {"plugins",
       json::array{json::object{
           {"type", "kelp-flannel"},
           {"delegate", json::object{{"hairpinMode", true}, {"isDefaultGateway", true}}}}}}};
  return json::serialize(conf) + "\n";
}

Status InstallCni(const CniInstallOptions& options) {
  KELP_RETURN_IF_ERROR(CreateDirectories(options.conf_dir, 0755));
  KELP_RETURN_IF_ERROR(CreateDirectories(options.bin_dir, 0755));
  const std::filesystem::path conflist = options.conf_dir / kConflistName;
  const std::string content = FlannelConflist();
  if (ReadFile(conflist).value_or("") != content) {
    KELP_RETURN_IF_ERROR(WriteFileAtomic(conflist, content, 0644));
  }
  std::filesystem::path binary = options.kelp_cni_binary;
  if (binary.empty()) {
    std::error_code error;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
    if (!error) binary = self.parent_path() / "kelp-cni";
  }
  for (const char* plugin : {"kelp-flannel", "kelp-bridge", "kelp-ipam"}) {
    const std::filesystem::path target = options.bin_dir / plugin;
    std::error_code error;
    if (std::filesystem::exists(std::filesystem::symlink_status(target, error))) continue;
    if (binary.empty() || !std::filesystem::exists(binary)) {
      return NotFoundError(fmt::format(
          "{} is missing and there is no kelp-cni binary to link it to (looked for {}); "
          "pass --kelp-cni",
          target.string(), binary.string()));
    }
    std::filesystem::create_symlink(std::filesystem::absolute(binary), target, error);
    if (error && error != std::errc::file_exists) {
      return IoError(
          fmt::format("link {} → {}: {}", target.string(), binary.string(), error.message()));
    }
  }
  return Status::Ok();
}

}  // namespace kelp::flannel
