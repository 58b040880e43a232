// libFuzzer target for the JSON documents of image archives (manifest.json, oci-layout, OCI
// indexes and manifests, image configs) and for image references: each input must parse or
// fail with a Status, never crash. Seeds: testdata/json_corpus/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/images/manifest.h"
#include "agent/images/reference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)kelp::images::ParseDockerManifest(text);
  (void)kelp::images::ValidateOciLayout(text);
  (void)kelp::images::ParseOciIndex(text);
  (void)kelp::images::ParseOciManifest(text);
  (void)kelp::images::SniffManifestKind(text);
  (void)kelp::images::ParseImageConfig(text);
  if (size < 512) {
    auto ref = kelp::images::ParseReference(text);
    if (ref.ok()) (void)ref->FamiliarString();
  }
  return 0;
}
