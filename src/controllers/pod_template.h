// Pod templates as the workload controllers use them: the pod a ReplicaSet creates from its
// template (generateName "<rs>-", so the apiserver adds 5 random safe characters), the
// pod-template-hash a Deployment names its ReplicaSets by, and template equality that ignores
// that hash label.
//
// The hash follows Kubernetes' ComputeHash — FNV-32a over the template (then the collision
// count, as 8 little-endian bytes), the decimal sum encoded with rand.SafeEncodeString — but
// the bytes hashed are kelp's canonical JSON of the template (keys sorted) instead of Go's
// spew dump of the struct, so the same template gets a different hash than in Kubernetes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace kelp::controllers {

inline constexpr std::string_view kPodTemplateHashLabel = "pod-template-hash";

// Compact JSON with every object's keys sorted: equal documents serialize equally.
std::string CanonicalJson(const boost::json::value& value);

// Kubernetes' rand.SafeEncodeString: each byte mapped onto "bcdfghjklmnpqrstvwxz2456789".
std::string SafeEncodeString(std::string_view text);

// FNV-32a of `data` (offset basis 2166136261, prime 16777619).
uint32_t Fnv32a(std::string_view data, uint32_t hash = 2166136261u);

// The pod-template-hash of `pod_template` (spec.template of a Deployment).
std::string ComputeTemplateHash(const boost::json::object& pod_template,
                                std::optional<int64_t> collision_count);

// Equal after dropping the pod-template-hash label (and a labels map left empty by that).
bool TemplatesEqualIgnoringHash(const boost::json::object& a, const boost::json::object& b);

// The pod a controller creates from `pod_template`: its labels, annotations, finalizers and
// spec; generateName "<owner name>-"; `controller_ref` as the only ownerReference.
boost::json::object PodFromTemplate(const boost::json::object& pod_template,
                                    std::string_view owner_name, std::string_view namespace_name,
                                    const boost::json::object& controller_ref);

}  // namespace kelp::controllers
