// ContainerRuntime end to end, as root: real runc, kelp-shim, a busybox rootfs and the
// reference CNI plugins (bridge + host-local from /usr/lib/cni) with a per-test bridge. The
// test process plays the node: it moves into a private mount namespace (so every mount it
// makes vanishes with it) and into a network namespace of its own (so the bridge lives there).
// TearDown removes sandboxes, kills any leftover container and shim, and removes the cgroups.
#include "agent/runtime/runtime.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "agent/runtime/cgroups.h"
#include "agent/runtime/namespaces.h"
#include "agent/runtime/testing/fake_image_source.h"
#include "agent/runtime/testing/leftovers.h"
#include "agent/runtime/testing/mounts.h"
#include "agent/runtime/timer_slack.h"
#include "common/file.h"
#include "common/testing/temp_dir.h"
#include "net/netns.h"
#include "tests/e2e/harness.h"

namespace kelp::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

// Polls `condition` until it holds or `timeout` passes.
template <typename Fn>
bool WaitFor(Fn condition, std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return condition();
}

std::string ProcStartTime(int pid) {
  Result<std::string> stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return "";
  // Field 22 (starttime), counted after the ")" that ends the command name.
  std::istringstream in(stat->substr(stat->rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 22 && in >> field; ++i) {
  }
  return field;
}

class RuntimeE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "runtime e2e tests need root";
    ASSERT_FALSE(tmp_.path().empty());
    // Our own mount namespace: overlay rootfs, pinned namespaces and the like disappear with
    // this process even if it crashes.
    ASSERT_EQ(::unshare(CLONE_NEWNS), 0) << std::strerror(errno);
    ASSERT_EQ(::mount("", "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    suffix_ = std::to_string(::getpid());
    Result<std::unique_ptr<net::NamedNetns>> node = net::NamedNetns::Create("kelp-rt-" + suffix_);
    ASSERT_TRUE(node.ok()) << node.status().ToString();
    node_ = std::move(*node);
    Result<UniqueFd> host = net::OpenNetns("/proc/thread-self/ns/net");
    ASSERT_TRUE(host.ok());
    host_netns_ = std::move(*host);
    ASSERT_EQ(::setns(node_->fd(), CLONE_NEWNET), 0);
    {
      // The node's own lo, for completeness.
      SubprocessRunner runner;
      (void)runner.Run({.argv = {"ip", "link", "set", "lo", "up"}});
    }

    fs::path layer = tmp_.path() / "layers" / "busybox";
    ASSERT_TRUE(testing::BuildBusyboxLayer(layer).ok());
    images_.Add("busybox", ResolvedImage{.id = "sha256:busybox-test",
                                         .ref = "docker.io/library/busybox:latest",
                                         .layers = {layer},
                                         .config = {.cmd = {"sh"}}});
    fs::create_directories(tmp_.path() / "net.d");
    bridge_ = "kbr" + suffix_.substr(0, 10);
    std::ofstream(tmp_.path() / "net.d" / "10-kelp.conflist")
        << R"({"cniVersion":"1.0.0","name":"rtnet","plugins":[{"type":"bridge","bridge":")"
        << bridge_
        << R"(","isGateway":true,"ipMasq":false,"ipam":{"type":"host-local",)"
           R"("subnet":"10.88.0.0/24","routes":[{"dst":"0.0.0.0/0"}],"dataDir":")"
        << (tmp_.path() / "ipam").string() << R"("}}]})";
    // Not every environment has /usr/sbin in PATH.
    runc_ = fs::exists("/usr/sbin/runc") ? "/usr/sbin/runc" : "runc";
    // A cgroup parent of this test's own: removing it can never race with another test (or
    // agent) that is creating its cgroups under the shared "kelp" parent.
    options_ = RuntimeOptions{.node_name = "rt-" + suffix_,
                              .state_dir = tmp_.path() / "state",
                              .runc_root = tmp_.path() / "runc",
                              .run_state_dir = tmp_.path() / "run",
                              .runc_binary = runc_,
                              .sealed_runc = true,  // as the agent runs it
                              .shim_binary = KELP_SHIM_BINARY,
                              .netns_dir = tmp_.path() / "netns",
                              .pod_log_dir = tmp_.path() / "pods",
                              .resolv_conf = tmp_.path() / "node-resolv.conf",
                              .cgroup_parent = "kelp-e2e-rt-" + suffix_,
                              .cni = {.conf_dir = tmp_.path() / "net.d",
                                      .bin_dirs = {"/usr/lib/cni"},
                                      .cache_dir = tmp_.path() / "cni"}};
    std::ofstream(options_.resolv_conf) << "nameserver 10.96.0.10\nsearch cluster.local\n";
    OpenRuntime();
  }

  void OpenRuntime() {
    runtime_.reset();
    Result<std::unique_ptr<ContainerRuntime>> runtime =
        ContainerRuntime::Open(options_, runner_, images_);
    ASSERT_TRUE(runtime.ok()) << runtime.status().ToString();
    runtime_ = std::move(*runtime);
  }

  void TearDown() override {
    // Whatever a failed test left: sandboxes, containers, shims, cgroups.
    Status left = testing::RemoveRuntimeLeftovers(runtime_.get(), options_, runner_);
    EXPECT_TRUE(left.ok()) << left.ToString();
    runtime_.reset();
    if (host_netns_.valid()) ::setns(host_netns_.get(), CLONE_NEWNET);
    node_.reset();
    // The shared netns dir and anything a failed test left mounted, so tmp_ can go.
    testing::UnmountAllUnder(tmp_.path());
  }

  PodSandboxConfig Pod(const std::string& name) {
    return PodSandboxConfig{
        .name = name, .pod_namespace = "default", .uid = name + "-uid-" + suffix_};
  }

  std::string RunContainer(const std::string& sandbox, ContainerConfig config) {
    config.image = "busybox";
    Result<std::string> id = runtime_->CreateContainer(sandbox, config);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return "";
    Status started = runtime_->StartContainer(*id);
    EXPECT_TRUE(started.ok()) << started.ToString();
    return *id;
  }

  std::string LeaseFile(const std::string& ip) const {
    return (tmp_.path() / "ipam" / "rtnet" / ip).string();
  }

  kelp::testing::ScopedTempDir tmp_;
  std::string suffix_;
  std::string bridge_;
  std::string runc_;
  std::unique_ptr<net::NamedNetns> node_;
  UniqueFd host_netns_;
  SubprocessRunner runner_;
  testing::FakeImageSource images_;
  RuntimeOptions options_;
  std::unique_ptr<ContainerRuntime> runtime_;
};

TEST_F(RuntimeE2eTest, PodServesHttpLogsExecsStopsAndReleasesItsIp) {
  Result<SandboxStatus> sandbox = runtime_->RunPodSandbox(Pod("web"));
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  EXPECT_EQ(sandbox->state, SandboxState::kReady);
  ASSERT_THAT(sandbox->ip, ::testing::StartsWith("10.88.0."));
  EXPECT_TRUE(fs::exists(LeaseFile(sandbox->ip)));
  EXPECT_TRUE(fs::exists(tmp_.path() / "cni" / "results" / ("rtnet-" + sandbox->id + "-eth0")));
  ASSERT_TRUE(runtime_->CheckPodNetwork(sandbox->id).ok());

  std::string web = RunContainer(
      sandbox->id,
      {.name = "httpd",
       .command = {"sh", "-c",
                   "echo started; echo warning >&2; echo hello-from-$(hostname) > /www/index.html;"
                   " exec httpd -f -p 80 -h /www"},
       .resources = ContainerResources::FromKubernetes(100, 500, 64 << 20)});
  ASSERT_FALSE(web.empty());
  Result<ContainerStatus> status = runtime_->GetContainerStatus(web);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state, ContainerState::kRunning);
  EXPECT_GT(status->pid, 0);
  EXPECT_EQ(status->image_id, "sha256:busybox-test");
  EXPECT_EQ(runtime_->StartContainer(web).code(), StatusCode::kConflict);
  EXPECT_EQ(
      status->log_path,
      (tmp_.path() / "pods" / ("default_web_web-uid-" + suffix_) / "httpd" / "0.log").string());

  // HTTP from the node's network namespace to the pod IP.
  std::string response;
  ASSERT_TRUE(WaitFor([&] {
    response = e2e::HttpGet(sandbox->ip);
    return response.find("hello-from-web") != std::string::npos;
  })) << response;

  // The CRI log file.
  std::string log;
  ASSERT_TRUE(WaitFor([&] {
    log = ReadFile(status->log_path).value_or("");
    return log.find("warning") != std::string::npos;
  })) << log;
  std::regex line(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) [FP] .*$)");
  std::istringstream lines(log);
  for (std::string l; std::getline(lines, l);) EXPECT_TRUE(std::regex_match(l, line)) << l;
  EXPECT_THAT(log, HasSubstr(" stdout F started\n"));
  EXPECT_THAT(log, HasSubstr(" stderr F warning\n"));
  std::string kubectl_logs;
  ASSERT_TRUE(runtime_
                  ->ReadLogs(web, {.tail_lines = 1, .stream = LogStream::kStdout},
                             [&](std::string_view s) {
                               kubectl_logs.append(s);
                               return true;
                             })
                  .ok());
  EXPECT_EQ(kubectl_logs, "started\n");

  // Exec: exit codes, the pod's hostname and /etc/hostname, DNS from the node's resolv.conf.
  Result<ExecSyncResult> exit3 = runtime_->ExecSync(web, {"sh", "-c", "echo out; exit 3"}, 20s);
  ASSERT_TRUE(exit3.ok()) << exit3.status().ToString();
  EXPECT_EQ(exit3->exit_code, 3);
  EXPECT_EQ(exit3->stdout_data, "out\n");
  Result<ExecSyncResult> hostname =
      runtime_->ExecSync(web, {"sh", "-c", "hostname; cat /etc/hostname /etc/resolv.conf"}, 20s);
  ASSERT_TRUE(hostname.ok());
  EXPECT_EQ(hostname->exit_code, 0);
  EXPECT_EQ(hostname->stdout_data, "web\nweb\nnameserver 10.96.0.10\nsearch cluster.local\n");
  // runc exec runs with the coarse timer slack (timer_slack.h); the exec'd process gets the
  // agent's back: the shell loops until its /proc entry says so (left with runc's, it would
  // spin until the exec times out).
  const std::string own_slack = std::to_string(CurrentTimerSlack().count());
  Result<ExecSyncResult> slack = runtime_->ExecSync(
      web,
      {"sh", "-c",
       "while read s < /proc/$$/timerslack_ns && [ \"$s\" != " + own_slack + " ]; do :; done; " +
           "echo $s"},
      20s);
  ASSERT_TRUE(slack.ok()) << slack.status().ToString();
  EXPECT_EQ(slack->stdout_data, own_slack + "\n");
  Result<ExecSyncResult> missing = runtime_->ExecSync(web, {"/no/such/tool"}, 20s);
  ASSERT_TRUE(missing.ok()) << missing.status().ToString();
  EXPECT_EQ(missing->exit_code, 126);
  EXPECT_THAT(missing->stderr_data, HasSubstr("no such file"));
  // A background child keeping stdout open does not hold ExecSync up.
  Result<ExecSyncResult> background =
      runtime_->ExecSync(web, {"sh", "-c", "sleep 1000 & echo bg"}, 20s);
  ASSERT_TRUE(background.ok()) << background.status().ToString();
  EXPECT_EQ(background->stdout_data, "bg\n");
  EXPECT_EQ(background->exit_code, 0);
  Result<ExecSyncResult> hosts = runtime_->ExecSync(web, {"cat", "/etc/hosts"}, 20s);
  ASSERT_TRUE(hosts.ok());
  EXPECT_THAT(hosts->stdout_data, HasSubstr(sandbox->ip + "\tweb\n"));

  // A tty exec gets a pty of the requested size and follows resizes. The initial size is set
  // just after the process started, so the shell waits for it.
  Result<std::unique_ptr<ExecSession>> tty =
      runtime_->Exec(web, {.cmd = {"sh"},
                           .tty = true,
                           .stdin = true,
                           .size = TerminalSize{.columns = 100, .rows = 40}});
  ASSERT_TRUE(tty.ok()) << tty.status().ToString();
  EXPECT_EQ((*tty)->stderr_fd(), -1);
  std::string screen;
  auto read_until = [&](const std::string& wanted) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (screen.find(wanted) == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      pollfd event{.fd = (*tty)->stdout_fd(), .events = POLLIN, .revents = 0};
      if (::poll(&event, 1, 100) <= 0) continue;
      char buffer[512];
      ssize_t n = ::read((*tty)->stdout_fd(), buffer, sizeof(buffer));
      if (n <= 0) break;
      screen.append(buffer, static_cast<size_t>(n));
    }
    return screen.find(wanted) != std::string::npos;
  };
  auto type = [&](const std::string& line) {
    ASSERT_EQ(::write((*tty)->stdin_fd(), line.data(), line.size()),
              static_cast<ssize_t>(line.size()));
  };
  type(
      "tty; until [ \"$(stty size 2>/dev/null)\" = '40 100' ]; do sleep 0.05; done; "
      "echo size-$(stty size | tr ' ' x)\n");
  EXPECT_TRUE(read_until("size-40x100")) << screen;
  EXPECT_THAT(screen, HasSubstr("/dev/pts/"));
  ASSERT_TRUE((*tty)->Resize({.columns = 120, .rows = 50}).ok());
  type(
      "until [ \"$(stty size)\" = '50 120' ]; do sleep 0.05; done; echo resized-$(stty size | "
      "tr ' ' x); exit 5\n");
  EXPECT_TRUE(read_until("resized-50x120")) << screen;
  Result<int> tty_exit = (*tty)->Wait(20s);
  ASSERT_TRUE(tty_exit.ok()) << tty_exit.status().ToString();
  EXPECT_EQ(*tty_exit, 5);

  // Stats from the container's cgroup, and the pod and node parents.
  Result<ResourceStats> stats = runtime_->ContainerStats(web);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_GT(stats->cpu_usage_ns, 0u);
  EXPECT_GT(stats->memory_working_set_bytes, 0u);
  Result<ResourceStats> pod = runtime_->PodStats(sandbox->id);
  ASSERT_TRUE(pod.ok()) << pod.status().ToString();
  EXPECT_GE(pod->cpu_usage_ns, stats->cpu_usage_ns);
  // The node is the whole machine (the root cgroups), which holds the pod.
  Result<ResourceStats> node = runtime_->NodeStats();
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  EXPECT_GT(node->cpu_usage_ns, pod->cpu_usage_ns);
  EXPECT_GT(node->memory_working_set_bytes, pod->memory_working_set_bytes);

  // Stop with a grace period: busybox httpd as PID 1 ignores SIGTERM, so SIGKILL ends it after
  // the grace period; a shell trapping TERM exits at once with its own code.
  std::string trapper =
      RunContainer(sandbox->id, {.name = "trapper",
                                 .command = {"sh", "-c",
                                             "trap 'echo bye; exit 0' TERM; echo ready; "
                                             "while true; do sleep 0.1; done"}});
  ASSERT_TRUE(WaitFor([&] {
    Result<ContainerStatus> s = runtime_->GetContainerStatus(trapper);
    return s.ok() && ReadFile(s->log_path).value_or("").find("ready") != std::string::npos;
  }));
  auto before = std::chrono::steady_clock::now();
  ASSERT_TRUE(runtime_->StopContainer(trapper, 30s).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - before, 20s);
  Result<ContainerStatus> trapped = runtime_->GetContainerStatus(trapper);
  ASSERT_TRUE(trapped.ok());
  EXPECT_EQ(trapped->state, ContainerState::kExited);
  EXPECT_EQ(trapped->exit_code, 0);
  EXPECT_EQ(trapped->reason, "Completed");

  before = std::chrono::steady_clock::now();
  ASSERT_TRUE(runtime_->StopContainer(web, 1s).ok());
  EXPECT_GE(std::chrono::steady_clock::now() - before, 1s);
  Result<ContainerStatus> stopped = runtime_->GetContainerStatus(web);
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->state, ContainerState::kExited);
  EXPECT_EQ(stopped->exit_code, 137);
  EXPECT_EQ(stopped->reason, "Error");
  ASSERT_TRUE(stopped->finished_at.has_value());
  EXPECT_TRUE(runtime_->StopContainer(web, 1s).ok());  // idempotent

  // Teardown: CNI DEL releases the lease; nothing of the pod is left.
  ASSERT_TRUE(runtime_->RemovePodSandbox(sandbox->id).ok());
  EXPECT_FALSE(fs::exists(LeaseFile(sandbox->ip)));
  EXPECT_FALSE(fs::exists(options_.netns_dir / ("kelp-" + sandbox->id)));
  EXPECT_FALSE(fs::exists(tmp_.path() / "cni" / "results" / ("rtnet-" + sandbox->id + "-eth0")));
  EXPECT_FALSE(fs::exists(options_.state_dir / "sandboxes" / sandbox->id));
  EXPECT_FALSE(fs::exists(options_.run_state_dir / "sandboxes" / sandbox->id));
  EXPECT_TRUE(fs::is_empty(options_.state_dir / "containers"));
  EXPECT_TRUE(fs::is_empty(options_.run_state_dir / "containers"));
  EXPECT_TRUE(runtime_->ListContainers()->empty());
  Runc runc(runc_, options_.runc_root.string(), runner_);
  EXPECT_TRUE(runc.List()->empty());
  EXPECT_TRUE(runtime_->RemovePodSandbox(sandbox->id).ok());  // idempotent
}

TEST_F(RuntimeE2eTest, RunningContainersSurviveARuntimeRestartAndAreAdopted) {
  Result<SandboxStatus> sandbox = runtime_->RunPodSandbox(Pod("sleeper"));
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  std::string id = RunContainer(
      sandbox->id, {.name = "sleep", .command = {"sh", "-c", "echo before; sleep 1000"}});
  ASSERT_FALSE(id.empty());
  std::string done = RunContainer(sandbox->id, {.name = "done", .command = {"sh", "-c", "exit 7"}});
  Result<ContainerStatus> finished = runtime_->WaitContainer(done, 30s);
  ASSERT_TRUE(finished.ok()) << finished.status().ToString();
  EXPECT_EQ(finished->exit_code, 7);
  Result<ContainerStatus> before = runtime_->GetContainerStatus(id);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->state, ContainerState::kRunning);
  std::string started = ProcStartTime(before->pid);
  ASSERT_FALSE(started.empty());

  // The "agent" goes away and comes back.
  runtime_.reset();
  OpenRuntime();
  const RecoveryReport& report = runtime_->recovery();
  ASSERT_EQ(report.sandboxes.size(), 1u);
  EXPECT_EQ(report.sandboxes[0].id, sandbox->id);
  EXPECT_EQ(report.sandboxes[0].ip, sandbox->ip);
  EXPECT_TRUE(report.removed_orphan_containers.empty());
  ASSERT_EQ(report.containers.size(), 2u);
  for (const ContainerStatus& c : report.containers) {
    if (c.id == id) {
      EXPECT_EQ(c.state, ContainerState::kRunning);
      EXPECT_EQ(c.pid, before->pid);
      EXPECT_EQ(c.name, "sleep");
    } else {
      EXPECT_EQ(c.id, done);
      EXPECT_EQ(c.state, ContainerState::kExited);
      EXPECT_EQ(c.exit_code, 7);
    }
  }
  // Untouched: the same process, started at the same time.
  EXPECT_EQ(ProcStartTime(before->pid), started);
  Result<ExecSyncResult> exec = runtime_->ExecSync(id, {"echo", "still here"}, 20s);
  ASSERT_TRUE(exec.ok()) << exec.status().ToString();
  EXPECT_EQ(exec->stdout_data, "still here\n");

  // The restarted runtime can stop it and tear the pod down, releasing the IP.
  ASSERT_TRUE(runtime_->StopContainer(id, 0ms).ok());
  Result<ContainerStatus> after = runtime_->GetContainerStatus(id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->exit_code, 137);
  ASSERT_TRUE(runtime_->RemovePodSandbox(sandbox->id).ok());
  EXPECT_FALSE(fs::exists(LeaseFile(sandbox->ip)));
}

TEST_F(RuntimeE2eTest, AfterARebootStartedContainersReadAsExitedAndThePodIsRemovable) {
  Result<SandboxStatus> sandbox = runtime_->RunPodSandbox(Pod("rebooted"));
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  std::string id = RunContainer(sandbox->id, {.name = "sleep", .command = {"sleep", "1000"}});
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(fs::exists(options_.run_state_dir / "containers" / id / "config.json"));
  ASSERT_TRUE(fs::exists(options_.run_state_dir / "sandboxes" / sandbox->id / "uts"));

  // A reboot: every process is gone, and so is everything under /run (runc's root, the
  // bundles, the shims' files, the pinned namespaces); the data dir stays.
  runtime_.reset();
  Status killed = testing::RemoveRuntimeLeftovers(nullptr, options_, runner_);
  ASSERT_TRUE(killed.ok()) << killed.ToString();
  testing::UnmountAllUnder(options_.run_state_dir);
  ASSERT_TRUE(UnpinNamespace(options_.netns_dir / ("kelp-" + sandbox->id)).ok());
  for (const fs::path& dir : {options_.run_state_dir, options_.runc_root}) {
    fs::remove_all(dir);
  }

  OpenRuntime();
  const RecoveryReport& report = runtime_->recovery();
  ASSERT_EQ(report.containers.size(), 1u);
  EXPECT_EQ(report.containers[0].id, id);
  EXPECT_EQ(report.containers[0].state, ContainerState::kExited);
  EXPECT_EQ(report.containers[0].exit_code, 255);
  EXPECT_NE(report.containers[0].message.find("exit status was lost"), std::string::npos);
  // CNI DEL from the cache (the netns is gone) releases the IP; nothing of the pod is left.
  ASSERT_TRUE(runtime_->RemovePodSandbox(sandbox->id).ok());
  EXPECT_FALSE(fs::exists(LeaseFile(sandbox->ip)));
  EXPECT_TRUE(fs::is_empty(options_.state_dir / "containers"));
  EXPECT_TRUE(fs::is_empty(options_.state_dir / "sandboxes"));
}

TEST_F(RuntimeE2eTest, MemoryLimitOomKillIsReported) {
  Result<SandboxStatus> sandbox = runtime_->RunPodSandbox(Pod("hog"));
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  std::string id = RunContainer(
      sandbox->id, {.name = "hog",
                    .command = {"dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1"},
                    .resources = ContainerResources::FromKubernetes(0, 0, 32 << 20)});
  ASSERT_FALSE(id.empty());
  Result<ContainerStatus> status = runtime_->WaitContainer(id, 60s);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->state, ContainerState::kExited);
  EXPECT_EQ(status->reason, "OOMKilled");
  EXPECT_EQ(status->exit_code, 137);

  // Containers that exit at once are not taken for OOM-killed: their shim reads the counter of
  // the cgroup in their config.json (an init that exited before the shim looked is a zombie
  // that /proc shows in the root cgroups, whose counter is not the container's). On this v1
  // host the root's own counter stays 0, so this guards the lookup without reproducing a
  // wrong count.
  for (int i = 0; i < 3; ++i) {
    Result<std::string> quick = runtime_->RunContainer(
        sandbox->id,
        {.name = "quick" + std::to_string(i), .image = "busybox", .command = {"true"}});
    ASSERT_TRUE(quick.ok()) << quick.status().ToString();
    Result<ContainerStatus> done = runtime_->WaitContainer(*quick, 60s);
    ASSERT_TRUE(done.ok()) << done.status().ToString();
    EXPECT_EQ(done->exit_code, 0);
    EXPECT_EQ(done->reason, "Completed");
  }
}

TEST_F(RuntimeE2eTest, SecurityContextUserReadOnlyRootAndTtyLogs) {
  Result<SandboxStatus> sandbox = runtime_->RunPodSandbox(Pod("secure"));
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  std::string id = RunContainer(
      sandbox->id,
      {.name = "ro",
       .command = {"sh", "-c", "id; touch /should-fail && echo writable; touch /tmp/x"},
       .security = {.run_as_user = 1000, .read_only_root_filesystem = true}});
  Result<ContainerStatus> status = runtime_->WaitContainer(id, 30s);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  std::string log = ReadFile(status->log_path).value_or("");
  EXPECT_THAT(log, HasSubstr("uid=1000(app) gid=1000(app) groups=33(www),1000(app)"));
  EXPECT_THAT(log, HasSubstr("Read-only file system"));
  EXPECT_EQ(log.find("writable"), std::string::npos);
  EXPECT_NE(status->exit_code, 0);

  std::string tty = RunContainer(
      sandbox->id, {.name = "tty", .command = {"sh", "-c", "tty; echo done"}, .tty = true});
  Result<ContainerStatus> tty_status = runtime_->WaitContainer(tty, 30s);
  ASSERT_TRUE(tty_status.ok()) << tty_status.status().ToString();
  EXPECT_EQ(tty_status->exit_code, 0);
  std::string tty_log = ReadFile(tty_status->log_path).value_or("");
  EXPECT_THAT(tty_log, HasSubstr(" stdout F /dev/pts/0\r"));
  EXPECT_THAT(tty_log, HasSubstr(" stdout F done\r"));
}

TEST_F(RuntimeE2eTest, FollowedLogsEndWhenTheContainerExits) {
  Result<SandboxStatus> sandbox = runtime_->RunPodSandbox(Pod("follow"));
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  std::string id = RunContainer(
      sandbox->id, {.name = "counter",
                    .command = {"sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.2; done"}});
  std::string out;
  Status status = runtime_->ReadLogs(id, {.follow = true}, [&](std::string_view s) {
    out.append(s);
    return true;
  });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(out, "tick 1\ntick 2\ntick 3\n");
  Result<ContainerStatus> exited = runtime_->GetContainerStatus(id);
  ASSERT_TRUE(exited.ok());
  EXPECT_EQ(exited->state, ContainerState::kExited);
}

TEST_F(RuntimeE2eTest, FailuresAreCleanErrors) {
  Result<SandboxStatus> sandbox = runtime_->RunPodSandbox(Pod("bad"));
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  EXPECT_EQ(
      runtime_->CreateContainer(sandbox->id, {.name = "x", .image = "nosuch"}).status().code(),
      StatusCode::kNotFound);
  Result<std::string> missing_binary = runtime_->CreateContainer(
      sandbox->id, {.name = "y", .image = "busybox", .command = {"/no/such/binary"}});
  // runc reports a missing executable at create time.
  EXPECT_FALSE(missing_binary.ok());
  EXPECT_THAT(missing_binary.status().message(), HasSubstr("no such file"));
  EXPECT_TRUE(runtime_->ListContainers(sandbox->id)->empty());
  EXPECT_EQ(runtime_->StartContainer("0123").code(), StatusCode::kNotFound);

  // A broken CNI configuration fails the sandbox and leaves nothing behind.
  std::ofstream(tmp_.path() / "net.d" / "10-kelp.conflist", std::ios::trunc)
      << R"({"cniVersion":"1.0.0","name":"rtnet","plugins":[{"type":"bridge","bridge":")" << bridge_
      << R"(","ipam":{"type":"host-local"}}]})";
  Result<SandboxStatus> broken = runtime_->RunPodSandbox(Pod("broken"));
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(broken.status().message(), HasSubstr("CNI ADD"));
  EXPECT_EQ(runtime_->ListPodSandboxes()->size(), 1u);
  EXPECT_EQ(std::distance(fs::directory_iterator(options_.netns_dir), fs::directory_iterator()), 1);
  EXPECT_EQ(std::distance(fs::directory_iterator(options_.state_dir / "sandboxes"),
                          fs::directory_iterator()),
            1);
}

// RunContainer: created and started by one `runc run --detach` under the shim (what the
// kubelet uses), with the same records, logs, tty and exit handling as create + start.
TEST_F(RuntimeE2eTest, RunContainerCreatesAndStartsInOneRuncProcess) {
  Result<SandboxStatus> sandbox = runtime_->RunPodSandbox(Pod("runone"));
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  Result<std::string> sleeper = runtime_->RunContainer(
      sandbox->id,
      {.name = "sleeper", .image = "busybox", .command = {"sh", "-c", "echo up; sleep 60"}});
  ASSERT_TRUE(sleeper.ok()) << sleeper.status().ToString();
  Result<ContainerStatus> running = runtime_->GetContainerStatus(*sleeper);
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  EXPECT_EQ(running->state, ContainerState::kRunning);
  EXPECT_GT(running->pid, 0);
  EXPECT_TRUE(running->started_at.has_value());
  // runc ran with a coarse timer slack (timer_slack.h); every thread of the container has the
  // slack it would have had without that: this process's, which the agent's would be.
  Result<fs::path> cgroup = ProcessMemoryCgroup(running->pid);
  ASSERT_TRUE(cgroup.ok()) << cgroup.status().ToString();
  Result<std::vector<pid_t>> threads = CgroupThreads(*cgroup);
  ASSERT_TRUE(threads.ok()) << threads.status().ToString();
  EXPECT_FALSE(threads->empty());
  const std::string own_slack = std::to_string(CurrentTimerSlack().count()) + "\n";
  for (pid_t tid : *threads) {
    EXPECT_EQ(ReadFile("/proc/" + std::to_string(tid) + "/timerslack_ns").value_or(own_slack),
              own_slack)
        << "thread " << tid;
  }
  // Already started: runc refuses a second start.
  EXPECT_EQ(runtime_->StartContainer(*sleeper).code(), StatusCode::kConflict);
  std::string first_line;
  Status read = runtime_->ReadLogs(*sleeper, {.follow = true}, [&](std::string_view s) {
    first_line.append(s);
    return first_line.find('\n') == std::string::npos;  // stop after the first line
  });
  ASSERT_TRUE(read.ok()) << read.ToString();
  EXPECT_EQ(first_line, "up\n");
  ASSERT_TRUE(runtime_->StopContainer(*sleeper, 0s).ok());
  Result<ContainerStatus> stopped = runtime_->GetContainerStatus(*sleeper);
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->state, ContainerState::kExited);
  EXPECT_EQ(stopped->exit_code, 137);

  // A container that exits before runc run returns: the shim still reaps it and records it.
  Result<std::string> quick = runtime_->RunContainer(
      sandbox->id,
      {.name = "quick", .image = "busybox", .command = {"sh", "-c", "echo bye; exit 3"}});
  ASSERT_TRUE(quick.ok()) << quick.status().ToString();
  Result<ContainerStatus> quick_done = runtime_->WaitContainer(*quick, 30s);
  ASSERT_TRUE(quick_done.ok()) << quick_done.status().ToString();
  EXPECT_EQ(quick_done->exit_code, 3);
  EXPECT_EQ(quick_done->reason, "Error");
  EXPECT_THAT(ReadFile(quick_done->log_path).value_or(""), HasSubstr(" stdout F bye"));

  Result<std::string> tty = runtime_->RunContainer(
      sandbox->id,
      {.name = "tty", .image = "busybox", .command = {"sh", "-c", "tty; echo done"}, .tty = true});
  ASSERT_TRUE(tty.ok()) << tty.status().ToString();
  Result<ContainerStatus> tty_done = runtime_->WaitContainer(*tty, 30s);
  ASSERT_TRUE(tty_done.ok()) << tty_done.status().ToString();
  EXPECT_EQ(tty_done->exit_code, 0);
  EXPECT_THAT(ReadFile(tty_done->log_path).value_or(""), HasSubstr(" stdout F /dev/pts/0\r"));

  // A missing executable fails RunContainer and leaves nothing behind.
  Result<std::string> missing = runtime_->RunContainer(
      sandbox->id, {.name = "missing", .image = "busybox", .command = {"/no/such/binary"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("no such file"));
  Result<std::vector<ContainerStatus>> left = runtime_->ListContainers(sandbox->id);
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->size(), 3u);  // sleeper, quick, tty
  for (const ContainerStatus& container : *left) EXPECT_NE(container.name, "missing");
}

// runc's init runs straight from the sealed copy: runc sees the seals and does not re-execute
// itself from a read-only bind mount first. Without the copy it does.
TEST_F(RuntimeE2eTest, RuncInitRunsFromTheSealedCopy) {
  EXPECT_THAT(runtime_->options().runc_binary, ::testing::StartsWith("/proc/"));
  Result<SandboxStatus> sandbox = runtime_->RunPodSandbox(Pod("sealed"));
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  // Created, not started: runc init waits for `runc start`, as the process runc made.
  auto init_exe = [&](const std::string& name) -> std::string {
    Result<std::string> id =
        runtime_->CreateContainer(sandbox->id, {.name = name, .image = "busybox",
                                                .command = {"sleep", "60"}});
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return "";
    std::string pid = ReadFile(options_.run_state_dir / "containers" / *id / "init.pid").value_or("");
    std::error_code ec;
    return fs::read_symlink("/proc/" + pid + "/exe", ec).string();
  };
  EXPECT_THAT(init_exe("sealed"), ::testing::StartsWith("/memfd:kelp-runc"));
  // The runtime's exec path uses the copy too.
  Result<std::string> running = runtime_->RunContainer(
      sandbox->id, {.name = "running", .image = "busybox", .command = {"sleep", "60"}});
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  Result<ExecSyncResult> exec = runtime_->ExecSync(*running, {"sh", "-c", "exit 4"}, 30s);
  ASSERT_TRUE(exec.ok()) << exec.status().ToString();
  EXPECT_EQ(exec->exit_code, 4);

  options_.sealed_runc = false;
  OpenRuntime();
  EXPECT_EQ(runtime_->options().runc_binary, runc_);
  std::string plain = init_exe("plain");
  EXPECT_FALSE(plain.empty());
  EXPECT_THAT(plain, ::testing::Not(::testing::StartsWith("/memfd:")));
}

TEST_F(RuntimeE2eTest, ContainersOfAPodShareNamespacesAndVolumes) {
  Result<SandboxStatus> sandbox = runtime_->RunPodSandbox(Pod("duo"));
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  fs::path volume = tmp_.path() / "volumes" / "shared";
  fs::create_directories(volume);
  std::vector<Mount> mounts = {{.container_path = "/data", .host_path = volume.string()}};
  std::string a =
      RunContainer(sandbox->id, {.name = "a",
                                 .command = {"sh", "-c", "echo from-a > /data/f; sleep 1000"},
                                 .mounts = mounts});
  std::string b =
      RunContainer(sandbox->id, {.name = "b", .command = {"sleep", "1000"}, .mounts = mounts});
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  auto namespaces = [&](const std::string& id) {
    Result<ExecSyncResult> r =
        runtime_->ExecSync(id,
                           {"sh", "-c",
                            "for n in net ipc uts pid mnt; do readlink /proc/self/ns/$n; done; "
                            "hostname"},
                           20s);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> lines;
    std::istringstream in(r.ok() ? r->stdout_data : "");
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
  };
  std::vector<std::string> na = namespaces(a);
  std::vector<std::string> nb = namespaces(b);
  ASSERT_EQ(na.size(), 6u);
  ASSERT_EQ(nb.size(), 6u);
  EXPECT_EQ(na[0], nb[0]);  // network
  EXPECT_EQ(na[1], nb[1]);  // ipc
  EXPECT_EQ(na[2], nb[2]);  // uts
  EXPECT_NE(na[3], nb[3]);  // pid: one each
  EXPECT_NE(na[4], nb[4]);  // mount: one each
  EXPECT_EQ(na[5], "duo");
  EXPECT_EQ(nb[5], "duo");
  ASSERT_TRUE(WaitFor([&] {
    Result<ExecSyncResult> r = runtime_->ExecSync(b, {"cat", "/data/f"}, 20s);
    return r.ok() && r->stdout_data == "from-a\n";
  }));
  Result<std::vector<ContainerStatus>> listed = runtime_->ListContainers(sandbox->id);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u);
}

TEST_F(RuntimeE2eTest, NetnsWithoutASandboxRecordIsTornDownOnOpen) {
  Result<SandboxStatus> sandbox = runtime_->RunPodSandbox(Pod("lost"));
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  ASSERT_TRUE(fs::exists(LeaseFile(sandbox->ip)));
  runtime_.reset();
  // The record is lost (as after a crash in the middle of a removal); the pinned namespaces
  // and the IP lease are still there.
  fs::remove_all(options_.state_dir / "sandboxes" / sandbox->id);
  const fs::path ns_dir = options_.run_state_dir / "sandboxes" / sandbox->id;
  ASSERT_TRUE(fs::exists(ns_dir / "uts"));
  OpenRuntime();
  EXPECT_EQ(runtime_->recovery().removed_orphan_sandboxes, std::vector<std::string>{sandbox->id});
  EXPECT_FALSE(fs::exists(LeaseFile(sandbox->ip)));
  EXPECT_FALSE(fs::exists(options_.netns_dir / ("kelp-" + sandbox->id)));
  EXPECT_FALSE(fs::exists(ns_dir));
  EXPECT_TRUE(runtime_->ListPodSandboxes()->empty());
}

TEST_F(RuntimeE2eTest, BundleWithoutAContainerRecordIsRemovedOnOpen) {
  Result<SandboxStatus> sandbox = runtime_->RunPodSandbox(Pod("unrecorded"));
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  std::string id = RunContainer(sandbox->id, {.name = "sleep", .command = {"sleep", "1000"}});
  ASSERT_FALSE(id.empty());
  const fs::path bundle = options_.run_state_dir / "containers" / id;
  ASSERT_TRUE(fs::exists(bundle / "rootfs" / "bin"));  // the overlay is mounted
  runtime_.reset();
  // The container's state dir is gone (as after a crash in the middle of a removal); runc's
  // container, the shim and the bundle with its rootfs mount are still there.
  fs::remove_all(options_.state_dir / "containers" / id);
  OpenRuntime();
  EXPECT_EQ(runtime_->recovery().removed_orphan_containers, std::vector<std::string>{id});
  EXPECT_FALSE(fs::exists(bundle));
  EXPECT_FALSE(fs::exists(options_.state_dir / "containers" / id));
  ASSERT_TRUE(runtime_->RemovePodSandbox(sandbox->id).ok());
}

TEST_F(RuntimeE2eTest, HostNetworkPodUsesTheNodeNetwork) {
  PodSandboxConfig config = Pod("hostnet");
  config.host_network = true;
  Result<SandboxStatus> sandbox = runtime_->RunPodSandbox(config);
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  EXPECT_TRUE(sandbox->ip.empty());
  EXPECT_TRUE(sandbox->netns_path.empty());
  EXPECT_FALSE(fs::exists(tmp_.path() / "ipam" / "rtnet"));  // no CNI ADD
  std::string id = RunContainer(sandbox->id, {.name = "c", .command = {"sleep", "1000"}});
  ASSERT_FALSE(id.empty());
  Result<ExecSyncResult> r =
      runtime_->ExecSync(id, {"sh", "-c", "readlink /proc/self/ns/net; hostname"}, 20s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  char node_ns[64] = {};
  ASSERT_GT(::readlink("/proc/thread-self/ns/net", node_ns, sizeof(node_ns) - 1), 0);
  EXPECT_EQ(r->stdout_data, std::string(node_ns) + "\nhostnet\n");
  ASSERT_TRUE(runtime_->RemovePodSandbox(sandbox->id).ok());
  EXPECT_TRUE(runtime_->ListContainers()->empty());
}

}  // namespace
}  // namespace kelp::agent
