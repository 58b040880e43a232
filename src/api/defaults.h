// Defaulting of API objects on create/update, mirroring the Kubernetes defaults that kubectl
// users see in `get -o yaml` (restartPolicy Always, imagePullPolicy, RollingUpdate 25%/25%,
// Service ClusterIP/TCP/targetPort, ...). Only absent fields are filled; values the client set
// are kept, and parts of the object with an unexpected JSON type are left for validation.
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

namespace kelp::api {

// What the server's flags change in defaulting: Kubernetes' DefaultTolerationSeconds
// admission plugin gives pods that do not tolerate the node-failure NoExecute taints these
// tolerationSeconds (kube-apiserver's --default-not-ready-toleration-seconds and
// --default-unreachable-toleration-seconds).
struct DefaultingOptions {
  int not_ready_toleration_seconds = 300;
  int unreachable_toleration_seconds = 300;
};

// Fills defaults of an object of `resource` in `group` ("" for core) in place.
void ApplyDefaults(std::string_view group, std::string_view resource, boost::json::object& object,
                   const DefaultingOptions& options = {});

}  // namespace kelp::api
