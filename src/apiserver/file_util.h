// Small file helpers for the apiserver's on-disk state (TLS keys, token, kubeconfig): secrets
// are written atomically (temp file + fsync + rename + directory fsync) with their final mode
// from the first byte, so a crash never leaves a torn or world-readable key behind.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kelp::apiserver {

// Whole file contents; NotFound if it does not exist.
Result<std::string> ReadWholeFile(const std::filesystem::path& path);

// Replaces `path` with `contents`, file mode `mode`, atomically.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents,
                           mode_t mode);

// Creates `dir` (and missing parents) with mode 0700 for the directories it creates.
Status EnsurePrivateDirectory(const std::filesystem::path& dir);

}  // namespace kelp::apiserver
