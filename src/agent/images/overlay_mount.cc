// MountOverlay over mount(2) or fsopen/fsconfig/fsmount/move_mount, and the mountinfo parser.
#include "agent/images/overlay_mount.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/file.h"

namespace kelp::images {
namespace {

// mount(2) copies at most one page of option data.
constexpr size_t kMaxClassicOptions = 4000;

std::string EscapeOverlayPath(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == ':' || c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// Undoes the kernel's octal escapes ("\040" for a space) in mountinfo fields.
std::string UnescapeOctal(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      std::string_view digits = field.substr(i + 1, 3);
      if (digits.find_first_not_of("01234567") == std::string_view::npos) {
        out.push_back(
            static_cast<char>((digits[0] - '0') * 64 + (digits[1] - '0') * 8 + (digits[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

// Splits a lowerdir= value at ':' not escaped by '\', and drops the escapes.
std::vector<std::string> SplitLowerdirs(std::string_view value) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size()) {
      out.back().push_back(value[++i]);
    } else if (value[i] == ':') {
      out.emplace_back();
    } else {
      out.back().push_back(value[i]);
    }
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(separator, start);
    if (end == std::string_view::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

Status MountWithNewApi(const OverlaySpec& spec) {
  UniqueFd fs(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs.valid()) return ErrnoStatus("fsopen overlay", errno);
  auto set = [&](const char* key, const std::string& value) -> Status {
    if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, key, value.c_str(), 0) != 0) {
      return ErrnoStatus(fmt::format("overlay option {}={}", key, value), errno);
    }
    return Status::Ok();
  };
  for (auto layer = spec.layers.rbegin(); layer != spec.layers.rend(); ++layer) {
    KELP_RETURN_IF_ERROR(set("lowerdir+", layer->string()));
  }
  KELP_RETURN_IF_ERROR(set("upperdir", spec.upper.string()));
  KELP_RETURN_IF_ERROR(set("workdir", spec.work.string()));
  KELP_RETURN_IF_ERROR(set("index", "off"));
  if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    return ErrnoStatus("create overlay superblock", errno);
  }
  UniqueFd mount(::fsmount(fs.get(), FSMOUNT_CLOEXEC, 0));
  if (!mount.valid()) return ErrnoStatus("fsmount overlay", errno);
  if (::move_mount(mount.get(), "", AT_FDCWD, spec.target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    return ErrnoStatus("move_mount overlay to " + spec.target.string(), errno);
  }
  return Status::Ok();
}

}  // namespace

std::string OverlayMountOptions(const OverlaySpec& spec) {
  std::string lower;
  for (auto layer = spec.layers.rbegin(); layer != spec.layers.rend(); ++layer) {
    if (!lower.empty()) lower.push_back(':');
    lower += EscapeOverlayPath(layer->string());
  }
  return fmt::format("lowerdir={},upperdir={},workdir={},index=off", lower,
                     EscapeOverlayPath(spec.upper.string()), EscapeOverlayPath(spec.work.string()));
}

Status MountOverlay(const OverlaySpec& spec) {
  if (spec.layers.empty()) return InvalidArgumentError("overlay: an image without layers");
  const std::string options = OverlayMountOptions(spec);
  if (options.size() > kMaxClassicOptions) return MountWithNewApi(spec);
  if (::mount("overlay", spec.target.c_str(), "overlay", 0, options.c_str()) != 0) {
    return ErrnoStatus("mount overlay on " + spec.target.string(), errno);
  }
  return Status::Ok();
}

Status UnmountOverlay(const std::filesystem::path& target) {
  if (::umount2(target.c_str(), MNT_DETACH) != 0) {
    return ErrnoStatus("umount " + target.string(), errno);
  }
  return Status::Ok();
}

Result<std::unique_ptr<ScopedOverlayMount>> ScopedOverlayMount::Mount(const OverlaySpec& spec) {
  KELP_RETURN_IF_ERROR(MountOverlay(spec));
  return std::unique_ptr<ScopedOverlayMount>(new ScopedOverlayMount(spec.target));
}

ScopedOverlayMount::~ScopedOverlayMount() {
  Status status = UnmountOverlay(target_);
  if (!status.ok()) spdlog::warn("{}", status.ToString());
}

std::vector<OverlayMountInfo> ParseOverlayMounts(std::string_view mountinfo) {
  std::vector<OverlayMountInfo> out;
  for (std::string_view line : Split(mountinfo, '\n')) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    std::vector<std::string_view> fields = Split(line, ' ');
    auto dash = std::find(fields.begin(), fields.end(), std::string_view("-"));
    if (fields.size() < 5 || dash == fields.end() || fields.end() - dash < 4) continue;
    if (*(dash + 1) != "overlay") continue;
    OverlayMountInfo info;
    info.mount_point = UnescapeOctal(fields[4]);
    for (std::string_view option : Split(*(dash + 3), ',')) {
      if (option.starts_with("lowerdir=")) {
        for (std::string& dir : SplitLowerdirs(UnescapeOctal(option.substr(9)))) {
          info.lowerdirs.push_back(std::move(dir));
        }
      } else if (option.starts_with("lowerdir+=")) {
        info.lowerdirs.push_back(UnescapeOctal(option.substr(10)));
      } else if (option.starts_with("upperdir=")) {
        info.upperdir = UnescapeOctal(option.substr(9));
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace kelp::images
