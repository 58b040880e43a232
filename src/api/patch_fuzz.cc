// libFuzzer target for the PATCH verb: the input is used as a JSON Patch, a JSON merge patch
// and a strategic merge patch against one fixed Deployment. Every input must apply or fail
// with a Status, never crash, hang or blow up memory. Seed corpus: testdata/patch_corpus/.
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/patch.h"
#include "common/json.h"

namespace {

constexpr std::string_view kDeployment = R"({
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"},
               "finalizers": ["example.com/a", "example.com/b"]},
  "spec": {
    "replicas": 3,
    "selector": {"matchLabels": {"app": "web"}},
    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
    "template": {
      "metadata": {"labels": {"app": "web"}},
      "spec": {
        "containers": [
          {"name": "nginx", "image": "nginx:1.22",
           "ports": [{"containerPort": 80, "protocol": "TCP"}],
           "env": [{"name": "A", "value": "1"}],
           "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
          {"name": "sidecar", "image": "busybox", "args": ["sleep", "3600"]}
        ],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "tolerations": [{"key": "k", "operator": "Exists"}]
      }
    }
  },
  "status": {"conditions": [{"type": "Available", "status": "True"}]}
})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const boost::json::value kTarget = *kelp::ParseJson(kDeployment);
  const std::string_view patch(reinterpret_cast<const char*>(data), size);
  (void)kelp::api::ApplyJsonPatch(kTarget, patch);
  (void)kelp::api::ApplyMergePatch(kTarget, patch);
  (void)kelp::api::ApplyStrategicMergePatch(kTarget, patch, kelp::api::KubernetesPatchSchema());
  return 0;
}
