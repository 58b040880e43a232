// libFuzzer target for image archives: the input is loaded as a tarball (docker-archive or
// OCI layout, layers unpacked for real) into a throw-away store, which must accept it or fail
// with a Status — never crash, hang or write outside the store. Seeds: testdata/archive_corpus/.
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include "agent/images/image_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string dir = (std::filesystem::temp_directory_path() / "kelp-images-fuzz-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) return 0;
  {
    auto store = kelp::images::ImageStore::Open(std::filesystem::path(dir) / "images",
                                                {.mountinfo = "/dev/null"});
    if (store.ok()) {
      const std::string_view bytes(reinterpret_cast<const char*>(data), size);
      auto loaded = (*store)->Load(kelp::images::ArchiveInput::Memory(bytes));
      if (loaded.ok()) {
        for (const auto& image : loaded->images) (void)(*store)->Resolve(image.id);
      }
      (void)(*store)->CollectGarbage();
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
