// The nftables rule layout of the Service proxy, as data: the fixed objects of table
// `ip kelp-proxy` (base chains, dispatch chains, verdict maps, sets) and, per Service, the
// fragment it adds (its chains with their rules, its ClientIP affinity sets, its map and set
// elements). Pure functions of their inputs, so the Proxier can diff fragments and tests can
// read them; README.md in this folder draws the layout.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "net/ip.h"
#include "proxy/service_model.h"

namespace kelp::proxy {

inline constexpr const char* kTableName = "kelp-proxy";
// "ip kelp-proxy": how every command names the table.
inline constexpr const char* kTable = "ip kelp-proxy";
// kube-proxy's default masquerade bit (--masquerade-bit 14).
inline constexpr uint32_t kDefaultMasqueradeMark = 0x4000;

// What the rules depend on besides Services and EndpointSlices: the node.
struct RulesetOptions {
  std::string node_name;  // endpoints with this nodeName are local
  // Addresses that accept NodePort traffic (kube-proxy's --nodeport-addresses resolved to
  // addresses); ignored when nodeport_all_local.
  std::vector<net::Ipv4Address> nodeport_addresses;
  // NodePorts on every local address except 127.0.0.0/8 (--nodeport-addresses 0.0.0.0/0).
  bool nodeport_all_local = false;
  // The pod network. When set, traffic from outside it to a ClusterIP is masqueraded and pod
  // traffic to a Local-policy NodePort may use any endpoint (kube-proxy's local detector).
  std::optional<net::Ipv4Prefix> cluster_cidr;
  uint32_t masquerade_mark = kDefaultMasqueradeMark;
};

// A set or map of the table ("set"/"map", its name, the declaration inside the braces).
struct CollectionDecl {
  std::string kind;
  std::string name;
  std::vector<std::string> declaration;  // lines such as "type ipv4_addr", "flags dynamic,timeout"
};

// A chain and its rules; `hook` is "type nat hook prerouting priority dstnat; policy accept;"
// for a base chain, empty for a regular one.
struct ChainDecl {
  std::string name;
  std::string hook;
  std::vector<std::string> rules;
};

// One element of a set (`value` empty) or map of the table.
struct Element {
  std::string collection;
  std::string key;
  std::string value;
  auto operator<=>(const Element&) const = default;
};

// A UDP service port and the endpoints it sends to: when one of them goes away, conntrack
// entries still pointing at it must be deleted (UDP flows never end on their own).
struct UdpTargets {
  net::Ipv4Address cluster_ip;
  uint16_t port = 0;
  uint16_t node_port = 0;
  std::vector<std::pair<net::Ipv4Address, uint16_t>> endpoints;  // sorted
  bool operator==(const UdpTargets&) const = default;
};

// Everything one Service contributes to the table.
struct ServiceRules {
  std::map<std::string, std::vector<std::string>> chains;  // chain name → rules
  // ClientIP affinity sets: name → declaration ("type ipv4_addr", "flags dynamic,timeout", ...)
  std::map<std::string, std::vector<std::string>> sets;
  std::vector<Element> elements;  // sorted
  std::vector<UdpTargets> udp;
  bool operator==(const ServiceRules&) const = default;
};

// The table's fixed sets and maps, and its fixed chains in the order they are written.
std::vector<CollectionDecl> FixedCollections(const RulesetOptions& options);
std::vector<ChainDecl> FixedChains(const RulesetOptions& options);
// Elements of the fixed collections that do not come from Services (nodeport-ips).
std::vector<Element> FixedElements(const RulesetOptions& options);

// The fragment of `service` with the endpoints of `slices` (its EndpointSlices).
ServiceRules BuildServiceRules(const RulesetOptions& options, const Service& service,
                               const std::vector<EndpointSlice>& slices);

// Chain-name helpers, exposed for tests and docs: "svc-<ns>/<name>/<proto>/<port>" where
// <port> is the port's name, or its number when unnamed.
std::string ServicePortId(const Service& service, const ServicePort& port);

}  // namespace kelp::proxy
