// The rule layout of table ip kelp-proxy (see ruleset.h and README.md).
#include "proxy/ruleset.h"

#include <algorithm>
#include <set>
#include <utility>

#include <fmt/format.h>

namespace kelp::proxy {

namespace {

constexpr const char* kRejectChain = "reject-connection";
constexpr const char* kMarkChain = "mark-for-masquerade";
constexpr const char* kServiceIps = "service-ips";
constexpr const char* kClusterIps = "cluster-ips";
constexpr const char* kNodePortIps = "nodeport-ips";
constexpr const char* kServiceNodePorts = "service-nodeports";
constexpr const char* kMasqueradedNodePorts = "masqueraded-nodeports";
constexpr const char* kLocalNodePorts = "local-nodeports";
constexpr const char* kNoEndpointServices = "no-endpoint-services";
constexpr const char* kNoEndpointNodePorts = "no-endpoint-nodeports";
constexpr const char* kHairpin = "hairpin";

// One endpoint of a service port, merged over the Service's slices.
struct Target {
  net::Ipv4Address address;
  uint16_t port = 0;
  bool ready = false;
  bool serving = false;
  bool terminating = false;
  bool local = false;
  bool remote = false;  // known to run on another node
};

std::string Mark(uint32_t mark) { return fmt::format("{:#010x}", mark); }

// "ip daddr @nodeport-ips" or the every-local-address form.
std::string NodePortDestination(const RulesetOptions& options) {
  if (options.nodeport_all_local) return "fib daddr type local ip daddr != 127.0.0.0/8";
  return std::string("ip daddr @") + kNodePortIps;
}

// Endpoints of `port` over all slices, sorted by address and port; an endpoint listed twice
// (slices overlap while the controller moves it) counts once, ready if either copy is.
std::vector<Target> TargetsFor(const RulesetOptions& options, const ServicePort& port,
                               const std::vector<EndpointSlice>& slices) {
  std::map<std::pair<net::Ipv4Address, uint16_t>, Target> merged;
  for (const EndpointSlice& slice : slices) {
    auto slice_port = std::find_if(slice.ports.begin(), slice.ports.end(), [&](const SlicePort& p) {
      return p.name == port.name && p.protocol == port.protocol;
    });
    if (slice_port == slice.ports.end()) continue;
    for (const Endpoint& endpoint : slice.endpoints) {
      Target target{.address = endpoint.address,
                    .port = slice_port->port,
                    .ready = endpoint.ready,
                    .serving = endpoint.serving,
                    .terminating = endpoint.terminating,
                    .local = !options.node_name.empty() && endpoint.node_name == options.node_name,
                    .remote = !options.node_name.empty() && !endpoint.node_name.empty() &&
                              endpoint.node_name != options.node_name};
      auto [it, inserted] = merged.emplace(std::make_pair(target.address, target.port), target);
      if (!inserted && target.ready && !it->second.ready) it->second = target;
    }
  }
  std::vector<Target> targets;
  for (auto& [key, target] : merged) targets.push_back(target);
  return targets;
}

// Kubernetes' choice: the ready endpoints; when there are none, the ones still serving while
// they terminate (so a rolling update drains instead of refusing connections).
std::vector<Target> Usable(const std::vector<Target>& targets, bool local_only) {
  std::vector<Target> usable;
  for (const Target& t : targets) {
    if (t.ready && (!local_only || t.local)) usable.push_back(t);
  }
  if (!usable.empty()) return usable;
  for (const Target& t : targets) {
    if (t.serving && t.terminating && (!local_only || t.local)) usable.push_back(t);
  }
  return usable;
}

std::string Endpoint(const Target& t) {
  return t.address.ToString() + ":" + std::to_string(t.port);
}

std::string AffinitySetName(const std::string& port_id, const Target& t) {
  return "affinity-" + port_id + "/" + t.address.ToString() + "/" + std::to_string(t.port);
}

// The rules that pick an endpoint: with ClientIP affinity a known client goes back to its
// endpoint first; then `numgen inc` rotates new connections through the endpoints in order.
// Each rule's counter only sees the connections earlier rules left, so "mod n-i == 0" on the
// i-th rule gives an exact round robin: 0, 1, ..., n-1, 0, ...
std::vector<std::string> EndpointRules(const Service& service, const ServicePort& port,
                                       const std::string& port_id,
                                       const std::vector<Target>& targets) {
  const std::string l4 = "meta l4proto " + std::string(ProtocolName(port.protocol)) + " ";
  std::vector<std::string> rules;
  if (service.affinity_client_ip) {
    for (const Target& t : targets) {
      const std::string set = AffinitySetName(port_id, t);
      rules.push_back("ip saddr @" + set + " " + l4 + "update @" + set + " { ip saddr } dnat to " +
                      Endpoint(t));
    }
  }
  const size_t n = targets.size();
  for (size_t i = 0; i < n; ++i) {
    std::string rule;
    if (i + 1 < n) rule = "numgen inc mod " + std::to_string(n - i) + " 0 ";
    rule += l4;
    if (service.affinity_client_ip) {
      rule += "update @" + AffinitySetName(port_id, targets[i]) + " { ip saddr } ";
    }
    rule += "dnat to " + Endpoint(targets[i]);
    rules.push_back(std::move(rule));
  }
  return rules;
}

}  // namespace

std::string ServicePortId(const Service& service, const ServicePort& port) {
  return service.namespace_name + "/" + service.name + "/" +
         std::string(ProtocolName(port.protocol)) + "/" +
         (port.name.empty() ? std::to_string(port.port) : port.name);
}

std::vector<CollectionDecl> FixedCollections(const RulesetOptions& options) {
  std::vector<CollectionDecl> collections = {
      {"set",
       kClusterIps,
       {"type ipv4_addr", "comment \"every ClusterIP: ports without a Service are rejected\""}},
      {"set",
       kHairpin,
       {"type ipv4_addr . ipv4_addr",
        "comment \"endpoint . endpoint: a pod that reached itself through a Service is "
        "masqueraded\""}},
      {"map",
       kServiceIps,
       {"type ipv4_addr . inet_proto . inet_service : verdict",
        "comment \"ClusterIP . protocol . port: the Service's chain\""}},
      {"map",
       kServiceNodePorts,
       {"type inet_proto . inet_service : verdict",
        "comment \"NodePorts with externalTrafficPolicy Cluster (masqueraded)\""}},
      // The keys of service-nodeports again, as a plain set: the kernel revalidates every chain a
      // verdict map leads to for each rule that looks the map up, even as a set.
      {"set",
       kMasqueradedNodePorts,
       {"type inet_proto . inet_service",
        "comment \"the NodePorts of service-nodeports: their traffic is masqueraded\""}},
      {"map",
       kLocalNodePorts,
       {"type inet_proto . inet_service : verdict",
        "comment \"NodePorts with externalTrafficPolicy Local\""}},
      {"map",
       kNoEndpointServices,
       {"type ipv4_addr . inet_proto . inet_service : verdict",
        "comment \"ClusterIP ports without usable endpoints: reject (or drop)\""}},
      {"map",
       kNoEndpointNodePorts,
       {"type inet_proto . inet_service : verdict",
        "comment \"NodePorts without usable endpoints: reject (or drop)\""}},
  };
  if (!options.nodeport_all_local) {
    collections.insert(
        collections.begin() + 1,
        {"set",
         kNodePortIps,
         {"type ipv4_addr", "comment \"node addresses that accept NodePort traffic\""}});
  }
  return collections;
}

std::vector<ChainDecl> FixedChains(const RulesetOptions& options) {
  const std::string nodeports = NodePortDestination(options);
  const std::string mark = Mark(options.masquerade_mark);
  std::vector<std::string> services;
  if (options.cluster_cidr) {
    services.push_back("ip saddr != " + options.cluster_cidr->Network().ToString() + " ip daddr @" +
                       kClusterIps + " jump " + kMarkChain);
  }
  services.push_back(std::string("ip daddr . meta l4proto . th dport vmap @") + kServiceIps);
  services.push_back(nodeports + " jump nodeports");
  return {
      {"nat-prerouting",
       "type nat hook prerouting priority -100; policy accept;",
       {"jump services"}},
      {"nat-output", "type nat hook output priority -100; policy accept;", {"jump services"}},
      {"nat-postrouting",
       "type nat hook postrouting priority 100; policy accept;",
       {"jump masquerading"}},
      // Before DNAT on input and forward (which run after prerouting anyway), after DNAT on
      // output, so that only connections no Service took are checked.
      {"filter-input",
       "type filter hook input priority -110; policy accept;",
       {"ct state new jump endpoints-check"}},
      {"filter-forward",
       "type filter hook forward priority -110; policy accept;",
       {"ct state new jump endpoints-check", "ct state new jump cluster-ips-check"}},
      {"filter-output",
       "type filter hook output priority -90; policy accept;",
       {"ct state new jump endpoints-check", "ct state new jump cluster-ips-check"}},
      {"services", "", services},
      {"nodeports",
       "",
       {std::string("meta l4proto . th dport vmap @") + kLocalNodePorts,
        std::string("meta l4proto . th dport @") + kMasqueradedNodePorts + " jump " + kMarkChain,
        std::string("meta l4proto . th dport vmap @") + kServiceNodePorts}},
      {"endpoints-check",
       "",
       {std::string("ip daddr . meta l4proto . th dport vmap @") + kNoEndpointServices,
        nodeports + " meta l4proto . th dport vmap @" + kNoEndpointNodePorts}},
      {"cluster-ips-check",
       "",
       {std::string("ip daddr @") + kClusterIps + " goto " + kRejectChain}},
      {kRejectChain, "", {"meta l4proto tcp reject with tcp reset", "reject"}},
      {kMarkChain, "", {"meta mark set meta mark | " + mark}},
      {"masquerading",
       "",
       {std::string("ct status dnat ip saddr . ip daddr @") + kHairpin + " masquerade",
        "meta mark & " + mark + " == 0x00000000 return", "meta mark set meta mark ^ " + mark,
        "masquerade fully-random"}},
  };
}

std::vector<Element> FixedElements(const RulesetOptions& options) {
  std::vector<Element> elements;
  if (options.nodeport_all_local) return elements;
  std::set<net::Ipv4Address> unique(options.nodeport_addresses.begin(),
                                    options.nodeport_addresses.end());
  for (const net::Ipv4Address& address : unique) {
    elements.push_back({kNodePortIps, address.ToString(), ""});
  }
  return elements;
}

ServiceRules BuildServiceRules(const RulesetOptions& options, const Service& service,
                               const std::vector<EndpointSlice>& slices) {
  ServiceRules rules;
  std::set<Element> elements;
  elements.insert({kClusterIps, service.cluster_ip.ToString(), ""});

  for (const ServicePort& port : service.ports) {
    const std::string id = ServicePortId(service, port);
    const std::string protocol(ProtocolName(port.protocol));
    const std::string svc_chain = "svc-" + id, local_chain = "local-" + id, ext_chain = "ext-" + id;
    const std::vector<Target> targets = TargetsFor(options, port, slices);
    const std::vector<Target> cluster = Usable(targets, false);
    const std::vector<Target> local = Usable(targets, true);
    const bool has_endpoints = !cluster.empty();
    bool uses_cluster = false, uses_local = false;

    // ClusterIP traffic.
    const std::string ip_key =
        service.cluster_ip.ToString() + " . " + protocol + " . " + std::to_string(port.port);
    if (!has_endpoints) {
      elements.insert({kNoEndpointServices, ip_key, std::string("goto ") + kRejectChain});
    } else if (service.internal_policy_local && local.empty()) {
      elements.insert({kNoEndpointServices, ip_key, "drop"});
    } else if (service.internal_policy_local) {
      elements.insert({kServiceIps, ip_key, "goto " + local_chain});
      uses_local = true;
    } else {
      elements.insert({kServiceIps, ip_key, "goto " + svc_chain});
      uses_cluster = true;
    }

    // NodePort traffic.
    if (port.node_port != 0) {
      const std::string np_key = protocol + " . " + std::to_string(port.node_port);
      if (!has_endpoints) {
        elements.insert({kNoEndpointNodePorts, np_key, std::string("goto ") + kRejectChain});
      } else if (!service.external_policy_local) {
        elements.insert({kServiceNodePorts, np_key, "goto " + svc_chain});
        elements.insert({kMasqueradedNodePorts, np_key, ""});
        uses_cluster = true;
      } else {
        // Local policy keeps the client's address: only this node's endpoints, no masquerade.
        // Traffic from the node itself or from a pod takes any endpoint, as kube-proxy's
        // short-circuit rules do.
        elements.insert({kLocalNodePorts, np_key, "goto " + ext_chain});
        std::vector<std::string>& ext = rules.chains[ext_chain];
        ext.push_back(std::string("fib saddr type local jump ") + kMarkChain);
        ext.push_back("fib saddr type local goto " + svc_chain);
        if (options.cluster_cidr) {
          ext.push_back("ip saddr " + options.cluster_cidr->Network().ToString() + " goto " +
                        svc_chain);
        }
        uses_cluster = true;
        if (local.empty()) {
          elements.insert({kNoEndpointNodePorts, np_key, "drop"});
        } else {
          ext.push_back("goto " + local_chain);
          uses_local = true;
        }
      }
    }

    std::vector<Target> used;
    if (uses_cluster) {
      rules.chains[svc_chain] = EndpointRules(service, port, id, cluster);
      used = cluster;
    }
    if (uses_local) {
      rules.chains[local_chain] = EndpointRules(service, port, id, local);
      used.insert(used.end(), local.begin(), local.end());
    }
    UdpTargets udp{
        .cluster_ip = service.cluster_ip, .port = port.port, .node_port = port.node_port};
    for (const Target& t : used) {
      // Only a pod of this node can reach itself through this node's rules.
      if (!t.remote) {
        const std::string address = t.address.ToString();
        elements.insert({kHairpin, address + " . " + address, ""});
      }
      if (service.affinity_client_ip) {
        rules.sets[AffinitySetName(id, t)] = {
            "type ipv4_addr", "flags dynamic,timeout",
            "timeout " + std::to_string(service.affinity_timeout_seconds) + "s"};
      }
      udp.endpoints.emplace_back(t.address, t.port);
    }
    if (port.protocol == Protocol::kUdp) {
      std::sort(udp.endpoints.begin(), udp.endpoints.end());
      udp.endpoints.erase(std::unique(udp.endpoints.begin(), udp.endpoints.end()),
                          udp.endpoints.end());
      rules.udp.push_back(std::move(udp));
    }
  }
  rules.elements.assign(elements.begin(), elements.end());
  return rules;
}

}  // namespace kelp::proxy
