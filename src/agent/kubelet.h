// Kubelet: the node agent's pod lifecycle on top of ContainerRuntime. It registers the Node
// (node_registration.h), renews its Lease, and reconciles every pod bound to the node:
// informer (spec.nodeName = this node) → work queue keyed "ns/name" → SyncPod, which makes the
// runtime match the spec (sandbox with CNI, init containers in order, containers, restarts
// with CrashLoopBackOff back-off, probes) and PUTs the pod's status when it changed. Pods are
// resynced every `resync_interval` to notice exits and run due probes. A pod with a
// deletionTimestamp is stopped gracefully, torn down (CNI DEL) and deleted with grace 0.
// Sandboxes of pods no longer in the API (deleted while the agent was down) are removed.
// State survives restarts in the runtime: on Start the running sandboxes and containers are
// adopted, never restarted.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/node_registration.h"
#include "agent/probe.h"
#include "agent/runtime/runtime.h"
#include "client/api_client.h"
#include "client/event_recorder.h"
#include "client/informer.h"
#include "client/work_queue.h"
#include "common/clock.h"
#include "common/status.h"

namespace kelp::agent {

struct KubeletOptions {
  std::chrono::seconds lease_renew_interval{10};
  int lease_duration_seconds = 40;
  // How often a pod is looked at again without an API event (exits, probes, back-off ends).
  std::chrono::milliseconds resync_interval{1000};
  std::chrono::seconds backoff_initial{10};
  std::chrono::seconds backoff_max{300};
  // Pods synced in parallel (a pod start is mostly waiting for CNI plugins and runc).
  int workers = 16;
};

class Kubelet {
 public:
  // `images` is the store the runtime resolves images from (missing images are reported as
  // ErrImageNeverPull before anything is created).
  Kubelet(client::ApiClient& client, Clock& clock, ContainerRuntime& runtime, ImageSource& images,
          NodeDescription node, KubeletOptions options = {});
  ~Kubelet();  // Stop()
  Kubelet(const Kubelet&) = delete;
  Kubelet& operator=(const Kubelet&) = delete;

  // Registers the Node and its Lease, adopts the runtime's pods, starts the informer, the
  // pod workers, the lease loop and the housekeeping loop.
  Status Start();
  // Stops the loops; containers keep running.
  void Stop();

  const std::string& node_name() const { return node_.name; }
  // The seam for a kubelet API server (logs, exec, stats): the runtime and the id of the
  // current container `container` of pod `namespace_name/pod` (NotFound when none).
  ContainerRuntime& runtime() { return runtime_; }
  Result<std::string> ContainerId(const std::string& namespace_name, const std::string& pod,
                                  const std::string& container) const;

 private:
  struct ProbeState {
    std::optional<Probe> probe;
    int successes = 0;
    int failures = 0;
    bool result = false;
    std::chrono::steady_clock::time_point next{};
  };
  // What the kubelet tracks for one container name of a pod.
  struct ContainerRecord {
    std::string id;  // the current container, empty before the first create
    uint32_t restart_count = 0;
    std::optional<ContainerStatus> current;          // last seen status of `id`
    std::optional<ContainerStatus> last_terminated;  // the one before (lastState)
    std::string waiting_reason;
    std::string waiting_message;
    std::chrono::steady_clock::time_point backoff_until{};
    std::chrono::seconds backoff{0};
    ProbeState readiness;
    ProbeState liveness;
    ProbeState startup;
    bool started = false;  // startup probe passed (or none)
  };
  struct PodRecord {
    std::string key;
    std::string uid;
    std::string sandbox_id;
    std::string pod_ip;
    std::string start_time;
    std::map<std::string, ContainerRecord> init_containers;
    std::map<std::string, ContainerRecord> containers;
    bool failed = false;      // a Never/OnFailure pod whose init container failed
    std::string last_status;  // the status last written, serialized
  };

  void Worker();
  void LeaseLoop();
  void HousekeepingLoop();
  Status SyncPod(const std::string& key);
  // Adopts what the runtime has for `uid` into a fresh record.
  void Adopt(PodRecord& record);
  Status EnsureSandbox(PodRecord& record, const boost::json::object& pod);
  // Brings one container towards its spec: returns true when it is (still) running or
  // succeeded as wanted. `init` containers are never restarted after a success.
  Status SyncContainer(PodRecord& record, ContainerRecord& container,
                       const boost::json::object& pod, const boost::json::object& spec, bool init,
                       const std::string& restart_policy);
  Status StartContainer(PodRecord& record, ContainerRecord& container,
                        const boost::json::object& pod, const boost::json::object& spec, bool init);
  void RunProbes(PodRecord& record, ContainerRecord& container);
  // Stops every container (SIGTERM, `grace`, SIGKILL) and removes the sandbox (CNI DEL).
  Status KillPod(PodRecord& record, std::chrono::seconds grace);
  // PUTs pods/<name>/status unless it equals the last one written.
  Status PutStatus(PodRecord& record, const boost::json::object& pod);
  // Sandboxes whose pod uid is not in the informer: removed (pods deleted while down).
  void CleanupOrphans();

  client::ApiClient& client_;
  Clock& clock_;
  ContainerRuntime& runtime_;
  ImageSource& images_;
  NodeDescription node_;
  KubeletOptions options_;
  client::Informer pods_;
  client::WorkQueue queue_;
  NodeLeases leases_;
  client::EventRecorder events_;

  // Records are touched only by the worker that holds their key (the queue guarantees one at
  // a time); the map itself is guarded.
  mutable std::mutex records_mutex_;                           // guards records_
  std::map<std::string, std::shared_ptr<PodRecord>> records_;  // by "ns/name"

  std::mutex stop_mutex_;  // guards stopping_
  std::condition_variable stop_wake_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace kelp::agent
