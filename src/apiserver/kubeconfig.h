// The admin kubeconfig the server writes for kubectl: one cluster (server URL + CA data), one
// token user and one context, all named "default". Emitted as text: the shape is fixed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kelp::apiserver {

struct KubeconfigParams {
  std::string server_host;  // IP or DNS name; IPv6 literals are bracketed in the URL
  uint16_t server_port = 6443;
  std::string ca_cert_pem;
  std::string token;
};

// "https://<host>:<port>", with "[...]" around an IPv6 host.
std::string ServerUrl(std::string_view host, uint16_t port);

std::string RenderKubeconfig(const KubeconfigParams& params);

// Renders and writes the kubeconfig atomically with mode 0600 (it holds the token).
Status WriteKubeconfig(const std::filesystem::path& path, const KubeconfigParams& params);

}  // namespace kelp::apiserver
