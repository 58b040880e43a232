// FakeApiClient: an in-memory ApiClient for unit tests of controllers, the scheduler and
// agents. It behaves like the apiserver where controllers depend on it: uid, resourceVersion
// (one counter for everything), creationTimestamp (from the Clock), generateName, generation
// bumped on spec changes, optimistic concurrency (kConflict), status and binding
// subresources (pods/binding sets spec.nodeName), label and field selectors on List and Watch,
// Watch from a resourceVersion, deletionTimestamp for objects with finalizers (removed when
// the last finalizer goes). It records every write (Actions()) so tests can assert what a
// controller did, and can be told to fail the next writes (FailNext) to test retries.
// As the kelp server: deleting a pod bound to a node only marks it (deletionTimestamp) unless
// the grace period is 0; deleting a namespace marks it Terminating and it goes once its
// metadata.finalizers and spec.finalizers (the "finalize" subresource of Update) are empty.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "client/api_client.h"
#include "common/clock.h"

namespace kelp::client::testing {

struct Action {
  std::string verb;      // "create", "update", "patch", "delete", plus "/status", "/binding"...
  std::string resource;  // plural, e.g. "pods"
  std::string namespace_name;
  std::string name;
  boost::json::object object;  // the body sent (empty for delete)
};

class FakeApiClient final : public ApiClient {
 public:
  explicit FakeApiClient(Clock& clock);
  ~FakeApiClient() override;

  // Puts an object in place without recording an action (test set-up); a namespaced object
  // without a namespace goes to "default".
  boost::json::object Seed(const Resource& resource, boost::json::object object);
  std::vector<Action> Actions() const;
  void ClearActions();
  // The next `count` writes (any verb) fail with `status`.
  void FailNext(int count, Status status);
  // Forgets the change history: a Watch from an older resourceVersion then fails with kExpired,
  // as the apiserver's after compaction.
  void CompactHistory();
  // Ends every open watch normally (as a server-side timeout does).
  void EndWatches();
  // Watches opened and not yet cancelled or ended.
  size_t OpenWatches() const;

  Result<boost::json::object> Get(const Resource& resource, std::string_view namespace_name,
                                  std::string_view name) override;
  Result<ListResult> List(const Resource& resource, std::string_view namespace_name,
                          const ListOptions& options) override;
  Result<boost::json::object> Create(const Resource& resource, std::string_view namespace_name,
                                     const boost::json::object& object) override;
  Result<boost::json::object> CreateSubresource(const Resource& resource,
                                                std::string_view namespace_name,
                                                std::string_view name,
                                                std::string_view subresource,
                                                const boost::json::object& object) override;
  Result<boost::json::object> Update(const Resource& resource, const boost::json::object& object,
                                     std::string_view subresource = "") override;
  Result<boost::json::object> Patch(const Resource& resource, std::string_view namespace_name,
                                    std::string_view name, PatchType type, std::string_view body,
                                    std::string_view subresource = "") override;
  Status Delete(const Resource& resource, std::string_view namespace_name, std::string_view name,
                const DeleteOptions& options) override;
  Result<std::unique_ptr<WatchStream>> Watch(const Resource& resource,
                                             std::string_view namespace_name,
                                             const ListOptions& options) override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace kelp::client::testing
