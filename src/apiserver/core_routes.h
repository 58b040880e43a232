// The apiserver's non-resource endpoints that need no storage: /version (kubectl's dispatcher
// picks its bundled client by the minor served here), /healthz, /livez and /readyz.
#pragma once

#include "apiserver/router.h"

namespace kelp::apiserver {

inline constexpr const char* kKubernetesMajor = "1";
inline constexpr const char* kKubernetesMinor = "32";
inline constexpr const char* kKubernetesGitVersion = "v1.32.0-kelp.0";

void AddCoreRoutes(Router& router);

}  // namespace kelp::apiserver
