// /version as a Kubernetes version.Info document; health endpoints answer "ok" while the
// process serves (readiness gains real checks once storage exists).
#include "apiserver/core_routes.h"

#include <boost/json.hpp>

namespace kelp::apiserver {
namespace {

// GOOS/GOARCH spelling, as Kubernetes reports it.
constexpr const char* kPlatform =
#if defined(__aarch64__)
    "linux/arm64";
#else
    "linux/amd64";
#endif

HttpResponse VersionInfo(const HttpRequest&) {
  boost::json::object info{{"major", kKubernetesMajor},
                           {"minor", kKubernetesMinor},
                           {"gitVersion", kKubernetesGitVersion},
                           {"gitCommit", ""},
                           {"gitTreeState", "clean"},
                           {"buildDate", "1970-01-01T00:00:00Z"},
                           {"goVersion", "none (kelp is C++)"},
                           {"compiler", "g++"},
                           {"platform", kPlatform}};
  return JsonResponse(200, boost::json::serialize(info));
}

HttpResponse Ok(const HttpRequest&) { return TextResponse(200, "ok"); }

}  // namespace

void AddCoreRoutes(Router& router) {
  router.Add("GET", "/version", VersionInfo);
  for (const char* path : {"/healthz", "/livez", "/readyz"}) router.Add("GET", path, Ok);
}

}  // namespace kelp::apiserver
