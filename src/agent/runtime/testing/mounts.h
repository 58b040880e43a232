// UnmountAllUnder: for tests and benchmarks that made mounts (overlay rootfs, pinned
// namespaces, a shared netns dir) below a temp dir — detaches them all, deepest first, so the
// directory can then be removed.
#pragma once

#include <filesystem>

namespace kelp::agent::testing {

void UnmountAllUnder(const std::filesystem::path& dir);

}  // namespace kelp::agent::testing
