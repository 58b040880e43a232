// Shared pieces of the end-to-end tests: a `kelp server` process on a free loopback port and
// the real kubectl pointed at it with a throw-away HOME. Everything they start is stopped and
// everything they write lives in the test's temp directory.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/process.h"
#include "common/status.h"

namespace kelp::e2e {

inline constexpr char kKubectl[] = "/usr/bin/kubectl";

// Waits (bounded) until the file at `path` contains `needle`; false on timeout.
bool WaitForFileToContain(const std::filesystem::path& path, const std::string& needle,
                          std::chrono::milliseconds timeout);

// GET / from `ip`:80 over HTTP/1.0 (a pod's web server); empty on any failure.
std::string HttpGet(const std::string& ip);

class ServerProcess {
 public:
  // `dir` holds the data directory (dir/data) and the server's log (dir/server.log).
  ServerProcess(ProcessRunner& runner, std::filesystem::path dir);
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess();  // Stop()

  // Starts `kelp server` on 127.0.0.1 with a free port and waits (bounded) until it has
  // written its kubeconfig, which it does once it serves.
  Status Start(std::vector<std::string> extra_args = {});
  // SIGTERM, then the exit status; SIGKILL after 10 s.
  Result<ProcessExit> Stop();

  std::string kubeconfig() const { return (dir_ / "data" / "kubeconfig.yaml").string(); }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  std::string log() const;

 private:
  ProcessRunner& runner_;
  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> child_;
};

class Kubectl {
 public:
  Kubectl(ProcessRunner& runner, std::filesystem::path home, std::string kubeconfig);

  // Runs kubectl with `args` (60 s limit); extra "K=V" environment entries are added.
  ProcessResult Run(const std::vector<std::string>& args,
                    const std::vector<std::string>& extra_env = {}) const;
  // Starts a long-running kubectl (e.g. `get -w`) whose output goes to `output_file`.
  Result<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& args,
                                              const std::string& output_file) const;

 private:
  std::vector<std::string> Argv(const std::vector<std::string>& args) const;
  std::vector<std::string> Env(const std::vector<std::string>& extra_env) const;

  ProcessRunner& runner_;
  std::filesystem::path home_;
  std::string kubeconfig_;
};

}  // namespace kelp::e2e
