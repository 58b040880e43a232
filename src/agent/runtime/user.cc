// passwd/group parsing and the uid/gid rules of containerd's WithUser/WithUserID.
#include "agent/runtime/user.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "common/file.h"

namespace kelp::agent {
namespace {

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

std::optional<uint32_t> ParseId(std::string_view text) {
  uint32_t value = 0;
  if (text.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

template <typename Fn>
void ForEachLine(std::string_view text, Fn fn) {
  for (std::string_view line : Split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    fn(line);
  }
}

}  // namespace

std::vector<PasswdEntry> ParsePasswd(std::string_view text) {
  std::vector<PasswdEntry> entries;
  ForEachLine(text, [&](std::string_view line) {
    std::vector<std::string_view> f = Split(line, ':');
    if (f.size() < 4 || f[0].empty()) return;
    std::optional<uint32_t> uid = ParseId(f[2]);
    std::optional<uint32_t> gid = ParseId(f[3]);
    if (!uid || !gid) return;
    entries.push_back({std::string(f[0]), *uid, *gid, f.size() > 5 ? std::string(f[5]) : ""});
  });
  return entries;
}

std::vector<GroupEntry> ParseGroup(std::string_view text) {
  std::vector<GroupEntry> entries;
  ForEachLine(text, [&](std::string_view line) {
    std::vector<std::string_view> f = Split(line, ':');
    if (f.size() < 3 || f[0].empty()) return;
    std::optional<uint32_t> gid = ParseId(f[2]);
    if (!gid) return;
    GroupEntry entry{std::string(f[0]), *gid, {}};
    if (f.size() > 3) {
      for (std::string_view member : Split(f[3], ',')) {
        if (!member.empty()) entry.members.emplace_back(member);
      }
    }
    entries.push_back(std::move(entry));
  });
  return entries;
}

Result<ResolvedUser> ResolveUser(std::string_view image_user, const SecurityContext& security,
                                 const std::vector<PasswdEntry>& passwd,
                                 const std::vector<GroupEntry>& groups) {
  auto by_uid = [&](uint32_t uid) -> const PasswdEntry* {
    for (const PasswdEntry& e : passwd) {
      if (e.uid == uid) return &e;
    }
    return nullptr;
  };
  auto by_name = [&](std::string_view name) -> const PasswdEntry* {
    for (const PasswdEntry& e : passwd) {
      if (e.name == name) return &e;
    }
    return nullptr;
  };

  ResolvedUser user;
  const PasswdEntry* entry = nullptr;
  std::optional<uint32_t> explicit_gid;
  if (security.run_as_user.has_value()) {
    if (*security.run_as_user < 0 || *security.run_as_user > UINT32_MAX) {
      return InvalidArgumentError("runAsUser out of range");
    }
    user.uid = static_cast<uint32_t>(*security.run_as_user);
    entry = by_uid(user.uid);
  } else if (!image_user.empty()) {
    size_t colon = image_user.find(':');
    std::string_view name = image_user.substr(0, colon);
    if (std::optional<uint32_t> uid = ParseId(name)) {
      user.uid = *uid;
      entry = by_uid(*uid);
    } else {
      entry = by_name(name);
      if (entry == nullptr) {
        return InvalidArgumentError("unable to find user " + std::string(name) +
                                    ": no matching entries in passwd file");
      }
      user.uid = entry->uid;
    }
    if (colon != std::string_view::npos) {
      std::string_view group = image_user.substr(colon + 1);
      if (std::optional<uint32_t> gid = ParseId(group)) {
        explicit_gid = *gid;
      } else {
        auto it = std::find_if(groups.begin(), groups.end(),
                               [&](const GroupEntry& g) { return g.name == group; });
        if (it == groups.end()) {
          return InvalidArgumentError("unable to find group " + std::string(group) +
                                      ": no matching entries in group file");
        }
        explicit_gid = it->gid;
      }
    }
  }
  user.gid = entry != nullptr ? entry->gid : 0;
  if (explicit_gid) user.gid = *explicit_gid;
  if (security.run_as_group.has_value()) {
    if (*security.run_as_group < 0 || *security.run_as_group > UINT32_MAX) {
      return InvalidArgumentError("runAsGroup out of range");
    }
    user.gid = static_cast<uint32_t>(*security.run_as_group);
  }
  if (security.run_as_non_root && user.uid == 0) {
    return PermissionDeniedError("container has runAsNonRoot and image will run as root");
  }

  // Supplementary groups: the primary one, those naming the user in /etc/group, then the
  // pod's supplementalGroups.
  auto add = [&](uint32_t gid) {
    if (std::find(user.additional_gids.begin(), user.additional_gids.end(), gid) ==
        user.additional_gids.end()) {
      user.additional_gids.push_back(gid);
    }
  };
  add(user.gid);
  if (entry != nullptr) {
    for (const GroupEntry& g : groups) {
      if (std::find(g.members.begin(), g.members.end(), entry->name) != g.members.end()) {
        add(g.gid);
      }
    }
  }
  for (int64_t gid : security.supplemental_groups) {
    if (gid >= 0 && gid <= UINT32_MAX) add(static_cast<uint32_t>(gid));
  }
  return user;
}

Result<std::string> ReadFileInRoot(const std::filesystem::path& root, std::string_view relative) {
  UniqueFd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoStatus("open " + root.string(), errno);
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string path(relative);
  UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, dir.get(), path.c_str(), &how, sizeof(how))));
  if (!fd.valid()) return ErrnoStatus("open " + (root / path).string(), errno);
  return ReadFile("/proc/self/fd/" + std::to_string(fd.get()));
}

Result<ResolvedUser> ResolveUserInRootfs(const std::filesystem::path& rootfs,
                                         std::string_view image_user,
                                         const SecurityContext& security) {
  auto read = [&](std::string_view file) -> Result<std::string> {
    Result<std::string> text = ReadFileInRoot(rootfs, file);
    if (!text.ok() && text.status().code() == StatusCode::kNotFound) return std::string();
    return text;
  };
  KELP_ASSIGN_OR_RETURN(std::string passwd, read("etc/passwd"));
  KELP_ASSIGN_OR_RETURN(std::string group, read("etc/group"));
  return ResolveUser(image_user, security, ParsePasswd(passwd), ParseGroup(group));
}

}  // namespace kelp::agent
