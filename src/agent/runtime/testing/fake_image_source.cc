// FakeImageSource and the busybox layer builder.
#include "agent/runtime/testing/fake_image_source.h"

#include <system_error>

#include "common/file.h"
#include "common/process.h"

namespace kelp::agent::testing {

namespace fs = std::filesystem;

void FakeImageSource::Add(const std::string& ref, ResolvedImage image) {
  std::lock_guard lock(mutex_);
  images_[ref] = std::move(image);
}

Result<ResolvedImage> FakeImageSource::Resolve(std::string_view ref) {
  std::lock_guard lock(mutex_);
  auto it = images_.find(ref);
  if (it == images_.end()) return NotFoundError("image " + std::string(ref) + " not found");
  return it->second;
}

Status BuildBusyboxLayer(const fs::path& dir, const fs::path& busybox) {
  for (const char* sub : {"bin", "etc", "proc", "sys", "dev", "tmp", "root", "www", "home/app",
                          "var/log"}) {
    KELP_RETURN_IF_ERROR(CreateDirectories(dir / sub, 0755));
  }
  std::error_code ec;
  fs::copy_file(busybox, dir / "bin" / "busybox", fs::copy_options::overwrite_existing, ec);
  if (ec) return IoError("copy busybox: " + ec.message());
  fs::permissions(dir / "tmp", fs::perms::all | fs::perms::sticky_bit, ec);
  SubprocessRunner runner;
  KELP_ASSIGN_OR_RETURN(ProcessResult list,
                        runner.Run({.argv = {busybox.string(), "--list"}}));
  if (list.exit_code != 0) return InternalError("busybox --list failed");
  size_t start = 0;
  while (start < list.stdout_data.size()) {
    size_t end = list.stdout_data.find('\n', start);
    if (end == std::string::npos) end = list.stdout_data.size();
    std::string applet = list.stdout_data.substr(start, end - start);
    start = end + 1;
    if (applet.empty() || applet == "busybox") continue;
    fs::create_symlink("busybox", dir / "bin" / applet, ec);
  }
  KELP_RETURN_IF_ERROR(WriteFileAtomic(dir / "etc/passwd",
                                       "root:x:0:0:root:/root:/bin/sh\n"
                                       "app:x:1000:1000:app:/home/app:/bin/sh\n"
                                       "nobody:x:65534:65534:nobody:/:/bin/false\n",
                                       0644, Durability::kProcessCrashSafe));
  return WriteFileAtomic(dir / "etc/group",
                         "root:x:0:\nwww:x:33:app\napp:x:1000:\nnogroup:x:65534:\n", 0644,
                         Durability::kProcessCrashSafe);
}

}  // namespace kelp::agent::testing
