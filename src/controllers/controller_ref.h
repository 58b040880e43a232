// Owner references between a controller's object and what it manages (a ReplicaSet and its
// pods, a Deployment and its ReplicaSets), as Kubernetes' ControllerRefManager: the controller
// reference (controller: true, blockOwnerDeletion: true), and claiming — keep what is owned and
// still matches the selector, adopt matching orphans, release owned objects that no longer
// match. Adopting first re-reads the owner from the API, so an owner that is being deleted (or
// was replaced by one of the same name) never adopts.
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "api/selectors.h"
#include "client/api_client.h"
#include "common/status.h"

namespace kelp::controllers {

// The ownerReference with controller: true, or null.
const boost::json::object* ControllerRefOf(const boost::json::object& object);
// {apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true} for `owner`.
boost::json::object MakeControllerRef(const boost::json::object& owner,
                                      std::string_view api_version, std::string_view kind);

struct OwnerIdentity {
  const boost::json::object& owner;  // as the controller's informer has it
  const client::Resource& owner_resource;
  std::string_view api_version;  // "apps/v1"
  std::string_view kind;         // "ReplicaSet"
};

// Returns the candidates `owner` controls after claiming: owned and matching, or adopted.
// Owned candidates that no longer match are released (unless the owner is being deleted);
// candidates controlled by another owner are left alone. Writes go through `client` as
// conditional updates of `resource`; an object that vanished meanwhile is skipped.
Result<std::vector<client::ObjectPtr>> ClaimObjects(client::ApiClient& client,
                                                     const client::Resource& resource,
                                                     const OwnerIdentity& owner,
                                                     const api::LabelSelector& selector,
                                                     const std::vector<client::ObjectPtr>& candidates);

}  // namespace kelp::controllers
