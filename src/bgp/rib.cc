// RIB bookkeeping and the decision process. Paths are stored once per (prefix, peer) with
// shared attributes, since one UPDATE usually carries many prefixes with the same attributes.
#include "bgp/rib.h"

#include <algorithm>
#include <tuple>
#include <utility>

namespace kelp::bgp {
namespace {

constexpr uint32_t kDefaultLocalPref = 100;
// Prefixes per UPDATE: 5 bytes each at most, so 400 leave room for large attributes.
constexpr size_t kPrefixesPerUpdate = 400;

// RFC 4271 §9.1.2.2 a): an AS_SET counts as one AS.
size_t AsPathLength(const PathAttributes& attributes) {
  if (!attributes.as_path) return 0;
  size_t length = 0;
  for (const AsPathSegment& segment : attributes.as_path->segments) {
    length += segment.type == AsSegmentType::kAsSet ? 1 : segment.asns.size();
  }
  return length;
}

// The AS the route was learned from (first AS of the path); 0 for routes from inside the AS.
uint32_t NeighbourAs(const PathAttributes& attributes) {
  if (!attributes.as_path || attributes.as_path->segments.empty()) return 0;
  const AsPathSegment& first = attributes.as_path->segments.front();
  if (first.type != AsSegmentType::kAsSequence || first.asns.empty()) return 0;
  return first.asns.front();
}

bool AsPathContains(const PathAttributes& attributes, uint32_t asn) {
  if (!attributes.as_path) return false;
  for (const AsPathSegment& segment : attributes.as_path->segments) {
    if (std::find(segment.asns.begin(), segment.asns.end(), asn) != segment.asns.end()) {
      return true;
    }
  }
  return false;
}

void PrependAs(PathAttributes& attributes, uint32_t asn) {
  AsPath& path = attributes.as_path.emplace(attributes.as_path.value_or(AsPath{}));
  if (path.segments.empty() || path.segments.front().type != AsSegmentType::kAsSequence ||
      path.segments.front().asns.size() >= 255) {
    path.segments.insert(path.segments.begin(), AsPathSegment{AsSegmentType::kAsSequence, {}});
  }
  std::vector<uint32_t>& asns = path.segments.front().asns;
  asns.insert(asns.begin(), asn);
}

// Unknown attributes on re-advertisement (RFC 4271 §5): optional transitive ones go on with
// the Partial bit, optional non-transitive ones are dropped.
void FilterUnknownAttributes(PathAttributes& attributes) {
  std::vector<RawAttribute> kept;
  for (RawAttribute& raw : attributes.unknown) {
    if (!(raw.flags & kFlagTransitive)) continue;
    raw.flags |= kFlagPartial;
    kept.push_back(std::move(raw));
  }
  attributes.unknown = std::move(kept);
}

// The IPv4 unicast prefixes `update` announces, with the next hop they use.
std::vector<Ipv4Prefix> Announced(const Update& update) {
  std::vector<Ipv4Prefix> prefixes = update.nlri;
  const std::optional<MpReach>& mp = update.attributes.mp_reach;
  if (mp && mp->family == kIpv4Unicast) {
    prefixes.insert(prefixes.end(), mp->prefixes.begin(), mp->prefixes.end());
  }
  return prefixes;
}

std::vector<Ipv4Prefix> Withdrawn(const Update& update) {
  std::vector<Ipv4Prefix> prefixes = update.withdrawn;
  const std::optional<MpUnreach>& mp = update.attributes.mp_unreach;
  if (mp && mp->family == kIpv4Unicast) {
    prefixes.insert(prefixes.end(), mp->prefixes.begin(), mp->prefixes.end());
  }
  if (update.treat_as_withdraw) {
    std::vector<Ipv4Prefix> announced = Announced(update);
    prefixes.insert(prefixes.end(), announced.begin(), announced.end());
  }
  return prefixes;
}

// The attributes as stored in the Adj-RIB-In: MP next hop folded into NEXT_HOP, the MP
// attributes themselves dropped (they describe NLRI, not the path).
PathAttributes StoredAttributes(const Update& update, bool from_ibgp) {
  PathAttributes attributes = update.attributes;
  if (attributes.mp_reach && attributes.mp_reach->next_hop.size() >= 4) {
    const std::vector<uint8_t>& hop = attributes.mp_reach->next_hop;
    attributes.next_hop = (uint32_t{hop[0]} << 24) | (uint32_t{hop[1]} << 16) |
                          (uint32_t{hop[2]} << 8) | uint32_t{hop[3]};
  }
  attributes.mp_reach.reset();
  attributes.mp_unreach.reset();
  // LOCAL_PREF is meaningless from another AS (RFC 4271 §5.1.5): use our default.
  if (!from_ibgp || !attributes.local_pref) attributes.local_pref = kDefaultLocalPref;
  return attributes;
}

}  // namespace

bool BetterRoute(const Route& a, const Route& b) {
  // Routes this speaker originates win: local policy (§9.1.1) in every common implementation.
  if ((a.from == kLocalOrigin) != (b.from == kLocalOrigin)) return a.from == kLocalOrigin;
  const PathAttributes& x = *a.attributes;
  const PathAttributes& y = *b.attributes;
  uint32_t pref_x = x.local_pref.value_or(kDefaultLocalPref);
  uint32_t pref_y = y.local_pref.value_or(kDefaultLocalPref);
  if (pref_x != pref_y) return pref_x > pref_y;
  if (AsPathLength(x) != AsPathLength(y)) return AsPathLength(x) < AsPathLength(y);
  Origin origin_x = x.origin.value_or(Origin::kIncomplete);
  Origin origin_y = y.origin.value_or(Origin::kIncomplete);
  if (origin_x != origin_y) return origin_x < origin_y;
  // MED only compares routes from the same neighbouring AS; a missing MED is 0 (§9.1.2.2 c).
  if (NeighbourAs(x) == NeighbourAs(y)) {
    uint32_t med_x = x.multi_exit_disc.value_or(0);
    uint32_t med_y = y.multi_exit_disc.value_or(0);
    if (med_x != med_y) return med_x < med_y;
  }
  if (a.from_ibgp != b.from_ibgp) return !a.from_ibgp;
  // RFC 4456 §9: a reflected route is identified by its ORIGINATOR_ID, and a shorter
  // CLUSTER_LIST wins before the peer address.
  uint32_t id_x = x.originator_id.value_or(a.peer_router_id);
  uint32_t id_y = y.originator_id.value_or(b.peer_router_id);
  if (id_x != id_y) return id_x < id_y;
  if (x.cluster_list.size() != y.cluster_list.size()) {
    return x.cluster_list.size() < y.cluster_list.size();
  }
  return a.from < b.from;
}

Rib::Rib(RibConfig config) : config_(config) {}

void Rib::SetPeer(const PeerInfo& peer) { peers_[peer.address] = peer; }

bool Rib::IsLoop(const PeerInfo& peer, const PathAttributes& attributes) const {
  if (peer.as != config_.local_as) return AsPathContains(attributes, config_.local_as);
  if (attributes.originator_id == config_.router_id) return true;
  const std::vector<uint32_t>& clusters = attributes.cluster_list;
  return std::find(clusters.begin(), clusters.end(), cluster_id()) != clusters.end();
}

std::vector<Ipv4Prefix> Rib::ApplyUpdate(PeerId peer_id, const Update& update) {
  std::vector<Ipv4Prefix> changed;
  auto peer = peers_.find(peer_id);
  if (peer == peers_.end()) return changed;
  for (const Ipv4Prefix& prefix : Withdrawn(update)) {
    if (SetPath(prefix, peer_id, std::nullopt)) changed.push_back(prefix);
  }
  if (update.treat_as_withdraw) return changed;
  std::vector<Ipv4Prefix> announced = Announced(update);
  if (announced.empty()) return changed;

  const PeerInfo& info = peer->second;
  bool ibgp = info.as == config_.local_as;
  bool loop = IsLoop(info, update.attributes);
  AttributesPtr attributes = MakeAttributes(StoredAttributes(update, ibgp));
  for (const Ipv4Prefix& prefix : announced) {
    std::optional<Route> route;
    if (!loop) {
      route = Route{.from = peer_id,
                    .from_ibgp = ibgp,
                    .from_client = info.route_reflector_client,
                    .peer_router_id = info.router_id,
                    .attributes = attributes};
    }
    if (SetPath(prefix, peer_id, std::move(route))) changed.push_back(prefix);
  }
  return changed;
}

std::vector<Ipv4Prefix> Rib::PeerDown(PeerId peer) {
  std::vector<Ipv4Prefix> changed;
  std::vector<Ipv4Prefix> prefixes;
  for (const auto& [prefix, entry] : entries_) {
    for (const Route& path : entry.paths) {
      if (path.from == peer) prefixes.push_back(prefix);
    }
  }
  std::sort(prefixes.begin(), prefixes.end());
  for (const Ipv4Prefix& prefix : prefixes) {
    if (SetPath(prefix, peer, std::nullopt)) changed.push_back(prefix);
  }
  adj_rib_out_.erase(peer);
  return changed;
}

size_t Rib::MarkStale(PeerId peer) {
  size_t count = 0;
  for (auto& [prefix, entry] : entries_) {
    for (Route& path : entry.paths) {
      if (path.from != peer) continue;
      path.stale = true;
      ++count;
    }
  }
  adj_rib_out_.erase(peer);
  return count;
}

std::vector<Ipv4Prefix> Rib::SweepStale(PeerId peer) {
  std::vector<Ipv4Prefix> stale;
  for (const auto& [prefix, entry] : entries_) {
    for (const Route& path : entry.paths) {
      if (path.from == peer && path.stale) stale.push_back(prefix);
    }
  }
  std::sort(stale.begin(), stale.end());
  std::vector<Ipv4Prefix> changed;
  for (const Ipv4Prefix& prefix : stale) {
    if (SetPath(prefix, peer, std::nullopt)) changed.push_back(prefix);
  }
  return changed;
}

std::vector<Ipv4Prefix> Rib::Originate(const Ipv4Prefix& prefix) {
  PathAttributes attributes;
  attributes.origin = Origin::kIgp;
  attributes.as_path = AsPath{};
  Route route{.from = kLocalOrigin,
              .peer_router_id = config_.router_id,
              .attributes = MakeAttributes(std::move(attributes))};
  if (SetPath(prefix, kLocalOrigin, std::move(route))) return {prefix};
  return {};
}

bool Rib::SetPath(const Ipv4Prefix& prefix, PeerId from, std::optional<Route> route) {
  auto it = entries_.find(prefix);
  if (it == entries_.end()) {
    if (!route) return false;
    it = entries_.emplace(prefix, Entry{}).first;
  }
  Entry& entry = it->second;
  std::optional<Route> old_best;
  if (!entry.paths.empty()) old_best = entry.paths.front();

  auto existing = std::find_if(entry.paths.begin(), entry.paths.end(),
                               [from](const Route& path) { return path.from == from; });
  if (existing != entry.paths.end()) entry.paths.erase(existing);
  if (route) entry.paths.push_back(std::move(*route));

  if (entry.paths.empty()) {
    entries_.erase(it);
    return old_best.has_value();
  }
  SelectBest(entry);
  const Route& best = entry.paths.front();
  return !old_best || old_best->from != best.from || *old_best->attributes != *best.attributes;
}

void Rib::SelectBest(Entry& entry) {
  auto best = entry.paths.begin();
  for (auto path = entry.paths.begin(); path != entry.paths.end(); ++path) {
    if (BetterRoute(*path, *best)) best = path;
  }
  if (best != entry.paths.begin()) std::iter_swap(best, entry.paths.begin());
}

const Route* Rib::Best(const Ipv4Prefix& prefix) const {
  auto it = entries_.find(prefix);
  if (it == entries_.end()) return nullptr;
  return &it->second.paths.front();
}

std::map<Ipv4Prefix, Route> Rib::LocRib() const {
  std::map<Ipv4Prefix, Route> table;
  for (const auto& [prefix, entry] : entries_) {
    table.emplace(prefix, entry.paths.front());
  }
  return table;
}

std::map<Ipv4Prefix, PathAttributes> Rib::AdjRibIn(PeerId peer) const {
  std::map<Ipv4Prefix, PathAttributes> table;
  for (const auto& [prefix, entry] : entries_) {
    for (const Route& path : entry.paths) {
      if (path.from == peer) table.emplace(prefix, *path.attributes);
    }
  }
  return table;
}

std::optional<PathAttributes> Rib::Export(const PeerInfo& peer, const Route& best,
                                          uint32_t local_address) const {
  if (best.from == peer.address) return std::nullopt;
  bool to_ibgp = peer.as == config_.local_as;
  bool reflected = false;
  if (to_ibgp && best.from_ibgp) {
    // iBGP split horizon (§9.2), relaxed by route reflection (RFC 4456 §6): a route from a
    // client goes to everyone, a route from a non-client only to clients.
    if (!best.from_client && !peer.route_reflector_client) return std::nullopt;
    reflected = true;
  }
  PathAttributes out = *best.attributes;
  FilterUnknownAttributes(out);
  if (to_ibgp) {
    if (!out.local_pref) out.local_pref = kDefaultLocalPref;
    if (best.from == kLocalOrigin) out.next_hop = local_address;
    if (reflected) {
      if (!out.originator_id) out.originator_id = best.peer_router_id;
      out.cluster_list.insert(out.cluster_list.begin(), cluster_id());
    }
    return out;
  }
  // To another AS: our AS first, ourselves as next hop, no iBGP-only attributes, and a MED
  // from one neighbouring AS is not passed to another (§5.1.4).
  PrependAs(out, config_.local_as);
  out.next_hop = local_address;
  out.local_pref.reset();
  out.originator_id.reset();
  out.cluster_list.clear();
  if (best.from != kLocalOrigin) out.multi_exit_disc.reset();
  return out;
}

std::vector<Update> Rib::SyncAdjRibOut(PeerId peer_id, std::span<const Ipv4Prefix> prefixes,
                                       uint32_t local_address) {
  std::vector<Update> updates;
  auto peer = peers_.find(peer_id);
  if (peer == peers_.end()) return updates;
  std::map<Ipv4Prefix, PathAttributes>& sent = adj_rib_out_[peer_id];

  std::vector<Ipv4Prefix> withdrawals;
  // Announcements grouped by identical attributes, in first-seen order.
  std::vector<std::pair<PathAttributes, std::vector<Ipv4Prefix>>> announcements;
  for (const Ipv4Prefix& prefix : prefixes) {
    std::optional<PathAttributes> exported;
    if (const Route* best = Best(prefix)) exported = Export(peer->second, *best, local_address);
    auto previous = sent.find(prefix);
    if (!exported) {
      if (previous == sent.end()) continue;
      sent.erase(previous);
      withdrawals.push_back(prefix);
      continue;
    }
    if (previous != sent.end() && previous->second == *exported) continue;
    auto group = std::find_if(announcements.begin(), announcements.end(),
                              [&](const auto& candidate) { return candidate.first == *exported; });
    if (group == announcements.end()) {
      announcements.emplace_back(*exported, std::vector<Ipv4Prefix>{});
      group = std::prev(announcements.end());
    }
    group->second.push_back(prefix);
    sent.insert_or_assign(prefix, std::move(*exported));
  }

  for (size_t i = 0; i < withdrawals.size(); i += kPrefixesPerUpdate) {
    Update update;
    auto end = withdrawals.begin() + std::min(withdrawals.size(), i + kPrefixesPerUpdate);
    update.withdrawn.assign(withdrawals.begin() + i, end);
    updates.push_back(std::move(update));
  }
  for (auto& [attributes, nlri] : announcements) {
    for (size_t i = 0; i < nlri.size(); i += kPrefixesPerUpdate) {
      Update update;
      update.attributes = attributes;
      auto end = nlri.begin() + std::min(nlri.size(), i + kPrefixesPerUpdate);
      update.nlri.assign(nlri.begin() + i, end);
      updates.push_back(std::move(update));
    }
  }
  return updates;
}

std::vector<Update> Rib::FullTable(PeerId peer, uint32_t local_address) {
  std::vector<Ipv4Prefix> prefixes;
  prefixes.reserve(entries_.size());
  for (const auto& [prefix, entry] : entries_) prefixes.push_back(prefix);
  std::sort(prefixes.begin(), prefixes.end());
  return SyncAdjRibOut(peer, prefixes, local_address);
}

}  // namespace kelp::bgp
