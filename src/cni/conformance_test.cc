// CNI conformance: kelp-bridge + kelp-ipam against the reference bridge + host-local plugins
// (containernetworking-plugins), same configuration, each in a fresh "host" namespace with a
// fresh container namespace; results and the container's addresses and routes must match.
// Then kelp-only checks: CHECK, repeated DEL, DEL without netns, GC, ipMasq, error cases.
// Runs as root; every namespace is removed by RAII even when an assertion fails.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <random>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "common/file.h"
#include "common/process.h"
#include "common/testing/temp_dir.h"
#include "net/netlink_libnl.h"
#include "net/netns.h"

namespace kelp::cni {
namespace {

namespace json = boost::json;

struct PluginRun {
  int exit_code;
  std::string out;
};

class ConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SweepNamespacesOfDeadRuns();
    for (const char* role : {"kh", "kc", "rh", "rc"}) {
      auto ns = net::NamedNetns::Create("kelp-cc-" + std::string(role) + "-" +
                                        std::to_string(getpid()));
      ASSERT_TRUE(ns.ok()) << ns.status().ToString();
      ns_.push_back(std::move(ns).value());
    }
    ASSERT_FALSE(tmp_.path().empty());
  }

  // A run killed from outside (a CTest timeout's SIGKILL) cannot clean up after itself: the
  // next run removes the namespaces named after a process that no longer exists.
  static void SweepNamespacesOfDeadRuns() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(net::kNetnsDir, ec)) {
      const std::string name = entry.path().filename();
      if (!name.starts_with("kelp-cc")) continue;
      const size_t dash = name.rfind('-');
      const std::string pid = name.substr(dash + 1);
      if (dash == std::string::npos || pid.empty() ||
          pid.find_first_not_of("0123456789") != std::string::npos) {
        continue;
      }
      if (kill(std::stoi(pid), 0) != 0 && errno == ESRCH) (void)net::DeleteNamedNetns(name);
    }
  }

  net::NamedNetns& kelp_host() { return *ns_[0]; }
  net::NamedNetns& kelp_ctr() { return *ns_[1]; }
  net::NamedNetns& ref_host() { return *ns_[2]; }
  net::NamedNetns& ref_ctr() { return *ns_[3]; }

  // Runs `binary` as a runtime would, inside the host namespace `host`.
  // `path` is the PATH the plugin gets (`ip` itself is found through the test's own).
  PluginRun Exec(net::NamedNetns& host, const std::string& binary, const std::string& command,
           const std::string& netns, const std::string& config, const std::string& id = "ctr1",
           const std::string& path = "/usr/sbin:/usr/bin:/sbin:/bin") {
    ProcessRequest request;
    request.argv = {"ip", "netns", "exec", host.name(), "env", "PATH=" + path, binary};
    request.env = std::vector<std::string>{
        "CNI_COMMAND=" + command, "CNI_CONTAINERID=" + id, "CNI_NETNS=" + netns,
        "CNI_IFNAME=eth0", "CNI_PATH=" + std::string(REFERENCE_CNI_DIR),
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    request.stdin_data = config;
    request.timeout = std::chrono::seconds(60);
    Result<ProcessResult> r = runner_.Run(request);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {-1, ""};
    return {r->exit_code, r->stdout_data};
  }

  std::string KelpConfig(const std::string& extra = "") {
    return R"({"cniVersion":"1.0.0","name":"ccnet","type":"kelp-bridge","bridge":"cbr0",)"
           R"("isGateway":true,"isDefaultGateway":true,"hairpinMode":true,"mtu":1400,)" + extra +
           R"("ipam":{"type":"kelp-ipam","subnet":"10.77.0.0/24","routes":[{"dst":"10.78.0.0/16"}],)"
           R"("dataDir":")" + (tmp_.path() / "kelp").string() + R"("}})";
  }
  std::string RefConfig() {
    return R"({"cniVersion":"1.0.0","name":"ccnet","type":"bridge","bridge":"cbr0",)"
           R"("isGateway":true,"isDefaultGateway":true,"hairpinMode":true,"mtu":1400,)"
           R"("ipam":{"type":"host-local","subnet":"10.77.0.0/24","routes":[{"dst":"10.78.0.0/16"}],)"
           R"("dataDir":")" + (tmp_.path() / "ref").string() + R"("}})";
  }

  // The container's addresses and routes on eth0, as comparable text.
  std::vector<std::string> ContainerState(net::NamedNetns& ns) {
    auto nl = net::LibnlNetlink::Open(ns.fd());
    EXPECT_TRUE(nl.ok());
    std::vector<std::string> state;
    Result<net::Link> eth0 = (*nl)->GetLink("eth0");
    if (!eth0.ok()) return {"no eth0"};
    state.push_back("eth0 mtu " + std::to_string(eth0->mtu) + (eth0->up ? " up" : " down"));
    std::vector<net::Address> addresses = (*nl)->ListAddresses(eth0->index).value_or({});
    for (const net::Address& a : addresses) {
      state.push_back("addr " + a.prefix.ToString());
    }
    std::vector<net::Route> routes = (*nl)->ListRoutes({.table = net::kMainTable}).value_or({});
    for (const net::Route& r : routes) {
      state.push_back("route " + r.dst.ToString() +
                      (r.gateway ? " via " + r.gateway->ToString() : "") + " proto " +
                      std::to_string(r.protocol) + " scope " + std::to_string(r.scope));
    }
    std::sort(state.begin(), state.end());
    return state;
  }

  // Result fields that do not depend on random names or MACs.
  static std::string Canonical(const std::string& result) {
    json::object o = json::parse(result).as_object();
    json::array names;
    for (const json::value& i : o["interfaces"].as_array()) {
      const json::object& io = i.as_object();
      names.push_back(json::value(io.contains("sandbox") ? std::string(io.at("name").as_string()) +
                                                               "@sandbox"
                                                         : std::string("host")));
    }
    return json::serialize(json::object{{"cniVersion", o["cniVersion"]}, {"ips", o["ips"]},
                                        {"routes", o["routes"]}, {"interfaces", names}});
  }

  testing::ScopedTempDir tmp_;
  SubprocessRunner runner_;
  std::vector<std::unique_ptr<net::NamedNetns>> ns_;
};

TEST_F(ConformanceTest, AddMatchesTheReferencePluginsAndDelCleansUp) {
  PluginRun kelp = Exec(kelp_host(), KELP_CNI_BINARY, "ADD", kelp_ctr().path(), KelpConfig());
  ASSERT_EQ(kelp.exit_code, 0) << kelp.out;
  PluginRun ref = Exec(ref_host(), std::string(REFERENCE_CNI_DIR) + "/bridge", "ADD", ref_ctr().path(),
                 RefConfig());
  ASSERT_EQ(ref.exit_code, 0) << ref.out;
  EXPECT_EQ(Canonical(kelp.out), Canonical(ref.out));
  EXPECT_EQ(ContainerState(kelp_ctr()), ContainerState(ref_ctr()));
  EXPECT_NE(ContainerState(kelp_ctr()), std::vector<std::string>{"no eth0"});

  // Host side: bridge with the gateway address, veth enslaved, both up.
  auto host = net::LibnlNetlink::Open(kelp_host().fd());
  ASSERT_TRUE(host.ok());
  Result<net::Link> bridge = (*host)->GetLink("cbr0");
  ASSERT_TRUE(bridge.ok());
  EXPECT_TRUE(bridge->up);
  std::vector<net::Address> gw = (*host)->ListAddresses(bridge->index).value_or({});
  ASSERT_EQ(gw.size(), 1u);
  EXPECT_EQ(gw[0].prefix.ToString(), "10.77.0.1/24");
  int ports = 0;
  std::vector<net::Link> links = (*host)->ListLinks().value_or({});
  for (const net::Link& l : links) ports += l.master == bridge->index ? 1 : 0;
  EXPECT_EQ(ports, 1);

  // CHECK with the ADD result as prevResult.
  json::object check_conf = json::parse(KelpConfig()).as_object();
  check_conf["prevResult"] = json::parse(kelp.out);
  PluginRun check = Exec(kelp_host(), KELP_CNI_BINARY, "CHECK", kelp_ctr().path(),
                   json::serialize(check_conf));
  EXPECT_EQ(check.exit_code, 0) << check.out;

  // A second ADD for the same interface fails cleanly and leaks no lease.
  PluginRun again = Exec(kelp_host(), KELP_CNI_BINARY, "ADD", kelp_ctr().path(), KelpConfig(), "ctr2");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(json::parse(again.out).at("code").as_int64(), 4) << again.out;
  EXPECT_FALSE(std::filesystem::exists(tmp_.path() / "kelp" / "ccnet" / "10.77.0.3"));

  // DEL, repeated DEL, DEL without a netns: all succeed; the lease and the veth are gone.
  for (const std::string& netns : {kelp_ctr().path().string(), kelp_ctr().path().string(),
                                   std::string()}) {
    PluginRun del = Exec(kelp_host(), KELP_CNI_BINARY, "DEL", netns, json::serialize(check_conf));
    EXPECT_EQ(del.exit_code, 0) << del.out;
  }
  EXPECT_FALSE(std::filesystem::exists(tmp_.path() / "kelp" / "ccnet" / "10.77.0.2"));
  EXPECT_EQ(ContainerState(kelp_ctr()), std::vector<std::string>{"no eth0"});
  ports = 0;
  links = (*host)->ListLinks().value_or({});
  for (const net::Link& l : links) ports += l.master == bridge->index ? 1 : 0;
  EXPECT_EQ(ports, 0);
  PluginRun ref_del = Exec(ref_host(), std::string(REFERENCE_CNI_DIR) + "/bridge", "DEL",
                     ref_ctr().path(), RefConfig());
  EXPECT_EQ(ref_del.exit_code, 0) << ref_del.out;
}

TEST_F(ConformanceTest, ReferenceHostLocalWorksAsIpamOfKelpBridge) {
  std::string conf = KelpConfig();
  size_t at = conf.find("\"kelp-ipam\"");
  conf.replace(at, 11, "\"host-local\"");
  PluginRun add = Exec(kelp_host(), KELP_CNI_BINARY, "ADD", kelp_ctr().path(), conf);
  ASSERT_EQ(add.exit_code, 0) << add.out;
  EXPECT_EQ(json::parse(add.out).at("ips").at(0).at("address").as_string(), "10.77.0.2/24");
  EXPECT_TRUE(std::filesystem::exists(tmp_.path() / "kelp" / "ccnet" / "10.77.0.2"));
  PluginRun del = Exec(kelp_host(), KELP_CNI_BINARY, "DEL", kelp_ctr().path(), conf);
  EXPECT_EQ(del.exit_code, 0) << del.out;
  EXPECT_FALSE(std::filesystem::exists(tmp_.path() / "kelp" / "ccnet" / "10.77.0.2"));
}

TEST_F(ConformanceTest, GcReleasesStaleLeasesAndIpMasqProgramsNftables) {
  PluginRun add = Exec(kelp_host(), KELP_CNI_BINARY, "ADD", kelp_ctr().path(),
                 KelpConfig(R"("ipMasq":true,)"));
  ASSERT_EQ(add.exit_code, 0) << add.out;
  ProcessRequest list;
  list.argv = {"ip", "netns", "exec", kelp_host().name(), "nft", "list", "table", "ip", "kelp-cni"};
  Result<ProcessResult> nft = runner_.Run(list);
  ASSERT_TRUE(nft.ok());
  EXPECT_NE(nft->stdout_data.find("10.77.0.2 : jump net-"), std::string::npos) << nft->stdout_data;
  EXPECT_NE(nft->stdout_data.find("masquerade"), std::string::npos);

  json::object gc = json::parse(KelpConfig()).as_object();
  gc["cni.dev/valid-attachments"] = json::array{};
  PluginRun run = Exec(kelp_host(), KELP_CNI_BINARY, "GC", "", json::serialize(gc), "");
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_FALSE(std::filesystem::exists(tmp_.path() / "kelp" / "ccnet" / "10.77.0.2"));
  PluginRun status = Exec(kelp_host(), KELP_CNI_BINARY, "STATUS", "", KelpConfig(), "");
  EXPECT_EQ(status.exit_code, 0) << status.out;
}

// kelp-bridge masquerades through `nft -f -` (the plugin is a static executable): without nft
// in the runtime's PATH the ADD fails with a CNI I/O error naming nft, and leaves no veth and no
// lease behind.
TEST_F(ConformanceTest, IpMasqWithoutNftInPathFailsCleanly) {
  testing::ScopedTempDir empty;
  PluginRun add = Exec(kelp_host(), KELP_CNI_BINARY, "ADD", kelp_ctr().path(),
                       KelpConfig(R"("ipMasq":true,)"), "ctr1", empty.path().string());
  EXPECT_EQ(add.exit_code, 1) << add.out;
  json::object error = json::parse(add.out).as_object();
  EXPECT_EQ(error.at("code").as_int64(), 5) << add.out;
  EXPECT_NE(add.out.find("masquerade"), std::string::npos) << add.out;
  EXPECT_NE(add.out.find("nft"), std::string::npos) << add.out;
  EXPECT_EQ(ContainerState(kelp_ctr()), std::vector<std::string>{"no eth0"});
  EXPECT_FALSE(std::filesystem::exists(tmp_.path() / "kelp" / "ccnet" / "10.77.0.2"));
  auto host = net::LibnlNetlink::Open(kelp_host().fd());
  ASSERT_TRUE(host.ok());
  for (const net::Link& l : (*host)->ListLinks().value_or({})) EXPECT_NE(l.kind, "veth") << l.name;
}

TEST_F(ConformanceTest, BadInputGetsCniErrorsAndLeavesNothing) {
  PluginRun no_netns = Exec(kelp_host(), KELP_CNI_BINARY, "ADD", "/run/netns/kelp-missing-ns",
                      KelpConfig());
  EXPECT_EQ(no_netns.exit_code, 1);
  EXPECT_EQ(json::parse(no_netns.out).at("code").as_int64(), 3) << no_netns.out;
  std::string bad_cidr = KelpConfig();
  bad_cidr.replace(bad_cidr.find("10.77.0.0/24"), 12, "10.77.0.0/99");
  PluginRun bad = Exec(kelp_host(), KELP_CNI_BINARY, "ADD", kelp_ctr().path(), bad_cidr);
  EXPECT_EQ(json::parse(bad.out).at("code").as_int64(), 7) << bad.out;
  PluginRun garbage = Exec(kelp_host(), KELP_CNI_BINARY, "ADD", kelp_ctr().path(), "{oops");
  EXPECT_EQ(json::parse(garbage.out).at("code").as_int64(), 6);
  // Exhausted range: code 50, and the veth made before IPAM ran is removed again.
  std::string tiny = KelpConfig();
  tiny.replace(tiny.find("\"subnet\":\"10.77.0.0/24\""), 23,
               R"("subnet":"10.77.0.0/24","rangeStart":"10.77.0.9","rangeEnd":"10.77.0.9")");
  ASSERT_EQ(Exec(kelp_host(), KELP_CNI_BINARY, "ADD", kelp_ctr().path(), tiny).exit_code, 0);
  PluginRun full = Exec(kelp_host(), KELP_CNI_BINARY, "ADD", ref_ctr().path(), tiny, "ctr2");
  EXPECT_EQ(json::parse(full.out).at("code").as_int64(), 50) << full.out;
  EXPECT_EQ(ContainerState(ref_ctr()), std::vector<std::string>{"no eth0"});
  auto host = net::LibnlNetlink::Open(kelp_host().fd());
  int veths = 0;
  std::vector<net::Link> links = (*host)->ListLinks().value_or({});
  for (const net::Link& l : links) veths += l.kind == "veth" ? 1 : 0;
  EXPECT_EQ(veths, 1);
  PluginRun status = Exec(kelp_host(), KELP_CNI_BINARY, "STATUS", "", tiny, "");
  EXPECT_EQ(json::parse(status.out).at("code").as_int64(), 50) << status.out;
}


// Starts kelp-cni inside `host` with `config` on stdin and SIGKILLs it after `kill_after`
// (nullopt: lets it finish). Returns true when the plugin ran to completion with exit code 0.
// Needs its own fork/exec: ProcessRunner::Start has no stdin, and Run cannot be interrupted.
bool RunOrKill(int host_fd, const std::string& command, const std::string& container_id,
               const std::string& netns, const std::string& config,
               std::optional<std::chrono::microseconds> kill_after) {
  int in[2];
  if (pipe2(in, O_CLOEXEC) != 0) return false;
  // The configuration fits the pipe buffer: written before the child starts, so no deadlock.
  if (write(in[1], config.data(), config.size()) != static_cast<ssize_t>(config.size())) {
    close(in[0]);
    close(in[1]);
    return false;
  }
  close(in[1]);
  std::vector<std::string> env_strings = {
      "CNI_COMMAND=" + command, "CNI_CONTAINERID=" + container_id, "CNI_NETNS=" + netns,
      "CNI_IFNAME=eth0", "CNI_PATH=/nonexistent", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  std::vector<char*> env;
  for (std::string& e : env_strings) env.push_back(e.data());
  env.push_back(nullptr);
  std::string binary = KELP_CNI_BINARY;
  char* argv[] = {binary.data(), nullptr};
  pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    int devnull = open("/dev/null", O_WRONLY);
    if (setns(host_fd, CLONE_NEWNET) != 0 || dup2(in[0], 0) < 0 || dup2(devnull, 1) < 0 ||
        dup2(devnull, 2) < 0) {
      _exit(127);
    }
    execve(argv[0], argv, env.data());
    _exit(127);
  }
  close(in[0]);
  if (pid < 0) return false;
  if (kill_after) {
    std::this_thread::sleep_for(*kill_after);  // a random point inside the plugin's run
    kill(pid, SIGKILL);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// 1,000 cycles; 150 in sanitizer builds, where every plugin run is several times slower (the
// release build of the same test runs all 1,000 in CI).
#if defined(__SANITIZE_ADDRESS__)
constexpr int kKilledCycles = 150;
#else
constexpr int kKilledCycles = 1000;
#endif

// The runtime's view of a crash-prone node: 1,000 pods whose ADD is SIGKILLed at a random point
// (or completes), whose DEL is SIGKILLed too and then retried to completion — except one pod in
// ten, whose DEL is never retried (the runtime itself died and forgot it). Each pod has a fresh
// netns, removed afterwards as a runtime does. At the end only forgotten pods may hold a lease,
// and GC with the one live pod as the valid attachment leaves exactly its lease: nothing leaks.
TEST_F(ConformanceTest, KilledAddDelCyclesLeakNoLeaseAfterGc) {
  const std::string config = KelpConfig();
  const std::filesystem::path leases = tmp_.path() / "kelp" / "ccnet";
  // How long a complete ADD and DEL take here (the median of five, after a first ADD that
  // also makes the bridge), so that kills land inside the plugin's work.
  std::vector<std::chrono::microseconds> add_times, del_times;
  for (int i = 0; i < 6; ++i) {
    auto ctr = net::NamedNetns::Create("kelp-cck-" + std::to_string(getpid()));
    ASSERT_TRUE(ctr.ok());
    auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(RunOrKill(kelp_host().fd(), "ADD", "warm", (*ctr)->path(), config, std::nullopt));
    auto added = std::chrono::steady_clock::now();
    ASSERT_TRUE(RunOrKill(kelp_host().fd(), "DEL", "warm", (*ctr)->path(), config, std::nullopt));
    auto deleted = std::chrono::steady_clock::now();
    if (i == 0) continue;
    add_times.push_back(std::chrono::duration_cast<std::chrono::microseconds>(added - start));
    del_times.push_back(std::chrono::duration_cast<std::chrono::microseconds>(deleted - added));
  }
  std::sort(add_times.begin(), add_times.end());
  std::sort(del_times.begin(), del_times.end());
  const std::chrono::microseconds add_time = add_times[2], del_time = del_times[2];

  const unsigned seed = std::random_device{}();
  std::cout << "seed " << seed << ", ADD " << add_time.count() << " us, DEL " << del_time.count()
            << " us\n";
  std::mt19937 random(seed);
  auto kill_point = [&](std::chrono::microseconds duration) {
    int64_t us = duration.count();
    return std::chrono::microseconds(std::uniform_int_distribution<int64_t>(0, us)(random));
  };
  std::set<std::string> forgotten;
  int adds_completed = 0;
  int dels_killed = 0;
  for (int i = 0; i < kKilledCycles; ++i) {
    const std::string id = "pod" + std::to_string(i);
    auto pod_ns = net::NamedNetns::Create("kelp-cck-" + std::to_string(getpid()));
    ASSERT_TRUE(pod_ns.ok()) << pod_ns.status().ToString();
    const std::string netns = (*pod_ns)->path();
    bool add_may_finish = std::bernoulli_distribution(0.2)(random);
    adds_completed += RunOrKill(kelp_host().fd(), "ADD", id, netns, config,
                                add_may_finish ? std::nullopt
                                               : std::optional(kill_point(add_time)));
    bool del_done = RunOrKill(kelp_host().fd(), "DEL", id, netns, config, kill_point(del_time));
    dels_killed += !del_done;
    if (std::bernoulli_distribution(0.1)(random)) {
      forgotten.insert(id);
    } else if (!del_done) {
      ASSERT_TRUE(RunOrKill(kelp_host().fd(), "DEL", id, netns, config, std::nullopt)) << id;
    }
  }
  std::cout << kKilledCycles << " cycles: " << adds_completed << " ADDs completed, "
            << dels_killed << " DELs killed, "
            << forgotten.size() << " pods forgotten\n";
  EXPECT_GT(kKilledCycles - adds_completed, kKilledCycles * 15 / 100);  // many ADDs interrupted
  EXPECT_GT(dels_killed, kKilledCycles / 10);

  // Only forgotten pods may hold leases; no half-written lease is left in the directory.
  int leased = 0;
  for (const auto& entry : std::filesystem::directory_iterator(leases)) {
    std::string name = entry.path().filename();
    // Temporary files of killed plugins are not leases (GC removes them, checked below).
    if (name == "lock" || name.starts_with("last_reserved_ip") || name.starts_with(".")) {
      continue;
    }
    ++leased;
    Result<std::string> owner = ReadFile(entry.path());
    ASSERT_TRUE(owner.ok());
    std::string id = owner->substr(0, owner->find('\r'));
    EXPECT_TRUE(forgotten.contains(id)) << "lease " << name << " leaked by " << id;
  }
  EXPECT_LE(leased, static_cast<int>(forgotten.size()));

  // One live pod, then GC with it as the only valid attachment.
  auto live_ns = net::NamedNetns::Create("kelp-cck-" + std::to_string(getpid()));
  ASSERT_TRUE(live_ns.ok());
  ASSERT_TRUE(RunOrKill(kelp_host().fd(), "ADD", "live", (*live_ns)->path(), config, std::nullopt));
  json::object gc = json::parse(config).as_object();
  gc["cni.dev/valid-attachments"] = json::array{json::object{{"containerID", "live"},
                                                             {"ifname", "eth0"}}};
  ASSERT_TRUE(RunOrKill(kelp_host().fd(), "GC", "", "", json::serialize(gc), std::nullopt));
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(leases)) {
    std::string name = entry.path().filename();
    if (name != "lock" && !name.starts_with("last_reserved_ip")) left.push_back(name);
  }
  ASSERT_EQ(left.size(), 1u) << "leases or temporary files left after GC";
  EXPECT_EQ(ReadFile(leases / left[0]).value_or(""), "live\r\neth0");
  ASSERT_TRUE(RunOrKill(kelp_host().fd(), "DEL", "live", (*live_ns)->path(), config, std::nullopt));
  live_ns->reset();

  // Every pod netns is gone, so no veth may be left on the host side (the kernel removes the
  // pairs as it destroys the namespaces, asynchronously).
  auto host = net::LibnlNetlink::Open(kelp_host().fd());
  ASSERT_TRUE(host.ok());
  int veths = -1;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(std::chrono::milliseconds(50))) {
    veths = 0;
    for (const net::Link& l : (*host)->ListLinks().value_or({})) veths += l.kind == "veth";
    if (veths == 0) break;
  }
  EXPECT_EQ(veths, 0);
}

}  // namespace
}  // namespace kelp::cni
