// Kubeconfig reading with yaml-cpp: current-context → context → cluster and user.
#include "client/client_config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <vector>

#include "common/file.h"

namespace kelp::client {
namespace {

Status Invalid(std::string_view what) {
  return InvalidArgumentError("kubeconfig: " + std::string(what));
}

// The `field` of the entry named `name` in the list `list` ("clusters", ...), or a null node.
YAML::Node FindNamed(const YAML::Node& root, const char* list, const std::string& name,
                     const char* field) {
  YAML::Node entries = root[list];
  if (!entries || !entries.IsSequence()) return YAML::Node();
  for (const YAML::Node& entry : entries) {
    if (entry.IsMap() && entry["name"] && entry["name"].as<std::string>("") == name) {
      return entry[field];
    }
  }
  return YAML::Node();
}

// Throws YAML::Exception on a node of the wrong shape; the caller turns that into a Status.
Result<ClientConfig> FromDocument(const YAML::Node& root, const std::filesystem::path& base_dir) {
  if (!root.IsMap()) return Invalid("not a map");
  std::string context_name = root["current-context"].as<std::string>("");
  if (context_name.empty()) return Invalid("no current-context");
  YAML::Node context = FindNamed(root, "contexts", context_name, "context");
  if (!context || !context.IsMap()) return Invalid("context \"" + context_name + "\" not found");
  std::string cluster_name = context["cluster"].as<std::string>("");
  std::string user_name = context["user"].as<std::string>("");
  YAML::Node cluster = FindNamed(root, "clusters", cluster_name, "cluster");
  if (!cluster || !cluster.IsMap()) return Invalid("cluster \"" + cluster_name + "\" not found");
  ClientConfig config;
  config.server = cluster["server"].as<std::string>("");
  if (config.server.empty()) return Invalid("cluster \"" + cluster_name + "\" has no server");
  if (std::string data = cluster["certificate-authority-data"].as<std::string>("");
      !data.empty()) {
    std::vector<unsigned char> decoded = YAML::DecodeBase64(data);
    if (decoded.empty()) return Invalid("certificate-authority-data is not base64");
    config.ca_pem.assign(decoded.begin(), decoded.end());
  } else if (std::string file = cluster["certificate-authority"].as<std::string>("");
             !file.empty()) {
    config.ca_file = base_dir / file;  // an absolute `file` replaces the directory
  }
  YAML::Node user = FindNamed(root, "users", user_name, "user");
  if (!user || !user.IsMap()) return config;
  config.token = user["token"].as<std::string>("");
  std::string token_file = user["tokenFile"].as<std::string>("");
  if (config.token.empty() && !token_file.empty()) {
    KELP_ASSIGN_OR_RETURN(std::string token, ReadFile(base_dir / token_file));
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) {
      token.pop_back();
    }
    config.token = std::move(token);
  }
  return config;
}

}  // namespace

Result<ClientConfig> ParseKubeconfig(std::string_view yaml,
                                     const std::filesystem::path& base_dir) {
  try {
    return FromDocument(YAML::Load(std::string(yaml)), base_dir);
  } catch (const YAML::Exception& e) {
    return Invalid(e.what());
  }
}

Result<ClientConfig> LoadKubeconfig(const std::filesystem::path& path) {
  KELP_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  Result<ClientConfig> config = ParseKubeconfig(text, path.parent_path());
  if (!config.ok()) return config.status().WithContext(path.string());
  return config;
}

}  // namespace kelp::client
