// Hollow nodes, as kubemark's: each registers a Node (capacity, allocatable, InternalIP,
// conditions, nodeInfo), renews its Lease in kube-node-lease, and plays kubelet for the pods
// bound to it without running anything — it reports each one Running and Ready with an IP
// from the node's spec.podCIDR, and finishes deletions (deletionTimestamp → delete with
// gracePeriodSeconds 0, as a kubelet does once the containers stopped). One HollowNodes object
// runs any number of nodes over one pod informer and one node informer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/node_registration.h"
#include "client/api_client.h"
#include "client/informer.h"
#include "client/work_queue.h"
#include "common/clock.h"
#include "common/status.h"

namespace kelp::agent {

struct HollowNodeOptions {
  // With count 1 the node is called `node_name`; with more, `<node_name>-<i>` for i = 0..N-1.
  std::string node_name;
  int count = 1;
  // InternalIP of the first node; node i gets this address + i.
  std::string node_ip = "127.0.0.1";
  std::string cpu = "4";
  std::string memory = "8Gi";
  std::string pods = "110";
  // As kubelet's --node-lease-duration-seconds: the Lease says so, and it is renewed every
  // quarter of it (10 s by default).
  int lease_duration_seconds = 40;
  int workers = 4;
};

class HollowNodes {
 public:
  HollowNodes(client::ApiClient& client, Clock& clock, HollowNodeOptions options);
  ~HollowNodes();  // Stop()
  HollowNodes(const HollowNodes&) = delete;
  HollowNodes& operator=(const HollowNodes&) = delete;

  // Registers every node and its lease, then starts the informers, the pod workers and the
  // lease loop. InvalidArgument for bad options; the API's error if registration fails.
  Status Start();
  void Stop();

  // One renewal round over every node's Lease (the lease loop calls it each interval).
  Status RenewLeases();

  const std::vector<std::string>& node_names() const { return names_; }
  std::chrono::milliseconds lease_renew_interval() const {
    return std::chrono::milliseconds(options_.lease_duration_seconds * 250);
  }

 private:
  struct NodeIps {
    std::string cidr;  // the spec.podCIDR the addresses below come from
    uint32_t network = 0;
    uint32_t size = 0;
    std::map<std::string, uint32_t> by_pod;  // pod key -> address
    std::set<uint32_t> used;
  };

  boost::json::object NodeObject(size_t index) const;
  Status RegisterNode(size_t index);
  void OnPod(const client::ObjectPtr& pod);
  void OnPodDeleted(const client::ObjectPtr& pod);
  void OnNode(const client::ObjectPtr& old_node, const client::ObjectPtr& node);
  void Worker();
  void LeaseLoop();
  Status SyncPod(const std::string& key);
  // The pod's address on `node_name`: kept if it has one, else the next free one of the
  // node's podCIDR. Unavailable while the node has no podCIDR yet.
  Result<std::string> PodIp(const std::string& node_name, const std::string& key,
                            const boost::json::object& pod);

  client::ApiClient& client_;
  Clock& clock_;
  HollowNodeOptions options_;
  std::vector<std::string> names_;
  std::vector<std::string> ips_;
  std::set<std::string, std::less<>> name_set_;

  client::Informer pods_;
  client::Informer nodes_;
  client::WorkQueue queue_;

  std::mutex ips_mutex_;  // guards pod_ips_
  std::map<std::string, NodeIps> pod_ips_;  // by node name

  NodeLeases leases_;
  std::mutex lease_mutex_;  // guards stopping_
  std::condition_variable lease_wake_;
  bool stopping_ = false;

  std::vector<std::thread> threads_;
};

}  // namespace kelp::agent
