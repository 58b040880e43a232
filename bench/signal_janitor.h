// A bench stopped by SIGINT, SIGTERM or SIGHUP (Ctrl-C, `timeout`, a closed terminal) would
// leave its network namespaces and the servers running in them behind: the destructors that
// remove them never run. InstallSignalJanitor blocks those signals in every thread and waits
// for them on a thread of its own, which kills the processes inside the bench's namespaces,
// deletes the namespaces and exits 128 + signal. Call it first in main, before any thread.
#pragma once

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "net/netns.h"

namespace kelp::bench {

// `owns(name)`: whether the namespace /run/netns/<name> is this bench's.
inline void InstallSignalJanitor(std::function<bool(std::string_view)> owns) {
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, signal);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([signals, owns = std::move(owns)] {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) return;
    std::fprintf(stderr, "signal %d: removing the bench's namespaces\n", signal);
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(net::kNetnsDir, ec)) {
      const std::string name = entry.path().filename();
      if (!owns(name)) continue;
      struct stat netns {};
      if (::stat(entry.path().c_str(), &netns) == 0) {
        // Processes inside keep a deleted namespace alive: kill every one whose network
        // namespace is this one.
        for (const auto& process : std::filesystem::directory_iterator("/proc", ec)) {
          const std::string pid = process.path().filename();
          if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
          struct stat ns {};
          if (::stat((process.path() / "ns" / "net").c_str(), &ns) == 0 &&
              ns.st_ino == netns.st_ino && ns.st_dev == netns.st_dev) {
            ::kill(std::stoi(pid), SIGKILL);
          }
        }
      }
      (void)net::DeleteNamedNetns(name);
    }
    std::_Exit(128 + signal);
  }).detach();
}

}  // namespace kelp::bench
