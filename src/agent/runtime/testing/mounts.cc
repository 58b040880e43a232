// UnmountAllUnder over /proc/self/mountinfo.
#include "agent/runtime/testing/mounts.h"

#include <sys/mount.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "common/file.h"

namespace kelp::agent::testing {

void UnmountAllUnder(const std::filesystem::path& dir) {
  std::string prefix = dir.string() + "/";
  // A path can carry several stacked mounts: repeat until none is left.
  for (int round = 0; round < 8; ++round) {
    Result<std::string> mountinfo = ReadFile("/proc/self/mountinfo");
    if (!mountinfo.ok()) return;
    std::vector<std::string> points;
    std::istringstream lines(*mountinfo);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream fields(line);
      std::string id, parent, device, root, point;
      fields >> id >> parent >> device >> root >> point;
      if (point.starts_with(prefix) || point == dir.string()) points.push_back(point);
    }
    if (points.empty()) return;
    std::sort(points.begin(), points.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    for (const std::string& point : points) ::umount2(point.c_str(), MNT_DETACH);
  }
}

}  // namespace kelp::agent::testing
