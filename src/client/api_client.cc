// Resource paths and object keys shared by every ApiClient implementation.
#include "client/api_client.h"

#include <boost/json.hpp>

namespace kelp::client {

std::string Resource::ApiVersion() const {
  if (group.empty()) return std::string(version);
  return std::string(group) + "/" + std::string(version);
}

std::string Resource::GroupVersionPath() const {
  if (group.empty()) return "/api/" + std::string(version);
  return "/apis/" + ApiVersion();
}

std::string ObjectKey(const boost::json::object& object) {
  const boost::json::object* metadata = object.if_contains("metadata")
                                            ? object.at("metadata").if_object()
                                            : nullptr;
  if (metadata == nullptr) return "";
  std::string name;
  std::string namespace_name;
  if (const boost::json::value* v = metadata->if_contains("name"); v && v->is_string()) {
    name = std::string(v->get_string());
  }
  if (const boost::json::value* v = metadata->if_contains("namespace"); v && v->is_string()) {
    namespace_name = std::string(v->get_string());
  }
  if (namespace_name.empty()) return name;
  return namespace_name + "/" + name;
}

std::pair<std::string, std::string> SplitKey(std::string_view key) {
  size_t slash = key.find('/');
  if (slash == std::string_view::npos) return {"", std::string(key)};
  return {std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

}  // namespace kelp::client
