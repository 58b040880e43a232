// Network configurations of the kelp-cni plugin types and the CNI result, parsed from and
// written to JSON: the kelp-bridge fields (the reference bridge plugin's), the host-local
// compatible kelp-ipam block, kelp-flannel's, and the spec's Result for 0.4.0/1.0.0/1.1.0.
// Every parser returns a CniError naming the bad field (code 6 undecodable, 7 invalid).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "cni/spec.h"
#include "net/ip.h"

namespace kelp::cni {

struct RouteConf {
  net::Ipv4Prefix dst;
  std::optional<net::Ipv4Address> gw;
};

struct IpRange {
  net::Ipv4Prefix subnet;  // network form
  net::Ipv4Address start;  // defaults: first host
  net::Ipv4Address end;    // defaults: last host before broadcast
  net::Ipv4Address gateway;  // defaults: first host (as host-local)
};

struct IpamConf {
  std::string type;
  std::vector<std::vector<IpRange>> range_sets;  // one address per set
  std::vector<RouteConf> routes;
  std::string data_dir = "/var/lib/cni/networks";
};

// The common part of every configuration the runtime hands a plugin.
struct NetConf {
  std::string cni_version;
  std::string name;
  std::string type;
  boost::json::object raw;  // the whole configuration, for delegation
  std::optional<boost::json::object> ipam_raw;
};

struct BridgeConf {
  std::string bridge = "cni0";
  uint32_t mtu = 0;
  bool is_gateway = false;
  bool is_default_gateway = false;
  bool force_address = false;
  bool ip_masq = false;
  bool hairpin_mode = false;
  bool promisc_mode = false;
};

struct FlannelConf {
  std::string subnet_file = "/run/flannel/subnet.env";
  std::string data_dir = "/var/lib/cni/flannel";
  int subnet_wait_ms = 10000;  // how long ADD waits for subnet.env before code 11
  boost::json::object delegate;
};

// Result (spec "Success"): what ADD prints and what a plugin's prevResult carries.
struct CniIp {
  net::Ipv4Prefix address;
  std::optional<net::Ipv4Address> gateway;
  std::optional<int> interface;
};
struct CniInterface {
  std::string name;
  std::string mac;
  std::string sandbox;
  uint32_t mtu = 0;
};
struct CniOutput {
  std::vector<CniInterface> interfaces;
  std::vector<CniIp> ips;
  std::vector<RouteConf> routes;
  boost::json::object dns;
};

CniResult<NetConf> ParseNetConf(std::string_view stdin_data);
CniResult<BridgeConf> ParseBridgeConf(const NetConf& conf);
CniResult<IpamConf> ParseIpamConf(const NetConf& conf);
CniResult<FlannelConf> ParseFlannelConf(const NetConf& conf);
// `cni.dev/valid-attachments` of a GC request: (container id, ifname) pairs.
CniResult<std::vector<std::pair<std::string, std::string>>> ParseValidAttachments(
    const NetConf& conf);

std::string ResultJson(const CniOutput& result, std::string_view cni_version);
CniResult<CniOutput> ParseResult(std::string_view json);

}  // namespace kelp::cni
