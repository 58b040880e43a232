// ServiceProxy: kelp's kube-proxy as a component the node agent hosts (`kelp proxy` runs it
// standalone). Service and EndpointSlice informers mark changed Service keys; one sync thread
// hands them to the Proxier, coalesced like kube-proxy's BoundedFrequencyRunner: at most one
// sync per `min_sync_interval`, the table built once both informers have listed, rewritten in
// place every `sync_period`, failed syncs retried with backoff (at most `max_retry_interval`).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "client/informer.h"
#include "client/work_queue.h"
#include "common/clock.h"
#include "proxy/conntrack.h"
#include "proxy/nftables.h"
#include "proxy/proxier.h"

namespace kelp::proxy {

struct ServiceProxyOptions {
  ProxierOptions proxier;
  std::chrono::milliseconds min_sync_interval{1000};
  std::chrono::milliseconds sync_period{std::chrono::hours(1)};
  std::chrono::milliseconds max_retry_interval{std::chrono::seconds(30)};
};

class ServiceProxy {
 public:
  // Registers its handlers and index on the factory's Service and EndpointSlice informers:
  // construct it before the factory is started.
  ServiceProxy(client::InformerFactory& informers, Nftables& nftables, Conntrack& conntrack,
               Clock& clock, ServiceProxyOptions options);
  ~ServiceProxy();  // Stop()
  ServiceProxy(const ServiceProxy&) = delete;
  ServiceProxy& operator=(const ServiceProxy&) = delete;

  // Starts the sync thread; it waits for the informers to list before the first sync.
  void Start();
  void Stop();

  // True once the table was first built from the API.
  bool HasSynced() const { return initialized_.load(); }
  // Successful sync passes so far: rebuilds, resyncs, and incremental ones (also those that
  // found nothing to change).
  uint64_t sync_count() const { return sync_count_.load(); }
  ProxierCounts counts() const;

 private:
  void MarkDirty(const std::string& key);
  void MarkSlice(const client::ObjectPtr& slice);
  void Run();
  // Reads key's Service and EndpointSlices from the informers into the Proxier.
  void Load(const std::string& key);
  Status SyncOnce(bool resync);
  void ScheduleCleanup();
  // How long until `when` on the clock (zero when it has passed).
  std::chrono::steady_clock::duration Remaining(std::chrono::steady_clock::time_point when) const;

  client::Informer& services_;
  client::Informer& slices_;
  Clock& clock_;
  ServiceProxyOptions options_;
  Proxier proxier_;  // used by the sync thread only
  client::WorkQueue queue_;
  std::thread thread_;

  mutable std::mutex mutex_;  // guards dirty_ and counts_
  std::set<std::string> dirty_;
  ProxierCounts counts_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> initialized_{false};
  std::atomic<uint64_t> sync_count_{0};
  std::chrono::steady_clock::time_point last_sync_{};
};

}  // namespace kelp::proxy
