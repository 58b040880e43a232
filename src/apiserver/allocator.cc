// ClusterIP and NodePort allocation. Admission of one Service version: on update first carry
// over what the old version holds and drop what the new type no longer uses (as Kubernetes'
// service REST storage does), then take the values that are new, all under the mutex, and
// report the old values the new version no longer holds so Commit() can free them.
#include "apiserver/allocator.h"

#include <arpa/inet.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <utility>

#include "apiserver/objects.h"
#include "apiserver/resources.h"

namespace kelp::apiserver {

namespace json = boost::json;

namespace {

constexpr int kLargestServicePrefix = 12;  // Kubernetes refuses larger IPv4 service ranges
constexpr int kSmallestServicePrefix = 30;

std::optional<int64_t> ParseNumber(std::string_view text) {
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string_view StringAt(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string_view(value->get_string()) : "";
}

const json::object* SpecOf(const json::object& service) {
  const json::value* spec = service.if_contains("spec");
  return spec != nullptr ? spec->if_object() : nullptr;
}

std::string_view TypeOf(const json::object& spec) {
  std::string_view type = StringAt(spec, "type");
  return type.empty() ? "ClusterIP" : type;
}

bool NeedsClusterIp(const json::object& spec) {
  return TypeOf(spec) != "ExternalName" && StringAt(spec, "clusterIP") != "None";
}

bool MayHaveNodePorts(const json::object& spec) {
  return TypeOf(spec) == "NodePort" || TypeOf(spec) == "LoadBalancer";
}

bool AutoAllocatesNodePorts(const json::object& spec) {
  if (TypeOf(spec) == "NodePort") return true;
  const json::value* allocate = spec.if_contains("allocateLoadBalancerNodePorts");
  return TypeOf(spec) == "LoadBalancer" &&
         !(allocate != nullptr && allocate->is_bool() && !allocate->get_bool());
}

json::array* PortsOf(json::object& spec) {
  json::value* ports = spec.if_contains("ports");
  return ports != nullptr ? ports->if_array() : nullptr;
}

// A port's nodePort: 0 when unset (absent, null or 0), nullopt when not an integer.
std::optional<int64_t> NodePortOf(const json::value& port) {
  const json::object* fields = port.if_object();
  const json::value* node_port = fields ? fields->if_contains("nodePort") : nullptr;
  if (node_port == nullptr || node_port->is_null()) return 0;
  if (node_port->is_int64()) return node_port->get_int64();
  if (node_port->is_uint64()) return static_cast<int64_t>(node_port->get_uint64());
  return std::nullopt;
}

std::string NodePortPath(size_t index) {
  return "spec.ports[" + std::to_string(index) + "].nodePort";
}

template <typename T>
bool Holds(const std::vector<T>& values, T value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

ServiceHoldings HoldingsOf(const json::object& service) {
  ServiceHoldings holdings;
  const json::object* spec = SpecOf(service);
  if (spec == nullptr) return holdings;
  if (Result<uint32_t> ip = ParseIpv4Address(StringAt(*spec, "clusterIP")); ip.ok()) {
    holdings.cluster_ips.push_back(*ip);
  }
  if (const json::value* ports = spec->if_contains("ports"); ports && ports->is_array()) {
    for (const json::value& port : ports->get_array()) {
      std::optional<int64_t> node_port = NodePortOf(port);
      if (node_port && *node_port > 0) holdings.node_ports.push_back(*node_port);
    }
  }
  return holdings;
}

// The values of `held` that `kept` no longer has.
ServiceHoldings Difference(const ServiceHoldings& held, const ServiceHoldings& kept) {
  ServiceHoldings dropped;
  for (uint32_t ip : held.cluster_ips) {
    if (!Holds(kept.cluster_ips, ip)) dropped.cluster_ips.push_back(ip);
  }
  for (int64_t port : held.node_ports) {
    if (!Holds(kept.node_ports, port)) dropped.node_ports.push_back(port);
  }
  return dropped;
}

// Kubernetes drops fields the new type does not use when they are unchanged from the old
// version (NodePort → ClusterIP frees the ports); a nodePort set anew on such a type is
// Forbidden.
void DropTypeDependentFields(json::object& spec, const ServiceHoldings& old_holdings,
                             std::vector<api::FieldCause>& causes) {
  if (TypeOf(spec) == "ExternalName") {
    Result<uint32_t> ip = ParseIpv4Address(StringAt(spec, "clusterIP"));
    if (ip.ok() && Holds(old_holdings.cluster_ips, *ip)) {
      for (const char* field : {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"}) {
        spec.erase(field);
      }
    }
  }
  if (MayHaveNodePorts(spec)) return;
  json::array* ports = PortsOf(spec);
  if (ports == nullptr) return;
  for (size_t i = 0; i < ports->size(); ++i) {
    std::optional<int64_t> node_port = NodePortOf((*ports)[i]);
    if (!node_port || *node_port == 0) continue;
    if (Holds(old_holdings.node_ports, *node_port)) {
      (*ports)[i].as_object().erase("nodePort");
    } else {
      causes.push_back(api::ForbiddenCause(
          NodePortPath(i), "may not be used when `type` is '" + std::string(TypeOf(spec)) + "'"));
    }
  }
}

// An update that leaves clusterIP or a nodePort unset keeps the old value (kubectl replace,
// apply of a manifest without them), as Kubernetes' patchAllocatedValues does.
void CarryOverAllocatedValues(json::object& spec, const json::object& old_spec) {
  if (NeedsClusterIp(spec) && NeedsClusterIp(old_spec) && StringAt(spec, "clusterIP").empty()) {
    spec["clusterIP"] = StringAt(old_spec, "clusterIP");
    if (const json::value* ips = old_spec.if_contains("clusterIPs")) spec["clusterIPs"] = *ips;
  }
  if (!MayHaveNodePorts(spec) || !MayHaveNodePorts(old_spec)) return;
  json::array* ports = PortsOf(spec);
  const json::value* old_ports = old_spec.if_contains("ports");
  if (ports == nullptr || old_ports == nullptr || !old_ports->is_array()) return;
  std::vector<int64_t> used;
  for (const json::value& port : *ports) used.push_back(NodePortOf(port).value_or(0));
  for (json::value& port : *ports) {
    if (NodePortOf(port) != 0 || !port.is_object()) continue;
    for (const json::value& old_port : old_ports->get_array()) {
      const json::object* old_fields = old_port.if_object();
      std::optional<int64_t> old_node_port = NodePortOf(old_port);
      if (old_fields == nullptr || !old_node_port || *old_node_port == 0 ||
          StringAt(*old_fields, "name") != StringAt(port.as_object(), "name") ||
          Holds(used, *old_node_port)) {
        continue;
      }
      port.as_object()["nodePort"] = *old_node_port;
      used.push_back(*old_node_port);
      break;
    }
  }
}

// clusterIPs follows clusterIP; a client that set only clusterIPs[0] asks for that address.
void SyncClusterIps(json::object& spec) {
  const json::value* ips = spec.if_contains("clusterIPs");
  if (StringAt(spec, "clusterIP").empty() && ips != nullptr && ips->is_array() &&
      !ips->get_array().empty() && ips->get_array()[0].is_string()) {
    spec["clusterIP"] = ips->get_array()[0];
  }
}

// Kubernetes renders the clusterIPs of its errors as Go's %#v of a []string.
std::string GoStringSlice(std::string_view ip) { return "[]string{" + api::GoQuote(ip) + "}"; }

api::FieldCause ClusterIpCause(std::string_view ip, std::string_view detail) {
  return {.reason = "FieldValueInvalid",
          .message = "Invalid value: " + GoStringSlice(ip) + ": failed to allocate IP " +
                     std::string(ip) + ": " + std::string(detail),
          .field = "spec.clusterIPs"};
}

}  // namespace

Result<uint32_t> ParseIpv4Address(std::string_view text) {
  in_addr address{};
  if (text.empty() || text.size() > 15 ||
      inet_pton(AF_INET, std::string(text).c_str(), &address) != 1) {
    return InvalidArgumentError("invalid IPv4 address " + std::string(text));
  }
  return ntohl(address.s_addr);
}

std::string FormatIpv4Address(uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

std::string Ipv4Cidr::ToString() const {
  return FormatIpv4Address(network) + "/" + std::to_string(prefix_length);
}

Result<Ipv4Cidr> ParseIpv4Cidr(std::string_view text) {
  const size_t slash = text.find('/');
  const Status invalid = InvalidArgumentError(std::string(text) + ": invalid CIDR");
  if (slash == std::string_view::npos) return invalid;
  Result<uint32_t> address = ParseIpv4Address(text.substr(0, slash));
  std::optional<int64_t> prefix = ParseNumber(text.substr(slash + 1));
  if (!address.ok() || !prefix || *prefix < 0 || *prefix > 32) return invalid;
  const uint32_t mask = *prefix == 0 ? 0 : ~uint32_t{0} << (32 - *prefix);
  return Ipv4Cidr{.network = *address & mask, .prefix_length = static_cast<int>(*prefix)};
}

std::string PortRange::ToString() const {
  return std::to_string(first) + "-" + std::to_string(last);
}

Result<PortRange> ParsePortRange(std::string_view text) {
  const size_t dash = text.find('-');
  std::optional<int64_t> first = ParseNumber(text.substr(0, dash));
  std::optional<int64_t> last =
      dash == std::string_view::npos ? first : ParseNumber(text.substr(dash + 1));
  if (!first || !last || *first < 1 || *last > 65535 || *first > *last) {
    return InvalidArgumentError(std::string(text) + ": invalid port range");
  }
  return PortRange{.first = static_cast<int>(*first), .last = static_cast<int>(*last)};
}

Result<ServiceNetwork> ParseServiceNetwork(std::string_view service_cidr,
                                           std::string_view node_port_range) {
  Result<Ipv4Cidr> cidr = ParseIpv4Cidr(service_cidr);
  if (!cidr.ok()) return InvalidArgumentError("--service-cidr " + cidr.status().message());
  if (cidr->prefix_length < kLargestServicePrefix || cidr->prefix_length > kSmallestServicePrefix) {
    return InvalidArgumentError("--service-cidr " + std::string(service_cidr) +
                                ": the prefix length must be between /12 and /30");
  }
  Result<PortRange> ports = ParsePortRange(node_port_range);
  if (!ports.ok()) return InvalidArgumentError("--service-node-port-range " + ports.status().message());
  return ServiceNetwork{.service_cidr = *cidr, .node_ports = *ports};
}

uint32_t KubernetesServiceIp(const Ipv4Cidr& cidr) { return cidr.network + 1; }

RangeBitmap::RangeBitmap(uint64_t first, uint64_t last)
    : first_(first), last_(last), used_(last - first + 1, false) {}

bool RangeBitmap::Allocate(uint64_t value) {
  if (!Contains(value) || used_[value - first_]) return false;
  used_[value - first_] = true;
  return true;
}

std::optional<uint64_t> RangeBitmap::AllocateNext(uint64_t from, std::mt19937_64& random) {
  if (!Contains(from)) return std::nullopt;
  const uint64_t count = last_ - from + 1;
  const uint64_t start = std::uniform_int_distribution<uint64_t>(0, count - 1)(random);
  for (uint64_t step = 0; step < count; ++step) {
    const uint64_t value = from + (start + step) % count;
    if (Allocate(value)) return value;
  }
  return std::nullopt;
}

void RangeBitmap::Release(uint64_t value) {
  if (Contains(value)) used_[value - first_] = false;
}

ServiceAllocation::ServiceAllocation(ServiceAllocator* allocator, ServiceHoldings taken,
                                     ServiceHoldings dropped)
    : allocator_(allocator), taken_(std::move(taken)), dropped_(std::move(dropped)) {}

ServiceAllocation::ServiceAllocation(ServiceAllocation&& other) noexcept
    : allocator_(std::exchange(other.allocator_, nullptr)),
      taken_(std::move(other.taken_)),
      dropped_(std::move(other.dropped_)) {}

ServiceAllocation& ServiceAllocation::operator=(ServiceAllocation&& other) noexcept {
  if (this != &other) {
    if (allocator_ != nullptr) allocator_->Free(taken_);
    allocator_ = std::exchange(other.allocator_, nullptr);
    taken_ = std::move(other.taken_);
    dropped_ = std::move(other.dropped_);
  }
  return *this;
}

ServiceAllocation::~ServiceAllocation() {
  if (allocator_ != nullptr) allocator_->Free(taken_);
}

void ServiceAllocation::Commit() {
  if (allocator_ != nullptr) allocator_->Free(dropped_);
  allocator_ = nullptr;
}

ServiceAllocator::ServiceAllocator(ServiceNetwork network, std::optional<uint64_t> seed)
    : network_(network),
      // The network and broadcast addresses are never handed out.
      ips_(network.service_cidr.network + 1,
           network.service_cidr.network + network.service_cidr.Size() - 2),
      node_ports_(network.node_ports.first, network.node_ports.last),
      random_(seed ? *seed : std::random_device()()) {}

void ServiceAllocator::Restore(const json::object& service) {
  const ServiceHoldings holdings = HoldingsOf(service);
  std::lock_guard lock(mutex_);
  for (uint32_t ip : holdings.cluster_ips) ips_.Allocate(ip);
  for (int64_t port : holdings.node_ports) node_ports_.Allocate(port);
}

void ServiceAllocator::Release(const json::object& service) { Free(HoldingsOf(service)); }

void ServiceAllocator::Free(const ServiceHoldings& holdings) {
  std::lock_guard lock(mutex_);
  for (uint32_t ip : holdings.cluster_ips) ips_.Release(ip);
  for (int64_t port : holdings.node_ports) node_ports_.Release(port);
}

bool ServiceAllocator::IsIpAllocated(uint32_t address) const {
  std::lock_guard lock(mutex_);
  return ips_.IsAllocated(address);
}

bool ServiceAllocator::IsNodePortAllocated(int64_t port) const {
  std::lock_guard lock(mutex_);
  return port > 0 && node_ports_.IsAllocated(port);
}

ServiceAdmission ServiceAllocator::Admit(json::object& service, const json::object* old) {
  ServiceAdmission admission;
  json::value* spec_value = service.if_contains("spec");
  if (spec_value == nullptr || !spec_value->is_object()) return admission;  // validation's job
  json::object& spec = spec_value->as_object();
  const ServiceHoldings held = old ? HoldingsOf(*old) : ServiceHoldings{};
  if (old != nullptr) {
    DropTypeDependentFields(spec, held, admission.invalid);
    if (const json::object* old_spec = SpecOf(*old)) CarryOverAllocatedValues(spec, *old_spec);
  } else {
    DropTypeDependentFields(spec, {}, admission.invalid);
  }
  if (!admission.invalid.empty()) return admission;
  SyncClusterIps(spec);
  std::lock_guard lock(mutex_);
  return TakeNew(service, held);
}

ServiceAdmission ServiceAllocator::TakeNew(json::object& service, const ServiceHoldings& held) {
  ServiceAdmission admission;
  ServiceHoldings taken;
  json::object& spec = service["spec"].as_object();
  auto refuse = [&] {
    for (uint32_t ip : taken.cluster_ips) ips_.Release(ip);
    for (int64_t port : taken.node_ports) node_ports_.Release(port);
    return std::move(admission);
  };
  if (NeedsClusterIp(spec)) {
    const std::string requested(StringAt(spec, "clusterIP"));
    if (requested.empty()) {
      std::optional<uint64_t> ip = ips_.AllocateNext(
          KubernetesServiceIp(network_.service_cidr) + 1, random_);
      if (!ip) {
        admission.failure = InternalError("failed to allocate a serviceIP: range is full");
        return refuse();
      }
      taken.cluster_ips.push_back(static_cast<uint32_t>(*ip));
      spec["clusterIP"] = FormatIpv4Address(static_cast<uint32_t>(*ip));
    } else if (Result<uint32_t> ip = ParseIpv4Address(requested); !ip.ok()) {
      admission.invalid.push_back(api::InvalidCause(
          "spec.clusterIPs[0]", json::string(requested),
          "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"));
      return refuse();
    } else if (!Holds(held.cluster_ips, *ip)) {
      if (!ips_.Contains(*ip)) {
        admission.invalid.push_back(ClusterIpCause(
            requested, "the provided IP (" + requested +
                           ") is not in the valid range. The range of valid IPs is " +
                           network_.service_cidr.ToString()));
        return refuse();
      }
      if (!ips_.Allocate(*ip)) {
        admission.invalid.push_back(ClusterIpCause(requested, "provided IP is already allocated"));
        return refuse();
      }
      taken.cluster_ips.push_back(*ip);
    }
    spec["clusterIPs"] = json::array{spec["clusterIP"]};
  } else if (StringAt(spec, "clusterIP") == "None") {
    spec["clusterIPs"] = json::array{"None"};
  }
  json::array* ports = PortsOf(spec);
  if (ports == nullptr || !MayHaveNodePorts(spec)) {
    return {.allocation = ServiceAllocation(this, std::move(taken),
                                            Difference(held, HoldingsOf(service)))};
  }
  std::vector<int64_t> in_this_service;
  for (size_t i = 0; i < ports->size(); ++i) {
    json::value& port = (*ports)[i];
    std::optional<int64_t> node_port = NodePortOf(port);
    if (!node_port) {
      admission.invalid.push_back(api::InvalidCause(NodePortPath(i), port.as_object()["nodePort"],
                                                    "must be an integer"));
      return refuse();
    }
    if (*node_port == 0) {
      if (!AutoAllocatesNodePorts(spec) || !port.is_object()) continue;
      std::optional<uint64_t> next = node_ports_.AllocateNext(network_.node_ports.first, random_);
      if (!next) {
        admission.failure = InternalError("failed to allocate a nodePort: range is full");
        return refuse();
      }
      taken.node_ports.push_back(static_cast<int64_t>(*next));
      in_this_service.push_back(static_cast<int64_t>(*next));
      port.as_object()["nodePort"] = static_cast<int64_t>(*next);
      continue;
    }
    if (Holds(in_this_service, *node_port)) {
      admission.invalid.push_back(api::DuplicateCause(NodePortPath(i), *node_port));
      return refuse();
    }
    in_this_service.push_back(*node_port);
    if (Holds(held.node_ports, *node_port)) continue;
    if (!network_.node_ports.Contains(*node_port)) {
      admission.invalid.push_back(api::InvalidCause(
          NodePortPath(i), *node_port,
          "provided port is not in the valid range. The range of valid ports is " +
              network_.node_ports.ToString()));
      return refuse();
    }
    if (!node_ports_.Allocate(*node_port)) {
      admission.invalid.push_back(
          api::InvalidCause(NodePortPath(i), *node_port, "provided port is already allocated"));
      return refuse();
    }
    taken.node_ports.push_back(*node_port);
  }
  return {.allocation = ServiceAllocation(this, std::move(taken),
                                          Difference(held, HoldingsOf(service)))};
}

Status RestoreServiceAllocations(storage::Store& store, ServiceAllocator& allocator) {
  const ResourceInfo& services = *FindResource("", "v1", "services");
  KELP_ASSIGN_OR_RETURN(storage::ListResult stored, store.List(StoragePrefix(services, ""), {}));
  for (const storage::KeyValue& kv : stored.items) {
    Result<json::object> service = DecodeStoredObject(kv, services);
    if (!service.ok()) return service.status().WithContext("restore service allocations " + kv.key);
    allocator.Restore(*service);
  }
  return Status::Ok();
}

}  // namespace kelp::apiserver
