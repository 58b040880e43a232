// LibnlNetlink against the real kernel, always inside network namespaces this test creates
// (and removes, even on failure): routes, links, addresses, neighbours and FDB entries.
#include "net/netlink_libnl.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>

#include "net/netns.h"

namespace kelp::net {
namespace {

std::string UniqueName(const std::string& base) {
  return "kelp-t-" + base + "-" + std::to_string(getpid());
}

class LibnlNetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<NamedNetns>> ns = NamedNetns::Create(UniqueName("a"));
    ASSERT_TRUE(ns.ok()) << ns.status().ToString();
    ns_ = std::move(ns).value();
    Result<std::unique_ptr<LibnlNetlink>> nl = LibnlNetlink::Open(ns_->fd());
    ASSERT_TRUE(nl.ok()) << nl.status().ToString();
    nl_ = std::move(nl).value();
  }

  // A veth pair inside the test namespace, both ends up; returns the first end.
  Link MakeVeth(const std::string& name, const std::string& peer) {
    EXPECT_TRUE(nl_->AddVeth(name, peer, -1, 1400).ok());
    Result<Link> link = nl_->GetLink(name);
    EXPECT_TRUE(link.ok());
    EXPECT_TRUE(nl_->SetLinkUp(link->index, true).ok());
    EXPECT_TRUE(nl_->SetLinkUp(nl_->GetLink(peer)->index, true).ok());
    return *link;
  }

  std::unique_ptr<NamedNetns> ns_;
  std::unique_ptr<LibnlNetlink> nl_;
};

TEST(NamedNetnsTest, CreatesAndRemovesTheMount) {
  std::string name = UniqueName("n");
  std::filesystem::path path;
  {
    Result<std::unique_ptr<NamedNetns>> ns = NamedNetns::Create(name);
    ASSERT_TRUE(ns.ok()) << ns.status().ToString();
    path = (*ns)->path();
    EXPECT_TRUE(std::filesystem::exists(path));
    EXPECT_EQ(NamedNetns::Create(name).status().code(), StatusCode::kAlreadyExists);
    // A namespace of its own: only lo, and not the test's.
    Result<std::unique_ptr<LibnlNetlink>> nl = LibnlNetlink::Open((*ns)->fd());
    ASSERT_TRUE(nl.ok());
    Result<std::vector<Link>> links = (*nl)->ListLinks();
    ASSERT_TRUE(links.ok());
    ASSERT_EQ(links->size(), 1u);
    EXPECT_EQ((*links)[0].name, "lo");
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(NamedNetns::Create("bad/name").ok());
}

TEST_F(LibnlNetlinkTest, RoutesAddReplaceListByProtocolAndDelete) {
  Link veth = MakeVeth("v0", "v1");
  ASSERT_TRUE(nl_->AddAddress({veth.index, *Ipv4Prefix::Parse("192.168.50.1/24")}).ok());
  Route r;
  r.dst = *Ipv4Prefix::Parse("10.244.2.0/24");
  r.gateway = *Ipv4Address::Parse("10.244.2.0");
  r.oif = veth.index;
  r.protocol = 201;
  r.onlink = true;
  ASSERT_TRUE(nl_->AddRoute(r).ok()) << nl_->AddRoute(r).ToString();
  EXPECT_EQ(nl_->AddRoute(r).code(), StatusCode::kAlreadyExists);

  Route other;
  other.dst = *Ipv4Prefix::Parse("10.50.0.0/16");
  other.gateway = *Ipv4Address::Parse("192.168.50.2");
  other.table = 100;
  other.protocol = 201;
  other.metric = 20;
  ASSERT_TRUE(nl_->AddRoute(other).ok());
  Route blackhole;
  blackhole.dst = *Ipv4Prefix::Parse("10.99.0.0/26");
  blackhole.type = RouteType::kBlackhole;
  blackhole.protocol = 201;
  ASSERT_TRUE(nl_->AddRoute(blackhole).ok());

  Result<std::vector<Route>> mine = nl_->ListRoutes({.protocol = 201});
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 3u);
  auto find = [&](const std::vector<Route>& routes, const std::string& dst) {
    return std::find_if(routes.begin(), routes.end(),
                        [&](const Route& x) { return x.dst.ToString() == dst; });
  };
  auto onlink = find(*mine, "10.244.2.0/24");
  ASSERT_NE(onlink, mine->end());
  EXPECT_EQ(*onlink, r);
  auto in_table = find(*mine, "10.50.0.0/16");
  ASSERT_NE(in_table, mine->end());
  EXPECT_EQ(in_table->table, 100u);
  EXPECT_EQ(in_table->metric, 20u);
  EXPECT_EQ(in_table->oif, veth.index);  // resolved by the kernel
  EXPECT_EQ(find(*mine, "10.99.0.0/26")->type, RouteType::kBlackhole);
  EXPECT_EQ(nl_->ListRoutes({.table = 100})->size(), 1u);
  // The connected route of the address is the kernel's, not ours.
  Result<std::vector<Route>> kernel = nl_->ListRoutes({.protocol = kProtoKernel});
  ASSERT_TRUE(kernel.ok());
  EXPECT_NE(find(*kernel, "192.168.50.0/24"), kernel->end());

  Route replaced = r;
  replaced.gateway = *Ipv4Address::Parse("10.244.2.1");
  ASSERT_TRUE(nl_->ReplaceRoute(replaced).ok());
  mine = nl_->ListRoutes({.protocol = 201});
  EXPECT_EQ(find(*mine, "10.244.2.0/24")->gateway, replaced.gateway);

  ASSERT_TRUE(nl_->DeleteRoute(replaced).ok());
  EXPECT_EQ(nl_->DeleteRoute(replaced).code(), StatusCode::kNotFound);
  EXPECT_EQ(nl_->ListRoutes({.protocol = 201})->size(), 2u);
}

// Many batches' worth of changes in one call: every change gets its own answer, failures in
// the middle of a batch (unreachable next hop, deleting what is absent) leave the others
// applied, and a batch that fails entirely loses no answer.
TEST_F(LibnlNetlinkTest, RouteChangesInBatchesReportEachFailure) {
  Link veth = MakeVeth("v0", "v1");
  ASSERT_TRUE(nl_->AddAddress({veth.index, *Ipv4Prefix::Parse("192.168.50.1/24")}).ok());
  constexpr uint32_t kRoutes = 1000;
  auto route = [](uint32_t i, const char* gateway) {
    Route r;
    r.dst = Ipv4Prefix{Ipv4Address{(20u << 24) + (i << 8)}, 24};
    r.gateway = *Ipv4Address::Parse(gateway);
    r.protocol = 86;
    return r;
  };
  std::vector<RouteChange> changes;
  for (uint32_t i = 0; i < kRoutes; ++i) {
    // Every 97th next hop is not on any link: the kernel refuses that route alone.
    changes.push_back({.op = RouteChange::Op::kReplace,
                       .route = route(i, i % 97 == 5 ? "172.31.0.1" : "192.168.50.2")});
  }
  std::vector<Status> results = nl_->ApplyRouteChanges(changes);
  ASSERT_EQ(results.size(), changes.size());
  size_t failed = 0;
  for (uint32_t i = 0; i < kRoutes; ++i) {
    if (i % 97 == 5) {
      EXPECT_FALSE(results[i].ok()) << i;
      EXPECT_NE(results[i].ToString().find("replace route " + changes[i].route.dst.ToString()),
                std::string::npos)
          << results[i].ToString();
      ++failed;
    } else {
      EXPECT_TRUE(results[i].ok()) << i << ": " << results[i].ToString();
    }
  }
  Result<std::vector<Route>> installed = nl_->ListRoutes({.protocol = 86});
  ASSERT_TRUE(installed.ok());
  EXPECT_EQ(installed->size(), kRoutes - failed);

  // Replacing again changes the next hop in place.
  changes.assign({{.op = RouteChange::Op::kReplace, .route = route(0, "192.168.50.3")}});
  ASSERT_TRUE(nl_->ApplyRouteChanges(changes)[0].ok());
  installed = nl_->ListRoutes({.protocol = 86});
  EXPECT_EQ(installed->size(), kRoutes - failed);

  // Delete all of them, the never-installed ones included: those are NotFound.
  changes.clear();
  for (uint32_t i = 0; i < kRoutes; ++i) {
    Route any_gateway = route(i, "192.168.50.2");
    any_gateway.gateway.reset();
    changes.push_back({.op = RouteChange::Op::kDelete, .route = any_gateway});
  }
  results = nl_->ApplyRouteChanges(changes);
  ASSERT_EQ(results.size(), changes.size());
  for (uint32_t i = 0; i < kRoutes; ++i) {
    if (i % 97 == 5) {
      EXPECT_EQ(results[i].code(), StatusCode::kNotFound) << i << ": " << results[i].ToString();
    } else {
      EXPECT_TRUE(results[i].ok()) << i << ": " << results[i].ToString();
    }
  }
  EXPECT_TRUE(nl_->ListRoutes({.protocol = 86})->empty());
  // A whole call of failures (all absent now): one answer each, none lost.
  results = nl_->ApplyRouteChanges(changes);
  EXPECT_EQ(std::count_if(results.begin(), results.end(),
                          [](const Status& s) { return s.code() == StatusCode::kNotFound; }),
            static_cast<long>(kRoutes))
      << results[0].ToString();
  EXPECT_TRUE(nl_->ApplyRouteChanges({}).empty());
}

TEST_F(LibnlNetlinkTest, BridgeVethMasterHairpinPromiscAndNetnsMove) {
  ASSERT_TRUE(nl_->AddBridge("br-t", 1450).ok());
  EXPECT_EQ(nl_->AddBridge("br-t", 1450).code(), StatusCode::kAlreadyExists);
  Result<Link> bridge = nl_->GetLink("br-t");
  ASSERT_TRUE(bridge.ok());
  EXPECT_EQ(bridge->kind, "bridge");
  EXPECT_EQ(bridge->mtu, 1450u);

  Result<std::unique_ptr<NamedNetns>> other = NamedNetns::Create(UniqueName("b"));
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(nl_->AddVeth("vh", "eth0", (*other)->fd(), 1450).ok());
  Result<Link> host = nl_->GetLink("vh");
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->kind, "veth");
  EXPECT_EQ(nl_->GetLink("eth0").status().code(), StatusCode::kNotFound);
  Result<std::unique_ptr<LibnlNetlink>> inside = LibnlNetlink::Open((*other)->fd());
  ASSERT_TRUE(inside.ok());
  Result<Link> peer = (*inside)->GetLink("eth0");
  ASSERT_TRUE(peer.ok());
  EXPECT_EQ(peer->mtu, 1450u);

  ASSERT_TRUE(nl_->SetLinkMaster(host->index, bridge->index).ok());
  ASSERT_TRUE(nl_->SetBridgePortHairpin(host->index, true).ok());
  ASSERT_TRUE(nl_->SetLinkPromisc(bridge->index, true).ok());
  ASSERT_TRUE(nl_->SetLinkUp(bridge->index, true).ok());
  host = nl_->GetLink("vh");
  EXPECT_EQ(host->master, bridge->index);
  bridge = nl_->GetLink("br-t");
  EXPECT_TRUE(bridge->promisc);
  EXPECT_TRUE(bridge->up);
  ASSERT_TRUE(nl_->SetLinkMaster(host->index, 0).ok());
  EXPECT_EQ(nl_->GetLink("vh")->master, 0);

  ASSERT_TRUE(nl_->SetLinkName(host->index, "vh2").ok());
  ASSERT_TRUE(nl_->SetLinkNetns(nl_->GetLink("vh2")->index, (*other)->fd()).ok());
  EXPECT_EQ(nl_->GetLink("vh2").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE((*inside)->GetLink("vh2").ok());
  ASSERT_TRUE(nl_->DeleteLink(bridge->index).ok());
  EXPECT_EQ(nl_->DeleteLink(bridge->index).code(), StatusCode::kNotFound);
}

TEST_F(LibnlNetlinkTest, VxlanNeighbourAndFdb) {
  Link veth = MakeVeth("u0", "u1");
  ASSERT_TRUE(nl_->AddAddress({veth.index, *Ipv4Prefix::Parse("192.168.60.1/24")}).ok());
  EXPECT_EQ(nl_->AddAddress({veth.index, *Ipv4Prefix::Parse("192.168.60.1/24")}).code(),
            StatusCode::kAlreadyExists);
  VxlanSpec spec;
  spec.name = "flannel.1";
  spec.vni = 1;
  spec.port = 8472;
  spec.local = *Ipv4Address::Parse("192.168.60.1");
  spec.underlay = veth.index;
  spec.learning = false;
  spec.mtu = 1350;
  spec.mac = *MacAddress::Parse("0a:58:0a:f4:01:00");
  ASSERT_TRUE(nl_->AddVxlan(spec).ok());
  Result<Link> vx = nl_->GetLink("flannel.1");
  ASSERT_TRUE(vx.ok());
  EXPECT_EQ(vx->kind, "vxlan");
  EXPECT_EQ(vx->mtu, 1350u);
  EXPECT_EQ(vx->mac, *spec.mac);
  ASSERT_TRUE(nl_->SetLinkUp(vx->index, true).ok());
  ASSERT_TRUE(nl_->AddAddress({vx->index, *Ipv4Prefix::Parse("10.244.1.0/32")}).ok());
  Result<std::vector<Address>> addrs = nl_->ListAddresses(vx->index);
  ASSERT_TRUE(addrs.ok());
  ASSERT_EQ(addrs->size(), 1u);
  EXPECT_EQ((*addrs)[0].prefix.ToString(), "10.244.1.0/32");

  Neighbour n{vx->index, *Ipv4Address::Parse("10.244.2.0"), *MacAddress::Parse("0a:58:0a:f4:02:00")};
  ASSERT_TRUE(nl_->ReplaceNeighbour(n).ok());
  ASSERT_TRUE(nl_->ReplaceNeighbour(n).ok());  // idempotent
  Result<std::vector<Neighbour>> neighbours = nl_->ListNeighbours(vx->index);
  ASSERT_TRUE(neighbours.ok());
  ASSERT_EQ(neighbours->size(), 1u);
  EXPECT_EQ((*neighbours)[0], n);

  FdbEntry fdb{vx->index, n.mac, *Ipv4Address::Parse("192.168.60.2")};
  Status appended = nl_->AppendFdb(fdb);
  ASSERT_TRUE(appended.ok()) << appended.ToString();
  Result<std::vector<FdbEntry>> entries = nl_->ListFdb(vx->index);
  ASSERT_TRUE(entries.ok());
  EXPECT_NE(std::find(entries->begin(), entries->end(), fdb), entries->end());

  ASSERT_TRUE(nl_->DeleteFdb(fdb).ok());
  entries = nl_->ListFdb(vx->index);
  EXPECT_EQ(std::find(entries->begin(), entries->end(), fdb), entries->end());
  ASSERT_TRUE(nl_->DeleteNeighbour(n).ok());
  EXPECT_TRUE(nl_->ListNeighbours(vx->index)->empty());
  ASSERT_TRUE(nl_->DeleteAddress({vx->index, *Ipv4Prefix::Parse("10.244.1.0/32")}).ok());
  EXPECT_TRUE(nl_->ListAddresses(vx->index)->empty());
}

}  // namespace
}  // namespace kelp::net
