// HorizontalPodAutoscalerController: reconcileAutoscaler of Kubernetes over kelp's client.
#include "controllers/hpa.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "api/duration.h"
#include "api/quantity.h"
#include "api/selectors.h"
#include "common/json.h"
#include "controllers/object_meta.h"

namespace kelp::controllers {

namespace json = boost::json;

namespace {

// The scalable kinds kelp serves, by scaleTargetRef.kind.
std::optional<client::Resource> TargetResource(const json::object& hpa) {
  const std::string kind = StringAt(hpa, "spec.scaleTargetRef.kind");
  if (kind == "Deployment") return client::kDeployments;
  if (kind == "ReplicaSet") return client::kReplicaSets;
  return std::nullopt;
}

// Sets condition `type` in status.conditions; lastTransitionTime moves only with the status.
void SetCondition(json::object& status, std::string_view type, std::string_view value,
                  std::string_view reason, std::string message, const std::string& now,
                  const json::object& old_status) {
  std::string since = now;
  if (const json::value* old = old_status.if_contains("conditions"); old && old->is_array()) {
    for (const json::value& entry : old->get_array()) {
      if (entry.is_object() && StringAt(entry.get_object(), "type") == type &&
          StringAt(entry.get_object(), "status") == value) {
        since = StringAt(entry.get_object(), "lastTransitionTime");
      }
    }
  }
  json::value& conditions = status["conditions"];
  if (!conditions.is_array()) conditions = json::array();
  json::object condition{{"type", type},
                         {"status", value},
                         {"lastTransitionTime", since},
                         {"reason", reason},
                         {"message", std::move(message)}};
  for (json::value& entry : conditions.get_array()) {
    if (entry.is_object() && StringAt(entry.get_object(), "type") == type) {
      entry = std::move(condition);
      return;
    }
  }
  conditions.get_array().push_back(std::move(condition));
}

std::string MilliQuantity(int64_t milli, const std::string& resource) {
  if (resource == "memory") {
    return milli % 1000 == 0 ? std::to_string(milli / 1000) : std::to_string(milli) + "m";
  }
  return std::to_string(milli) + "m";
}

// The metric's display name in reasons and messages, as Kubernetes words it.
std::string MetricName(const std::string& resource, bool utilization) {
  return utilization ? resource + " resource utilization (percentage of request)"
                     : resource + " resource";
}

// A PodMetrics window as the metrics API writes it ("15s", "1m0s"); nullopt otherwise.
std::optional<std::chrono::seconds> WindowSeconds(std::string_view text) {
  int64_t total = 0;
  int64_t number = 0;
  bool digits = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      number = number * 10 + (c - '0');
      digits = true;
    } else if ((c == 'h' || c == 'm' || c == 's') && digits) {
      total += number * (c == 'h' ? 3600 : c == 'm' ? 60 : 1);
      number = 0;
      digits = false;
    } else {
      return std::nullopt;
    }
  }
  if (digits || text.empty()) return std::nullopt;
  return std::chrono::seconds(total);
}

}  // namespace

HorizontalPodAutoscalerController::HorizontalPodAutoscalerController(
    const ControllerContext& context)
    : context_(context),
      hpas_(context.informers.For(client::kHorizontalPodAutoscalers)),
      pods_(context.informers.For(client::kPods)),
      events_(context.client, context.clock, "horizontal-pod-autoscaler"),
      queue_(context.clock),
      workers_(queue_, [this](const std::string& key) { return Sync(key); }, "hpa") {
  hpas_.AddHandlers(
      {.on_add = [this](const client::ObjectPtr& hpa) { queue_.Add(client::ObjectKey(*hpa)); },
       .on_update =
           [this](const client::ObjectPtr& old_hpa, const client::ObjectPtr& hpa) {
             // Its own status writes are not a reason to sync before the period is over.
             if (IntAt(*old_hpa, "metadata.generation") != IntAt(*hpa, "metadata.generation")) {
               queue_.Add(client::ObjectKey(*hpa));
             }
           },
       .on_delete = [this](const client::ObjectPtr& hpa) { queue_.Add(client::ObjectKey(*hpa)); }});
}

HorizontalPodAutoscalerController::~HorizontalPodAutoscalerController() { Stop(); }

void HorizontalPodAutoscalerController::Start() { workers_.Start(context_.options.workers); }
void HorizontalPodAutoscalerController::Stop() { workers_.Stop(); }

Result<std::map<std::string, PodMetric>> HorizontalPodAutoscalerController::PodMetrics(
    const std::string& namespace_name, const std::string& selector, const std::string& resource) {
  client::ListOptions options;
  options.label_selector = selector;
  Result<client::ListResult> listed = context_.client.List(kPodMetrics, namespace_name, options);
  if (!listed.ok()) {
    return UnavailableError(fmt::format(
        "unable to get metrics for resource {}: unable to fetch metrics from resource metrics "
        "API: {}",
        resource, listed.status().message()));
  }
  std::map<std::string, PodMetric> metrics;
  for (const json::object& item : listed->items) {
    PodMetric metric;
    metric.timestamp = api::ParseRfc3339(StringAt(item, "timestamp")).value_or(TimePoint{});
    if (std::optional<std::chrono::seconds> window = WindowSeconds(StringAt(item, "window"))) {
      metric.window = *window;
    }
    const json::value* containers = item.if_contains("containers");
    if (containers == nullptr || !containers->is_array()) continue;
    bool complete = true;
    for (const json::value& container : containers->get_array()) {
      if (!container.is_object()) continue;
      Result<long double> usage =
          api::ParseQuantity(StringAt(container.get_object(), "usage." + resource));
      if (!usage.ok()) {
        complete = false;
        break;
      }
      metric.value_milli += static_cast<int64_t>(std::llround(*usage * 1000));
    }
    if (complete) metrics[Name(item)] = metric;
  }
  return metrics;
}

Result<int64_t> HorizontalPodAutoscalerController::ReplicasForMetrics(
    const json::object& hpa, int64_t current_replicas, const std::string& selector,
    json::object& status, std::string& metric_name, int& invalid, int& total) {
  const std::string now = FormatRfc3339(context_.clock.WallNow());
  const json::object old_status = ObjectAt(hpa, "status") ? *ObjectAt(hpa, "status") : json::object();
  const std::string namespace_name = Namespace(hpa);
  Result<api::LabelSelector> parsed = api::LabelSelector::Parse(selector);
  std::vector<json::object> pods;
  if (parsed.ok()) {
    for (const client::ObjectPtr& pod : pods_.ListNamespace(namespace_name)) {
      if (parsed->Matches(Labels(*pod))) pods.push_back(*pod);
    }
  }
  json::array current_metrics;
  int64_t best = -1;
  Status last_error;
  const json::value* metrics = FindPath(hpa, "spec.metrics");
  const json::array empty;
  const json::array& specs = metrics && metrics->is_array() ? metrics->get_array() : empty;
  for (const json::value& entry : specs) {
    if (!entry.is_object()) continue;
    ++total;
    const json::object& spec = entry.get_object();
    const std::string type = StringAt(spec, "type");
    const std::string resource = StringAt(spec, "resource.name");
    const std::string target_type = StringAt(spec, "resource.target.type");
    Status error;
    if (type != "Resource" || (resource != "cpu" && resource != "memory")) {
      error = InvalidArgumentError(fmt::format(
          "kelp's HPA supports Resource metrics of cpu and memory, not {} {}", type, resource));
      SetCondition(status, "ScalingActive", "False", "InvalidMetricSourceType",
                   "the HPA was unable to compute the replica count: " + error.message(), now,
                   old_status);
      last_error = error;
      ++invalid;
      continue;
    }
    Result<std::map<std::string, PodMetric>> samples =
        PodMetrics(namespace_name, selector, resource);
    Result<ResourceReplicasResult> computed =
        samples.ok() ? Result<ResourceReplicasResult>(InvalidArgumentError("no samples"))
                     : Result<ResourceReplicasResult>(samples.status());
    if (samples.ok() && target_type == "AverageValue") {
      // GetRawResourceReplicas: the usage per pod against an absolute average.
      Result<long double> target =
          api::ParseQuantity(StringAt(spec, "resource.target.averageValue"));
      computed = !target.ok() || *target <= 0
                     ? Result<ResourceReplicasResult>(
                           InvalidArgumentError("invalid resource target averageValue"))
                     : RawResourceReplicas(current_replicas,
                                           static_cast<int64_t>(std::llround(*target * 1000)),
                                           *samples);
    } else if (samples.ok()) {
      computed = ResourceReplicas(current_replicas, IntAt(spec, "resource.target.averageUtilization"),
                                  resource, pods, std::move(*samples), context_.clock.WallNow());
    }
    if (!computed.ok()) {
      error = computed.status();
      SetCondition(status, "ScalingActive", "False", "FailedGetResourceMetric",
                   "the HPA was unable to compute the replica count: " + error.message(), now,
                   old_status);
      events_.Record(hpa, "Warning", "FailedGetResourceMetric", error.message());
      last_error = error;
      ++invalid;
      continue;
    }
    json::object current{{"averageValue", MilliQuantity(computed->average_value_milli, resource)}};
    const bool utilization = target_type != "AverageValue";
    if (utilization) current["averageUtilization"] = computed->utilization;
    current_metrics.push_back(json::object{
        {"type", "Resource"},
        {"resource", json::object{{"name", resource}, {"current", std::move(current)}}}});
    if (computed->replicas > best) {
      best = computed->replicas;
      metric_name = MetricName(resource, utilization);
    }
  }
  if (!current_metrics.empty()) status["currentMetrics"] = std::move(current_metrics);
  if (best < 0) {
    if (last_error.ok()) last_error = InvalidArgumentError("no metrics to compute a replica count from");
    return last_error;
  }
  SetCondition(status, "ScalingActive", "True", "ValidMetricFound",
               "the HPA was able to successfully calculate a replica count from " + metric_name,
               now, old_status);
  return best;
}

Status HorizontalPodAutoscalerController::Sync(const std::string& key) {
  client::ObjectPtr cached = hpas_.Get(key);
  if (cached == nullptr) {
    std::lock_guard lock(mutex_);
    history_.erase(key);
    return Status::Ok();
  }
  // Whatever happens below, look again after the sync period, as the HPA controller resyncs.
  queue_.AddAfter(key, context_.options.hpa_sync_period);
  const json::object& hpa = *cached;
  const std::string namespace_name = Namespace(hpa);
  const std::string now_text = FormatRfc3339(context_.clock.WallNow());
  const TimePoint now = context_.clock.WallNow();
  const json::object old_status = ObjectAt(hpa, "status") ? *ObjectAt(hpa, "status") : json::object();
  json::object status = old_status;
  status.erase("currentMetrics");
  status["observedGeneration"] = IntAt(hpa, "metadata.generation");

  auto write_status = [&]() -> Status {
    if (status == old_status) return Status::Ok();
    json::object updated = hpa;
    updated["status"] = status;
    Result<json::object> written =
        context_.client.Update(client::kHorizontalPodAutoscalers, updated, "status");
    return written.status().code() == StatusCode::kNotFound ? Status::Ok() : written.status();
  };

  // The target's scale.
  const std::string target_name = StringAt(hpa, "spec.scaleTargetRef.name");
  std::optional<client::Resource> resource = TargetResource(hpa);
  Result<json::object> target =
      resource ? context_.client.Get(*resource, namespace_name, target_name)
               : Result<json::object>(NotFoundError(fmt::format(
                     "no matches for kind \"{}\" in group \"{}\"",
                     StringAt(hpa, "spec.scaleTargetRef.kind"),
                     StringAt(hpa, "spec.scaleTargetRef.apiVersion"))));
  std::string selector;
  if (target.ok()) {
    const json::object* spec_selector = ObjectAt(*target, "spec.selector");
    Result<api::LabelSelector> parsed = spec_selector
                                            ? api::LabelSelector::FromJson(*spec_selector)
                                            : Result<api::LabelSelector>(api::LabelSelector());
    if (parsed.ok()) selector = parsed->ToString();
  }
  if (!target.ok()) {
    const std::string message = "the HPA controller was unable to get the target's current scale: " +
                                target.status().message();
    SetCondition(status, "AbleToScale", "False", "FailedGetScale", message, now_text, old_status);
    events_.Record(hpa, "Warning", "FailedGetScale", target.status().message());
    return write_status();
  }
  SetCondition(status, "AbleToScale", "True", "SucceededGetScale",
               "the HPA controller was able to get the target's current scale", now_text,
               old_status);
  const int64_t current = IntAt(*target, "spec.replicas", 1);
  const int64_t min_replicas = IntAt(hpa, "spec.minReplicas", 1);
  const int64_t max_replicas = IntAt(hpa, "spec.maxReplicas", 1);
  Result<Behavior> behavior = ParseBehavior(ObjectAt(hpa, "spec.behavior"),
                                            context_.options.hpa_downscale_stabilization);
  const bool has_behavior = ObjectAt(hpa, "spec.behavior") != nullptr;

  int64_t desired = 0;
  std::string reason;
  bool rescale = true;
  {
    std::lock_guard lock(mutex_);
    history_[key].RecordInitial(current, now);
  }
  if (current == 0 && min_replicas != 0) {
    rescale = false;
    SetCondition(status, "ScalingActive", "False", "ScalingDisabled",
                 "scaling is disabled since the replica count of the target is zero", now_text,
                 old_status);
  } else if (current > max_replicas) {
    reason = "Current number of replicas above Spec.MaxReplicas";
    desired = max_replicas;
  } else if (current < min_replicas) {
    reason = "Current number of replicas below Spec.MinReplicas";
    desired = min_replicas;
  } else {
    std::string metric_name;
    int invalid = 0;
    int total = 0;
    Result<int64_t> proposed =
        ReplicasForMetrics(hpa, current, selector, status, metric_name, invalid, total);
    if (!proposed.ok()) {
      status["currentReplicas"] = IntAt(*target, "status.replicas");
      status["desiredReplicas"] = IntAt(old_status, "desiredReplicas", current);
      events_.Record(hpa, "Warning", "FailedComputeMetricsReplicas",
                     fmt::format("invalid metrics ({} invalid out of {}), first error is: {}",
                                 invalid, total, proposed.status().message()));
      KELP_RETURN_IF_ERROR(write_status());
      return Status::Ok();  // retried at the next period, not with backoff
    }
    desired = *proposed;
    if (desired > current) reason = metric_name + " above target";
    if (desired < current) reason = "All metrics below target";
    if (!behavior.ok()) {
      SetCondition(status, "AbleToScale", "False", "InvalidBehavior", behavior.status().message(),
                   now_text, old_status);
      return write_status();
    }
    NormalizedReplicas normalized;
    {
      std::lock_guard lock(mutex_);
      ScaleHistory& history = history_[key];
      normalized = has_behavior
                       ? history.NormalizeWithBehavior(current, desired, min_replicas,
                                                       max_replicas, *behavior, now)
                       : history.Normalize(current, desired, min_replicas, max_replicas,
                                           context_.options.hpa_downscale_stabilization, now);
    }
    SetCondition(status, "AbleToScale", "True", normalized.able_to_scale_reason,
                 normalized.able_to_scale_message, now_text, old_status);
    SetCondition(status, "ScalingLimited", normalized.limited ? "True" : "False",
                 normalized.limited_reason, normalized.limited_message, now_text, old_status);
    desired = normalized.replicas;
    rescale = desired != current;
  }

  if (rescale) {
    const std::string body = fmt::format(R"({{"spec":{{"replicas":{}}}}})", desired);
    Result<json::object> scaled = context_.client.Patch(*resource, namespace_name, target_name,
                                                        client::PatchType::kMerge, body, "scale");
    if (!scaled.ok()) {
      events_.Record(hpa, "Warning", "FailedRescale",
                     fmt::format("New size: {}; reason: {}; error: {}", desired, reason,
                                 scaled.status().message()));
      SetCondition(status, "AbleToScale", "False", "FailedUpdateScale",
                   "the HPA controller was unable to update the target scale: " +
                       scaled.status().message(),
                   now_text, old_status);
      KELP_RETURN_IF_ERROR(write_status());
      return scaled.status();
    }
    SetCondition(status, "AbleToScale", "True", "SucceededRescale",
                 fmt::format("the HPA controller was able to update the target scale to {}",
                             desired),
                 now_text, old_status);
    events_.Record(hpa, "Normal", "SuccessfulRescale",
                   fmt::format("New size: {}; reason: {}", desired, reason));
    {
      std::lock_guard lock(mutex_);
      history_[key].RecordScale(current, desired, has_behavior && behavior.ok() ? &*behavior : nullptr,
                                now);
    }
    status["lastScaleTime"] = now_text;
  } else {
    desired = current == 0 && min_replicas != 0 ? 0 : current;
  }
  status["currentReplicas"] = IntAt(*target, "status.replicas");
  status["desiredReplicas"] = desired;
  return write_status();
}

}  // namespace kelp::controllers
