// Masquerade for pod traffic leaving the cluster network, in kelp's own nftables table
// `ip kelp-flannel` (never anyone else's), with flannel's rules: traffic between pods (this
// node's subnet ↔ the cluster network) is never translated; pod traffic to anywhere else but
// multicast is masqueraded (fully random ports); traffic from outside to other nodes' pods
// too. Each Apply replaces the whole table in one transaction, so it is idempotent.
#pragma once

#include <string>

#include "common/status.h"
#include "net/ip.h"
#include "proxy/nftables.h"

namespace kelp::flannel {

inline constexpr char kNftTable[] = "kelp-flannel";

// The nft transaction that (re)creates the table for `network` and this node's `subnet`.
std::string MasqueradeRuleset(const net::Ipv4Prefix& network, const net::Ipv4Prefix& subnet);

Status ApplyMasquerade(proxy::Nftables& nft, const net::Ipv4Prefix& network,
                       const net::Ipv4Prefix& subnet);
// Deletes the table (OK when it is absent).
Status DeleteMasquerade(proxy::Nftables& nft);

}  // namespace kelp::flannel
