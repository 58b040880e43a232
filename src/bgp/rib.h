// Routing Information Bases (RFC 4271 §3.2, §9): the routes each peer advertised (Adj-RIB-In,
// after loop checks), the best route per prefix (Loc-RIB, decision process §9.1.2), and what
// was advertised to each peer (Adj-RIB-Out, with iBGP split horizon and RFC 4456 route
// reflection). Plain data, no I/O: the speaker feeds it UPDATEs and sends what it returns.
#pragma once

#include <boost/container/small_vector.hpp>
#include <boost/smart_ptr/intrusive_ptr.hpp>
#include <boost/smart_ptr/intrusive_ref_counter.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "bgp/message.h"

namespace kelp::bgp {

// Peers are named by their IPv4 address; 0 stands for routes this speaker originates.
using PeerId = uint32_t;
inline constexpr PeerId kLocalOrigin = 0;

struct PeerInfo {
  PeerId address = 0;
  uint32_t as = 0;
  uint32_t router_id = 0;  // the BGP identifier from the peer's OPEN
  bool route_reflector_client = false;
};

struct RibConfig {
  uint32_t local_as = 0;
  uint32_t router_id = 0;
  // RFC 4456 CLUSTER_ID; 0 means the router id.
  uint32_t cluster_id = 0;
};

// Path attributes shared by every route one UPDATE announced. Counted intrusively (the RIB
// is single-threaded): the pointer in each Route is 8 bytes, not shared_ptr's 16.
struct SharedAttributes final
    : PathAttributes,
      boost::intrusive_ref_counter<SharedAttributes, boost::thread_unsafe_counter> {
  explicit SharedAttributes(PathAttributes attributes) : PathAttributes(std::move(attributes)) {}
};
using AttributesPtr = boost::intrusive_ptr<const SharedAttributes>;
inline AttributesPtr MakeAttributes(PathAttributes attributes) {
  return AttributesPtr(new SharedAttributes(std::move(attributes)));
}

// One path to a prefix. 24 bytes: a RIB holds one per prefix and peer.
struct Route {
  PeerId from = kLocalOrigin;
  bool from_ibgp = false;
  bool from_client = false;
  // Kept from a graceful restart of the peer (RFC 4724 §4.2) until it re-advertises the
  // route, its End-of-RIB arrives, or its restart time runs out.
  bool stale = false;
  uint32_t peer_router_id = 0;
  AttributesPtr attributes;
};

// Decision process (§9.1.2.2, RFC 4456 §9): true when `a` is preferred over `b`.
bool BetterRoute(const Route& a, const Route& b);

class Rib {
 public:
  explicit Rib(RibConfig config);

  // Registers or refreshes a peer (at session establishment, once its router id is known).
  void SetPeer(const PeerInfo& peer);
  // Applies an UPDATE from an established peer. Returns the prefixes whose best route changed.
  std::vector<Ipv4Prefix> ApplyUpdate(PeerId peer, const Update& update);
  // The peer's session went down: all its routes are withdrawn and its Adj-RIB-Out forgotten.
  std::vector<Ipv4Prefix> PeerDown(PeerId peer);
  // The peer's session went down but the peer is restarting gracefully (RFC 4724 helper):
  // its routes stay in use, marked stale; its Adj-RIB-Out is forgotten. Returns how many.
  size_t MarkStale(PeerId peer);
  // Withdraws the peer's routes that are still stale; returns the changed prefixes.
  std::vector<Ipv4Prefix> SweepStale(PeerId peer);
  // Originates `prefix` (ORIGIN IGP, empty AS_PATH); returns the changed prefixes.
  std::vector<Ipv4Prefix> Originate(const Ipv4Prefix& prefix);

  const Route* Best(const Ipv4Prefix& prefix) const;
  // The Loc-RIB: prefix → best route.
  std::map<Ipv4Prefix, Route> LocRib() const;
  // The peer's Adj-RIB-In: prefix → its attributes.
  std::map<Ipv4Prefix, PathAttributes> AdjRibIn(PeerId peer) const;

  // The attributes to advertise `best` with to `peer`, or nullopt when it must not be
  // advertised there (split horizon, reflection rules, sender is the peer). `local_address`
  // is this speaker's address on the session, the NEXT_HOP when it sets itself.
  std::optional<PathAttributes> Export(const PeerInfo& peer, const Route& best,
                                       uint32_t local_address) const;

  // The UPDATEs that bring `peer`'s Adj-RIB-Out in line with the Loc-RIB for `prefixes`, and
  // records them as sent. Unknown peers (not SetPeer) get nothing.
  std::vector<Update> SyncAdjRibOut(PeerId peer, std::span<const Ipv4Prefix> prefixes,
                                    uint32_t local_address);
  // Forgets what was sent to `peer`, so the next FullTable resends everything (the answer to
  // a ROUTE-REFRESH request).
  void ForgetAdjRibOut(PeerId peer) { adj_rib_out_.erase(peer); }
  // Everything to send a peer whose session has just come up.
  std::vector<Update> FullTable(PeerId peer, uint32_t local_address);

 private:
  // One per prefix, so kept small: the usual single path lives inside the entry (no
  // allocation of its own), and the best path is always the first. An entry with no path is
  // removed.
  struct Entry {
    boost::container::small_vector<Route, 1> paths;  // at most one per peer (the Adj-RIB-Ins)
  };

  // True when the route carries our own ORIGINATOR_ID, CLUSTER_ID or AS: it must be ignored.
  bool IsLoop(const PeerInfo& peer, const PathAttributes& attributes) const;
  // Replaces `from`'s path to `prefix` by `route` (nullopt removes it); true if the best
  // route changed.
  bool SetPath(const Ipv4Prefix& prefix, PeerId from, std::optional<Route> route);
  static void SelectBest(Entry& entry);
  uint32_t cluster_id() const { return config_.cluster_id ? config_.cluster_id : config_.router_id; }

  struct PrefixHash {
    size_t operator()(const Ipv4Prefix& prefix) const {  // the map mixes the bits itself
      return size_t{prefix.address()} << 8 | prefix.length();
    }
  };

  RibConfig config_;
  std::map<PeerId, PeerInfo> peers_;
  // Open addressing: no node per prefix (56 bytes a slot against 112 for a std::map node) and
  // one probe per lookup — the UPDATE path looks every prefix up several times. Iteration
  // order is the hash's; what leaves the RIB in bulk is sorted.
  boost::unordered_flat_map<Ipv4Prefix, Entry, PrefixHash> entries_;
  std::map<PeerId, std::map<Ipv4Prefix, PathAttributes>> adj_rib_out_;
};

}  // namespace kelp::bgp
