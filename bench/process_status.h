// What the benchmarks report about their own process: fields of /proc/self/status such as
// VmRSS (resident memory now) and VmHWM (its peak).
#pragma once

#include <cstdlib>
#include <fstream>
#include <string>

namespace kelp::bench {

// The value of `field` ("VmRSS:") as the kernel prints it ("22284 kB"), or "?".
inline std::string ProcStatusField(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const std::string name(field);
  while (std::getline(status, line)) {
    if (line.rfind(name, 0) == 0) return line.substr(line.find_first_not_of(" \t", name.size()));
  }
  return "?";
}

inline double RssMegabytes() { return std::atof(ProcStatusField("VmRSS:").c_str()) / 1024.0; }

}  // namespace kelp::bench
