// Defaulting of API objects on create/update, mirroring the Kubernetes defaults that kubectl
// users see in `get -o yaml` (restartPolicy Always, imagePullPolicy, RollingUpdate 25%/25%,
// Service ClusterIP/TCP/targetPort, ...). Only absent fields are filled; values the client set
// are kept, and parts of the object with an unexpected JSON type are left for validation.
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

namespace kelp::api {

// Fills defaults of an object of `resource` in `group` ("" for core) in place.
void ApplyDefaults(std::string_view group, std::string_view resource, boost::json::object& object);

}  // namespace kelp::api
