// JSON ⇄ configuration and result structs for the kelp-cni plugin types.
#include "cni/config.h"

#include <boost/json.hpp>

namespace kelp::cni {
namespace {

namespace json = boost::json;

CniError Invalid(std::string msg, std::string details = "") {
  return CniError{ErrorCode::kInvalidNetworkConfig, std::move(msg), std::move(details)};
}

// Optional typed members: absent → the default stays; wrong type → an error naming it.
std::optional<CniError> GetBool(const json::object& o, std::string_view key, bool& out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) return Invalid(std::string(key) + " must be a boolean");
  out = v->get_bool();
  return std::nullopt;
}

std::optional<CniError> GetString(const json::object& o, std::string_view key, std::string& out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) return Invalid(std::string(key) + " must be a string");
  out = std::string(v->get_string());
  return std::nullopt;
}

std::optional<CniError> GetInt(const json::object& o, std::string_view key, int64_t lo,
                               int64_t hi, int64_t& out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_int64() && !v->is_uint64()) return Invalid(std::string(key) + " must be an integer");
  int64_t value = v->is_int64() ? v->get_int64() : static_cast<int64_t>(v->get_uint64());
  if (value < lo || value > hi) return Invalid(std::string(key) + " is out of range");
  out = value;
  return std::nullopt;
}

CniResult<net::Ipv4Prefix> ParsePrefix(const json::value& v, std::string_view field) {
  if (!v.is_string()) return Invalid(std::string(field) + " must be a string");
  Result<net::Ipv4Prefix> p = net::Ipv4Prefix::Parse(std::string(v.get_string()));
  if (!p.ok() || std::string(v.get_string()).find('/') == std::string::npos) {
    return Invalid("invalid CIDR in " + std::string(field) + ": \"" +
                   std::string(v.get_string()) + "\"");
  }
  return *p;
}

CniResult<net::Ipv4Address> ParseAddress(const json::value& v, std::string_view field) {
  if (!v.is_string()) return Invalid(std::string(field) + " must be a string");
  Result<net::Ipv4Address> a = net::Ipv4Address::Parse(std::string(v.get_string()));
  if (!a.ok()) {
    return Invalid("invalid IP in " + std::string(field) + ": \"" + std::string(v.get_string()) +
                   "\"");
  }
  return *a;
}

CniResult<IpRange> ParseRange(const json::value& v) {
  if (!v.is_object()) return Invalid("ipam range must be an object");
  const json::object& o = v.get_object();
  const json::value* subnet = o.if_contains("subnet");
  if (subnet == nullptr) return Invalid("ipam range has no subnet");
  CniResult<net::Ipv4Prefix> prefix = ParsePrefix(*subnet, "subnet");
  if (auto* e = std::get_if<CniError>(&prefix)) return *e;
  IpRange r;
  r.subnet = std::get<net::Ipv4Prefix>(prefix).Network();
  if (r.subnet.length > 30) return Invalid("subnet " + r.subnet.ToString() + " is too small");
  r.start = {r.subnet.address.value + 1};
  r.end = {r.subnet.Broadcast().value - 1};
  r.gateway = {r.subnet.address.value + 1};
  for (auto [key, target] : {std::pair<const char*, net::Ipv4Address*>{"rangeStart", &r.start},
                             {"rangeEnd", &r.end}, {"gateway", &r.gateway}}) {
    const json::value* field = o.if_contains(key);
    if (field == nullptr) continue;
    CniResult<net::Ipv4Address> a = ParseAddress(*field, key);
    if (auto* e = std::get_if<CniError>(&a)) return *e;
    *target = std::get<net::Ipv4Address>(a);
    if (!r.subnet.Contains(*target)) {
      return Invalid(std::string(key) + " " + target->ToString() + " is outside subnet " +
                     r.subnet.ToString());
    }
  }
  if (r.start.value > r.end.value) return Invalid("rangeStart is after rangeEnd");
  return r;
}

CniResult<std::vector<RouteConf>> ParseRoutes(const json::value* v) {
  std::vector<RouteConf> routes;
  if (v == nullptr) return routes;
  if (!v->is_array()) return Invalid("routes must be an array");
  for (const json::value& item : v->get_array()) {
    if (!item.is_object() || !item.get_object().contains("dst")) {
      return Invalid("each route needs a dst");
    }
    CniResult<net::Ipv4Prefix> dst = ParsePrefix(item.get_object().at("dst"), "routes.dst");
    if (auto* e = std::get_if<CniError>(&dst)) return *e;
    RouteConf route{std::get<net::Ipv4Prefix>(dst).Network(), std::nullopt};
    if (const json::value* gw = item.get_object().if_contains("gw")) {
      CniResult<net::Ipv4Address> a = ParseAddress(*gw, "routes.gw");
      if (auto* e = std::get_if<CniError>(&a)) return *e;
      route.gw = std::get<net::Ipv4Address>(a);
    }
    routes.push_back(route);
  }
  return routes;
}

}  // namespace

CniResult<NetConf> ParseNetConf(std::string_view stdin_data) {
  boost::system::error_code ec;
  json::value value = json::parse(stdin_data, ec);
  if (ec) return CniError{ErrorCode::kDecodeFailure, "cannot decode network configuration",
                          ec.message()};
  if (!value.is_object()) {
    return CniError{ErrorCode::kDecodeFailure, "network configuration is not a JSON object", ""};
  }
  NetConf conf;
  conf.raw = std::move(value.get_object());
  const json::value* version = conf.raw.if_contains("cniVersion");
  if (version == nullptr || !version->is_string()) {
    return Invalid("cniVersion is missing or not a string");
  }
  conf.cni_version = std::string(version->get_string());
  if (!IsSupportedVersion(conf.cni_version)) {
    return CniError{ErrorCode::kIncompatibleVersion, "unsupported cniVersion " + conf.cni_version,
                    "supported: 0.4.0, 1.0.0, 1.1.0"};
  }
  if (auto e = GetString(conf.raw, "name", conf.name)) return *e;
  if (auto e = GetString(conf.raw, "type", conf.type)) return *e;
  if (conf.name.empty()) return Invalid("name is missing");
  if (conf.name.find('/') != std::string::npos || conf.name == "." || conf.name == "..") {
    return Invalid("name \"" + conf.name + "\" is not a valid network name");
  }
  if (const json::value* ipam = conf.raw.if_contains("ipam")) {
    if (!ipam->is_object()) return Invalid("ipam must be an object");
    conf.ipam_raw = ipam->get_object();
  }
  return conf;
}

CniResult<BridgeConf> ParseBridgeConf(const NetConf& conf) {
  BridgeConf b;
  const json::object& o = conf.raw;
  if (auto e = GetString(o, "bridge", b.bridge)) return *e;
  if (b.bridge.empty() || b.bridge.size() > 15) return Invalid("bridge name is invalid");
  int64_t mtu = 0;
  if (auto e = GetInt(o, "mtu", 0, 65535, mtu)) return *e;
  b.mtu = static_cast<uint32_t>(mtu);
  for (auto [key, target] : {std::pair<const char*, bool*>{"isGateway", &b.is_gateway},
                             {"isDefaultGateway", &b.is_default_gateway},
                             {"forceAddress", &b.force_address}, {"ipMasq", &b.ip_masq},
                             {"hairpinMode", &b.hairpin_mode}, {"promiscMode", &b.promisc_mode}}) {
    if (auto e = GetBool(o, key, *target)) return *e;
  }
  if (b.is_default_gateway) b.is_gateway = true;
  if (!conf.ipam_raw) return Invalid("ipam is missing", "kelp-bridge needs an IPAM plugin");
  return b;
}

CniResult<IpamConf> ParseIpamConf(const NetConf& conf) {
  if (!conf.ipam_raw) return Invalid("ipam is missing");
  const json::object& o = *conf.ipam_raw;
  IpamConf ipam;
  if (auto e = GetString(o, "type", ipam.type)) return *e;
  if (auto e = GetString(o, "dataDir", ipam.data_dir)) return *e;
  if (ipam.data_dir.empty()) return Invalid("ipam dataDir is empty");
  if (const json::value* ranges = o.if_contains("ranges")) {
    if (!ranges->is_array()) return Invalid("ipam ranges must be an array of range sets");
    for (const json::value& set : ranges->get_array()) {
      if (!set.is_array() || set.get_array().empty()) {
        return Invalid("each ipam range set must be a non-empty array");
      }
      std::vector<IpRange> ranges_in_set;
      for (const json::value& r : set.get_array()) {
        CniResult<IpRange> range = ParseRange(r);
        if (auto* e = std::get_if<CniError>(&range)) return *e;
        ranges_in_set.push_back(std::get<IpRange>(range));
      }
      ipam.range_sets.push_back(std::move(ranges_in_set));
    }
  } else if (o.contains("subnet")) {
    CniResult<IpRange> range = ParseRange(o);
    if (auto* e = std::get_if<CniError>(&range)) return *e;
    ipam.range_sets.push_back({std::get<IpRange>(range)});
  }
  if (ipam.range_sets.empty()) return Invalid("ipam has no ranges or subnet");
  CniResult<std::vector<RouteConf>> routes = ParseRoutes(o.if_contains("routes"));
  if (auto* e = std::get_if<CniError>(&routes)) return *e;
  ipam.routes = std::get<std::vector<RouteConf>>(routes);
  return ipam;
}

CniResult<FlannelConf> ParseFlannelConf(const NetConf& conf) {
  FlannelConf f;
  const json::object& o = conf.raw;
  if (auto e = GetString(o, "subnetFile", f.subnet_file)) return *e;
  if (auto e = GetString(o, "dataDir", f.data_dir)) return *e;
  int64_t wait = f.subnet_wait_ms;
  if (auto e = GetInt(o, "subnetFileWaitMs", 0, 600000, wait)) return *e;
  f.subnet_wait_ms = static_cast<int>(wait);
  if (const json::value* d = o.if_contains("delegate")) {
    if (!d->is_object()) return Invalid("delegate must be an object");
    f.delegate = d->get_object();
  }
  return f;
}

CniResult<std::vector<std::pair<std::string, std::string>>> ParseValidAttachments(
    const NetConf& conf) {
  std::vector<std::pair<std::string, std::string>> out;
  const json::value* v = conf.raw.if_contains("cni.dev/valid-attachments");
  if (v == nullptr) return out;
  if (!v->is_array()) return Invalid("cni.dev/valid-attachments must be an array");
  for (const json::value& item : v->get_array()) {
    const json::object* a = item.if_object();
    const json::value* id = a ? a->if_contains("containerID") : nullptr;
    const json::value* ifname = a ? a->if_contains("ifname") : nullptr;
    if (id == nullptr || ifname == nullptr || !id->is_string() || !ifname->is_string()) {
      return Invalid("each valid attachment needs string containerID and ifname");
    }
    out.emplace_back(std::string(id->get_string()), std::string(ifname->get_string()));
  }
  return out;
}

std::string ResultJson(const CniOutput& r, std::string_view cni_version) {
  json::object out;
  out["cniVersion"] = cni_version;
  bool legacy = cni_version == "0.4.0";
  if (!r.interfaces.empty()) {
    json::array interfaces;
    for (const CniInterface& i : r.interfaces) {
      json::object o{{"name", i.name}, {"mac", i.mac}};
      if (i.mtu != 0 && !legacy) o["mtu"] = i.mtu;
      if (!i.sandbox.empty()) o["sandbox"] = i.sandbox;
      interfaces.push_back(std::move(o));
    }
    out["interfaces"] = std::move(interfaces);
  }
  json::array ips;
  for (const CniIp& ip : r.ips) {
    json::object o;
    if (legacy) o["version"] = "4";
    if (ip.interface) o["interface"] = *ip.interface;
    o["address"] = ip.address.ToString();
    if (ip.gateway) o["gateway"] = ip.gateway->ToString();
    ips.push_back(std::move(o));
  }
  if (!ips.empty()) out["ips"] = std::move(ips);
  json::array routes;
  for (const RouteConf& route : r.routes) {
    json::object o{{"dst", route.dst.ToString()}};
    if (route.gw) o["gw"] = route.gw->ToString();
    routes.push_back(std::move(o));
  }
  if (!routes.empty()) out["routes"] = std::move(routes);
  out["dns"] = r.dns;
  return json::serialize(out);
}

CniResult<CniOutput> ParseResult(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    return CniError{ErrorCode::kDecodeFailure, "cannot decode plugin result", ec.message()};
  }
  const json::object& o = value.get_object();
  CniOutput out;
  if (const json::value* ips = o.if_contains("ips"); ips && ips->is_array()) {
    for (const json::value& item : ips->get_array()) {
      const json::object* ip = item.if_object();
      if (ip == nullptr || !ip->contains("address")) return Invalid("result ip has no address");
      CniResult<net::Ipv4Prefix> address = ParsePrefix(ip->at("address"), "ips.address");
      if (auto* e = std::get_if<CniError>(&address)) return *e;
      CniIp entry{std::get<net::Ipv4Prefix>(address), std::nullopt, std::nullopt};
      if (const json::value* gw = ip->if_contains("gateway")) {
        CniResult<net::Ipv4Address> a = ParseAddress(*gw, "ips.gateway");
        if (auto* e = std::get_if<CniError>(&a)) return *e;
        entry.gateway = std::get<net::Ipv4Address>(a);
      }
      out.ips.push_back(entry);
    }
  }
  CniResult<std::vector<RouteConf>> routes = ParseRoutes(o.if_contains("routes"));
  if (auto* e = std::get_if<CniError>(&routes)) return *e;
  out.routes = std::get<std::vector<RouteConf>>(routes);
  if (const json::value* dns = o.if_contains("dns"); dns && dns->is_object()) {
    out.dns = dns->get_object();
  }
  return out;
}

}  // namespace kelp::cni
