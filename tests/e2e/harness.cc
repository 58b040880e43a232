// ServerProcess and Kubectl for the end-to-end tests.
#include "tests/e2e/harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "common/file.h"

namespace kelp::e2e {

using namespace std::chrono_literals;

std::string HttpGet(const std::string& ip) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(80);
  ::inet_pton(AF_INET, ip.c_str(), &address.sin_addr);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return "";
  std::string request = "GET / HTTP/1.0\r\nHost: pod\r\n\r\n";
  if (::write(fd.get(), request.data(), request.size()) < 0) return "";
  std::string response;
  char buffer[4096];
  while (true) {
    pollfd event{.fd = fd.get(), .events = POLLIN, .revents = 0};
    if (::poll(&event, 1, 5000) <= 0) break;
    ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n <= 0) break;
    response.append(buffer, static_cast<size_t>(n));
  }
  return response;
}

bool WaitForFileToContain(const std::filesystem::path& path, const std::string& needle,
                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (ReadFile(path).value_or("").find(needle) != std::string::npos) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);  // poll interval of the bounded wait
  }
}

ServerProcess::ServerProcess(ProcessRunner& runner, std::filesystem::path dir)
    : runner_(runner), dir_(std::move(dir)) {}

ServerProcess::~ServerProcess() { (void)Stop(); }

Status ServerProcess::Start(std::vector<std::string> extra_args) {
  std::filesystem::remove(kubeconfig());
  std::vector<std::string> argv = {
      KELP_BINARY,      "server",    "--data-dir",          data_dir().string(),
      "--bind-address", "127.0.0.1", "--https-listen-port", "0",
      "--disable-agent"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  KELP_ASSIGN_OR_RETURN(
      child_, runner_.Start({.argv = argv, .output_file = (dir_ / "server.log").string()}));
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!std::filesystem::exists(kubeconfig())) {
    if (child_->Wait(20ms).ok()) return UnavailableError("kelp server exited: " + log());
    if (std::chrono::steady_clock::now() >= deadline) {
      return DeadlineExceededError("kelp server wrote no kubeconfig within 20 s: " + log());
    }
  }
  return Status::Ok();
}

Result<ProcessExit> ServerProcess::Stop() {
  if (child_ == nullptr) return ProcessExit{.exit_code = 0};
  Result<ProcessExit> exit = child_->Terminate(10s);
  child_.reset();
  return exit;
}

std::string ServerProcess::log() const { return ReadFile(dir_ / "server.log").value_or(""); }

Kubectl::Kubectl(ProcessRunner& runner, std::filesystem::path home, std::string kubeconfig)
    : runner_(runner), home_(std::move(home)), kubeconfig_(std::move(kubeconfig)) {}

std::vector<std::string> Kubectl::Argv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {kKubectl, "--kubeconfig", kubeconfig_};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::vector<std::string> Kubectl::Env(const std::vector<std::string>& extra_env) const {
  // kubectl caches discovery under $HOME/.kube for hours: a fresh HOME per test.
  std::vector<std::string> env = {"HOME=" + home_.string(), "PATH=/usr/bin:/bin"};
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  return env;
}

ProcessResult Kubectl::Run(const std::vector<std::string>& args,
                           const std::vector<std::string>& extra_env) const {
  Result<ProcessResult> result =
      runner_.Run({.argv = Argv(args), .env = Env(extra_env), .timeout = 60s});
  if (!result.ok())
    return ProcessResult{.exit_code = -1, .stderr_data = result.status().ToString()};
  return *result;
}

Result<std::unique_ptr<ChildProcess>> Kubectl::Start(const std::vector<std::string>& args,
                                                     const std::string& output_file) const {
  return runner_.Start({.argv = Argv(args), .env = Env({}), .output_file = output_file});
}

}  // namespace kelp::e2e
