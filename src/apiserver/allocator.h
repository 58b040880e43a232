// Service admission: ClusterIP allocation from the service CIDR and NodePort allocation from
// the node-port range, with Kubernetes' 422/500 answers. The in-memory bitmaps are rebuilt
// from the stored Services at start (Restore), so the store stays the only source of truth;
// this assumes one API server per store (Kubernetes keeps range objects in etcd instead).
// An allocation is a transaction: Commit() after the store write, or its destructor undoes it.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "api/validation.h"
#include "common/status.h"
#include "storage/store.h"

namespace kelp::apiserver {

// "10.96.0.5" → host-order address; InvalidArgument otherwise.
Result<uint32_t> ParseIpv4Address(std::string_view text);
std::string FormatIpv4Address(uint32_t address);

struct Ipv4Cidr {
  uint32_t network = 0;  // host order, host bits zero
  int prefix_length = 0;

  uint64_t Size() const { return uint64_t{1} << (32 - prefix_length); }
  bool Contains(uint32_t address) const { return address - network < Size(); }
  std::string ToString() const;
};
// "10.96.0.0/12"; host bits are masked off, as Go's net.ParseCIDR does. InvalidArgument otherwise.
Result<Ipv4Cidr> ParseIpv4Cidr(std::string_view text);

struct PortRange {
  int first = 0;
  int last = 0;  // inclusive

  bool Contains(int64_t port) const { return port >= first && port <= last; }
  std::string ToString() const;  // "30000-32767", as Kubernetes prints it
};
// "30000-32767" (or a single port); InvalidArgument otherwise.
Result<PortRange> ParsePortRange(std::string_view text);

struct ServiceNetwork {
  Ipv4Cidr service_cidr;  // ClusterIPs; the first host address belongs to `kubernetes`
  PortRange node_ports;
};
// Parses the server flags: a service CIDR from /12 (the largest Kubernetes accepts) to /30.
Result<ServiceNetwork> ParseServiceNetwork(std::string_view service_cidr,
                                           std::string_view node_port_range);

// ClusterIP "10.96.0.1": the first host address of the CIDR, which random allocation skips.
uint32_t KubernetesServiceIp(const Ipv4Cidr& cidr);

// Values of one range (addresses or ports) in use, as a bitmap over [first, last].
class RangeBitmap {
 public:
  RangeBitmap(uint64_t first, uint64_t last);

  bool Contains(uint64_t value) const { return value >= first_ && value <= last_; }
  bool IsAllocated(uint64_t value) const { return Contains(value) && used_[value - first_]; }
  // False when taken or out of range.
  bool Allocate(uint64_t value);
  // Like Kubernetes: a random start in [from, last], then the first free value after it
  // (wrapping within [from, last]). nullopt when that part of the range is full.
  std::optional<uint64_t> AllocateNext(uint64_t from, std::mt19937_64& random);
  void Release(uint64_t value);

 private:
  uint64_t first_;
  uint64_t last_;
  std::vector<bool> used_;
};

// The ClusterIPs and NodePorts one Service version holds.
struct ServiceHoldings {
  std::vector<uint32_t> cluster_ips;
  std::vector<int64_t> node_ports;
};

class ServiceAllocator;

// New values taken for one create/update, and the old version's values it no longer holds.
// Move-only; the destructor of an uncommitted allocation gives the new values back.
class ServiceAllocation {
 public:
  ServiceAllocation() = default;
  ServiceAllocation(ServiceAllocator* allocator, ServiceHoldings taken, ServiceHoldings dropped);
  ServiceAllocation(ServiceAllocation&& other) noexcept;
  ServiceAllocation& operator=(ServiceAllocation&& other) noexcept;
  ServiceAllocation(const ServiceAllocation&) = delete;
  ServiceAllocation& operator=(const ServiceAllocation&) = delete;
  ~ServiceAllocation();

  // The store write succeeded: keep the new values, free the dropped ones.
  void Commit();

 private:
  ServiceAllocator* allocator_ = nullptr;  // null once committed or rolled back
  ServiceHoldings taken_;
  ServiceHoldings dropped_;
};

// The outcome of admitting a Service: `invalid` (422) or `failure` (500, a full range) when
// refused, else the allocation to commit.
struct ServiceAdmission {
  std::vector<api::FieldCause> invalid;
  Status failure;
  ServiceAllocation allocation;

  bool ok() const { return invalid.empty() && failure.ok(); }
};

class ServiceAllocator {
 public:
  // `seed` makes random choices reproducible (tests); nullopt seeds from std::random_device.
  explicit ServiceAllocator(ServiceNetwork network, std::optional<uint64_t> seed = std::nullopt);
  ServiceAllocator(const ServiceAllocator&) = delete;
  ServiceAllocator& operator=(const ServiceAllocator&) = delete;

  const ServiceNetwork& network() const { return network_; }

  // Marks the values a stored Service holds (server start). Values outside the ranges (the
  // flags changed since) are left alone.
  void Restore(const boost::json::object& service);

  // Fills spec.clusterIP(s) and the ports' nodePort of a defaulted, validated Service about
  // to be created (`old` null) or to replace `old`, honouring values the client set.
  ServiceAdmission Admit(boost::json::object& service, const boost::json::object* old);

  // Frees everything a deleted Service held.
  void Release(const boost::json::object& service);

  bool IsIpAllocated(uint32_t address) const;
  bool IsNodePortAllocated(int64_t port) const;

 private:
  friend class ServiceAllocation;

  void Free(const ServiceHoldings& holdings);
  // Takes the values `service` (its spec an object) asks for that `held` does not have yet,
  // filling in unset ones; on refusal nothing stays taken. Called with mutex_ held.
  ServiceAdmission TakeNew(boost::json::object& service, const ServiceHoldings& held);

  const ServiceNetwork network_;
  mutable std::mutex mutex_;  // guards ips_, node_ports_ and random_
  RangeBitmap ips_;
  RangeBitmap node_ports_;
  std::mt19937_64 random_;
};

// Restores every Service stored in `store` into `allocator` (server start, before serving).
Status RestoreServiceAllocations(storage::Store& store, ServiceAllocator& allocator);

}  // namespace kelp::apiserver
