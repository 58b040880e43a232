#include "cni/ipam.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"

namespace kelp::cni {
namespace {

IpamConf Conf(const std::string& dir, const std::string& subnet, const std::string& start = "",
              const std::string& end = "") {
  std::string text = R"({"cniVersion":"1.0.0","name":"net","ipam":{"subnet":")" + subnet +
                     R"(","dataDir":")" + dir + R"(","routes":[{"dst":"0.0.0.0/0"}])";
  if (!start.empty()) text += R"(,"rangeStart":")" + start + R"(","rangeEnd":")" + end + "\"";
  text += "}}";
  CniResult<NetConf> conf = ParseNetConf(text);
  return std::get<IpamConf>(ParseIpamConf(std::get<NetConf>(conf)));
}

std::string Ip(const CniResult<CniOutput>& out) {
  if (auto* e = std::get_if<CniError>(&out)) return "error " + e->msg;
  return std::get<CniOutput>(out).ips.at(0).address.ToString();
}

TEST(IpamTest, AllocatesRoundRobinSkippingGatewayAndReusesAnAttachmentsLease) {
  testing::ScopedTempDir tmp;
  HostLocalIpam ipam(Conf(tmp.path(), "10.1.0.0/24"), "net");
  EXPECT_EQ(Ip(ipam.Add("a", "eth0")), "10.1.0.2/24");
  EXPECT_EQ(Ip(ipam.Add("b", "eth0")), "10.1.0.3/24");
  EXPECT_EQ(Ip(ipam.Add("a", "eth0")), "10.1.0.2/24");  // a retried ADD keeps its address
  EXPECT_EQ(Ip(ipam.Add("a", "eth1")), "10.1.0.4/24");
  ASSERT_TRUE(std::holds_alternative<Done>(ipam.Del("b", "eth0")));
  // Round-robin: the released .3 is not handed out again right away.
  EXPECT_EQ(Ip(ipam.Add("c", "eth0")), "10.1.0.5/24");
  CniOutput out = std::get<CniOutput>(ipam.Add("c", "eth0"));
  EXPECT_EQ(out.ips[0].gateway->ToString(), "10.1.0.1");
  EXPECT_EQ(out.routes.at(0).dst.ToString(), "0.0.0.0/0");
  // host-local's lease format.
  std::ifstream lease(tmp.path() / "net" / "10.1.0.2");
  std::string content((std::istreambuf_iterator<char>(lease)), {});
  EXPECT_EQ(content, "a\r\neth0");
}

TEST(IpamTest, ExhaustionIsCode50AndStatusReportsIt) {
  testing::ScopedTempDir tmp;
  HostLocalIpam ipam(Conf(tmp.path(), "10.1.0.0/24", "10.1.0.10", "10.1.0.11"), "net");
  EXPECT_TRUE(std::holds_alternative<Done>(ipam.Status()));
  EXPECT_EQ(Ip(ipam.Add("a", "eth0")), "10.1.0.10/24");
  EXPECT_EQ(Ip(ipam.Add("b", "eth0")), "10.1.0.11/24");
  CniResult<CniOutput> full = ipam.Add("c", "eth0");
  ASSERT_TRUE(std::holds_alternative<CniError>(full));
  EXPECT_EQ(std::get<CniError>(full).code, ErrorCode::kNotAvailable);
  CniResult<Done> status = ipam.Status();
  ASSERT_TRUE(std::holds_alternative<CniError>(status));
  EXPECT_EQ(std::get<CniError>(status).code, ErrorCode::kNotAvailable);
  ASSERT_TRUE(std::holds_alternative<Done>(ipam.Del("a", "eth0")));
  EXPECT_TRUE(std::holds_alternative<Done>(ipam.Status()));
  EXPECT_EQ(Ip(ipam.Add("c", "eth0")), "10.1.0.10/24");  // wraps around
}

TEST(IpamTest, GcReleasesLeasesNotInValidAttachmentsAndCrashLeftovers) {
  testing::ScopedTempDir tmp;
  HostLocalIpam ipam(Conf(tmp.path(), "10.1.0.0/24"), "net");
  ASSERT_EQ(Ip(ipam.Add("a", "eth0")), "10.1.0.2/24");
  ASSERT_EQ(Ip(ipam.Add("b", "eth0")), "10.1.0.3/24");
  // A plugin killed between writing and linking a lease leaves only a temp file.
  std::ofstream(tmp.path() / "net" / ".tmp-10.1.0.9-123") << "dead\r\neth0";
  // ... or, killed inside the atomic write itself, that write's own temporary files.
  std::ofstream(tmp.path() / "net" / "..tmp-10.1.0.9-124.tmp.Ab12Cd") << "dead";
  std::ofstream(tmp.path() / "net" / ".last_reserved_ip.0.tmp.Xy34Zw") << "10.1.0.9";
  ASSERT_TRUE(std::holds_alternative<Done>(ipam.Gc({{"b", "eth0"}})));
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "net" / "10.1.0.2"));
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "net" / "10.1.0.3"));
  for (const auto& entry : std::filesystem::directory_iterator(tmp.path() / "net")) {
    EXPECT_FALSE(entry.path().filename().string().starts_with('.')) << entry.path();
  }
  EXPECT_TRUE(std::holds_alternative<Done>(ipam.Check("b", "eth0")));
  CniResult<Done> gone = ipam.Check("a", "eth0");
  ASSERT_TRUE(std::holds_alternative<CniError>(gone));
  EXPECT_EQ(std::get<CniError>(gone).code, ErrorCode::kContainerUnknown);
}

TEST(IpamTest, DelOfUnknownAttachmentSucceeds) {
  testing::ScopedTempDir tmp;
  HostLocalIpam ipam(Conf(tmp.path(), "10.1.0.0/24"), "net");
  EXPECT_TRUE(std::holds_alternative<Done>(ipam.Del("nobody", "eth0")));
  EXPECT_TRUE(std::holds_alternative<Done>(ipam.Del("nobody", "eth0")));
}

}  // namespace
}  // namespace kelp::cni
