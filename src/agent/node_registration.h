// What every kelp node agent (the real one and hollow ones) tells the API server about its
// node: the Node object (capacity, allocatable, addresses, conditions, nodeInfo), its
// registration (create, or take over the status of an existing Node), and the Lease in
// kube-node-lease it renews as a heartbeat. DescribeMachine fills a description from this
// machine (/proc, uname, /etc/machine-id) for the real agent.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "client/api_client.h"
#include "common/clock.h"
#include "common/status.h"

namespace kelp::agent {

struct NodeDescription {
  std::string name;
  std::string internal_ip;
  std::string cpu = "4";
  std::string memory = "8Gi";
  std::string pods = "110";
  std::string ephemeral_storage = "100Gi";
  std::map<std::string, std::string> extra_labels;
  // nodeInfo; empty ids default to the node name.
  std::string machine_id;
  std::string system_uuid;
  std::string boot_id;
  std::string kernel_version = "unknown";
  std::string os_image = "unknown";
  std::string container_runtime_version = "runc://unknown";
};

// The node's cpu count, memory (/proc/meminfo MemTotal, in Ki), kernel, OS image, machine and
// boot ids. Errors only when /proc cannot be read.
Result<NodeDescription> DescribeMachine(std::string name, std::string internal_ip);

// "2024-01-01T00:00:00Z" (metav1.Time).
std::string Rfc3339(std::chrono::system_clock::time_point time);
// "2024-01-01T00:00:00.000000Z" (metav1.MicroTime, which Lease times are).
std::string MicroTime(std::chrono::system_clock::time_point time);

// The Node as registered: labels (hostname, os, arch + extra), capacity = allocatable, the
// pressure conditions False and Ready True, InternalIP and Hostname addresses, nodeInfo.
boost::json::object NodeObject(const NodeDescription& node,
                               std::chrono::system_clock::time_point now);

// Creates the Node; if it exists (re-registration), its status is replaced by ours.
Status RegisterNode(client::ApiClient& client, const boost::json::object& node);

// Lease renewal of any number of nodes: kube-node-lease/<node>, holderIdentity = the node.
// Keeps the last stored Lease per node so a renewal is one PUT. Thread-safe.
class NodeLeases {
 public:
  NodeLeases(client::ApiClient& client, Clock& clock, int lease_duration_seconds)
      : client_(client), clock_(clock), lease_duration_seconds_(lease_duration_seconds) {}

  // Creates or renews the node's Lease (renewTime = now).
  Status Renew(const std::string& node_name);

 private:
  client::ApiClient& client_;
  Clock& clock_;
  const int lease_duration_seconds_;
  std::mutex mutex_;                                   // guards leases_
  std::map<std::string, boost::json::object> leases_;  // last stored Lease per node
};

}  // namespace kelp::agent
