// `kelp proxy` (see command.h).
#include "proxy/command.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <pthread.h>

#include <csignal>
#include <set>

#include <spdlog/spdlog.h>

#include "client/https_client.h"
#include "client/informer.h"
#include "proxy/conntrack_netfilter.h"
#include "proxy/libnftables.h"
#include "proxy/service_proxy.h"

namespace kelp::proxy {

namespace {

// The IPv4 addresses of this namespace's interfaces.
Result<std::vector<net::Ipv4Address>> LocalAddresses() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return ErrnoError("getifaddrs", errno);
  std::vector<net::Ipv4Address> addresses;
  for (ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET) continue;
    const auto* in = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
    addresses.push_back({ntohl(in->sin_addr.s_addr)});
  }
  freeifaddrs(list);
  return addresses;
}

}  // namespace

Result<RulesetOptions> NodeRulesetOptions(const ProxyCommandOptions& options) {
  RulesetOptions ruleset;
  ruleset.node_name = options.node_name;
  if (options.node_name.empty()) return InvalidArgumentError("--node-name is required");
  Result<net::Ipv4Address> node_ip = net::Ipv4Address::Parse(options.node_ip);
  if (!node_ip.ok()) return InvalidArgumentError("--node-ip: " + node_ip.status().message());
  if (!options.cluster_cidr.empty()) {
    Result<net::Ipv4Prefix> cidr = net::Ipv4Prefix::Parse(options.cluster_cidr);
    if (!cidr.ok()) return InvalidArgumentError("--cluster-cidr: " + cidr.status().message());
    ruleset.cluster_cidr = cidr->Network();
  }
  std::set<net::Ipv4Address> addresses;
  std::optional<std::vector<net::Ipv4Address>> local;
  for (const std::string& entry : options.nodeport_addresses) {
    if (entry == "primary") {
      addresses.insert(*node_ip);
      continue;
    }
    Result<net::Ipv4Prefix> prefix = net::Ipv4Prefix::Parse(entry);
    if (!prefix.ok()) {
      return InvalidArgumentError("--nodeport-addresses: " + prefix.status().message());
    }
    if (prefix->length == 0) {
      ruleset.nodeport_all_local = true;
      continue;
    }
    if (!local) {
      KELP_ASSIGN_OR_RETURN(local, LocalAddresses());
    }
    for (const net::Ipv4Address& address : *local) {
      // Loopback NodePorts would need route_localnet; kube-proxy's nftables mode has none either.
      if (prefix->Contains(address) && (address.value >> 24) != 127) addresses.insert(address);
    }
  }
  if (options.nodeport_addresses.empty()) addresses.insert(*node_ip);
  ruleset.nodeport_addresses.assign(addresses.begin(), addresses.end());
  return ruleset;
}

Status DeleteProxyTable() {
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<LibNftables> nft, LibNftables::Create());
  return nft->Apply(std::string("add table ") + kTable + "\ndelete table " + kTable + "\n");
}

Status RunProxy(client::ClientConfig config, const ProxyCommandOptions& options) {
  if (options.cleanup) return DeleteProxyTable();
  // Blocked before any thread starts, so every thread inherits the mask and sigwait gets them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  ServiceProxyOptions proxy_options;
  KELP_ASSIGN_OR_RETURN(proxy_options.proxier.ruleset, NodeRulesetOptions(options));
  proxy_options.min_sync_interval = std::chrono::milliseconds(options.min_sync_period_ms);
  proxy_options.sync_period = std::chrono::seconds(options.sync_period_seconds);
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<client::HttpsApiClient> client,
                        client::HttpsApiClient::Create(std::move(config)));
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<LibNftables> nft, LibNftables::Create());
  // Fail now, not in a retry loop, when nftables cannot be written (no CAP_NET_ADMIN, no
  // nf_tables in the kernel); the table this creates is rebuilt by the first sync anyway.
  KELP_RETURN_IF_ERROR(
      nft->Apply(std::string("add table ") + kTable).WithContext("cannot program nftables"));
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<NetfilterConntrack> conntrack,
                        NetfilterConntrack::Create());
  RealClock clock;
  client::InformerFactory informers(*client);
  ServiceProxy proxy(informers, *nft, *conntrack, clock, proxy_options);
  informers.Start();
  proxy.Start();
  std::string nodeports;
  for (const net::Ipv4Address& a : proxy_options.proxier.ruleset.nodeport_addresses) {
    nodeports += (nodeports.empty() ? "" : ",") + a.ToString();
  }
  spdlog::info("proxy: node {} (NodePorts on {}), programming table {}", options.node_name,
               proxy_options.proxier.ruleset.nodeport_all_local ? "every local address" : nodeports,
               kTable);
  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("proxy: signal {}, stopping (table {} stays)", signal, kTable);
  proxy.Stop();
  informers.Stop();
  return Status::Ok();
}

}  // namespace kelp::proxy
