// Network namespace helpers: open one, run code inside one, and NamedNetns, an RAII named
// namespace made the way `ip netns add` makes it (a bind mount of the namespace on
// /run/netns/<name>), removed like `ip netns del` when the object goes away.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "common/file.h"
#include "common/status.h"

namespace kelp::net {

inline constexpr const char* kNetnsDir = "/run/netns";

// Opens a network namespace file (/run/netns/x, /proc/<pid>/ns/net) read-only.
Result<UniqueFd> OpenNetns(const std::filesystem::path& path);

// Runs `fn` on a fresh thread that has joined the namespace at `netns_fd`, and returns its
// Status. The calling thread's namespace never changes.
Status RunInNetns(int netns_fd, const std::function<Status()>& fn);

class NamedNetns {
 public:
  // Creates /run/netns/<name> (AlreadyExists if it is there).
  static Result<std::unique_ptr<NamedNetns>> Create(const std::string& name);
  ~NamedNetns();  // unmounts and removes the file; processes still inside keep it alive
  NamedNetns(const NamedNetns&) = delete;
  NamedNetns& operator=(const NamedNetns&) = delete;

  const std::string& name() const { return name_; }
  std::filesystem::path path() const { return std::filesystem::path(kNetnsDir) / name_; }
  int fd() const { return fd_.get(); }  // open for the object's life
  // Leaves the namespace in place when the object goes (e.g. `kelp lab up`, whose namespaces
  // outlive the command; DeleteNamedNetns removes them later).
  void Keep() { keep_ = true; }

 private:
  NamedNetns(std::string name, UniqueFd fd) : name_(std::move(name)), fd_(std::move(fd)) {}

  std::string name_;
  UniqueFd fd_;
  bool keep_ = false;
};

// Removes a named namespace left behind by a crashed run; NotFound if there is none.
Status DeleteNamedNetns(const std::string& name);

}  // namespace kelp::net
