// flannel's masquerade rules in nftables (see masquerade.h).
#include "flannel/masquerade.h"

#include <fmt/format.h>

namespace kelp::flannel {

std::string MasqueradeRuleset(const net::Ipv4Prefix& network, const net::Ipv4Prefix& subnet) {
  const std::string cluster = network.Network().ToString();
  const std::string own = subnet.Network().ToString();
  // "add" then "delete" makes the delete succeed whether or not the table exists; the new
  // table follows in the same transaction.
  return fmt::format(
      "add table ip {0}\n"
      "delete table ip {0}\n"
      "table ip {0} {{\n"
      "  chain postrouting {{\n"
      "    type nat hook postrouting priority srcnat; policy accept;\n"
      "    ip saddr {2} ip daddr {1} return\n"
      "    ip saddr {1} ip daddr {2} return\n"
      "    ip saddr != {1} ip daddr {2} return\n"
      "    ip saddr {1} ip daddr != 224.0.0.0/4 masquerade fully-random\n"
      "    ip saddr != {1} ip daddr {1} masquerade fully-random\n"
      "  }}\n"
      "}}\n",
      kNftTable, cluster, own);
}

Status ApplyMasquerade(proxy::Nftables& nft, const net::Ipv4Prefix& network,
                       const net::Ipv4Prefix& subnet) {
  return nft.Apply(MasqueradeRuleset(network, subnet)).WithContext("nftables masquerade");
}

Status DeleteMasquerade(proxy::Nftables& nft) {
  return nft.Apply(fmt::format("add table ip {0}\ndelete table ip {0}\n", kNftTable));
}

}  // namespace kelp::flannel
