// ConfigMap kube-system/kube-flannel-cfg: flannel's net-conf.json for --cluster-cidr and
// --flannel-backend, created by the server when absent (an existing one, perhaps edited by
// the administrator, is left alone, as kube-flannel.yml's ConfigMap would be).
#pragma once

#include <string_view>

#include "apiserver/rest.h"
#include "common/status.h"

namespace kelp::apiserver {

// No-op for backend "none". InvalidArgument for a bad CIDR or backend.
Status EnsureFlannelConfig(const RestApi& rest, std::string_view cluster_cidr,
                           std::string_view backend);

}  // namespace kelp::apiserver
