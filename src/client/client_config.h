// ClientConfig: where the API server is and how to trust and authenticate to it, and the
// kubeconfig reader that fills it (the file `kelp server` writes, or kubectl's usual form).
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kelp::client {

struct ClientConfig {
  std::string server;  // "https://host:port" ("https://[::1]:6443" for IPv6)
  std::string token;   // bearer token
  // Trust, one of: the CA certificate(s) as PEM, a PEM file, or the lower-case hex SHA-256 of
  // the CA certificate's DER (then the CA is taken from the chain the server presents when its
  // hash matches, and the serving certificate is verified against it).
  std::string ca_pem;
  std::filesystem::path ca_file;
  std::string ca_sha256;
  // Limit on one request (connect, send, receive); a watch is limited only by its
  // timeout_seconds and Cancel().
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
  size_t max_idle_connections = 16;   // kept open for reuse
  std::string field_manager = "kelp";  // for server-side apply
  std::string user_agent = "kelp";
};

// The current context's server, CA (certificate-authority-data, or certificate-authority
// relative to `base_dir`) and token (token, or tokenFile relative to `base_dir`) of kubeconfig
// YAML. InvalidArgument naming what is missing or malformed.
Result<ClientConfig> ParseKubeconfig(std::string_view yaml, const std::filesystem::path& base_dir);
// ParseKubeconfig of a file, relative paths taken from its directory; NotFound when absent.
Result<ClientConfig> LoadKubeconfig(const std::filesystem::path& path);

}  // namespace kelp::client
