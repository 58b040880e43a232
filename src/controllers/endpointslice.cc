// EndpointSliceController: Service + pods → the desired slices (grouped by ports, chunked by
// 100), matched against the slices the controller already manages: equal ones are kept,
// others rewritten, missing ones created, surplus ones deleted.
#include "controllers/endpointslice.h"

#include <algorithm>
#include <boost/json.hpp>
#include <map>

#include "common/json.h"
#include "controllers/endpoints.h"
#include "controllers/pod_state.h"

namespace kelp::controllers {

namespace json = boost::json;

namespace {

std::optional<json::array> SlicePorts(const json::object& service, const json::object& pod) {
  json::array ports;
  const json::value* service_ports = FindPath(service, "spec.ports");
  if (service_ports == nullptr || !service_ports->is_array()) return ports;
  for (const json::value& entry : service_ports->get_array()) {
    if (!entry.is_object()) continue;
    std::optional<int64_t> target = ResolveTargetPort(entry.get_object(), pod);
    if (!target) return std::nullopt;
    std::string protocol = StringAt(entry.get_object(), "protocol");
    ports.push_back(json::object{{"name", StringAt(entry.get_object(), "name")},
                                 {"port", *target},
                                 {"protocol", protocol.empty() ? "TCP" : protocol}});
  }
  return ports;
}

json::object SliceEndpoint(const json::object& pod) {
  const bool ready = IsPodReady(pod);
  const bool terminating = IsBeingDeleted(pod);
  json::object endpoint{{"addresses", json::array{json::string(StringAt(pod, "status.podIP"))}},
                        {"conditions", json::object{{"ready", ready && !terminating},
                                                    {"serving", ready},
                                                    {"terminating", terminating}}}};
  std::string node = StringAt(pod, "spec.nodeName");
  if (!node.empty()) endpoint["nodeName"] = node;
  endpoint["targetRef"] = PodTargetRef(pod);
  return endpoint;
}

struct DesiredSlice {
  json::array ports;
  json::array endpoints;
};

}  // namespace

EndpointSliceController::EndpointSliceController(ControllerContext& context)
    : context_(context),
      services_(context.informers.For(client::kServices)),
      pods_(context.informers.For(client::kPods)),
      queue_(context.clock),
      workers_(queue_, [this](const std::string& key) { return Sync(key); }, "endpointslice") {
  services_.AddHandlers(EnqueueHandlers(queue_));
  pods_.AddHandlers(ServicesOfPodHandlers(services_, queue_));
}

void EndpointSliceController::Start() { workers_.Start(context_.options.workers); }
void EndpointSliceController::Stop() { workers_.Stop(); }

Status EndpointSliceController::Sync(const std::string& key) {
  auto [namespace_name, name] = client::SplitKey(key);
  client::ObjectPtr service = services_.Get(key);
  if (service == nullptr || IsBeingDeleted(*service) || !ServiceSelector(*service)) {
    return Status::Ok();
  }
  std::map<std::string, DesiredSlice> by_ports;
  std::vector<client::ObjectPtr> pods = SelectedPods(pods_, *service);
  std::sort(pods.begin(), pods.end(), [](const client::ObjectPtr& a, const client::ObjectPtr& b) {
    return StringAt(*a, "metadata.name") < StringAt(*b, "metadata.name");
  });
  for (const client::ObjectPtr& pod : pods) {
    const std::string phase = StringAt(*pod, "status.phase");
    if (StringAt(*pod, "status.podIP").empty() || phase == "Succeeded" || phase == "Failed") {
      continue;
    }
    std::optional<json::array> ports = SlicePorts(*service, *pod);
    if (!ports) continue;
    DesiredSlice& slice = by_ports[json::serialize(*ports)];
    slice.ports = *ports;
    slice.endpoints.push_back(SliceEndpoint(*pod));
  }
  std::vector<DesiredSlice> desired;
  for (auto& [unused, group] : by_ports) {
    for (size_t begin = 0; begin < group.endpoints.size(); begin += kMaxEndpointsPerSlice) {
      size_t end = std::min(group.endpoints.size(), begin + kMaxEndpointsPerSlice);
      desired.push_back({.ports = group.ports,
                         .endpoints = json::array(group.endpoints.begin() + begin,
                                                  group.endpoints.begin() + end)});
    }
  }
  if (desired.empty()) desired.push_back({});  // the placeholder slice

  json::object labels;
  if (const json::object* service_labels = Labels(*service)) labels = *service_labels;
  labels[kServiceNameLabel] = name;
  labels[kManagedByLabel] = kEndpointSliceController;

  client::ListOptions options{.label_selector = std::string(kServiceNameLabel) + "=" + name + "," +
                                                std::string(kManagedByLabel) + "=" +
                                                std::string(kEndpointSliceController)};
  KELP_ASSIGN_OR_RETURN(client::ListResult existing,
                        context_.client.List(client::kEndpointSlices, namespace_name, options));
  const json::object owner{{"apiVersion", "v1"},
                           {"kind", "Service"},
                           {"name", name},
                           {"uid", StringAt(*service, "metadata.uid")},
                           {"controller", true},
                           {"blockOwnerDeletion", true}};
  // Slices that already hold a desired slice stay as they are; the others are rewritten.
  auto matches = [&labels](const json::object& slice, const DesiredSlice& wanted) {
    const json::value* labels_now = FindPath(slice, "metadata.labels");
    const json::value* endpoints = slice.if_contains("endpoints");
    const json::value* ports = slice.if_contains("ports");
    return endpoints && *endpoints == json::value(wanted.endpoints) && ports &&
           *ports == json::value(wanted.ports) && labels_now && *labels_now == json::value(labels);
  };
  std::vector<bool> kept(existing.items.size(), false);
  std::vector<const DesiredSlice*> unplaced;
  for (const DesiredSlice& wanted : desired) {
    bool placed = false;
    for (size_t i = 0; i < existing.items.size() && !placed; ++i) {
      if (!kept[i] && matches(existing.items[i], wanted)) placed = kept[i] = true;
    }
    if (!placed) unplaced.push_back(&wanted);
  }
  size_t reuse = 0;
  for (const DesiredSlice* wanted : unplaced) {
    while (reuse < existing.items.size() && kept[reuse]) ++reuse;
    if (reuse < existing.items.size()) {
      json::object& slice = existing.items[reuse];
      kept[reuse] = true;
      slice["endpoints"] = wanted->endpoints;
      slice["ports"] = wanted->ports;
      slice["metadata"].as_object()["labels"] = labels;
      KELP_RETURN_IF_ERROR(context_.client.Update(client::kEndpointSlices, slice).status());
      continue;
    }
    json::object slice{{"apiVersion", "discovery.k8s.io/v1"},
                       {"kind", "EndpointSlice"},
                       {"metadata", json::object{{"generateName", name + "-"},
                                                 {"namespace", namespace_name},
                                                 {"labels", labels},
                                                 {"ownerReferences", json::array{owner}}}},
                       {"addressType", "IPv4"},
                       {"endpoints", wanted->endpoints},
                       {"ports", wanted->ports}};
    KELP_RETURN_IF_ERROR(
        context_.client.Create(client::kEndpointSlices, namespace_name, slice).status());
  }
  for (size_t i = 0; i < existing.items.size(); ++i) {
    if (kept[i]) continue;
    Status deleted = context_.client.Delete(client::kEndpointSlices, namespace_name,
                                            StringAt(existing.items[i], "metadata.name"), {});
    if (!deleted.ok() && deleted.code() != StatusCode::kNotFound) return deleted;
  }
  return Status::Ok();
}

}  // namespace kelp::controllers
