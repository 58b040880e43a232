// Table printers: one row printer and one column list per resource, chosen by (group,
// resource); cell formats follow Kubernetes' own printers so `kubectl get` reads the same as
// on a real cluster. Fields are read leniently: an absent or mistyped field reads as empty,
// zero or <none>, so any stored object prints.
#include "api/printers.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <boost/json/array.hpp>
#include <boost/json/serializer.hpp>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <utility>

#include "api/duration.h"
#include "common/json.h"

namespace kelp::api {
namespace {

namespace json = boost::json;
using TimePoint = std::chrono::system_clock::time_point;

constexpr std::string_view kNoneCell = "<none>";
constexpr std::string_view kUnknownCell = "<unknown>";

// ---- Lenient field access ----

std::string StringAt(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  if (value == nullptr) return "";
  if (const json::string* text = value->if_string()) return std::string(*text);
  return "";
}

std::optional<std::int64_t> OptionalIntAt(const json::object& object, std::string_view path) {
  Result<std::optional<std::int64_t>> value = FindInt64(object, path);
  return value.ok() ? *value : std::nullopt;
}

std::int64_t IntAt(const json::object& object, std::string_view path) {
  return OptionalIntAt(object, path).value_or(0);
}

bool IsTrue(const json::object& object, std::string_view path) {
  Result<std::optional<bool>> value = FindBool(object, path);
  return value.ok() && value->value_or(false);
}

const json::object* ObjectAt(const json::object& object, std::string_view path) {
  Result<const json::object*> value = FindObject(object, path);
  return value.ok() ? *value : nullptr;
}

// The object elements of the array at `path` (other elements are skipped).
std::vector<const json::object*> ObjectsAt(const json::object& object, std::string_view path) {
  std::vector<const json::object*> objects;
  Result<const json::array*> array = FindArray(object, path);
  if (!array.ok() || *array == nullptr) return objects;
  for (const json::value& element : **array) {
    if (const json::object* item = element.if_object()) objects.push_back(item);
  }
  return objects;
}

std::vector<std::string> StringsAt(const json::object& object, std::string_view path) {
  std::vector<std::string> strings;
  Result<const json::array*> array = FindArray(object, path);
  if (!array.ok() || *array == nullptr) return strings;
  for (const json::value& element : **array) {
    if (const json::string* text = element.if_string()) strings.emplace_back(*text);
  }
  return strings;
}

// Number of members of the object (or elements of the array) at `path`.
std::int64_t CountAt(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  if (value == nullptr) return 0;
  if (const json::object* members = value->if_object()) return std::ssize(*members);
  if (const json::array* elements = value->if_array()) return std::ssize(*elements);
  return 0;
}

// A scalar as text: strings as they are, numbers as JSON writes them (quantities, ports).
std::optional<std::string> ScalarTextAt(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  if (value == nullptr) return std::nullopt;
  if (const json::string* text = value->if_string()) return std::string(*text);
  if (value->is_number()) return SerializeJson(*value);
  return std::nullopt;
}

std::string NoneIfEmpty(std::string text) { return text.empty() ? std::string(kNoneCell) : text; }

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  return fmt::format("{}", fmt::join(parts, separator));
}

std::string Age(const json::object& object, TimePoint now) {
  return AgeSince(StringAt(object, "metadata.creationTimestamp"), now);
}

std::string Name(const json::object& object) { return StringAt(object, "metadata.name"); }

// ---- Shared cell formats ----

// "a=1,b=2" with keys sorted, or <none> (labels.FormatLabels).
std::string FormatLabels(const json::object* labels) {
  if (labels == nullptr || labels->empty()) return std::string(kNoneCell);
  std::vector<std::string> pairs;
  for (const auto& member : *labels) {
    const json::string* value = member.value().if_string();
    pairs.push_back(fmt::format("{}={}", std::string_view(member.key()),
                                value ? std::string_view(*value) : std::string_view()));
  }
  std::sort(pairs.begin(), pairs.end());
  return Join(pairs, ",");
}

// One requirement of a label selector as Kubernetes writes it, or nullopt when invalid.
std::optional<std::string> SelectorRequirementText(const json::object& expression) {
  const std::string key = StringAt(expression, "key");
  const std::string op = StringAt(expression, "operator");
  std::vector<std::string> values = StringsAt(expression, "values");
  std::sort(values.begin(), values.end());
  if (op == "Exists" && values.empty()) return key;
  if (op == "DoesNotExist" && values.empty()) return "!" + key;
  if (values.empty()) return std::nullopt;
  if (op == "In") return fmt::format("{} in ({})", key, Join(values, ","));
  if (op == "NotIn") return fmt::format("{} notin ({})", key, Join(values, ","));
  return std::nullopt;
}

// metav1.LabelSelectorAsSelector(...).String(): requirements sorted by key; "" for an absent
// or empty selector; nullopt for an invalid one.
std::optional<std::string> SelectorText(const json::object* selector) {
  if (selector == nullptr) return "";
  std::vector<std::pair<std::string, std::string>> requirements;  // key, text
  if (const json::object* match_labels = ObjectAt(*selector, "matchLabels")) {
    for (const auto& member : *match_labels) {
      const json::string* value = member.value().if_string();
      if (value == nullptr) return std::nullopt;
      std::string key(member.key());
      requirements.emplace_back(key, fmt::format("{}={}", key, std::string_view(*value)));
    }
  }
  for (const json::object* expression : ObjectsAt(*selector, "matchExpressions")) {
    std::optional<std::string> text = SelectorRequirementText(*expression);
    if (!text) return std::nullopt;
    requirements.emplace_back(StringAt(*expression, "key"), *text);
  }
  std::stable_sort(requirements.begin(), requirements.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> texts;
  for (auto& requirement : requirements) texts.push_back(std::move(requirement.second));
  return Join(texts, ",");
}

// metav1.FormatLabelSelector: the selector text, <none> when empty, <error> when invalid.
std::string FormatLabelSelector(const json::object* selector) {
  std::optional<std::string> text = SelectorText(selector);
  if (!text) return "<error>";
  return NoneIfEmpty(*text);
}

// CONTAINERS and IMAGES cells of a pod template: comma-separated, in spec order.
std::pair<std::string, std::string> ContainerCells(const json::object& object,
                                                   std::string_view containers_path) {
  std::vector<std::string> names;
  std::vector<std::string> images;
  for (const json::object* container : ObjectsAt(object, containers_path)) {
    names.push_back(StringAt(*container, "name"));
    images.push_back(StringAt(*container, "image"));
  }
  return {Join(names, ","), Join(images, ",")};
}

// "a,b,c + 2 more..." for lists cut at `maximum` entries; `empty_text` for no entries.
std::string ListWithMore(const std::vector<std::string>& entries, std::size_t maximum,
                         std::string_view empty_text) {
  if (entries.empty()) return std::string(empty_text);
  if (entries.size() <= maximum) return Join(entries, ",");
  std::vector<std::string> shown(entries.begin(),
                                 entries.begin() + static_cast<std::ptrdiff_t>(maximum));
  return fmt::format("{} + {} more...", Join(shown, ","), entries.size() - maximum);
}

std::string JoinHostPort(std::string_view host, std::int64_t port) {
  if (host.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

// ---- Columns and rows ----

struct Column {
  std::string_view name;
  std::string_view type;
  std::string_view description;
  int priority = 0;
  std::string_view format = {};
};

constexpr Column kNameColumn{"Name", "string", "Name of the object, unique in its namespace.", 0,
                             "name"};
constexpr Column kAgeColumn{"Age", "string", "Time since the object was created.", 0};
constexpr Column kContainersColumn{"Containers", "string",
                                   "Names of the containers in the pod template.", 1};
constexpr Column kImagesColumn{"Images", "string", "Images of the containers in the pod template.",
                               1};
constexpr Column kSelectorColumn{"Selector", "string", "Label selector of the pods it manages.", 1};

struct Row {
  json::array cells;
  json::array conditions;  // only pods that finished carry one
};

using RowPrinter = Row (*)(const json::object& object, TimePoint now);

// ---- Pods ----

struct PodContainerTally {
  std::int64_t ready = 0;
  std::int64_t restarts = 0;
  std::optional<TimePoint> last_restart;  // latest lastState.terminated.finishedAt
};

void NoteRestarts(const json::object& status, PodContainerTally& tally) {
  tally.restarts += IntAt(status, "restartCount");
  if (ObjectAt(status, "lastState.terminated") == nullptr) return;
  std::optional<TimePoint> finished =
      ParseRfc3339(StringAt(status, "lastState.terminated.finishedAt"));
  if (finished && (!tally.last_restart || *tally.last_restart < *finished)) {
    tally.last_restart = finished;
  }
}

// "Completed", or "Signal:9" / "ExitCode:1" when the runtime gave no reason; with a prefix.
std::string TerminatedReason(const json::object& terminated, std::string_view prefix) {
  std::string reason = StringAt(terminated, "reason");
  if (!reason.empty()) return fmt::format("{}{}", prefix, reason);
  if (std::int64_t signal = IntAt(terminated, "signal"); signal != 0) {
    return fmt::format("{}Signal:{}", prefix, signal);
  }
  return fmt::format("{}ExitCode:{}", prefix, IntAt(terminated, "exitCode"));
}

bool HasTrueCondition(const json::object& pod, std::string_view type) {
  for (const json::object* condition : ObjectsAt(pod, "status.conditions")) {
    if (StringAt(*condition, "type") == type && StringAt(*condition, "status") == "True") {
      return true;
    }
  }
  return false;
}

std::set<std::string> RestartableInitContainerNames(const json::object& pod) {
  std::set<std::string> names;
  for (const json::object* container : ObjectsAt(pod, "spec.initContainers")) {
    if (StringAt(*container, "restartPolicy") == "Always") {
      names.insert(StringAt(*container, "name"));
    }
  }
  return names;
}

struct PodStatusSummary {
  std::string reason;
  std::int64_t ready = 0;
  std::int64_t total = 0;
  PodContainerTally tally;
};

// Walks init container statuses; returns true while the pod is still initializing (and sets
// the Init:... reason). Sidecars (restartable init containers) that started count as ready.
bool SummarizeInitContainers(const json::object& pod, PodStatusSummary& summary,
                             PodContainerTally& sidecars) {
  const std::set<std::string> restartable = RestartableInitContainerNames(pod);
  const std::int64_t init_count = CountAt(pod, "spec.initContainers");
  std::int64_t index = 0;
  for (const json::object* status : ObjectsAt(pod, "status.initContainerStatuses")) {
    const std::int64_t position = index++;
    NoteRestarts(*status, summary.tally);
    const bool is_sidecar = restartable.contains(StringAt(*status, "name"));
    if (is_sidecar) NoteRestarts(*status, sidecars);
    const json::object* terminated = ObjectAt(*status, "state.terminated");
    if (terminated != nullptr && IntAt(*terminated, "exitCode") == 0) continue;
    if (is_sidecar && IsTrue(*status, "started")) {
      if (IsTrue(*status, "ready")) ++summary.ready;
      continue;
    }
    const std::string waiting_reason = StringAt(*status, "state.waiting.reason");
    if (terminated != nullptr) {
      summary.reason = TerminatedReason(*terminated, "Init:");
    } else if (!waiting_reason.empty() && waiting_reason != "PodInitializing") {
      summary.reason = "Init:" + waiting_reason;
    } else {
      summary.reason = fmt::format("Init:{}/{}", position, init_count);
    }
    return true;
  }
  return false;
}

// Walks app container statuses (last to first, as kubectl does, so the first container's
// state wins the STATUS cell).
void SummarizeContainers(const json::object& pod, PodStatusSummary& summary) {
  std::vector<const json::object*> statuses = ObjectsAt(pod, "status.containerStatuses");
  bool has_running = false;
  for (auto it = statuses.rbegin(); it != statuses.rend(); ++it) {
    const json::object& status = **it;
    NoteRestarts(status, summary.tally);
    const std::string waiting_reason = StringAt(status, "state.waiting.reason");
    const json::object* terminated = ObjectAt(status, "state.terminated");
    if (!waiting_reason.empty()) {
      summary.reason = waiting_reason;
    } else if (terminated != nullptr) {
      summary.reason = TerminatedReason(*terminated, "");
    } else if (IsTrue(status, "ready") && ObjectAt(status, "state.running") != nullptr) {
      has_running = true;
      ++summary.ready;
    }
  }
  if (summary.reason == "Completed" && has_running) {
    summary.reason = HasTrueCondition(pod, "Ready") ? "Running" : "NotReady";
  }
}

PodStatusSummary SummarizePod(const json::object& pod) {
  PodStatusSummary summary;
  const std::string phase = StringAt(pod, "status.phase");
  const std::string status_reason = StringAt(pod, "status.reason");
  summary.reason = status_reason.empty() ? phase : status_reason;
  for (const json::object* condition : ObjectsAt(pod, "status.conditions")) {
    if (StringAt(*condition, "type") == "PodScheduled" &&
        StringAt(*condition, "reason") == "SchedulingGated") {
      summary.reason = "SchedulingGated";
    }
  }
  summary.total = CountAt(pod, "spec.containers") + std::ssize(RestartableInitContainerNames(pod));

  PodContainerTally sidecars;
  const bool initializing = SummarizeInitContainers(pod, summary, sidecars);
  if (!initializing || HasTrueCondition(pod, "Initialized")) {
    summary.tally.restarts = sidecars.restarts;
    summary.tally.last_restart = sidecars.last_restart;
    SummarizeContainers(pod, summary);
  }

  const bool deleting = !StringAt(pod, "metadata.deletionTimestamp").empty();
  const bool terminal = phase == "Succeeded" || phase == "Failed";
  if (deleting && status_reason == "NodeLost") {
    summary.reason = "Unknown";
  } else if (deleting && !terminal) {
    summary.reason = "Terminating";
  }
  return summary;
}

std::string RestartsCell(const PodContainerTally& tally, TimePoint now) {
  if (tally.restarts == 0 || !tally.last_restart) return std::to_string(tally.restarts);
  return fmt::format("{} ({} ago)", tally.restarts,
                     HumanDuration(std::chrono::duration_cast<std::chrono::nanoseconds>(
                         now - *tally.last_restart)));
}

std::string PodIp(const json::object& pod) {
  std::vector<const json::object*> ips = ObjectsAt(pod, "status.podIPs");
  std::string ip = ips.empty() ? StringAt(pod, "status.podIP") : StringAt(*ips.front(), "ip");
  return NoneIfEmpty(std::move(ip));
}

// "1/2": readiness gates whose condition is True, of all gates; <none> without gates.
std::string ReadinessGatesCell(const json::object& pod) {
  std::vector<const json::object*> gates = ObjectsAt(pod, "spec.readinessGates");
  if (gates.empty()) return std::string(kNoneCell);
  std::int64_t satisfied = 0;
  for (const json::object* gate : gates) {
    if (HasTrueCondition(pod, StringAt(*gate, "conditionType"))) ++satisfied;
  }
  return fmt::format("{}/{}", satisfied, gates.size());
}

json::array PodConditions(std::string_view phase) {
  if (phase == "Succeeded") {
    return {json::object{{"type", "Completed"},
                         {"status", "True"},
                         {"reason", "Succeeded"},
                         {"message", "The pod has completed successfully."}}};
  }
  if (phase == "Failed") {
    return {json::object{{"type", "Completed"},
                         {"status", "True"},
                         {"reason", "Failed"},
                         {"message", "The pod failed."}}};
  }
  return {};
}

constexpr std::array kPodColumns{
    kNameColumn,
    Column{"Ready", "string", "Ready containers of all containers in the pod."},
    Column{"Status", "string", "Summary of the pod's phase and its containers' states."},
    Column{"Restarts", "string", "Container restarts, and how long ago the last one was."},
    kAgeColumn,
    Column{"IP", "string", "IP address of the pod.", 1},
    Column{"Node", "string", "Node the pod is bound to.", 1},
    Column{"Nominated Node", "string", "Node the scheduler nominated for preemption.", 1},
    Column{"Readiness Gates", "string", "Readiness gates whose condition is True, of all.", 1},
};

Row PrintPod(const json::object& pod, TimePoint now) {
  const PodStatusSummary summary = SummarizePod(pod);
  return {
      json::array{Name(pod), fmt::format("{}/{}", summary.ready, summary.total), summary.reason,
                  RestartsCell(summary.tally, now), Age(pod, now), PodIp(pod),
                  NoneIfEmpty(StringAt(pod, "spec.nodeName")),
                  NoneIfEmpty(StringAt(pod, "status.nominatedNodeName")), ReadinessGatesCell(pod)},
      PodConditions(StringAt(pod, "status.phase"))};
}

// ---- Services, endpoints, endpoint slices ----

std::string ServiceType(const json::object& service) {
  std::string type = StringAt(service, "spec.type");
  return type.empty() ? "ClusterIP" : type;  // the API's default
}

std::string ClusterIp(const json::object& service) {
  std::vector<std::string> ips = StringsAt(service, "spec.clusterIPs");
  std::string ip = ips.empty() ? StringAt(service, "spec.clusterIP") : ips.front();
  return NoneIfEmpty(std::move(ip));
}

std::string LoadBalancerExternalIp(const json::object& service) {
  std::set<std::string> ingress_points;
  for (const json::object* ingress : ObjectsAt(service, "status.loadBalancer.ingress")) {
    std::string ip = StringAt(*ingress, "ip");
    std::string point = ip.empty() ? StringAt(*ingress, "hostname") : ip;
    if (!point.empty()) ingress_points.insert(std::move(point));
  }
  std::vector<std::string> addresses(ingress_points.begin(), ingress_points.end());
  for (std::string& ip : StringsAt(service, "spec.externalIPs")) addresses.push_back(ip);
  return addresses.empty() ? "<pending>" : Join(addresses, ",");
}

std::string ExternalIp(const json::object& service) {
  const std::string type = ServiceType(service);
  if (type == "ClusterIP" || type == "NodePort") {
    return NoneIfEmpty(Join(StringsAt(service, "spec.externalIPs"), ","));
  }
  if (type == "LoadBalancer") return LoadBalancerExternalIp(service);
  if (type == "ExternalName") return StringAt(service, "spec.externalName");
  return std::string(kUnknownCell);
}

// "80/TCP", or "80:30080/TCP" with a node port; comma-separated; <none> without ports.
std::string ServicePorts(const json::object& service) {
  std::vector<std::string> ports;
  for (const json::object* port : ObjectsAt(service, "spec.ports")) {
    std::string protocol = StringAt(*port, "protocol");
    if (protocol.empty()) protocol = "TCP";  // the API's default
    const std::int64_t node_port = IntAt(*port, "nodePort");
    ports.push_back(node_port > 0
                        ? fmt::format("{}:{}/{}", IntAt(*port, "port"), node_port, protocol)
                        : fmt::format("{}/{}", IntAt(*port, "port"), protocol));
  }
  return NoneIfEmpty(Join(ports, ","));
}

constexpr std::array kServiceColumns{
    kNameColumn,
    Column{"Type", "string", "How the service is exposed (ClusterIP, NodePort, ...)."},
    Column{"Cluster-IP", "string", "Virtual IP of the service inside the cluster."},
    Column{"External-IP", "string", "Addresses reaching the service from outside."},
    Column{"Port(s)", "string", "Service ports, with node ports, and protocols."},
    kAgeColumn,
    Column{"Selector", "string", "Labels of the pods that back the service.", 1},
};

Row PrintService(const json::object& service, TimePoint now) {
  return {json::array{Name(service), ServiceType(service), ClusterIp(service), ExternalIp(service),
                      ServicePorts(service), Age(service, now),
                      FormatLabels(ObjectAt(service, "spec.selector"))},
          {}};
}

// "ip:port" for every address and port of every subset (bare IPs for subsets without
// ports), at most three, then " + N more..."; <none> without subsets.
std::string EndpointsCell(const json::object& endpoints) {
  std::vector<const json::object*> subsets = ObjectsAt(endpoints, "subsets");
  if (subsets.empty()) return std::string(kNoneCell);
  std::vector<std::string> entries;
  for (const json::object* subset : subsets) {
    std::vector<const json::object*> addresses = ObjectsAt(*subset, "addresses");
    std::vector<const json::object*> ports = ObjectsAt(*subset, "ports");
    if (ports.empty()) {
      for (const json::object* address : addresses) entries.push_back(StringAt(*address, "ip"));
      continue;
    }
    for (const json::object* port : ports) {
      for (const json::object* address : addresses) {
        entries.push_back(JoinHostPort(StringAt(*address, "ip"), IntAt(*port, "port")));
      }
    }
  }
  return ListWithMore(entries, 3, "");
}

constexpr std::array kEndpointsColumns{
    kNameColumn,
    Column{"Endpoints", "string", "Addresses and ports of the ready endpoints."},
    kAgeColumn,
};

Row PrintEndpoints(const json::object& endpoints, TimePoint now) {
  return {json::array{Name(endpoints), EndpointsCell(endpoints), Age(endpoints, now)}, {}};
}

std::string EndpointSlicePorts(const json::object& slice) {
  std::vector<std::string> ports;
  for (const json::object* port : ObjectsAt(slice, "ports")) {
    if (std::optional<std::int64_t> number = OptionalIntAt(*port, "port")) {
      ports.push_back(std::to_string(*number));
    } else if (std::string name = StringAt(*port, "name"); !name.empty()) {
      ports.push_back(std::move(name));
    } else {
      ports.emplace_back("*");
    }
  }
  return ListWithMore(ports, 3, "<unset>");
}

std::string EndpointSliceAddresses(const json::object& slice) {
  std::vector<std::string> addresses;
  for (const json::object* endpoint : ObjectsAt(slice, "endpoints")) {
    for (std::string& address : StringsAt(*endpoint, "addresses")) {
      addresses.push_back(std::move(address));
    }
  }
  return ListWithMore(addresses, 3, "<unset>");
}

constexpr std::array kEndpointSliceColumns{
    kNameColumn,
    Column{"AddressType", "string", "Kind of the addresses (IPv4, IPv6, FQDN)."},
    Column{"Ports", "string", "Ports of the endpoints."},
    Column{"Endpoints", "string", "Addresses of the endpoints."},
    kAgeColumn,
};

Row PrintEndpointSlice(const json::object& slice, TimePoint now) {
  return {json::array{Name(slice), StringAt(slice, "addressType"), EndpointSlicePorts(slice),
                      EndpointSliceAddresses(slice), Age(slice, now)},
          {}};
}

// ---- Nodes and namespaces ----

std::string NodeStatus(const json::object& node) {
  std::string status = "Unknown";
  for (const json::object* condition : ObjectsAt(node, "status.conditions")) {
    if (StringAt(*condition, "type") != "Ready") continue;
    status = StringAt(*condition, "status") == "True" ? "Ready" : "NotReady";
  }
  if (IsTrue(node, "spec.unschedulable")) status += ",SchedulingDisabled";
  return status;
}

// Roles from "node-role.kubernetes.io/<role>" label keys and the "kubernetes.io/role" value.
std::string NodeRoles(const json::object& node) {
  constexpr std::string_view kRolePrefix = "node-role.kubernetes.io/";
  std::set<std::string> roles;
  if (const json::object* labels = ObjectAt(node, "metadata.labels")) {
    for (const auto& member : *labels) {
      std::string_view key = member.key();
      const json::string* value = member.value().if_string();
      if (key.starts_with(kRolePrefix) && key.size() > kRolePrefix.size()) {
        roles.emplace(key.substr(kRolePrefix.size()));
      } else if (key == "kubernetes.io/role" && value != nullptr && !value->empty()) {
        roles.emplace(*value);
      }
    }
  }
  return NoneIfEmpty(Join(std::vector<std::string>(roles.begin(), roles.end()), ","));
}

std::string NodeAddress(const json::object& node, std::string_view type) {
  for (const json::object* address : ObjectsAt(node, "status.addresses")) {
    if (StringAt(*address, "type") == type) return StringAt(*address, "address");
  }
  return std::string(kNoneCell);
}

std::string UnknownIfEmpty(std::string text) {
  return text.empty() ? std::string(kUnknownCell) : text;
}

constexpr std::array kNodeColumns{
    kNameColumn,
    Column{"Status", "string", "Readiness of the node, and whether it takes new pods."},
    Column{"Roles", "string", "Roles of the node, from its node-role labels."},
    kAgeColumn,
    Column{"Version", "string", "Kubelet version the node reports."},
    Column{"Internal-IP", "string", "Internal address of the node.", 1},
    Column{"External-IP", "string", "External address of the node.", 1},
    Column{"OS-Image", "string", "Operating system image of the node.", 1},
    Column{"Kernel-Version", "string", "Kernel version of the node.", 1},
    Column{"Container-Runtime", "string", "Container runtime and its version.", 1},
};

Row PrintNode(const json::object& node, TimePoint now) {
  return {json::array{Name(node), NodeStatus(node), NodeRoles(node), Age(node, now),
                      StringAt(node, "status.nodeInfo.kubeletVersion"),
                      NodeAddress(node, "InternalIP"), NodeAddress(node, "ExternalIP"),
                      UnknownIfEmpty(StringAt(node, "status.nodeInfo.osImage")),
                      UnknownIfEmpty(StringAt(node, "status.nodeInfo.kernelVersion")),
                      UnknownIfEmpty(StringAt(node, "status.nodeInfo.containerRuntimeVersion"))},
          {}};
}

constexpr std::array kNamespaceColumns{
    kNameColumn,
    Column{"Status", "string", "Phase of the namespace (Active, Terminating)."},
    kAgeColumn,
};

Row PrintNamespace(const json::object& ns, TimePoint now) {
  return {json::array{Name(ns), StringAt(ns, "status.phase"), Age(ns, now)}, {}};
}

// ---- Config and identity ----

constexpr std::array kConfigMapColumns{
    kNameColumn,
    Column{"Data", "string", "Number of keys in data and binaryData."},
    kAgeColumn,
};

Row PrintConfigMap(const json::object& config_map, TimePoint now) {
  return {
      json::array{Name(config_map), CountAt(config_map, "data") + CountAt(config_map, "binaryData"),
                  Age(config_map, now)},
      {}};
}

constexpr std::array kSecretColumns{
    kNameColumn,
    Column{"Type", "string", "Type of the secret's content."},
    Column{"Data", "string", "Number of keys in data."},
    kAgeColumn,
};

Row PrintSecret(const json::object& secret, TimePoint now) {
  return {json::array{Name(secret), StringAt(secret, "type"), CountAt(secret, "data"),
                      Age(secret, now)},
          {}};
}

constexpr std::array kServiceAccountColumns{
    kNameColumn,
    Column{"Secrets", "string", "Number of secrets the service account lists."},
    kAgeColumn,
};

Row PrintServiceAccount(const json::object& account, TimePoint now) {
  return {json::array{Name(account), CountAt(account, "secrets"), Age(account, now)}, {}};
}

constexpr std::array kLeaseColumns{
    kNameColumn,
    Column{"Holder", "string", "Identity of the current holder of the lease."},
    kAgeColumn,
};

Row PrintLease(const json::object& lease, TimePoint now) {
  return {json::array{Name(lease), StringAt(lease, "spec.holderIdentity"), Age(lease, now)}, {}};
}

// ---- Events ----

std::string EventSource(const json::object& event) {
  std::string component = StringAt(event, "source.component");
  if (component.empty()) component = StringAt(event, "reportingComponent");
  std::string host = StringAt(event, "source.host");
  if (host.empty()) host = StringAt(event, "reportingInstance");
  return host.empty() ? component : fmt::format("{}, {}", component, host);
}

// "pod/nginx": the lower-cased kind and name of the object the event is about.
std::string EventObject(const json::object& event) {
  std::string kind = StringAt(event, "involvedObject.kind");
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::string name = StringAt(event, "involvedObject.name");
  return name.empty() ? kind : fmt::format("{}/{}", kind, name);
}

std::string TrimSpace(std::string_view text) {
  constexpr std::string_view kSpace = " \t\n\r\v\f";
  const std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return "";
  return std::string(text.substr(first, text.find_last_not_of(kSpace) - first + 1));
}

constexpr std::array kEventColumns{
    Column{"Last Seen", "string", "Time since the event was last seen."},
    Column{"Type", "string", "Normal or Warning."},
    Column{"Reason", "string", "Short machine-readable cause of the event."},
    Column{"Object", "string", "Object the event is about."},
    Column{"Subobject", "string", "Part of the object the event is about.", 1},
    Column{"Source", "string", "Component (and host) that reported the event.", 1},
    Column{"Message", "string", "Human-readable description of the event."},
    Column{"First Seen", "string", "Time since the event was first seen.", 1},
    Column{"Count", "string", "Number of times the event occurred.", 1},
    Column{"Name", "string", "Name of the event object.", 1, "name"},
};

Row PrintEvent(const json::object& event, TimePoint now) {
  const std::string first_timestamp = StringAt(event, "firstTimestamp");
  const std::string first_seen = first_timestamp.empty()
                                     ? AgeSince(StringAt(event, "eventTime"), now)
                                     : AgeSince(first_timestamp, now);
  const std::string last_timestamp = StringAt(event, "lastTimestamp");
  std::string last_seen = last_timestamp.empty() ? first_seen : AgeSince(last_timestamp, now);
  std::int64_t count = IntAt(event, "count");
  if (ObjectAt(event, "series") != nullptr) {
    last_seen = AgeSince(StringAt(event, "series.lastObservedTime"), now);
    count = IntAt(event, "series.count");
  } else if (count == 0) {
    count = 1;  // singleton events of the events.k8s.io API carry no count
  }
  return {
      json::array{last_seen, StringAt(event, "type"), StringAt(event, "reason"), EventObject(event),
                  StringAt(event, "involvedObject.fieldPath"), EventSource(event),
                  TrimSpace(StringAt(event, "message")), first_seen, count, Name(event)},
      {}};
}

// ---- Workloads ----

constexpr std::array kDeploymentColumns{
    kNameColumn,
    Column{"Ready", "string", "Ready pods of the desired replicas."},
    Column{"Up-to-date", "string", "Pods running the current template."},
    Column{"Available", "string", "Pods available to serve."},
    kAgeColumn,
    kContainersColumn,
    kImagesColumn,
    kSelectorColumn,
};

Row PrintDeployment(const json::object& deployment, TimePoint now) {
  auto [containers, images] = ContainerCells(deployment, "spec.template.spec.containers");
  return {json::array{Name(deployment),
                      fmt::format("{}/{}", IntAt(deployment, "status.readyReplicas"),
                                  IntAt(deployment, "spec.replicas")),
                      IntAt(deployment, "status.updatedReplicas"),
                      IntAt(deployment, "status.availableReplicas"), Age(deployment, now),
                      containers, images,
                      SelectorText(ObjectAt(deployment, "spec.selector")).value_or("<invalid>")},
          {}};
}

constexpr std::array kReplicaSetColumns{
    kNameColumn,
    Column{"Desired", "integer", "Replicas wanted."},
    Column{"Current", "integer", "Replicas created."},
    Column{"Ready", "integer", "Replicas ready."},
    kAgeColumn,
    kContainersColumn,
    kImagesColumn,
    kSelectorColumn,
};

Row PrintReplicaSet(const json::object& replica_set, TimePoint now) {
  auto [containers, images] = ContainerCells(replica_set, "spec.template.spec.containers");
  return {json::array{Name(replica_set), IntAt(replica_set, "spec.replicas"),
                      IntAt(replica_set, "status.replicas"),
                      IntAt(replica_set, "status.readyReplicas"), Age(replica_set, now), containers,
                      images, FormatLabelSelector(ObjectAt(replica_set, "spec.selector"))},
          {}};
}

constexpr std::array kDaemonSetColumns{
    kNameColumn,
    Column{"Desired", "integer", "Nodes that should run the daemon pod."},
    Column{"Current", "integer", "Nodes running at least one daemon pod."},
    Column{"Ready", "integer", "Nodes whose daemon pod is ready."},
    Column{"Up-to-date", "integer", "Nodes running the current template."},
    Column{"Available", "integer", "Nodes whose daemon pod is available."},
    Column{"Node Selector", "string", "Labels a node needs to run the daemon pod."},
    kAgeColumn,
    kContainersColumn,
    kImagesColumn,
    kSelectorColumn,
};

Row PrintDaemonSet(const json::object& daemon_set, TimePoint now) {
  auto [containers, images] = ContainerCells(daemon_set, "spec.template.spec.containers");
  return {json::array{Name(daemon_set), IntAt(daemon_set, "status.desiredNumberScheduled"),
                      IntAt(daemon_set, "status.currentNumberScheduled"),
                      IntAt(daemon_set, "status.numberReady"),
                      IntAt(daemon_set, "status.updatedNumberScheduled"),
                      IntAt(daemon_set, "status.numberAvailable"),
                      FormatLabels(ObjectAt(daemon_set, "spec.template.spec.nodeSelector")),
                      Age(daemon_set, now), containers, images,
                      FormatLabelSelector(ObjectAt(daemon_set, "spec.selector"))},
          {}};
}

// ---- Horizontal pod autoscalers ----

std::string Percent(std::optional<std::int64_t> value, std::string_view fallback) {
  return value ? fmt::format("{}%", *value) : std::string(fallback);
}

std::string QuantityOr(const json::object* object, std::string_view path,
                       std::string_view fallback) {
  if (object == nullptr) return std::string(fallback);
  return ScalarTextAt(*object, path).value_or(std::string(fallback));
}

// Resource and ContainerResource metrics: "cpu: 20%/50%" or "memory: 100Mi/200Mi".
std::string ResourceMetricText(const json::object& spec, const json::object* status,
                               std::string_view source) {
  const json::object* target = ObjectAt(spec, fmt::format("{}.target", source));
  const json::object empty;
  const json::object& wanted = target ? *target : empty;
  const std::string name = StringAt(spec, fmt::format("{}.name", source));
  const std::string current_path = fmt::format("{}.current", source);
  if (ScalarTextAt(wanted, "averageValue")) {
    return fmt::format("{}: {}/{}", name,
                       QuantityOr(status, current_path + ".averageValue", kUnknownCell),
                       QuantityOr(&wanted, "averageValue", ""));
  }
  std::optional<std::int64_t> current;
  if (status != nullptr) current = OptionalIntAt(*status, current_path + ".averageUtilization");
  return fmt::format("{}: {}/{}", name, Percent(current, kUnknownCell),
                     Percent(OptionalIntAt(wanted, "averageUtilization"), "<auto>"));
}

// Object and External metrics: "5/10", or "5/10 (avg)" for an average-value target.
std::string ValueMetricText(const json::object& spec, const json::object* status,
                            std::string_view source) {
  const std::string target = fmt::format("{}.target", source);
  const std::string current = fmt::format("{}.current", source);
  if (ScalarTextAt(spec, target + ".averageValue")) {
    return fmt::format("{}/{} (avg)", QuantityOr(status, current + ".averageValue", kUnknownCell),
                       QuantityOr(&spec, target + ".averageValue", ""));
  }
  return fmt::format("{}/{}", QuantityOr(status, current + ".value", kUnknownCell),
                     QuantityOr(&spec, target + ".value", ""));
}

std::string MetricText(const json::object& spec, const json::object* status) {
  const std::string type = StringAt(spec, "type");
  if (type == "Resource") return ResourceMetricText(spec, status, "resource");
  if (type == "ContainerResource") return ResourceMetricText(spec, status, "containerResource");
  if (type == "Object") return ValueMetricText(spec, status, "object");
  if (type == "External") return ValueMetricText(spec, status, "external");
  if (type == "Pods") {
    return fmt::format("{}/{}", QuantityOr(status, "pods.current.averageValue", kUnknownCell),
                       QuantityOr(&spec, "pods.target.averageValue", ""));
  }
  return "<unknown type>";
}

// TARGETS of an autoscaling/v2 HPA (spec.metrics, at most two shown) or of an autoscaling/v1
// one (targetCPUUtilizationPercentage), which Kubernetes prints as the same cpu metric.
std::string HpaTargets(const json::object& hpa) {
  std::vector<const json::object*> specs = ObjectsAt(hpa, "spec.metrics");
  if (specs.empty()) {
    std::optional<std::int64_t> cpu_target =
        OptionalIntAt(hpa, "spec.targetCPUUtilizationPercentage");
    if (!cpu_target) return std::string(kNoneCell);
    return fmt::format(
        "cpu: {}/{}%",
        Percent(OptionalIntAt(hpa, "status.currentCPUUtilizationPercentage"), kUnknownCell),
        *cpu_target);
  }
  std::vector<const json::object*> statuses = ObjectsAt(hpa, "status.currentMetrics");
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < specs.size() && i < 2; ++i) {
    texts.push_back(MetricText(*specs[i], i < statuses.size() ? statuses[i] : nullptr));
  }
  std::string joined = Join(texts, ", ");
  if (specs.size() <= 2) return joined;
  return fmt::format("{} + {} more...", joined, specs.size() - 2);
}

constexpr std::array kHorizontalPodAutoscalerColumns{
    kNameColumn,
    Column{"Reference", "string", "Kind and name of the scaled object."},
    Column{"Targets", "string", "Current and target value of each metric."},
    Column{"MinPods", "string", "Fewest replicas the autoscaler keeps."},
    Column{"MaxPods", "string", "Most replicas the autoscaler allows."},
    Column{"Replicas", "string", "Replicas the autoscaler last saw."},
    kAgeColumn,
};

Row PrintHorizontalPodAutoscaler(const json::object& hpa, TimePoint now) {
  std::optional<std::int64_t> min_replicas = OptionalIntAt(hpa, "spec.minReplicas");
  return {json::array{Name(hpa),
                      fmt::format("{}/{}", StringAt(hpa, "spec.scaleTargetRef.kind"),
                                  StringAt(hpa, "spec.scaleTargetRef.name")),
                      HpaTargets(hpa),
                      min_replicas ? std::to_string(*min_replicas) : std::string("<unset>"),
                      IntAt(hpa, "spec.maxReplicas"), IntAt(hpa, "status.currentReplicas"),
                      Age(hpa, now)},
          {}};
}

// ---- Anything else ----

constexpr std::array kGenericColumns{kNameColumn, kAgeColumn};

Row PrintGeneric(const json::object& object, TimePoint now) {
  return {json::array{Name(object), Age(object, now)}, {}};
}

// ---- Registry ----

}  // namespace

struct ResourcePrinter {
  std::string_view group;
  std::string_view resource;
  std::span<const Column> columns;
  RowPrinter print;
};

namespace {

constexpr std::array kPrinters{
    ResourcePrinter{"", "pods", kPodColumns, PrintPod},
    ResourcePrinter{"", "services", kServiceColumns, PrintService},
    ResourcePrinter{"", "endpoints", kEndpointsColumns, PrintEndpoints},
    ResourcePrinter{"", "nodes", kNodeColumns, PrintNode},
    ResourcePrinter{"", "namespaces", kNamespaceColumns, PrintNamespace},
    ResourcePrinter{"", "configmaps", kConfigMapColumns, PrintConfigMap},
    ResourcePrinter{"", "secrets", kSecretColumns, PrintSecret},
    ResourcePrinter{"", "events", kEventColumns, PrintEvent},
    ResourcePrinter{"", "serviceaccounts", kServiceAccountColumns, PrintServiceAccount},
    ResourcePrinter{"apps", "deployments", kDeploymentColumns, PrintDeployment},
    ResourcePrinter{"apps", "replicasets", kReplicaSetColumns, PrintReplicaSet},
    ResourcePrinter{"apps", "daemonsets", kDaemonSetColumns, PrintDaemonSet},
    ResourcePrinter{"autoscaling", "horizontalpodautoscalers", kHorizontalPodAutoscalerColumns,
                    PrintHorizontalPodAutoscaler},
    ResourcePrinter{"coordination.k8s.io", "leases", kLeaseColumns, PrintLease},
    ResourcePrinter{"discovery.k8s.io", "endpointslices", kEndpointSliceColumns,
                    PrintEndpointSlice},
};

constexpr ResourcePrinter kGenericPrinter{"", "", kGenericColumns, PrintGeneric};

const ResourcePrinter& FindPrinter(std::string_view resource, std::string_view group) {
  for (const ResourcePrinter& printer : kPrinters) {
    if (printer.resource == resource && printer.group == group) return printer;
  }
  return kGenericPrinter;
}

json::array ColumnDefinitions(std::span<const Column> columns) {
  json::array definitions;
  for (const Column& column : columns) {
    definitions.push_back(json::object{{"name", column.name},
                                       {"type", column.type},
                                       {"format", column.format},
                                       {"description", column.description},
                                       {"priority", column.priority}});
  }
  return definitions;
}

json::object PartialObjectMetadata(const json::object& object) {
  const json::object* metadata = ObjectAt(object, "metadata");
  return json::object{{"kind", "PartialObjectMetadata"},
                      {"apiVersion", "meta.k8s.io/v1"},
                      {"metadata", metadata ? *metadata : json::object()}};
}

json::object TableRow(const ResourcePrinter& printer, const json::object& object,
                      TableObjectKind include_object, TimePoint now) {
  Row row = printer.print(object, now);
  json::object table_row{{"cells", std::move(row.cells)}};
  if (!row.conditions.empty()) table_row["conditions"] = std::move(row.conditions);
  switch (include_object) {
    case TableObjectKind::kPartialObjectMetadata:
      table_row["object"] = PartialObjectMetadata(object);
      break;
    case TableObjectKind::kObject:
      table_row["object"] = object;
      break;
    case TableObjectKind::kNone:
      break;
  }
  return table_row;
}

// Appends the JSON text of `value` (an object, array or value) to `out` without building a
// std::string of its own.
template <typename JsonValue>
void AppendJson(const JsonValue& value, std::string& out) {
  json::serializer serializer;
  serializer.reset(&value);
  char buffer[4096];
  while (!serializer.done()) out.append(serializer.read(buffer, sizeof buffer));
}

// TableRow's text, with the object's metadata written from where it is instead of copied.
void AppendTableRow(const ResourcePrinter& printer, const json::object& object,
                    TableObjectKind include_object, TimePoint now, std::string& out) {
  Row row = printer.print(object, now);
  out.append(R"({"cells":)");
  AppendJson(row.cells, out);
  if (!row.conditions.empty()) {
    out.append(R"(,"conditions":)");
    AppendJson(row.conditions, out);
  }
  switch (include_object) {
    case TableObjectKind::kPartialObjectMetadata: {
      out.append(R"(,"object":{"kind":"PartialObjectMetadata",)"
                 R"("apiVersion":"meta.k8s.io/v1","metadata":)");
      const json::object* metadata = ObjectAt(object, "metadata");
      if (metadata != nullptr) {
        AppendJson(*metadata, out);
      } else {
        out.append("{}");
      }
      out.push_back('}');
      break;
    }
    case TableObjectKind::kObject:
      out.append(R"(,"object":)");
      AppendJson(object, out);
      break;
    case TableObjectKind::kNone:
      break;
  }
  out.push_back('}');
}

json::object TableMetadata(const TableOptions& options) {
  json::object metadata;
  if (!options.resource_version.empty()) metadata["resourceVersion"] = options.resource_version;
  if (!options.continue_token.empty()) metadata["continue"] = options.continue_token;
  return metadata;
}

}  // namespace

Result<TableObjectKind> ParseIncludeObject(std::string_view value) {
  if (value.empty() || value == "Metadata") return TableObjectKind::kPartialObjectMetadata;
  if (value == "Object") return TableObjectKind::kObject;
  if (value == "None") return TableObjectKind::kNone;
  return InvalidArgumentError(fmt::format(
      "includeObject: unsupported value \"{}\" (want None, Metadata or Object)", value));
}

Result<json::object> BuildTable(std::string_view resource, std::string_view group,
                                const std::vector<const json::object*>& objects,
                                const TableOptions& options, const Clock& clock) {
  const ResourcePrinter& printer = FindPrinter(resource, group);
  const TimePoint now = clock.WallNow();
  json::array rows;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (objects[i] == nullptr) {
      return InvalidArgumentError(fmt::format("BuildTable: object {} is null", i));
    }
    rows.push_back(TableRow(printer, *objects[i], options.include_object, now));
  }
  return json::object{{"kind", "Table"},
                      {"apiVersion", "meta.k8s.io/v1"},
                      {"metadata", TableMetadata(options)},
                      {"columnDefinitions", ColumnDefinitions(printer.columns)},
                      {"rows", std::move(rows)}};
}

TableTextWriter::TableTextWriter(std::string_view resource, std::string_view group,
                                 TableOptions options, const Clock& clock)
    : printer_(FindPrinter(resource, group)),
      options_(std::move(options)),
      now_(clock.WallNow()) {}

std::string TableTextWriter::Head() const {
  std::string head = R"({"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":)";
  AppendJson(TableMetadata(options_), head);
  head.append(R"(,"columnDefinitions":)");
  AppendJson(ColumnDefinitions(printer_.columns), head);
  head.append(R"(,"rows":[)");
  return head;
}

void TableTextWriter::AppendRow(const json::object& object, std::string& out) {
  if (!first_row_) out.push_back(',');
  first_row_ = false;
  AppendTableRow(printer_, object, options_.include_object, now_, out);
}

}  // namespace kelp::api
