// EndpointsController: Service + pods → Endpoints subsets, written only when they change.
#include "controllers/endpoints.h"

#include <algorithm>
#include <boost/json.hpp>
#include <map>

#include "common/json.h"
#include "controllers/pod_state.h"

namespace kelp::controllers {

namespace json = boost::json;

std::optional<api::LabelSelector> ServiceSelector(const json::object& service) {
  const json::value* selector = FindPath(service, "spec.selector");
  if (selector == nullptr || !selector->is_object() || selector->get_object().empty()) {
    return std::nullopt;
  }
  Result<api::LabelSelector> parsed =
      api::LabelSelector::FromJson(json::object{{"matchLabels", *selector}});
  if (!parsed.ok()) return std::nullopt;
  return std::move(*parsed);
}

std::vector<client::ObjectPtr> SelectedPods(client::Informer& pods, const json::object& service) {
  std::vector<client::ObjectPtr> selected;
  std::optional<api::LabelSelector> selector = ServiceSelector(service);
  if (!selector) return selected;
  for (const client::ObjectPtr& pod :
       pods.ListNamespace(StringAt(service, "metadata.namespace"))) {
    if (selector->Matches(Labels(*pod))) selected.push_back(pod);
  }
  return selected;
}

json::object PodTargetRef(const json::object& pod) {
  return json::object{{"kind", "Pod"},
                      {"namespace", StringAt(pod, "metadata.namespace")},
                      {"name", StringAt(pod, "metadata.name")},
                      {"uid", StringAt(pod, "metadata.uid")}};
}

std::optional<int64_t> ResolveTargetPort(const json::object& service_port, const json::object& pod) {
  const json::value* target = service_port.if_contains("targetPort");
  if (target && target->is_int64()) return target->get_int64();
  if (target && target->is_string()) {
    const std::string name(target->get_string());
    const json::value* containers = FindPath(pod, "spec.containers");
    if (containers == nullptr || !containers->is_array()) return std::nullopt;
    for (const json::value& container : containers->get_array()) {
      const json::value* ports = container.is_object() ? container.get_object().if_contains("ports")
                                                       : nullptr;
      if (ports == nullptr || !ports->is_array()) continue;
      for (const json::value& port : ports->get_array()) {
        if (!port.is_object() || StringAt(port.get_object(), "name") != name) continue;
        const json::value* number = port.get_object().if_contains("containerPort");
        if (number && number->is_int64()) return number->get_int64();
      }
    }
    return std::nullopt;
  }
  const json::value* port = service_port.if_contains("port");
  if (port && port->is_int64()) return port->get_int64();
  return std::nullopt;
}

client::InformerHandlers ServicesOfPodHandlers(client::Informer& services,
                                               client::WorkQueue& queue) {
  auto enqueue = [&services, &queue](const client::ObjectPtr& pod) {
    for (const client::ObjectPtr& service :
         services.ListNamespace(StringAt(*pod, "metadata.namespace"))) {
      std::optional<api::LabelSelector> selector = ServiceSelector(*service);
      if (selector && selector->Matches(Labels(*pod))) queue.Add(client::ObjectKey(*service));
    }
  };
  return {.on_add = enqueue,
          .on_update =
              [enqueue](const client::ObjectPtr& old_pod, const client::ObjectPtr& new_pod) {
                enqueue(old_pod);
                enqueue(new_pod);
              },
          .on_delete = enqueue};
}

client::InformerHandlers EnqueueHandlers(client::WorkQueue& queue) {
  auto enqueue = [&queue](const client::ObjectPtr& object) {
    queue.Add(client::ObjectKey(*object));
  };
  return {.on_add = enqueue,
          .on_update = [enqueue](const client::ObjectPtr&,
                                 const client::ObjectPtr& object) { enqueue(object); },
          .on_delete = enqueue};
}

namespace {

// The ports one pod serves for the Service, in the Service's port order.
std::optional<json::array> EndpointPorts(const json::object& service, const json::object& pod) {
  json::array ports;
  const json::value* service_ports = FindPath(service, "spec.ports");
  if (service_ports == nullptr || !service_ports->is_array()) return ports;
  for (const json::value& entry : service_ports->get_array()) {
    if (!entry.is_object()) continue;
    std::optional<int64_t> target = ResolveTargetPort(entry.get_object(), pod);
    if (!target) return std::nullopt;
    json::object port{{"port", *target}};
    std::string name = StringAt(entry.get_object(), "name");
    if (!name.empty()) port["name"] = name;
    std::string protocol = StringAt(entry.get_object(), "protocol");
    port["protocol"] = protocol.empty() ? "TCP" : protocol;
    ports.push_back(std::move(port));
  }
  return ports;
}

json::object EndpointAddress(const json::object& pod) {
  json::object address{{"ip", StringAt(pod, "status.podIP")}};
  std::string node = StringAt(pod, "spec.nodeName");
  if (!node.empty()) address["nodeName"] = node;
  address["targetRef"] = PodTargetRef(pod);
  return address;
}

bool ByIp(const json::value& a, const json::value& b) {
  return StringAt(a.get_object(), "ip") < StringAt(b.get_object(), "ip");
}

}  // namespace

EndpointsController::EndpointsController(ControllerContext& context)
    : context_(context),
      services_(context.informers.For(client::kServices)),
      pods_(context.informers.For(client::kPods)),
      queue_(context.clock),
      workers_(queue_, [this](const std::string& key) { return Sync(key); }, "endpoints") {
  services_.AddHandlers(EnqueueHandlers(queue_));
  pods_.AddHandlers(ServicesOfPodHandlers(services_, queue_));
}

void EndpointsController::Start() { workers_.Start(context_.options.workers); }
void EndpointsController::Stop() { workers_.Stop(); }

Status EndpointsController::Sync(const std::string& key) {
  auto [namespace_name, name] = client::SplitKey(key);
  client::ObjectPtr service = services_.Get(key);
  if (service == nullptr) {
    Status deleted = context_.client.Delete(client::kEndpoints, namespace_name, name, {});
    return deleted.code() == StatusCode::kNotFound ? Status::Ok() : deleted;
  }
  if (!ServiceSelector(*service)) return Status::Ok();
  // Pods with the same ports share a subset, as Kubernetes repacks them.
  std::map<std::string, json::object> subsets;
  for (const client::ObjectPtr& pod : SelectedPods(pods_, *service)) {
    const std::string phase = StringAt(*pod, "status.phase");
    if (StringAt(*pod, "status.podIP").empty() || IsBeingDeleted(*pod) || phase == "Succeeded" ||
        phase == "Failed") {
      continue;
    }
    std::optional<json::array> ports = EndpointPorts(*service, *pod);
    if (!ports) continue;
    json::object& subset = subsets[json::serialize(*ports)];
    if (!ports->empty()) subset["ports"] = *ports;
    const bool ready = IsPodReady(*pod);
    json::value& list = subset[ready ? "addresses" : "notReadyAddresses"];
    if (!list.is_array()) list = json::array();
    list.as_array().push_back(EndpointAddress(*pod));
  }
  json::array desired;
  for (auto& [ports, subset] : subsets) {
    for (const char* field : {"addresses", "notReadyAddresses"}) {
      if (json::value* list = subset.if_contains(field)) {
        std::sort(list->as_array().begin(), list->as_array().end(), ByIp);
      }
    }
    desired.push_back(std::move(subset));
  }
  json::object labels;
  if (const json::object* service_labels = Labels(*service)) labels = *service_labels;

  Result<json::object> current = context_.client.Get(client::kEndpoints, namespace_name, name);
  if (!current.ok() && current.status().code() != StatusCode::kNotFound) return current.status();
  if (!current.ok()) {
    json::object endpoints{{"apiVersion", "v1"},
                           {"kind", "Endpoints"},
                           {"metadata", json::object{{"name", name},
                                                     {"namespace", namespace_name},
                                                     {"labels", labels}}}};
    if (!desired.empty()) endpoints["subsets"] = desired;
    return context_.client.Create(client::kEndpoints, namespace_name, endpoints).status();
  }
  const json::value* current_subsets = current->if_contains("subsets");
  const json::value* current_labels = FindPath(*current, "metadata.labels");
  const bool same_subsets = current_subsets ? *current_subsets == json::value(desired)
                                            : desired.empty();
  const bool same_labels =
      current_labels ? *current_labels == json::value(labels) : labels.empty();
  if (same_subsets && same_labels) return Status::Ok();
  json::object updated = std::move(*current);
  if (desired.empty()) {
    updated.erase("subsets");
  } else {
    updated["subsets"] = std::move(desired);
  }
  updated["metadata"].as_object()["labels"] = std::move(labels);
  return context_.client.Update(client::kEndpoints, updated).status();
}

}  // namespace kelp::controllers
