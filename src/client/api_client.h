// The ApiClient seam: how every component other than the apiserver (controllers, scheduler,
// agents, hollow nodes) reads and writes the cluster — over the same HTTPS API kubectl uses.
// Objects are Boost.JSON objects with Kubernetes' field names. HttpsApiClient (https_client.h)
// is the real implementation; testing::FakeApiClient keeps objects in memory for unit tests.
//
// Errors map from the API's Status: 404 → kNotFound, 409 AlreadyExists → kAlreadyExists,
// 409 Conflict → kConflict, 410 → kExpired, 422/400 → kInvalidArgument, 401/403 →
// kPermissionDenied, 5xx and transport failures → kUnavailable. The message is the Status'.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "common/status.h"

namespace kelp::client {

using ObjectPtr = std::shared_ptr<const boost::json::object>;

// A resource collection: group ("" for core), version, plural name, scope.
struct Resource {
  std::string_view group;
  std::string_view version;
  std::string_view plural;
  bool namespaced = true;

  // "v1" or "apps/v1".
  std::string ApiVersion() const;
  // "/api/v1" or "/apis/apps/v1".
  std::string GroupVersionPath() const;
  bool operator==(const Resource&) const = default;
};

inline constexpr Resource kNamespaces{"", "v1", "namespaces", false};
inline constexpr Resource kNodes{"", "v1", "nodes", false};
inline constexpr Resource kPods{"", "v1", "pods", true};
inline constexpr Resource kServices{"", "v1", "services", true};
inline constexpr Resource kEndpoints{"", "v1", "endpoints", true};
inline constexpr Resource kConfigMaps{"", "v1", "configmaps", true};
inline constexpr Resource kSecrets{"", "v1", "secrets", true};
inline constexpr Resource kEvents{"", "v1", "events", true};
inline constexpr Resource kServiceAccounts{"", "v1", "serviceaccounts", true};
inline constexpr Resource kDeployments{"apps", "v1", "deployments", true};
inline constexpr Resource kReplicaSets{"apps", "v1", "replicasets", true};
inline constexpr Resource kDaemonSets{"apps", "v1", "daemonsets", true};
inline constexpr Resource kHorizontalPodAutoscalers{"autoscaling", "v2",
                                                    "horizontalpodautoscalers", true};
inline constexpr Resource kLeases{"coordination.k8s.io", "v1", "leases", true};
inline constexpr Resource kEndpointSlices{"discovery.k8s.io", "v1", "endpointslices", true};

struct ListOptions {
  std::string label_selector;  // Kubernetes syntax, e.g. "app=nginx,tier!=db"
  std::string field_selector;  // e.g. "spec.nodeName=node01"
  int64_t limit = 0;           // 0: everything
  std::string continue_token;
  std::string resource_version;  // for Watch: resume after this revision
  bool allow_bookmarks = true;   // Watch only
  int timeout_seconds = 0;       // Watch only; 0: the server's default
};

struct ListResult {
  std::vector<boost::json::object> items;  // with apiVersion and kind filled in
  std::string resource_version;
  std::string continue_token;
};

enum class PatchType { kJson, kMerge, kStrategicMerge, kApply };

struct DeleteOptions {
  std::string propagation_policy;  // "", "Background", "Foreground", "Orphan"
  std::optional<int64_t> grace_period_seconds;
  std::string precondition_uid;  // delete only if the object still has this uid
  std::string precondition_resource_version;
};

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark };
  Type type = Type::kAdded;
  boost::json::object object;
};

// One open watch. Next() blocks until an event arrives; it returns nullopt when the stream
// ended normally (server timeout) — the caller re-watches from the last resourceVersion — and
// kExpired when the server answered 410 (the caller must relist).
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  [[nodiscard]] virtual Result<std::optional<WatchEvent>> Next() = 0;
  // Callable from any thread; a blocked Next() returns kCancelled promptly.
  virtual void Cancel() = 0;
};

class ApiClient {
 public:
  virtual ~ApiClient() = default;

  // `namespace_name` is ignored for cluster-scoped resources.
  [[nodiscard]] virtual Result<boost::json::object> Get(const Resource& resource,
                                                        std::string_view namespace_name,
                                                        std::string_view name) = 0;
  [[nodiscard]] virtual Result<ListResult> List(const Resource& resource,
                                                std::string_view namespace_name,
                                                const ListOptions& options) = 0;
  // POST to the collection (metadata.generateName works). Returns the stored object.
  [[nodiscard]] virtual Result<boost::json::object> Create(const Resource& resource,
                                                           std::string_view namespace_name,
                                                           const boost::json::object& object) = 0;
  // POST to a subresource of one object, e.g. pods/binding.
  [[nodiscard]] virtual Result<boost::json::object> CreateSubresource(
      const Resource& resource, std::string_view namespace_name, std::string_view name,
      std::string_view subresource, const boost::json::object& object) = 0;
  // PUT; namespace and name come from the object's metadata; metadata.resourceVersion, when
  // set, makes it conditional (kConflict when stale). `subresource` is "" or "status"/"scale".
  [[nodiscard]] virtual Result<boost::json::object> Update(const Resource& resource,
                                                           const boost::json::object& object,
                                                           std::string_view subresource = "") = 0;
  [[nodiscard]] virtual Result<boost::json::object> Patch(const Resource& resource,
                                                          std::string_view namespace_name,
                                                          std::string_view name, PatchType type,
                                                          std::string_view body,
                                                          std::string_view subresource = "") = 0;
  // kNotFound when absent. Deleting an object with finalizers or a grace period only marks it
  // (deletionTimestamp); the final removal arrives as a watch DELETED event.
  [[nodiscard]] virtual Status Delete(const Resource& resource, std::string_view namespace_name,
                                      std::string_view name, const DeleteOptions& options) = 0;
  [[nodiscard]] virtual Result<std::unique_ptr<WatchStream>> Watch(
      const Resource& resource, std::string_view namespace_name, const ListOptions& options) = 0;
};

// "ns/name" for namespaced objects, "name" for cluster-scoped ones: the key informers and
// work queues use.
std::string ObjectKey(const boost::json::object& object);
// Splits a key back into namespace ("" when cluster-scoped) and name.
std::pair<std::string, std::string> SplitKey(std::string_view key);

}  // namespace kelp::client
