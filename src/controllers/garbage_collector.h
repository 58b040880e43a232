// The garbage collector, as Kubernetes' pkg/controller/garbagecollector: the ownerReferences
// graph of the monitored resources (pods, replicasets, deployments, daemonsets, services,
// endpoints, endpointslices), kept by their informers with an owner-uid index.
//  - Background: an object whose owners are all gone is deleted (its dependents follow);
//    references to owners that are gone, beside ones that remain, are removed.
//  - Foreground: an owner with the foregroundDeletion finalizer gets its dependents deleted
//    (Foreground when they have dependents themselves); once none is left the finalizer goes
//    and the apiserver removes the owner.
//  - Orphan: an owner with the orphan finalizer has its uid removed from every dependent's
//    ownerReferences, then the finalizer goes.
// Work items are "<plural>|<ns>/<name>"; a deleted object queues its dependents and a
// dependent that disappears queues its owners.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "client/work_queue.h"
#include "controllers/controller.h"
#include "controllers/object_meta.h"
#include "controllers/queue_workers.h"

namespace kelp::controllers {

class GarbageCollector final : public Controller {
 public:
  explicit GarbageCollector(ControllerContext& context);
  std::string_view name() const override { return "garbage-collector-controller"; }
  void Start() override;
  void Stop() override;

  // Work item of an object of a monitored resource.
  static std::string ItemKey(const client::Resource& resource, const boost::json::object& object);
  // Processes one item: foreground/orphan finalization, or collecting it when its owners
  // are gone.
  Status Sync(const std::string& item);

 private:
  struct Monitor {
    const client::Resource* resource;
    client::Informer* informer;
  };
  const Monitor* MonitorFor(std::string_view plural) const;
  const Monitor* MonitorForKind(std::string_view api_version, std::string_view kind) const;
  std::vector<std::pair<const Monitor*, client::ObjectPtr>> Dependents(std::string_view uid) const;
  void Observe(const Monitor& monitor, const client::ObjectPtr& object, bool deleted);
  // Whether the owner a reference names still exists (a live read when the cache lacks it).
  Result<bool> OwnerExists(std::string_view namespace_name, const boost::json::object& reference);
  Status RemoveFinalizer(const Monitor& monitor, const boost::json::object& object,
                         std::string_view finalizer);
  Status ProcessForeground(const Monitor& monitor, const boost::json::object& owner);
  Status ProcessOrphan(const Monitor& monitor, const boost::json::object& owner);
  Status CollectIfOrphaned(const Monitor& monitor, const boost::json::object& object);

  ControllerContext& context_;
  std::vector<Monitor> monitors_;
  mutable std::mutex mutex_;
  std::map<std::string, std::string> items_by_uid_;  // guarded by mutex_
  client::WorkQueue queue_;
  QueueWorkers workers_;
};

}  // namespace kelp::controllers
