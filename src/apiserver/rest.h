// The generic REST handlers of every resource in resources.h over a storage::Store: get,
// list (selectors, limit/continue), watch, create (JSON or protobuf), update, patch, delete,
// deletecollection, and the status, scale, binding, finalize, log and exec subresources.
// Per-resource behaviour from src/api (defaulting, validation, Table printing) plugs in
// through ResourceHooks; an empty hook is a no-op, so handlers never change when one lands.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/printers.h"
#include "apiserver/api_errors.h"
#include "apiserver/resources.h"
#include "apiserver/router.h"
#include "apiserver/selection.h"
#include "common/clock.h"
#include "common/status.h"
#include "storage/store.h"

namespace kelp::apiserver {

class KubeletConnector;
class ServiceAllocator;
class WatchCache;

// What a Table is asked for, beside the objects.
struct TableRequest {
  std::string include_object;  // the includeObject query parameter ("" = Metadata)
  std::string resource_version;
  std::string continue_token;
};

struct ResourceHooks {
  // Fills defaults into an object about to be created or updated.
  std::function<void(boost::json::object& object)> defaulting;
  // Field errors of a new object; any error answers 422 Invalid.
  std::function<std::vector<api::FieldCause>(const boost::json::object& object)> validate_create;
  std::function<std::vector<api::FieldCause>(const boost::json::object& old_object,
                                        const boost::json::object& updated)>
      validate_update;
  // A meta.k8s.io/v1 Table for `Accept: ...;as=Table`; unset answers with the plain objects.
  std::function<Result<boost::json::object>(const std::vector<const boost::json::object*>& objects,
                                            const TableRequest& request)>
      print_table;
  // The same Table written row by row, for LISTs from the watch cache (no DOM of the whole
  // Table); unset: print_table over every object at once.
  std::function<Result<std::unique_ptr<api::TableTextWriter>>(const TableRequest& request)>
      table_writer;
};

// Applies a PATCH body of `content_type` to `original`. Unimplemented (→ 415) for patch types
// it does not know.
using PatchFunction = std::function<Result<boost::json::object>(
    std::string_view content_type, const boost::json::object& original, std::string_view patch)>;

// JSON patch, JSON merge patch and strategic merge patch (src/api/patch.h), and server-side
// apply (`application/apply-patch+yaml`, src/api/apply.h: merged as a strategic merge patch;
// managedFields and conflicts are not tracked, so `force` changes nothing).
Result<boost::json::object> ApplyPatch(std::string_view content_type,
                                       const boost::json::object& original,
                                       std::string_view patch);

struct RestOptions {
  // Hooks of a resource; unset: no hooks anywhere.
  std::function<ResourceHooks(const ResourceInfo&)> hooks;
  PatchFunction apply_patch = ApplyPatch;
  // ClusterIPs and NodePorts of Services (allocator.h); null: Services get none.
  ServiceAllocator* service_allocator = nullptr;
  // Answers LISTs and the initial state of watches from memory (watch_cache.h); null: the store.
  const WatchCache* watch_cache = nullptr;
  // Watches without timeoutSeconds end after this long (clients re-watch).
  std::chrono::seconds default_watch_timeout{1800};
  std::chrono::seconds bookmark_interval{60};
  // Relays pods/log and pods/exec to the pod's kubelet (kubelet_proxy.h); null: they answer 503.
  const KubeletConnector* kubelets = nullptr;
};

class RestApi {
 public:
  RestApi(storage::Store& store, const Clock& clock, RestOptions options = {});

  // Handles any request below /api/ or /apis/ that names a resource.
  HttpResponse Handle(const HttpRequest& request) const;

  // Creates default, kube-system, kube-public and kube-node-lease when absent.
  Status EnsureDefaultNamespaces() const;

  // Routes /api/ and /apis/ to Handle (discovery paths are exact routes and win).
  void AddRoutes(Router& router) const;

 private:
  struct Call;
  HttpResponse Dispatch(const Call& call) const;
  HttpResponse Get(const Call& call) const;
  HttpResponse List(const Call& call) const;
  // LIST from the watch cache; nullopt when the cache cannot answer and the store must.
  std::optional<HttpResponse> ListFromCache(const Call& call, const ObjectFilter& filter,
                                            int64_t limit) const;
  HttpResponse Watch(const Call& call) const;
  HttpResponse Create(const Call& call) const;
  HttpResponse Update(const Call& call) const;
  HttpResponse Patch(const Call& call) const;
  // Server-side apply of an absent object: created from the applied configuration (201).
  HttpResponse CreateByApply(const Call& call) const;
  HttpResponse Delete(const Call& call) const;
  HttpResponse DeleteCollection(const Call& call) const;
  HttpResponse GetScale(const Call& call) const;
  HttpResponse WriteScale(const Call& call) const;
  HttpResponse Bind(const Call& call) const;
  // pods/log and pods/exec through options_.kubelets.
  HttpResponse ProxyToKubelet(const Call& call) const;

  // Stores `updated` over the object at `mod_revision` (or deletes it when it is being
  // deleted and its last finalizer is gone) and answers with the result.
  HttpResponse Persist(const Call& call, boost::json::object updated, int64_t mod_revision) const;
  // Persist, with a Service's ClusterIP/NodePorts admitted first and committed once stored.
  // The end of every update path: defaulting and update validation (not for subresources),
  // then admission and the store write.
  HttpResponse DefaultValidateAndPersist(const Call& call, const boost::json::object& old,
                                         boost::json::object updated,
                                         int64_t mod_revision) const;
  HttpResponse AdmitAndPersist(const Call& call, const boost::json::object& old,
                               boost::json::object updated, int64_t mod_revision) const;
  // Deletes one object (grace periods, finalizers, the foregroundDeletion/orphan finalizer of
  // `propagation`); the object is `kv`. A namespace turns Terminating; the namespace
  // controller empties it and removes its "kubernetes" finalizer through Finalize.
  Result<boost::json::object> DeleteObject(const Call& call, const storage::KeyValue& kv,
                                           int64_t grace_seconds,
                                           std::string_view propagation) const;
  // PUT namespaces/{name}/finalize: stores spec.finalizers; the namespace goes when it is
  // Terminating and no finalizer is left.
  HttpResponse Finalize(const Call& call) const;
  // 404 / 403 response when objects may not be created in `namespace_name`.
  std::optional<HttpResponse> CheckNamespaceAcceptsCreate(const Call& call,
                                                          std::string_view name) const;
  HttpResponse Respond(const Call& call, int status, boost::json::object object) const;
  ResourceHooks HooksFor(const ResourceInfo& resource) const;

  storage::Store& store_;
  const Clock& clock_;
  const RestOptions options_;
};

}  // namespace kelp::apiserver
