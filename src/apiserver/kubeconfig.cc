// Renders the admin kubeconfig YAML (base64 CA via OpenSSL EVP_EncodeBlock) and saves it.
#include "apiserver/kubeconfig.h"

#include <openssl/evp.h>

#include <vector>

#include "common/file.h"

namespace kelp::apiserver {
namespace {

std::string Base64(std::string_view data) {
  std::vector<unsigned char> encoded(4 * ((data.size() + 2) / 3) + 1);
  int length = EVP_EncodeBlock(encoded.data(), reinterpret_cast<const unsigned char*>(data.data()),
                               static_cast<int>(data.size()));
  return std::string(reinterpret_cast<const char*>(encoded.data()), static_cast<size_t>(length));
}

// A YAML double-quoted scalar, so any token or host text stays one plain string.
std::string YamlQuoted(std::string_view text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace

std::string ServerUrl(std::string_view host, uint16_t port) {
  bool ipv6 = host.find(':') != std::string_view::npos;
  std::string url = "https://";
  url += ipv6 ? "[" + std::string(host) + "]" : std::string(host);
  return url + ":" + std::to_string(port);
}

std::string RenderKubeconfig(const KubeconfigParams& params) {
  std::string yaml;
  yaml += "apiVersion: v1\n";
  yaml += "kind: Config\n";
  yaml += "clusters:\n";
  yaml += "- name: default\n";
  yaml += "  cluster:\n";
  yaml += "    server: " + YamlQuoted(ServerUrl(params.server_host, params.server_port)) + "\n";
  yaml += "    certificate-authority-data: " + Base64(params.ca_cert_pem) + "\n";
  yaml += "users:\n";
  yaml += "- name: default\n";
  yaml += "  user:\n";
  yaml += "    token: " + YamlQuoted(params.token) + "\n";
  yaml += "contexts:\n";
  yaml += "- name: default\n";
  yaml += "  context:\n";
  yaml += "    cluster: default\n";
  yaml += "    user: default\n";
  yaml += "current-context: default\n";
  yaml += "preferences: {}\n";
  return yaml;
}

Status WriteKubeconfig(const std::filesystem::path& path, const KubeconfigParams& params) {
  if (path.has_parent_path()) KELP_RETURN_IF_ERROR(CreateDirectories(path.parent_path(), 0700));
  return WriteFileAtomic(path, RenderKubeconfig(params), 0600);
}

}  // namespace kelp::apiserver
