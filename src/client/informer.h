// Informers: a local, always-converging cache of one resource kept by list + watch, as
// client-go's SharedIndexInformer. A background thread lists, then watches from the list's
// resourceVersion; when the watch ends it re-watches, and on 410 Expired (or any error, after
// a backoff) it relists and delivers the difference as add/update/delete. Handlers run on that
// thread and must be quick (they normally only enqueue keys on a WorkQueue).
// InformerFactory shares one informer per resource among every controller of a process.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/api_client.h"
#include "common/clock.h"

namespace kelp::client {

struct InformerHandlers {
  std::function<void(const ObjectPtr& object)> on_add;
  std::function<void(const ObjectPtr& old_object, const ObjectPtr& new_object)> on_update;
  // For a delete missed while relisting, this is the last state the cache held.
  std::function<void(const ObjectPtr& object)> on_delete;
};

// Maps an object to the index values it is filed under (e.g. a pod to its spec.nodeName).
using IndexFunc = std::function<std::vector<std::string>(const boost::json::object& object)>;

class Informer {
 public:
  Informer(ApiClient& client, const Resource& resource, ListOptions options = {});
  ~Informer();  // Stop()
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Before Start(). Handlers added later still work but only see later events.
  void AddHandlers(InformerHandlers handlers);
  void AddIndex(std::string name, IndexFunc index);

  void Start();
  void Stop();
  // True once the first list has been delivered to the cache and handlers.
  bool HasSynced() const;
  bool WaitForSync(std::chrono::milliseconds timeout) const;

  // Reads of the cache; keys as ObjectKey().
  ObjectPtr Get(std::string_view key) const;
  std::vector<ObjectPtr> List() const;
  std::vector<ObjectPtr> ListNamespace(std::string_view namespace_name) const;
  std::vector<ObjectPtr> ByIndex(std::string_view index_name, std::string_view value) const;

  const Resource& resource() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// One Informer per resource, created on first use; Start() starts every informer made so far.
class InformerFactory {
 public:
  explicit InformerFactory(ApiClient& client) : client_(client) {}
  Informer& For(const Resource& resource);
  void Start();
  void Stop();
  bool WaitForSync(std::chrono::milliseconds timeout);

 private:
  ApiClient& client_;
  std::mutex mutex_;  // guards informers_
  std::map<std::string, std::unique_ptr<Informer>> informers_;
};

}  // namespace kelp::client
