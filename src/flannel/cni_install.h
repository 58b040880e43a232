// Installs the pieces the container runtime needs to attach pods to flannel: the conflist
// <conf dir>/10-kelp-flannel.conflist (type kelp-flannel, delegating to kelp-bridge with
// hairpinMode and isDefaultGateway, as flannel's kube-flannel.yml does) and, in the CNI bin
// dir, kelp-flannel, kelp-bridge and kelp-ipam as symlinks to the kelp-cni binary (which acts
// by the name it is run as). Existing binaries are left alone; the conflist is rewritten only
// when its content differs, atomically.
#pragma once

#include <filesystem>
#include <string>

#include "common/status.h"

namespace kelp::flannel {

inline constexpr char kConflistName[] = "10-kelp-flannel.conflist";
inline constexpr char kCniNetworkName[] = "cbr0";  // flannel's network name

struct CniInstallOptions {
  std::filesystem::path conf_dir = "/etc/cni/net.d";
  std::filesystem::path bin_dir = "/opt/cni/bin";
  // The kelp-cni binary; "" looks next to the running executable.
  std::filesystem::path kelp_cni_binary;
};

std::string FlannelConflist();

// NotFound when there is no kelp-cni binary to link to and a plugin is missing.
Status InstallCni(const CniInstallOptions& options);

}  // namespace kelp::flannel
