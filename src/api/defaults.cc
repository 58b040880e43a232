// Kubernetes' defaulting (SetDefaults_* of core/v1, apps/v1, autoscaling) for the resources
// kelp serves, on the JSON form of the objects.
#include "api/defaults.h"

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <string>

namespace kelp::api {
namespace {

// The object under `key`, created empty when absent; null if present with another type.
boost::json::object* EnsureObject(boost::json::object& parent, std::string_view key) {
  boost::json::value* value = parent.if_contains(key);
  if (value == nullptr || value->is_null()) {
    return &parent.insert_or_assign(key, boost::json::object()).first->value().get_object();
  }
  return value->if_object();
}

void SetIfAbsent(boost::json::object& parent, std::string_view key, boost::json::value value) {
  boost::json::value* existing = parent.if_contains(key);
  if (existing == nullptr || existing->is_null()) parent.insert_or_assign(key, std::move(value));
}

std::string_view StringOr(const boost::json::object& parent, std::string_view key,
                          std::string_view fallback) {
  const boost::json::value* value = parent.if_contains(key);
  const boost::json::string* text = value ? value->if_string() : nullptr;
  return text ? std::string_view(*text) : fallback;
}

// Kubernetes pulls images tagged :latest (or untagged, which means latest) every time.
std::string_view DefaultPullPolicy(std::string_view image) {
  const std::size_t at = image.find('@');
  const bool has_digest = at != std::string_view::npos;
  const std::string_view name = has_digest ? image.substr(0, at) : image;
  const std::size_t last_slash = name.rfind('/');
  const std::size_t colon = name.rfind(':');
  const bool has_tag = colon != std::string_view::npos &&
                       (last_slash == std::string_view::npos || colon > last_slash);
  if (has_tag) return name.substr(colon + 1) == "latest" ? "Always" : "IfNotPresent";
  return has_digest ? "IfNotPresent" : "Always";
}

void DefaultPorts(boost::json::object& owner) {
  boost::json::value* ports = owner.if_contains("ports");
  if (ports == nullptr || !ports->is_array()) return;
  for (boost::json::value& port : ports->get_array()) {
    if (boost::json::object* fields = port.if_object()) SetIfAbsent(*fields, "protocol", "TCP");
  }
}

void DefaultContainers(boost::json::object& spec, std::string_view key) {
  boost::json::value* containers = spec.if_contains(key);
  if (containers == nullptr || !containers->is_array()) return;
  for (boost::json::value& entry : containers->get_array()) {
    boost::json::object* container = entry.if_object();
    if (container == nullptr) continue;
    SetIfAbsent(*container, "imagePullPolicy",
                boost::json::string(DefaultPullPolicy(StringOr(*container, "image", ""))));
    SetIfAbsent(*container, "terminationMessagePath", "/dev/termination-log");
    SetIfAbsent(*container, "terminationMessagePolicy", "File");
    // Not a default but always serialized by Kubernetes (a non-pointer struct), so -o yaml shows it.
    SetIfAbsent(*container, "resources", boost::json::object());
    DefaultPorts(*container);
  }
}

void DefaultPodSpec(boost::json::object& spec) {
  SetIfAbsent(spec, "restartPolicy", "Always");
  SetIfAbsent(spec, "dnsPolicy", "ClusterFirst");
  SetIfAbsent(spec, "terminationGracePeriodSeconds", 30);
  SetIfAbsent(spec, "schedulerName", "default-scheduler");
  SetIfAbsent(spec, "securityContext", boost::json::object());
  SetIfAbsent(spec, "enableServiceLinks", true);
  DefaultContainers(spec, "containers");
  DefaultContainers(spec, "initContainers");
}

// Kubernetes' DefaultTolerationSeconds admission: a pod that does not tolerate the
// not-ready/unreachable NoExecute taints tolerates them for 300 s (by default), so the
// node-lifecycle controller evicts it 5 minutes after its node fails.
void DefaultNodeFailureTolerations(boost::json::object& spec, const DefaultingOptions& options) {
  boost::json::value& tolerations = spec["tolerations"];
  if (tolerations.is_null()) tolerations = boost::json::array();
  if (!tolerations.is_array()) return;
  for (auto [taint, seconds] :
       {std::pair<std::string_view, int>{"node.kubernetes.io/not-ready",
                                         options.not_ready_toleration_seconds},
        std::pair<std::string_view, int>{"node.kubernetes.io/unreachable",
                                         options.unreachable_toleration_seconds}}) {
    bool tolerated = false;
    for (const boost::json::value& entry : tolerations.get_array()) {
      const boost::json::object* toleration = entry.if_object();
      if (toleration == nullptr) continue;
      std::string_view key = StringOr(*toleration, "key", "");
      std::string_view effect = StringOr(*toleration, "effect", "");
      if ((key == taint || key.empty()) && (effect == "NoExecute" || effect.empty())) {
        tolerated = true;
      }
    }
    if (tolerated) continue;
    tolerations.get_array().push_back(boost::json::object{{"key", taint},
                                                          {"operator", "Exists"},
                                                          {"effect", "NoExecute"},
                                                          {"tolerationSeconds", seconds}});
  }
}

void DefaultPodTemplate(boost::json::object& workload_spec) {
  boost::json::object* tmpl = EnsureObject(workload_spec, "template");
  boost::json::object* spec = tmpl ? EnsureObject(*tmpl, "spec") : nullptr;
  if (spec != nullptr) DefaultPodSpec(*spec);
}

void DefaultDeployment(boost::json::object& spec) {
  SetIfAbsent(spec, "replicas", 1);
  SetIfAbsent(spec, "revisionHistoryLimit", 10);
  SetIfAbsent(spec, "progressDeadlineSeconds", 600);
  boost::json::object* strategy = EnsureObject(spec, "strategy");
  if (strategy != nullptr) {
    SetIfAbsent(*strategy, "type", "RollingUpdate");
    if (StringOr(*strategy, "type", "") == "RollingUpdate") {
      if (boost::json::object* rolling = EnsureObject(*strategy, "rollingUpdate")) {
        SetIfAbsent(*rolling, "maxUnavailable", "25%");
        SetIfAbsent(*rolling, "maxSurge", "25%");
      }
    }
  }
  DefaultPodTemplate(spec);
}

void DefaultDaemonSet(boost::json::object& spec) {
  SetIfAbsent(spec, "revisionHistoryLimit", 10);
  boost::json::object* strategy = EnsureObject(spec, "updateStrategy");
  if (strategy != nullptr) {
    SetIfAbsent(*strategy, "type", "RollingUpdate");
    if (StringOr(*strategy, "type", "") == "RollingUpdate") {
      if (boost::json::object* rolling = EnsureObject(*strategy, "rollingUpdate")) {
        SetIfAbsent(*rolling, "maxUnavailable", 1);
        SetIfAbsent(*rolling, "maxSurge", 0);
      }
    }
  }
  DefaultPodTemplate(spec);
}

// targetPort defaults to the port; 0 and "" count as unset, as in Kubernetes.
void DefaultServicePort(boost::json::object& port) {
  SetIfAbsent(port, "protocol", "TCP");
  const boost::json::value* target = port.if_contains("targetPort");
  const bool unset = target == nullptr || target->is_null() ||
                     (target->is_int64() && target->get_int64() == 0) ||
                     (target->is_string() && target->get_string().empty());
  const boost::json::value* number = port.if_contains("port");
  if (unset && number != nullptr && number->is_number()) port["targetPort"] = *number;
}

void DefaultService(boost::json::object& spec) {
  SetIfAbsent(spec, "type", "ClusterIP");
  SetIfAbsent(spec, "sessionAffinity", "None");
  if (boost::json::value* ports = spec.if_contains("ports"); ports && ports->is_array()) {
    for (boost::json::value& port : ports->get_array()) {
      if (boost::json::object* fields = port.if_object()) DefaultServicePort(*fields);
    }
  }
  // A copy: the SetIfAbsent calls below may rehash `spec` and move the value it points into.
  const std::string type(StringOr(spec, "type", ""));
  if (type == "ExternalName") return;
  SetIfAbsent(spec, "internalTrafficPolicy", "Cluster");
  SetIfAbsent(spec, "ipFamilies", boost::json::array{"IPv4"});
  SetIfAbsent(spec, "ipFamilyPolicy", "SingleStack");
  if (type == "NodePort" || type == "LoadBalancer") {
    SetIfAbsent(spec, "externalTrafficPolicy", "Cluster");
  }
}

void DefaultNamespace(boost::json::object& object) {
  if (boost::json::object* spec = EnsureObject(object, "spec")) {
    SetIfAbsent(*spec, "finalizers", boost::json::array{"kubernetes"});
  }
  if (boost::json::object* status = EnsureObject(object, "status")) {
    SetIfAbsent(*status, "phase", "Active");
  }
}

}  // namespace

void ApplyDefaults(std::string_view group, std::string_view resource, boost::json::object& object,
                   const DefaultingOptions& options) {
  auto with_spec = [&object](auto&& apply) {
    if (boost::json::object* spec = EnsureObject(object, "spec")) apply(*spec);
  };
  if (group.empty() && resource == "namespaces") {
    DefaultNamespace(object);
  } else if (group.empty() && resource == "pods") {
    with_spec([&options](boost::json::object& spec) {
      DefaultPodSpec(spec);
      DefaultNodeFailureTolerations(spec, options);
    });
  } else if (group.empty() && resource == "services") {
    with_spec(DefaultService);
  } else if (group == "apps" && resource == "deployments") {
    with_spec(DefaultDeployment);
  } else if (group == "apps" && resource == "replicasets") {
    with_spec([](boost::json::object& spec) {
      SetIfAbsent(spec, "replicas", 1);
      DefaultPodTemplate(spec);
    });
  } else if (group == "apps" && resource == "daemonsets") {
    with_spec(DefaultDaemonSet);
  } else if (group == "autoscaling" && resource == "horizontalpodautoscalers") {
    with_spec([](boost::json::object& spec) { SetIfAbsent(spec, "minReplicas", 1); });
  }
}

}  // namespace kelp::api
