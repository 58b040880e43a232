// Conversion between served versions of a kind whose schemas differ (autoscaling/v1 and
// autoscaling/v2 HorizontalPodAutoscalers). The apiserver keeps one version per kind in the
// store, its storage version, and converts on every write (request version → storage) and
// every read (storage → requested version). Kinds whose versions share one schema have no
// entry: converting them only restamps apiVersion.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

namespace kelp::api {

// The apiVersion objects of (group, kind) are stored as; `served_api_version` for kinds that
// are stored as they are served.
std::string StorageApiVersion(std::string_view group, std::string_view kind,
                              std::string_view served_api_version);

// `object`, whose apiVersion names its version (absent: already the target), expressed in
// `target_api_version`. Lenient on purpose, so that any stored object reads: a field of the
// wrong type is carried over as it is or dropped, never an error.
boost::json::object ConvertToVersion(boost::json::object object,
                                     std::string_view target_api_version);

// Annotations under which an autoscaling/v1 HPA carries what only autoscaling/v2 can express,
// as Kubernetes does; the values here are JSON in autoscaling/v2's shape.
inline constexpr std::string_view kHpaMetricsAnnotation = "autoscaling.alpha.kubernetes.io/metrics";
inline constexpr std::string_view kHpaCurrentMetricsAnnotation =
    "autoscaling.alpha.kubernetes.io/current-metrics";
inline constexpr std::string_view kHpaConditionsAnnotation =
    "autoscaling.alpha.kubernetes.io/conditions";
inline constexpr std::string_view kHpaBehaviorAnnotation =
    "autoscaling.alpha.kubernetes.io/behavior";

}  // namespace kelp::api
