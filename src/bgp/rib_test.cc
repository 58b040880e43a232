// Tests of the RIBs: one test per decision-process tie-breaker, withdrawals and
// treat-as-withdraw, peer down, iBGP split horizon, RFC 4456 reflection rules and loop
// checks, eBGP export rewriting, and Adj-RIB-Out diffs.
#include "bgp/rib.h"

#include <gtest/gtest.h>

namespace kelp::bgp {
namespace {

constexpr uint32_t kLocalAs = 64512;
constexpr uint32_t kRouterId = 0x0a000001;      // 10.0.0.1
constexpr uint32_t kLocalAddress = 0xc0a8ce0a;  // 192.168.206.10

const PeerInfo kIbgpA{.address = 0xc0a8ce14, .as = kLocalAs, .router_id = 0x0a000014};
const PeerInfo kIbgpB{.address = 0xc0a8ce1e, .as = kLocalAs, .router_id = 0x0a00001e};
const PeerInfo kClientC{
    .address = 0xc0a8ce28, .as = kLocalAs, .router_id = 0x0a000028, .route_reflector_client = true};
const PeerInfo kClientD{
    .address = 0xc0a8ce32, .as = kLocalAs, .router_id = 0x0a000032, .route_reflector_client = true};
const PeerInfo kEbgp{.address = 0xc0a8ce3c, .as = 65001, .router_id = 0x0a00003c};

Ipv4Prefix P(const char* text) { return *Ipv4Prefix::Parse(text); }
const Ipv4Prefix kPrefix = P("10.244.2.0/26");

PathAttributes Attrs(std::vector<uint32_t> path = {}) {
  PathAttributes attributes;
  attributes.origin = Origin::kIgp;
  attributes.as_path = AsPath{};
  if (!path.empty()) attributes.as_path->segments.push_back({AsSegmentType::kAsSequence, path});
  attributes.next_hop = 0xc0a8ce63;
  return attributes;
}

Update Announce(PathAttributes attributes, std::vector<Ipv4Prefix> nlri = {kPrefix}) {
  Update update;
  update.attributes = std::move(attributes);
  update.nlri = std::move(nlri);
  return update;
}

Update Withdraw(std::vector<Ipv4Prefix> prefixes = {kPrefix}) {
  Update update;
  update.withdrawn = std::move(prefixes);
  return update;
}

class RibTest : public ::testing::Test {
 protected:
  RibTest() : rib_(RibConfig{.local_as = kLocalAs, .router_id = kRouterId}) {
    for (const PeerInfo& peer : {kIbgpA, kIbgpB, kClientC, kClientD, kEbgp}) rib_.SetPeer(peer);
  }

  // Announces kPrefix from `a` then `b`, and returns which one won.
  PeerId Winner(const PeerInfo& a, PathAttributes from_a, const PeerInfo& b,
                PathAttributes from_b) {
    rib_.ApplyUpdate(a.address, Announce(std::move(from_a)));
    rib_.ApplyUpdate(b.address, Announce(std::move(from_b)));
    const Route* best = rib_.Best(kPrefix);
    return best ? best->from : kLocalOrigin;
  }

  Rib rib_;
};

TEST_F(RibTest, HigherLocalPrefWins) {
  PathAttributes low = Attrs(), high = Attrs({65001, 65002});
  low.local_pref = 100;
  high.local_pref = 200;
  EXPECT_EQ(Winner(kIbgpA, low, kIbgpB, high), kIbgpB.address);
}

TEST_F(RibTest, ShorterAsPathWins) {
  EXPECT_EQ(Winner(kIbgpA, Attrs({65001, 65002}), kIbgpB, Attrs({65003})), kIbgpB.address);
}

TEST_F(RibTest, AsSetCountsAsOne) {
  PathAttributes with_set = Attrs({65001});
  with_set.as_path->segments.push_back({AsSegmentType::kAsSet, {65005, 65006, 65007}});
  EXPECT_EQ(Winner(kIbgpA, Attrs({65001, 65002, 65003}), kIbgpB, with_set), kIbgpB.address);
}

TEST_F(RibTest, LowerOriginWins) {
  PathAttributes incomplete = Attrs(), egp = Attrs();
  incomplete.origin = Origin::kIncomplete;
  egp.origin = Origin::kEgp;
  EXPECT_EQ(Winner(kIbgpA, incomplete, kIbgpB, egp), kIbgpB.address);
}

TEST_F(RibTest, LowerMedWinsOnlyFromTheSameNeighbourAs) {
  PathAttributes high = Attrs({65001}), low = Attrs({65001});
  high.multi_exit_disc = 50;
  low.multi_exit_disc = 10;
  EXPECT_EQ(Winner(kIbgpA, high, kIbgpB, low), kIbgpB.address);

  // From different neighbour ASes MED is skipped: A's lower router id wins over B's MED.
  Rib other(RibConfig{.local_as = kLocalAs, .router_id = kRouterId});
  other.SetPeer(kIbgpA);
  other.SetPeer(kIbgpB);
  PathAttributes from_x = Attrs({65001}), from_y = Attrs({65002});
  from_x.multi_exit_disc = 90;
  from_y.multi_exit_disc = 10;
  other.ApplyUpdate(kIbgpB.address, Announce(from_y));
  other.ApplyUpdate(kIbgpA.address, Announce(from_x));
  EXPECT_EQ(other.Best(kPrefix)->from, kIbgpA.address);
}

TEST_F(RibTest, EbgpBeatsIbgp) {
  EXPECT_EQ(Winner(kIbgpA, Attrs({65001}), kEbgp, Attrs({65001})), kEbgp.address);
}

TEST_F(RibTest, LowerRouterIdWins) {
  EXPECT_EQ(Winner(kIbgpB, Attrs(), kIbgpA, Attrs()), kIbgpA.address);
}

TEST_F(RibTest, OriginatorIdStandsInForTheRouterId) {
  PathAttributes reflected = Attrs();
  reflected.originator_id = 0x01000000;  // lower than A's router id
  reflected.cluster_list = {0x0b000000};
  EXPECT_EQ(Winner(kIbgpA, Attrs(), kIbgpB, reflected), kIbgpB.address);
}

TEST_F(RibTest, ShorterClusterListWins) {
  PathAttributes one = Attrs(), two = Attrs();
  one.originator_id = two.originator_id = 0x0a000063;
  one.cluster_list = {0x0b000000};
  two.cluster_list = {0x0b000000, 0x0c000000};
  EXPECT_EQ(Winner(kIbgpA, two, kIbgpB, one), kIbgpB.address);
}

TEST_F(RibTest, LowerPeerAddressWinsLast) {
  PeerInfo twin_a = kIbgpA, twin_b = kIbgpB;
  twin_b.router_id = twin_a.router_id;  // the same router over two sessions
  rib_.SetPeer(twin_b);
  EXPECT_EQ(Winner(twin_b, Attrs(), twin_a, Attrs()), kIbgpA.address);
}

TEST_F(RibTest, LocallyOriginatedRoutesWin) {
  rib_.ApplyUpdate(kEbgp.address, Announce(Attrs({65001})));
  EXPECT_EQ(rib_.Originate(kPrefix), std::vector<Ipv4Prefix>{kPrefix});
  EXPECT_EQ(rib_.Best(kPrefix)->from, kLocalOrigin);
}

TEST_F(RibTest, WithdrawFallsBackToTheNextBestAndThenToNothing) {
  rib_.ApplyUpdate(kIbgpA.address, Announce(Attrs()));
  rib_.ApplyUpdate(kIbgpB.address, Announce(Attrs()));
  EXPECT_EQ(rib_.ApplyUpdate(kIbgpA.address, Withdraw()), std::vector<Ipv4Prefix>{kPrefix});
  EXPECT_EQ(rib_.Best(kPrefix)->from, kIbgpB.address);
  EXPECT_EQ(rib_.ApplyUpdate(kIbgpB.address, Withdraw()), std::vector<Ipv4Prefix>{kPrefix});
  EXPECT_EQ(rib_.Best(kPrefix), nullptr);
  EXPECT_TRUE(rib_.ApplyUpdate(kIbgpB.address, Withdraw()).empty());
}

TEST_F(RibTest, MpReachAndMpUnreachCarryIpv4Unicast) {
  Update update = Announce(Attrs(), {});
  update.attributes.next_hop.reset();
  update.attributes.mp_reach = MpReach{.family = kIpv4Unicast,
                                       .next_hop = {192, 168, 206, 20},
                                       .prefixes = {kPrefix}};
  rib_.ApplyUpdate(kIbgpA.address, update);
  ASSERT_NE(rib_.Best(kPrefix), nullptr);
  EXPECT_EQ(rib_.Best(kPrefix)->attributes->next_hop, 0xc0a8ce14u);
  Update withdraw;
  withdraw.attributes.mp_unreach = MpUnreach{.family = kIpv4Unicast, .prefixes = {kPrefix}};
  rib_.ApplyUpdate(kIbgpA.address, withdraw);
  EXPECT_EQ(rib_.Best(kPrefix), nullptr);
}

TEST_F(RibTest, TreatAsWithdrawRemovesThePeersRoute) {
  rib_.ApplyUpdate(kIbgpA.address, Announce(Attrs()));
  Update broken = Announce(Attrs());
  broken.treat_as_withdraw = true;
  EXPECT_EQ(rib_.ApplyUpdate(kIbgpA.address, broken), std::vector<Ipv4Prefix>{kPrefix});
  EXPECT_EQ(rib_.Best(kPrefix), nullptr);
}

TEST_F(RibTest, PeerDownWithdrawsAllItsRoutes) {
  rib_.ApplyUpdate(kIbgpA.address, Announce(Attrs(), {kPrefix, P("10.244.3.0/26")}));
  rib_.ApplyUpdate(kIbgpB.address, Announce(Attrs(), {P("10.244.4.0/26")}));
  std::vector<Ipv4Prefix> changed = rib_.PeerDown(kIbgpA.address);
  EXPECT_EQ(changed, (std::vector<Ipv4Prefix>{kPrefix, P("10.244.3.0/26")}));
  EXPECT_EQ(rib_.LocRib().size(), 1u);
  EXPECT_TRUE(rib_.AdjRibIn(kIbgpA.address).empty());
  EXPECT_EQ(rib_.AdjRibIn(kIbgpB.address).size(), 1u);
}

TEST_F(RibTest, LocalPrefFromAnotherAsIsIgnored) {
  PathAttributes attributes = Attrs({65001});
  attributes.local_pref = 500;
  rib_.ApplyUpdate(kEbgp.address, Announce(attributes));
  EXPECT_EQ(rib_.Best(kPrefix)->attributes->local_pref, 100u);
}

TEST_F(RibTest, EbgpRouteWithOurAsIsALoop) {
  EXPECT_TRUE(rib_.ApplyUpdate(kEbgp.address, Announce(Attrs({65001, kLocalAs}))).empty());
  EXPECT_EQ(rib_.Best(kPrefix), nullptr);
}

TEST_F(RibTest, ReflectedRouteWithOurOriginatorIdOrClusterIdIsALoop) {
  PathAttributes own = Attrs();
  own.originator_id = kRouterId;
  EXPECT_TRUE(rib_.ApplyUpdate(kClientC.address, Announce(own)).empty());
  PathAttributes looped = Attrs();
  looped.originator_id = 0x0a000099;
  looped.cluster_list = {0x0b000000, kRouterId};  // cluster id defaults to the router id
  EXPECT_TRUE(rib_.ApplyUpdate(kClientC.address, Announce(looped)).empty());
  EXPECT_EQ(rib_.Best(kPrefix), nullptr);
}

TEST_F(RibTest, IbgpRoutesAreNotSentToOtherIbgpPeers) {
  rib_.ApplyUpdate(kIbgpA.address, Announce(Attrs()));
  const Route& best = *rib_.Best(kPrefix);
  EXPECT_FALSE(rib_.Export(kIbgpB, best, kLocalAddress).has_value());
  EXPECT_FALSE(rib_.Export(kIbgpA, best, kLocalAddress).has_value()) << "back to its sender";
  EXPECT_TRUE(rib_.Export(kEbgp, best, kLocalAddress).has_value());
}

TEST_F(RibTest, RouteFromNonClientIsReflectedToClientsOnly) {
  rib_.ApplyUpdate(kIbgpA.address, Announce(Attrs()));
  const Route& best = *rib_.Best(kPrefix);
  EXPECT_FALSE(rib_.Export(kIbgpB, best, kLocalAddress).has_value());
  std::optional<PathAttributes> to_client = rib_.Export(kClientC, best, kLocalAddress);
  ASSERT_TRUE(to_client.has_value());
  EXPECT_EQ(to_client->originator_id, kIbgpA.router_id);
  EXPECT_EQ(to_client->cluster_list, std::vector<uint32_t>{kRouterId});
  EXPECT_EQ(to_client->next_hop, 0xc0a8ce63u) << "reflection keeps the next hop";
}

TEST_F(RibTest, RouteFromClientIsReflectedToEveryoneElse) {
  PathAttributes attributes = Attrs();
  attributes.originator_id = 0x0a000077;
  attributes.cluster_list = {0x0b000000};
  rib_.ApplyUpdate(kClientC.address, Announce(attributes));
  const Route& best = *rib_.Best(kPrefix);
  EXPECT_FALSE(rib_.Export(kClientC, best, kLocalAddress).has_value());
  for (const PeerInfo& peer : {kClientD, kIbgpA, kIbgpB}) {
    std::optional<PathAttributes> out = rib_.Export(peer, best, kLocalAddress);
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->originator_id, 0x0a000077u) << "an existing ORIGINATOR_ID is kept";
    EXPECT_EQ(out->cluster_list, (std::vector<uint32_t>{kRouterId, 0x0b000000}));
  }
}

TEST_F(RibTest, LocalRoutesGoToIbgpWithLocalPrefAndOurNextHop) {
  rib_.Originate(kPrefix);
  std::optional<PathAttributes> out = rib_.Export(kIbgpA, *rib_.Best(kPrefix), kLocalAddress);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->origin, Origin::kIgp);
  EXPECT_EQ(out->as_path, AsPath{});
  EXPECT_EQ(out->next_hop, kLocalAddress);
  EXPECT_EQ(out->local_pref, 100u);
  EXPECT_FALSE(out->originator_id.has_value());
}

TEST_F(RibTest, EbgpExportPrependsOurAsAndDropsIbgpAttributes) {
  PathAttributes attributes = Attrs({65009});
  attributes.multi_exit_disc = 7;
  attributes.originator_id = 0x0a000077;
  attributes.cluster_list = {0x0b000000};
  attributes.unknown = {RawAttribute{.flags = kFlagOptional | kFlagTransitive, .type = 99},
                        RawAttribute{.flags = kFlagOptional, .type = 98}};
  rib_.ApplyUpdate(kClientC.address, Announce(attributes));
  std::optional<PathAttributes> out = rib_.Export(kEbgp, *rib_.Best(kPrefix), kLocalAddress);
  ASSERT_TRUE(out.has_value());
  ASSERT_EQ(out->as_path->segments.size(), 1u);
  EXPECT_EQ(out->as_path->segments[0].asns, (std::vector<uint32_t>{kLocalAs, 65009}));
  EXPECT_EQ(out->next_hop, kLocalAddress);
  EXPECT_FALSE(out->local_pref.has_value());
  EXPECT_FALSE(out->multi_exit_disc.has_value());
  EXPECT_FALSE(out->originator_id.has_value());
  EXPECT_TRUE(out->cluster_list.empty());
  ASSERT_EQ(out->unknown.size(), 1u);
  EXPECT_EQ(out->unknown[0].flags, kFlagOptional | kFlagTransitive | kFlagPartial);
}

TEST_F(RibTest, AdjRibOutSendsOnlyDifferencesAndWithdrawals) {
  rib_.Originate(kPrefix);
  rib_.Originate(P("10.244.1.0/26"));
  std::vector<Update> first = rib_.FullTable(kIbgpA.address, kLocalAddress);
  ASSERT_EQ(first.size(), 1u) << "same attributes share one UPDATE";
  EXPECT_EQ(first[0].nlri.size(), 2u);
  EXPECT_TRUE(rib_.FullTable(kIbgpA.address, kLocalAddress).empty()) << "nothing changed";

  rib_.ApplyUpdate(kIbgpB.address, Announce(Attrs(), {P("10.244.9.0/26")}));
  std::vector<Ipv4Prefix> changed = rib_.PeerDown(kIbgpB.address);
  EXPECT_TRUE(rib_.SyncAdjRibOut(kIbgpA.address, changed, kLocalAddress).empty())
      << "an iBGP route never reached A, so there is nothing to withdraw";

  std::vector<Update> to_client = rib_.FullTable(kClientC.address, kLocalAddress);
  ASSERT_EQ(to_client.size(), 1u);
  rib_.ApplyUpdate(kIbgpA.address, Announce(Attrs(), {P("10.244.5.0/26")}));
  std::vector<Update> reflected =
      rib_.SyncAdjRibOut(kClientC.address, std::vector{P("10.244.5.0/26")}, kLocalAddress);
  ASSERT_EQ(reflected.size(), 1u);
  std::vector<Ipv4Prefix> gone = rib_.ApplyUpdate(kIbgpA.address, Withdraw({P("10.244.5.0/26")}));
  std::vector<Update> withdrawn = rib_.SyncAdjRibOut(kClientC.address, gone, kLocalAddress);
  ASSERT_EQ(withdrawn.size(), 1u);
  EXPECT_EQ(withdrawn[0].withdrawn, std::vector<Ipv4Prefix>{P("10.244.5.0/26")});
}

TEST_F(RibTest, StaleRoutesStayBestUntilSweptAndRefreshedOnesSurvive) {
  const Ipv4Prefix other = P("10.244.3.0/26");
  rib_.ApplyUpdate(kIbgpA.address, Announce(Attrs(), {kPrefix, other}));
  EXPECT_EQ(rib_.MarkStale(kIbgpA.address), 2u);
  ASSERT_NE(rib_.Best(kPrefix), nullptr);
  EXPECT_TRUE(rib_.Best(kPrefix)->stale);
  EXPECT_EQ(rib_.Best(kPrefix)->from, kIbgpA.address);

  // The restarted peer re-advertises one of the two: only the other is swept.
  rib_.ApplyUpdate(kIbgpA.address, Announce(Attrs(), {kPrefix}));
  EXPECT_FALSE(rib_.Best(kPrefix)->stale);
  EXPECT_EQ(rib_.SweepStale(kIbgpA.address), std::vector<Ipv4Prefix>{other});
  EXPECT_NE(rib_.Best(kPrefix), nullptr);
  EXPECT_EQ(rib_.Best(other), nullptr);
}

TEST_F(RibTest, SweepStaleLeavesOtherPeersAlone) {
  rib_.ApplyUpdate(kIbgpA.address, Announce(Attrs()));
  rib_.ApplyUpdate(kIbgpB.address, Announce(Attrs()));
  rib_.MarkStale(kIbgpB.address);
  EXPECT_TRUE(rib_.SweepStale(kIbgpA.address).empty());
  rib_.SweepStale(kIbgpB.address);
  ASSERT_NE(rib_.Best(kPrefix), nullptr);
  EXPECT_EQ(rib_.Best(kPrefix)->from, kIbgpA.address);
  EXPECT_FALSE(rib_.Best(kPrefix)->stale);
}

}  // namespace
}  // namespace kelp::bgp
