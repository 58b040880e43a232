// kelp-flannel through the built binary, as a runtime runs it, in fresh namespaces: with a
// subnet.env it delegates and gets what kelp-bridge + kelp-ipam give for that subnet and MTU;
// without one it waits the configured time and answers code 11; DEL after subnet.env vanished
// uses the saved delegate. Runs as root; namespaces are removed by RAII even on failure.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
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

constexpr const char* kSubnetEnv =
    "FLANNEL_NETWORK=10.66.0.0/16\nFLANNEL_SUBNET=10.66.3.1/24\nFLANNEL_MTU=1450\n"
    "FLANNEL_IPMASQ=true\n";

struct PluginRun {
  int exit_code;
  std::string out;
};

class FlannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    for (const char* role : {"fh", "fc", "bh", "bc"}) {
      auto ns = net::NamedNetns::Create("kelp-fl-" + std::string(role) + "-" +
                                        std::to_string(getpid()));
      ASSERT_TRUE(ns.ok()) << ns.status().ToString();
      ns_.push_back(std::move(ns).value());
    }
  }

  net::NamedNetns& flannel_host() { return *ns_[0]; }
  net::NamedNetns& flannel_ctr() { return *ns_[1]; }
  net::NamedNetns& bridge_host() { return *ns_[2]; }
  net::NamedNetns& bridge_ctr() { return *ns_[3]; }
  std::filesystem::path subnet_file() const { return tmp_.path() / "subnet.env"; }
  std::filesystem::path saved_dir() const { return tmp_.path() / "flannel"; }

  PluginRun Exec(net::NamedNetns& host, const std::string& command, const std::string& netns,
                 const std::string& config) {
    ProcessRequest request;
    request.argv = {"ip", "netns", "exec", host.name(), KELP_CNI_BINARY};
    request.env = std::vector<std::string>{
        "CNI_COMMAND=" + command, "CNI_CONTAINERID=ctr1", "CNI_NETNS=" + netns,
        "CNI_IFNAME=eth0", "CNI_PATH=/usr/lib/cni", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    request.stdin_data = config;
    request.timeout = std::chrono::seconds(60);
    Result<ProcessResult> r = runner_.Run(request);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {-1, ""};
    return {r->exit_code, r->stdout_data};
  }

  // kube-flannel's own conflist entry: hairpinMode and isDefaultGateway in the delegate.
  std::string FlannelConfig(int wait_ms = 10000) {
    return R"({"cniVersion":"1.0.0","name":"fl","type":"kelp-flannel","subnetFile":")" +
           subnet_file().string() + R"(","dataDir":")" + saved_dir().string() +
           R"(","ipamDataDir":")" + (tmp_.path() / "flannel-ipam").string() +
           R"(","subnetFileWaitMs":)" + std::to_string(wait_ms) +
           R"(,"delegate":{"bridge":"fl0","hairpinMode":true,"isDefaultGateway":true}})";
  }
  // What kelp-flannel should amount to for kSubnetEnv, written by hand.
  std::string BridgeConfig() {
    return R"({"cniVersion":"1.0.0","name":"fl","type":"kelp-bridge","bridge":"fl0",)"
           R"("isGateway":true,"isDefaultGateway":true,"hairpinMode":true,"mtu":1450,)"
           R"("ipMasq":false,"ipam":{"type":"kelp-ipam","ranges":[[{"subnet":"10.66.3.0/24"}]],)"
           R"("routes":[{"dst":"10.66.0.0/16"}],"dataDir":")" +
           (tmp_.path() / "bridge-ipam").string() + R"("}})";
  }

  std::vector<std::string> ContainerState(net::NamedNetns& ns) {
    auto nl = net::LibnlNetlink::Open(ns.fd());
    EXPECT_TRUE(nl.ok());
    if (!nl.ok()) return {"no netlink"};
    Result<net::Link> eth0 = (*nl)->GetLink("eth0");
    if (!eth0.ok()) return {"no eth0"};
    std::vector<std::string> state{"eth0 mtu " + std::to_string(eth0->mtu)};
    for (const net::Address& a : (*nl)->ListAddresses(eth0->index).value_or({})) {
      state.push_back("addr " + a.prefix.ToString());
    }
    for (const net::Route& r : (*nl)->ListRoutes({.table = net::kMainTable}).value_or({})) {
      state.push_back("route " + r.dst.ToString() +
                      (r.gateway ? " via " + r.gateway->ToString() : ""));
    }
    std::sort(state.begin(), state.end());
    return state;
  }

  int HostVeths(net::NamedNetns& host) {
    auto nl = net::LibnlNetlink::Open(host.fd());
    EXPECT_TRUE(nl.ok());
    if (!nl.ok()) return -1;
    int veths = 0;
    for (const net::Link& l : (*nl)->ListLinks().value_or({})) veths += l.kind == "veth" ? 1 : 0;
    return veths;
  }

  // The result without the random interface MACs and the namespace paths, which differ.
  static std::string Comparable(const std::string& result) {
    json::object o = json::parse(result).as_object();
    for (json::value& i : o["interfaces"].as_array()) {
      i.as_object().erase("mac");
      if (i.as_object().contains("sandbox")) i.as_object()["sandbox"] = "container";
    }
    return json::serialize(o);
  }

  testing::ScopedTempDir tmp_;
  SubprocessRunner runner_;
  std::vector<std::unique_ptr<net::NamedNetns>> ns_;
};

TEST_F(FlannelTest, DelegatesAndMatchesKelpBridgeForTheSubnetAndMtu) {
  ASSERT_TRUE(WriteFileAtomic(subnet_file().string(), kSubnetEnv, 0644).ok());
  PluginRun flannel = Exec(flannel_host(), "ADD", flannel_ctr().path(), FlannelConfig());
  ASSERT_EQ(flannel.exit_code, 0) << flannel.out;
  PluginRun bridge = Exec(bridge_host(), "ADD", bridge_ctr().path(), BridgeConfig());
  ASSERT_EQ(bridge.exit_code, 0) << bridge.out;
  EXPECT_EQ(Comparable(flannel.out), Comparable(bridge.out));
  EXPECT_EQ(json::parse(flannel.out).at("ips").at(0).at("address").as_string(), "10.66.3.2/24");
  std::vector<std::string> state = ContainerState(flannel_ctr());
  EXPECT_EQ(state, ContainerState(bridge_ctr()));
  EXPECT_NE(std::find(state.begin(), state.end(), "eth0 mtu 1450"), state.end());
  EXPECT_NE(std::find(state.begin(), state.end(), "route 0.0.0.0/0 via 10.66.3.1"), state.end());
  EXPECT_TRUE(std::filesystem::exists(saved_dir() / "ctr1"));
  EXPECT_EQ(Exec(flannel_host(), "DEL", flannel_ctr().path(), FlannelConfig()).exit_code, 0);
  EXPECT_EQ(Exec(bridge_host(), "DEL", bridge_ctr().path(), BridgeConfig()).exit_code, 0);
}

TEST_F(FlannelTest, LikeFlannelSetsOnlyIsGatewayWhenTheDelegateIsSilent) {
  ASSERT_TRUE(WriteFileAtomic(subnet_file().string(), kSubnetEnv, 0644).ok());
  std::string config = FlannelConfig();
  config.replace(config.find(R"("delegate":{)"), std::string::npos, R"("delegate":{}})");
  PluginRun add = Exec(flannel_host(), "ADD", flannel_ctr().path(), config);
  ASSERT_EQ(add.exit_code, 0) << add.out;
  // Bridge "cni0" with the gateway address, but no default route in the container.
  std::vector<std::string> state = ContainerState(flannel_ctr());
  EXPECT_EQ(state, (std::vector<std::string>{"addr 10.66.3.2/24", "eth0 mtu 1450",
                                             "route 10.66.0.0/16 via 10.66.3.1",
                                             "route 10.66.3.0/24"}));
  auto host = net::LibnlNetlink::Open(flannel_host().fd());
  ASSERT_TRUE(host.ok());
  Result<net::Link> cni0 = (*host)->GetLink("cni0");
  ASSERT_TRUE(cni0.ok()) << cni0.status().ToString();
  std::vector<net::Address> gw = (*host)->ListAddresses(cni0->index).value_or({});
  ASSERT_EQ(gw.size(), 1u);
  EXPECT_EQ(gw[0].prefix.ToString(), "10.66.3.1/24");
  EXPECT_EQ(Exec(flannel_host(), "DEL", flannel_ctr().path(), config).exit_code, 0);
}

TEST_F(FlannelTest, MissingSubnetEnvWaitsTheConfiguredTimeThenAnswersTryAgainLater) {
  auto start = std::chrono::steady_clock::now();
  PluginRun add = Exec(flannel_host(), "ADD", flannel_ctr().path(), FlannelConfig(300));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
  EXPECT_EQ(add.exit_code, 1);
  json::object error = json::parse(add.out).as_object();
  EXPECT_EQ(error.at("code").as_int64(), 11) << add.out;
  EXPECT_EQ(error.at("msg").as_string(), subnet_file().string() + " is not there yet");
  EXPECT_EQ(ContainerState(flannel_ctr()), std::vector<std::string>{"no eth0"});
  EXPECT_EQ(HostVeths(flannel_host()), 0);
  EXPECT_FALSE(std::filesystem::exists(saved_dir() / "ctr1"));
}

TEST_F(FlannelTest, SubnetEnvAppearingDuringTheWaitLetsAddSucceed) {
  // flanneld writing subnet.env a moment after the runtime called ADD.
  std::thread flanneld([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_TRUE(WriteFileAtomic(subnet_file().string(), kSubnetEnv, 0644).ok());
  });
  PluginRun add = Exec(flannel_host(), "ADD", flannel_ctr().path(), FlannelConfig(30000));
  flanneld.join();
  ASSERT_EQ(add.exit_code, 0) << add.out;
  EXPECT_EQ(json::parse(add.out).at("ips").at(0).at("address").as_string(), "10.66.3.2/24");
  EXPECT_EQ(Exec(flannel_host(), "DEL", flannel_ctr().path(), FlannelConfig()).exit_code, 0);
}

TEST_F(FlannelTest, DelAfterSubnetEnvVanishedUsesTheSavedDelegate) {
  ASSERT_TRUE(WriteFileAtomic(subnet_file().string(), kSubnetEnv, 0644).ok());
  PluginRun add = Exec(flannel_host(), "ADD", flannel_ctr().path(), FlannelConfig());
  ASSERT_EQ(add.exit_code, 0) << add.out;
  std::filesystem::path lease = tmp_.path() / "flannel-ipam" / "fl" / "10.66.3.2";
  EXPECT_TRUE(std::filesystem::exists(lease));
  EXPECT_EQ(HostVeths(flannel_host()), 1);
  std::filesystem::remove(subnet_file());

  PluginRun del = Exec(flannel_host(), "DEL", flannel_ctr().path(), FlannelConfig(300));
  EXPECT_EQ(del.exit_code, 0) << del.out;
  EXPECT_FALSE(std::filesystem::exists(lease));
  EXPECT_EQ(HostVeths(flannel_host()), 0);
  EXPECT_EQ(ContainerState(flannel_ctr()), std::vector<std::string>{"no eth0"});
  EXPECT_FALSE(std::filesystem::exists(saved_dir() / "ctr1"));
  // Repeated DEL with nothing saved succeeds too.
  EXPECT_EQ(Exec(flannel_host(), "DEL", flannel_ctr().path(), FlannelConfig(300)).exit_code, 0);
}

}  // namespace
}  // namespace kelp::cni
