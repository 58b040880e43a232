// The three patch formats of the PATCH verb: JSON Patch (RFC 6902), JSON merge patch
// (RFC 7386) and Kubernetes' strategic merge patch, whose list handling follows a PatchSchema
// of merge keys. Each takes the stored object and the request body and returns the patched
// object, or InvalidArgument (HTTP 422) naming what in the patch does not apply.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace kelp::api {

// Limits on a patch body; beyond them a patch is rejected before it is applied.
inline constexpr std::size_t kMaxPatchBytes = 1 << 20;
inline constexpr std::size_t kMaxPatchDepth = 64;
// JSON Patch only: operations per patch, and values copied by `copy` in one patch (counted in
// JSON nodes), so a few copy operations cannot double a document into the gigabytes.
inline constexpr std::size_t kMaxJsonPatchOperations = 10000;
inline constexpr std::size_t kMaxJsonPatchCopiedNodes = 1 << 20;

// A list field whose elements merge instead of the list being replaced.
struct ListMergeRule {
  std::string kind;       // the object's kind ("Deployment"); empty matches every kind
  std::string path;       // field names from the object root joined by '.'; list items add no
                          // segment: "spec.template.spec.containers.ports"
  std::string merge_key;  // items with equal values of this field merge ("name"); empty for
                          // a list of primitives merged as a set ("metadata.finalizers")
};

// Kubernetes' patchStrategy/patchMergeKey tags as data. Lists without a rule are atomic: the
// patch's list replaces the stored one, as Kubernetes does for lists without a strategy.
class PatchSchema {
 public:
  PatchSchema() = default;
  explicit PatchSchema(std::vector<ListMergeRule> rules) : rules_(std::move(rules)) {}

  // The rule for the list at `path` in an object of `kind`, or nullptr (replace).
  const ListMergeRule* FindListRule(std::string_view kind, std::string_view path) const;

 private:
  std::vector<ListMergeRule> rules_;
};

// Merge keys of the built-in kinds kelp serves: pods and the pod templates of workloads,
// services, nodes, object metadata and status conditions.
const PatchSchema& KubernetesPatchSchema();

// RFC 6902: `patch` is a JSON array of operations applied in order; any failure (a failed
// `test`, a missing path) rejects the whole patch.
Result<boost::json::value> ApplyJsonPatch(const boost::json::value& target, std::string_view patch);

// RFC 7386 exactly: an object patch merges (null deletes), anything else replaces `target`.
// A caller patching an API object must check that the result is still an object.
Result<boost::json::value> ApplyMergePatch(const boost::json::value& target,
                                           std::string_view patch);

// Kubernetes strategic merge patch of an object: maps recurse, null deletes, lists merge by the
// schema's rule for (kind, path), where kind is the target's `kind` (else the patch's).
// Directives: `$patch` (replace|delete|merge) on maps and list items, `$retainKeys`,
// `$setElementOrder/<field>`, `$deleteFromPrimitiveList/<field>`; others are rejected.
Result<boost::json::value> ApplyStrategicMergePatch(const boost::json::value& target,
                                                    std::string_view patch,
                                                    const PatchSchema& schema);

}  // namespace kelp::api
