// Field-level validation of API objects. The checks, field paths and message texts follow
// Kubernetes' own validation (apimachinery's util/validation and field errors, core and apps
// validation) because kubectl users read them; the code is kelp's.
#include "api/validation.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <cstdio>
#include <optional>
#include <set>
#include <utility>

#include "api/quantity.h"
#include "api/selectors.h"
#include "common/json.h"

namespace kelp::api {
namespace {

using Causes = std::vector<FieldCause>;

constexpr std::size_t kMaxLabelLength = 63;
constexpr std::size_t kMaxSubdomainLength = 253;
constexpr std::size_t kTotalAnnotationSizeLimit = 256 * 1024;
constexpr std::size_t kMaxConfigDataSize = 1024 * 1024;
constexpr std::string_view kImmutable = "field is immutable";
constexpr std::string_view kNonNegative = "must be greater than or equal to 0";

// --- paths ---------------------------------------------------------------------------------

std::string Child(std::string_view path, std::string_view name) {
  return path.empty() ? std::string(name) : std::string(path) + "." + std::string(name);
}
std::string Index(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}
std::string Key(std::string_view path, std::string_view key) {
  return std::string(path) + "[" + std::string(key) + "]";
}

// --- rendering ----------------------------------------------------------------------------

std::string RenderBadValue(const boost::json::value& bad) {
  if (const boost::json::string* s = bad.if_string()) return GoQuote(*s);
  return SerializeJson(bad);
}

FieldCause MakeCause(std::string_view reason, std::string field, std::string message) {
  return FieldCause{std::string(reason), std::move(message), std::move(field)};
}

std::string WithDetail(std::string body, std::string_view detail) {
  if (!detail.empty()) body += ": " + std::string(detail);
  return body;
}

// --- string checks ------------------------------------------------------------------------

std::string RegexError(std::string_view message, std::string_view regex,
                       std::initializer_list<std::string_view> examples) {
  std::string out(message);
  out += " (e.g. ";
  bool first = true;
  for (std::string_view example : examples) {
    if (!first) out += " or ";
    first = false;
    out += "'" + std::string(example) + "', ";
  }
  out += "regex used for validation is '" + std::string(regex) + "')";
  return out;
}

std::string MaxLenError(std::size_t length) {
  return "must be no more than " + std::to_string(length) + " characters";
}

// The grammars of Kubernetes' validation regexes (quoted in the error messages), matched by
// hand: std::regex cost ~10 µs and a dozen allocations per name on every write.
bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool MatchesDns1123Label(std::string_view value) {
  if (value.empty() || !IsLowerAlnum(value.front()) || !IsLowerAlnum(value.back())) return false;
  return std::all_of(value.begin(), value.end(), [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

// A DNS-1123 label, then any number of ".label"
bool MatchesDns1123Subdomain(std::string_view value) {
  while (true) {
    const std::size_t dot = value.find('.');
    if (!MatchesDns1123Label(value.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    value.remove_prefix(dot + 1);
  }
}

// [a-z]([-a-z0-9]*[a-z0-9])?
bool MatchesDns1035Label(std::string_view value) {
  return MatchesDns1123Label(value) && value.front() >= 'a' && value.front() <= 'z';
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool MatchesQualifiedName(std::string_view value) {
  if (value.empty() || !IsAlnum(value.front()) || !IsAlnum(value.back())) return false;
  return std::all_of(value.begin(), value.end(),
                     [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

// [-._a-zA-Z0-9]+
bool MatchesConfigMapKey(std::string_view value) {
  return !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return IsAlnum(c) || c == '-' || c == '_' || c == '.';
  });
}

// [0-9]+%
bool MatchesPercent(std::string_view value) {
  if (value.size() < 2 || value.back() != '%') return false;
  value.remove_suffix(1);
  return std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
}

constexpr std::string_view kQualifiedNameMessage =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";
constexpr std::string_view kQualifiedNameRegex = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";

std::vector<std::string> IsValidPercent(std::string_view value) {
  if (MatchesPercent(value)) return {};
  return {RegexError("a valid percent string must be a numeric string followed by an ending '%'",
                     "[0-9]+%", {"1%", "93%"})};
}

// --- typed access that reports wrong JSON types instead of crashing ------------------------

const boost::json::value* Present(const boost::json::object& parent, std::string_view key) {
  const boost::json::value* value = parent.if_contains(key);
  return value == nullptr || value->is_null() ? nullptr : value;
}

const boost::json::object* ObjectField(const boost::json::object& parent, std::string_view key,
                                       std::string_view path, Causes& causes) {
  const boost::json::value* value = Present(parent, key);
  if (value == nullptr) return nullptr;
  if (!value->is_object()) causes.push_back(InvalidCause(std::string(path), *value, "must be an object"));
  return value->if_object();
}

const boost::json::array* ArrayField(const boost::json::object& parent, std::string_view key,
                                     std::string_view path, Causes& causes) {
  const boost::json::value* value = Present(parent, key);
  if (value == nullptr) return nullptr;
  if (!value->is_array()) causes.push_back(InvalidCause(std::string(path), *value, "must be an array"));
  return value->if_array();
}

std::optional<std::string_view> StringField(const boost::json::object& parent,
                                            std::string_view key, std::string_view path,
                                            Causes& causes) {
  const boost::json::value* value = Present(parent, key);
  if (value == nullptr) return std::nullopt;
  if (const boost::json::string* s = value->if_string()) return std::string_view(*s);
  causes.push_back(InvalidCause(std::string(path), *value, "must be a string"));
  return std::nullopt;
}

std::optional<std::int64_t> IntField(const boost::json::object& parent, std::string_view key,
                                     std::string_view path, Causes& causes) {
  const boost::json::value* value = Present(parent, key);
  if (value == nullptr) return std::nullopt;
  if (const std::int64_t* i = value->if_int64()) return *i;
  if (const std::uint64_t* u = value->if_uint64()) return static_cast<std::int64_t>(*u);
  causes.push_back(InvalidCause(std::string(path), *value, "must be an integer"));
  return std::nullopt;
}

void AddInvalidEach(Causes& causes, std::string_view path, const boost::json::value& bad,
                    const std::vector<std::string>& messages) {
  for (const std::string& message : messages) {
    causes.push_back(InvalidCause(std::string(path), bad, message));
  }
}

void CheckNonNegative(Causes& causes, const boost::json::object& parent, std::string_view key,
                      std::string_view path) {
  const std::optional<std::int64_t> value = IntField(parent, key, path, causes);
  if (value && *value < 0) causes.push_back(InvalidCause(std::string(path), *value, kNonNegative));
}

// --- metadata -----------------------------------------------------------------------------

enum class NameRule { kDNS1123Subdomain, kDNS1123Label, kDNS1035Label };

NameRule NameRuleFor(std::string_view group, std::string_view resource) {
  if (group.empty() && resource == "namespaces") return NameRule::kDNS1123Label;
  if (group.empty() && resource == "services") return NameRule::kDNS1035Label;
  return NameRule::kDNS1123Subdomain;
}

// A generateName prefix may end in '-'; Kubernetes masks that dash before checking.
std::string MaskTrailingDash(std::string_view name) {
  if (name.size() > 1 && name.back() == '-') {
    return std::string(name.substr(0, name.size() - 2)) + "a";
  }
  return std::string(name);
}

std::vector<std::string> CheckName(NameRule rule, std::string_view name, bool prefix) {
  const std::string value = prefix ? MaskTrailingDash(name) : std::string(name);
  switch (rule) {
    case NameRule::kDNS1123Label: return IsDNS1123Label(value);
    case NameRule::kDNS1035Label: return IsDNS1035Label(value);
    case NameRule::kDNS1123Subdomain: return IsDNS1123Subdomain(value);
  }
  return {};
}

void ValidateLabels(Causes& causes, const boost::json::object& parent, std::string_view path) {
  const boost::json::object* labels = ObjectField(parent, "labels", path, causes);
  if (labels == nullptr) return;
  for (const auto& [key, value] : *labels) {
    AddInvalidEach(causes, path, boost::json::string(key), IsQualifiedName(key));
    if (const boost::json::string* text = value.if_string()) {
      AddInvalidEach(causes, path, value, IsValidLabelValue(*text));
    } else {
      causes.push_back(InvalidCause(std::string(path), value, "must be a string"));
    }
  }
}

void ValidateAnnotations(Causes& causes, const boost::json::object& metadata) {
  const std::string path = "metadata.annotations";
  const boost::json::object* annotations = ObjectField(metadata, "annotations", path, causes);
  if (annotations == nullptr) return;
  std::size_t total_size = 0;
  for (const auto& [key, value] : *annotations) {
    std::string lower(key);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    AddInvalidEach(causes, path, boost::json::string(key), IsQualifiedName(lower));
    const boost::json::string* text = value.if_string();
    total_size += key.size() + (text ? text->size() : 0);
  }
  if (total_size > kTotalAnnotationSizeLimit) {
    causes.push_back(TooLongCause(path, kTotalAnnotationSizeLimit));
  }
}

void ValidateObjectMeta(Causes& causes, const boost::json::object& object, NameRule rule,
                        bool namespaced) {
  const boost::json::object* metadata = ObjectField(object, "metadata", "metadata", causes);
  static const boost::json::object kEmpty;
  if (metadata == nullptr) metadata = &kEmpty;
  const std::optional<std::string_view> generate_name =
      StringField(*metadata, "generateName", "metadata.generateName", causes);
  if (generate_name && !generate_name->empty()) {
    AddInvalidEach(causes, "metadata.generateName", boost::json::string(*generate_name),
                   CheckName(rule, *generate_name, true));
  }
  const std::string_view name = StringField(*metadata, "name", "metadata.name", causes).value_or("");
  if (!name.empty()) {
    AddInvalidEach(causes, "metadata.name", boost::json::string(name), CheckName(rule, name, false));
  } else if (!generate_name || generate_name->empty()) {
    causes.push_back(RequiredCause("metadata.name", "name or generateName is required"));
  }
  const std::string_view ns =
      StringField(*metadata, "namespace", "metadata.namespace", causes).value_or("");
  if (namespaced && ns.empty()) {
    causes.push_back(RequiredCause("metadata.namespace"));
  } else if (namespaced) {
    AddInvalidEach(causes, "metadata.namespace", boost::json::string(ns), IsDNS1123Label(ns));
  } else if (!ns.empty()) {
    causes.push_back(ForbiddenCause("metadata.namespace", "not allowed on this type"));
  }
  ValidateLabels(causes, *metadata, "metadata.labels");
  ValidateAnnotations(causes, *metadata);
}

// --- pods ---------------------------------------------------------------------------------

const std::vector<std::string_view> kPortProtocols = {"SCTP", "TCP", "UDP"};

void CheckProtocol(Causes& causes, const boost::json::object& port, std::string_view path) {
  const std::string field = Child(path, "protocol");
  const std::optional<std::string_view> protocol = StringField(port, "protocol", field, causes);
  if (!protocol || protocol->empty()) {
    causes.push_back(RequiredCause(field));
  } else if (std::find(kPortProtocols.begin(), kPortProtocols.end(), *protocol) ==
             kPortProtocols.end()) {
    causes.push_back(NotSupportedCause(field, boost::json::string(*protocol), kPortProtocols));
  }
}

void ValidateContainerPorts(Causes& causes, const boost::json::object& container,
                            std::string_view container_path) {
  const std::string ports_path = Child(container_path, "ports");
  const boost::json::array* ports = ArrayField(container, "ports", ports_path, causes);
  if (ports == nullptr) return;
  std::set<std::string, std::less<>> names;
  for (std::size_t i = 0; i < ports->size(); ++i) {
    const std::string path = Index(ports_path, i);
    const boost::json::object* port = (*ports)[i].if_object();
    if (port == nullptr) {
      causes.push_back(InvalidCause(path, (*ports)[i], "must be an object"));
      continue;
    }
    const std::string name_path = Child(path, "name");
    const std::string_view name = StringField(*port, "name", name_path, causes).value_or("");
    if (!name.empty()) {
      const std::vector<std::string> messages = IsValidPortName(name);
      AddInvalidEach(causes, name_path, boost::json::string(name), messages);
      if (messages.empty() && !names.emplace(name).second) {
        causes.push_back(DuplicateCause(name_path, boost::json::string(name)));
      }
    }
    const std::string container_port_path = Child(path, "containerPort");
    const std::int64_t container_port =
        IntField(*port, "containerPort", container_port_path, causes).value_or(0);
    if (container_port == 0) {
      causes.push_back(RequiredCause(container_port_path));
    } else {
      AddInvalidEach(causes, container_port_path, container_port, IsValidPortNum(container_port));
    }
    const std::string host_port_path = Child(path, "hostPort");
    const std::int64_t host_port = IntField(*port, "hostPort", host_port_path, causes).value_or(0);
    if (host_port != 0) AddInvalidEach(causes, host_port_path, host_port, IsValidPortNum(host_port));
    CheckProtocol(causes, *port, path);
  }
}

bool IsStandardContainerResource(std::string_view name) {
  return name == "cpu" || name == "memory" || name == "ephemeral-storage" ||
         name.starts_with("hugepages-") || name.find('/') != std::string_view::npos;
}

// Parsed quantities of requests or limits, by resource name; bad entries are reported.
std::vector<std::pair<std::string, std::pair<std::string, long double>>> ParseResourceList(
    Causes& causes, const boost::json::object& resources, std::string_view key,
    std::string_view resources_path) {
  std::vector<std::pair<std::string, std::pair<std::string, long double>>> parsed;
  const std::string list_path = Child(resources_path, key);
  const boost::json::object* list = ObjectField(resources, key, list_path, causes);
  if (list == nullptr) return parsed;
  for (const auto& [name, value] : *list) {
    const std::string path = Key(list_path, name);
    if (!IsStandardContainerResource(name)) {
      causes.push_back(InvalidCause(path, boost::json::string(name),
                                    "must be a standard resource for containers"));
    }
    std::string text;
    if (const boost::json::string* s = value.if_string()) {
      text = std::string(*s);
    } else if (value.is_number()) {
      text = SerializeJson(value);
    }
    Result<long double> quantity = ParseQuantity(text);
    if (!quantity.ok()) {
      causes.push_back(InvalidCause(path, value, kQuantityFormatError));
      continue;
    }
    if (*quantity < 0) causes.push_back(InvalidCause(path, boost::json::string(text), kNonNegative));
    parsed.push_back({std::string(name), {text, *quantity}});
  }
  return parsed;
}

void ValidateResources(Causes& causes, const boost::json::object& container,
                       std::string_view container_path) {
  const std::string path = Child(container_path, "resources");
  const boost::json::object* resources = ObjectField(container, "resources", path, causes);
  if (resources == nullptr) return;
  const auto limits = ParseResourceList(causes, *resources, "limits", path);
  const auto requests = ParseResourceList(causes, *resources, "requests", path);
  for (const auto& [name, request] : requests) {
    for (const auto& [limit_name, limit] : limits) {
      if (limit_name != name || request.second <= limit.second) continue;
      causes.push_back(InvalidCause(Child(path, "requests"), boost::json::string(request.first),
                                    "must be less than or equal to " + name + " limit of " +
                                        limit.first));
    }
  }
}

void ValidateContainerList(Causes& causes, const boost::json::array& containers,
                           std::string_view list_path, std::set<std::string, std::less<>>& names) {
  for (std::size_t i = 0; i < containers.size(); ++i) {
    const std::string path = Index(list_path, i);
    const boost::json::object* container = containers[i].if_object();
    if (container == nullptr) {
      causes.push_back(InvalidCause(path, containers[i], "must be an object"));
      continue;
    }
    const std::string name_path = Child(path, "name");
    const std::string_view name = StringField(*container, "name", name_path, causes).value_or("");
    if (name.empty()) {
      causes.push_back(RequiredCause(name_path));
    } else {
      AddInvalidEach(causes, name_path, boost::json::string(name), IsDNS1123Label(name));
    }
    if (!name.empty() && !names.emplace(name).second) {
      causes.push_back(DuplicateCause(name_path, boost::json::string(name)));
    }
    const std::string image_path = Child(path, "image");
    if (StringField(*container, "image", image_path, causes).value_or("").empty()) {
      causes.push_back(RequiredCause(image_path));
    }
    ValidateContainerPorts(causes, *container, path);
    ValidateResources(causes, *container, path);
  }
}

void ValidatePodSpec(Causes& causes, const boost::json::object& spec, std::string_view path) {
  std::set<std::string, std::less<>> names;
  const std::string containers_path = Child(path, "containers");
  const boost::json::array* containers = ArrayField(spec, "containers", containers_path, causes);
  if (containers == nullptr || containers->empty()) {
    causes.push_back(RequiredCause(containers_path));
  } else {
    ValidateContainerList(causes, *containers, containers_path, names);
  }
  const std::string init_path = Child(path, "initContainers");
  if (const boost::json::array* init = ArrayField(spec, "initContainers", init_path, causes)) {
    ValidateContainerList(causes, *init, init_path, names);
  }
  const std::string restart_path = Child(path, "restartPolicy");
  const std::optional<std::string_view> restart =
      StringField(spec, "restartPolicy", restart_path, causes);
  if (restart && *restart != "Always" && *restart != "OnFailure" && *restart != "Never") {
    causes.push_back(restart->empty() ? RequiredCause(restart_path)
                                      : NotSupportedCause(restart_path, boost::json::string(*restart),
                                                          {"Always", "OnFailure", "Never"}));
  }
}

void ValidatePodSpecAt(Causes& causes, const boost::json::object& parent, std::string_view path) {
  const boost::json::object* spec = ObjectField(parent, "spec", path, causes);
  static const boost::json::object kEmpty;
  ValidatePodSpec(causes, spec ? *spec : kEmpty, path);
}

// --- workloads (deployments, replicasets, daemonsets) --------------------------------------

void ValidateSelectorRequirement(Causes& causes, const boost::json::value& expression,
                                 std::string_view path) {
  const boost::json::object* fields = expression.if_object();
  if (fields == nullptr) {
    causes.push_back(InvalidCause(std::string(path), expression, "must be an object"));
    return;
  }
  const std::string values_path = Child(path, "values");
  const boost::json::array* values = ArrayField(*fields, "values", values_path, causes);
  const bool has_values = values != nullptr && !values->empty();
  const std::string_view op =
      StringField(*fields, "operator", Child(path, "operator"), causes).value_or("");
  if (op == "In" || op == "NotIn") {
    if (!has_values) {
      causes.push_back(RequiredCause(values_path, "must be specified when `operator` is 'In' or 'NotIn'"));
    }
  } else if (op == "Exists" || op == "DoesNotExist") {
    if (has_values) {
      causes.push_back(ForbiddenCause(
          values_path, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    }
  } else {
    causes.push_back(InvalidCause(Child(path, "operator"), boost::json::string(op),
                                  "not a valid selector operator"));
  }
  const std::string_view key = StringField(*fields, "key", Child(path, "key"), causes).value_or("");
  AddInvalidEach(causes, Child(path, "key"), boost::json::string(key), IsQualifiedName(key));
  if (values == nullptr) return;
  for (std::size_t i = 0; i < values->size(); ++i) {
    const boost::json::string* value = (*values)[i].if_string();
    if (value == nullptr) continue;
    AddInvalidEach(causes, Index(values_path, i), (*values)[i], IsValidLabelValue(*value));
  }
}

// Returns the selector as written (null when absent) after checking its shape.
const boost::json::value* ValidateWorkloadSelector(Causes& causes, const boost::json::object& spec,
                                                   std::string_view kind_word) {
  const boost::json::value* selector = Present(spec, "selector");
  if (selector == nullptr) {
    causes.push_back(RequiredCause("spec.selector"));
    return nullptr;
  }
  const boost::json::object* fields = selector->if_object();
  if (fields == nullptr) {
    causes.push_back(InvalidCause("spec.selector", *selector, "must be an object"));
    return nullptr;
  }
  ValidateLabels(causes, *fields, "spec.selector.matchLabels");
  std::size_t terms = 0;
  const boost::json::value* match_labels = Present(*fields, "matchLabels");
  if (match_labels != nullptr && match_labels->is_object()) terms += match_labels->get_object().size();
  const boost::json::array* expressions =
      ArrayField(*fields, "matchExpressions", "spec.selector.matchExpressions", causes);
  if (expressions != nullptr) {
    terms += expressions->size();
    for (std::size_t i = 0; i < expressions->size(); ++i) {
      ValidateSelectorRequirement(causes, (*expressions)[i],
                                  Index("spec.selector.matchExpressions", i));
    }
  }
  if (terms == 0) {
    causes.push_back(InvalidCause("spec.selector", *selector,
                                  "empty selector is invalid for " + std::string(kind_word)));
  }
  return selector;
}

void ValidatePodTemplate(Causes& causes, const boost::json::object& spec,
                         const boost::json::value* selector) {
  const boost::json::object* tmpl = ObjectField(spec, "template", "spec.template", causes);
  static const boost::json::object kEmpty;
  if (tmpl == nullptr) tmpl = &kEmpty;
  const boost::json::object* metadata =
      ObjectField(*tmpl, "metadata", "spec.template.metadata", causes);
  const boost::json::value* labels_value = metadata ? Present(*metadata, "labels") : nullptr;
  const boost::json::object* labels = labels_value ? labels_value->if_object() : nullptr;
  // An absent selector selects nothing, so the template never matches (as in Kubernetes).
  bool matches = false;
  bool selector_valid = selector == nullptr;
  if (selector != nullptr && selector->is_object()) {
    Result<LabelSelector> parsed = LabelSelector::FromJson(selector->get_object());
    selector_valid = parsed.ok();
    matches = parsed.ok() && (parsed->Empty() || parsed->Matches(labels));
  }
  if (!selector_valid) {
    causes.push_back(InvalidCause("spec.selector", *selector, "invalid label selector"));
  } else if (!matches) {
    causes.push_back(InvalidCause("spec.template.metadata.labels",
                                  labels_value ? *labels_value : boost::json::value(nullptr),
                                  "`selector` does not match template `labels`"));
  }
  if (metadata != nullptr) ValidateLabels(causes, *metadata, "spec.template.metadata.labels");
  ValidatePodSpecAt(causes, *tmpl, "spec.template.spec");
  const boost::json::value* pod_spec = Present(*tmpl, "spec");
  const boost::json::value* restart =
      pod_spec && pod_spec->is_object() ? Present(pod_spec->get_object(), "restartPolicy") : nullptr;
  const boost::json::string* restart_text = restart ? restart->if_string() : nullptr;
  if (restart_text != nullptr && *restart_text != "Always") {
    causes.push_back(NotSupportedCause("spec.template.spec.restartPolicy", *restart, {"Always"}));
  }
}

void ValidateRollingUpdate(Causes& causes, const boost::json::object& rolling) {
  auto is_zero = [](const boost::json::value* v) {
    if (v == nullptr) return false;
    if (const std::int64_t* i = v->if_int64()) return *i == 0;
    const boost::json::string* s = v->if_string();
    return s != nullptr && *s == "0%";
  };
  for (std::string_view key : {"maxUnavailable", "maxSurge"}) {
    const boost::json::value* value = Present(rolling, key);
    const std::string path = Child("spec.strategy.rollingUpdate", key);
    if (value == nullptr) continue;
    if (const boost::json::string* s = value->if_string()) {
      AddInvalidEach(causes, path, *value, IsValidPercent(*s));
    } else if (const std::int64_t* i = value->if_int64(); i != nullptr && *i < 0) {
      causes.push_back(InvalidCause(path, *value, kNonNegative));
    }
  }
  const boost::json::value* max_unavailable = Present(rolling, "maxUnavailable");
  if (is_zero(max_unavailable) && is_zero(Present(rolling, "maxSurge"))) {
    causes.push_back(InvalidCause("spec.strategy.rollingUpdate.maxUnavailable", *max_unavailable,
                                  "may not be 0 when `maxSurge` is 0"));
  }
}

void ValidateDeploymentStrategy(Causes& causes, const boost::json::object& spec) {
  const boost::json::object* strategy = ObjectField(spec, "strategy", "spec.strategy", causes);
  if (strategy == nullptr) return;
  const std::string_view type =
      StringField(*strategy, "type", "spec.strategy.type", causes).value_or("");
  const boost::json::value* rolling = Present(*strategy, "rollingUpdate");
  if (type == "Recreate") {
    if (rolling != nullptr) {
      causes.push_back(ForbiddenCause("spec.strategy.rollingUpdate",
                                      "may not be specified when strategy `type` is 'Recreate'"));
    }
  } else if (type == "RollingUpdate") {
    if (rolling != nullptr && rolling->is_object()) ValidateRollingUpdate(causes, rolling->get_object());
  } else {
    causes.push_back(NotSupportedCause("spec.strategy", *strategy, {"Recreate", "RollingUpdate"}));
  }
}

void ValidateWorkload(Causes& causes, std::string_view resource, const boost::json::object& object) {
  const boost::json::object* spec = ObjectField(object, "spec", "spec", causes);
  static const boost::json::object kEmpty;
  if (spec == nullptr) spec = &kEmpty;
  if (resource != "daemonsets") CheckNonNegative(causes, *spec, "replicas", "spec.replicas");
  const std::string_view kind_word = resource == "daemonsets" ? "daemonset" : "deployment";
  const boost::json::value* selector = ValidateWorkloadSelector(causes, *spec, kind_word);
  ValidatePodTemplate(causes, *spec, selector);
  if (resource == "deployments") ValidateDeploymentStrategy(causes, *spec);
  CheckNonNegative(causes, *spec, "minReadySeconds", "spec.minReadySeconds");
  CheckNonNegative(causes, *spec, "revisionHistoryLimit", "spec.revisionHistoryLimit");
  const std::optional<std::int64_t> deadline =
      IntField(*spec, "progressDeadlineSeconds", "spec.progressDeadlineSeconds", causes);
  if (deadline) {
    CheckNonNegative(causes, *spec, "progressDeadlineSeconds", "spec.progressDeadlineSeconds");
    const std::int64_t min_ready = IntField(*spec, "minReadySeconds", "", causes).value_or(0);
    if (*deadline <= min_ready) {
      causes.push_back(InvalidCause("spec.progressDeadlineSeconds", *deadline,
                                    "must be greater than minReadySeconds"));
    }
  }
}

// --- services -----------------------------------------------------------------------------

void ValidateTargetPort(Causes& causes, const boost::json::object& port, std::string_view path) {
  const boost::json::value* target = Present(port, "targetPort");
  if (target == nullptr) return;
  const std::string target_path = Child(path, "targetPort");
  if (const boost::json::string* name = target->if_string()) {
    AddInvalidEach(causes, target_path, *target, IsValidPortName(*name));
  } else if (const std::int64_t* number = target->if_int64()) {
    AddInvalidEach(causes, target_path, *target, IsValidPortNum(*number));
  } else {
    causes.push_back(InvalidCause(target_path, *target, "must be an integer or a string"));
  }
}

void ValidateServicePort(Causes& causes, const boost::json::object& port, std::string_view path,
                         bool require_name, std::set<std::string, std::less<>>& names) {
  const std::string name_path = Child(path, "name");
  const std::string_view name = StringField(port, "name", name_path, causes).value_or("");
  if (name.empty() && require_name) {
    causes.push_back(RequiredCause(name_path));
  } else if (!name.empty()) {
    AddInvalidEach(causes, name_path, boost::json::string(name), IsDNS1123Label(name));
    if (!names.emplace(name).second) {
      causes.push_back(DuplicateCause(name_path, boost::json::string(name)));
    }
  }
  const std::string port_path = Child(path, "port");
  const std::int64_t number = IntField(port, "port", port_path, causes).value_or(0);
  AddInvalidEach(causes, port_path, number, IsValidPortNum(number));
  CheckProtocol(causes, port, path);
  ValidateTargetPort(causes, port, path);
}

void ValidateService(Causes& causes, const boost::json::object& object) {
  const boost::json::object* spec = ObjectField(object, "spec", "spec", causes);
  static const boost::json::object kEmpty;
  if (spec == nullptr) spec = &kEmpty;
  const std::string_view type = StringField(*spec, "type", "spec.type", causes).value_or("");
  const bool headless = StringField(*spec, "clusterIP", "spec.clusterIP", causes) == "None";
  const boost::json::array* ports = ArrayField(*spec, "ports", "spec.ports", causes);
  if ((ports == nullptr || ports->empty()) && !headless && type != "ExternalName") {
    causes.push_back(RequiredCause("spec.ports"));
  }
  if (ports != nullptr) {
    std::set<std::string, std::less<>> names;
    for (std::size_t i = 0; i < ports->size(); ++i) {
      const std::string path = Index("spec.ports", i);
      if (const boost::json::object* port = (*ports)[i].if_object()) {
        ValidateServicePort(causes, *port, path, ports->size() > 1, names);
      } else {
        causes.push_back(InvalidCause(path, (*ports)[i], "must be an object"));
      }
    }
  }
  if (type != "ClusterIP" && type != "NodePort" && type != "LoadBalancer" && type != "ExternalName") {
    causes.push_back(NotSupportedCause("spec.type", boost::json::string(type),
                                       {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"}));
  }
  const std::optional<std::string_view> affinity =
      StringField(*spec, "sessionAffinity", "spec.sessionAffinity", causes);
  if (affinity && *affinity != "None" && *affinity != "ClientIP") {
    causes.push_back(NotSupportedCause("spec.sessionAffinity", boost::json::string(*affinity),
                                       {"ClientIP", "None"}));
  }
}

// --- autoscaling, configuration -----------------------------------------------------------

void ValidateHorizontalPodAutoscaler(Causes& causes, const boost::json::object& object) {
  const boost::json::object* spec = ObjectField(object, "spec", "spec", causes);
  static const boost::json::object kEmpty;
  if (spec == nullptr) spec = &kEmpty;
  const std::optional<std::int64_t> min = IntField(*spec, "minReplicas", "spec.minReplicas", causes);
  if (min && *min < 1) {
    causes.push_back(InvalidCause("spec.minReplicas", *min, "must be greater than or equal to 1"));
  }
  const std::int64_t max = IntField(*spec, "maxReplicas", "spec.maxReplicas", causes).value_or(0);
  if (max < 1) causes.push_back(InvalidCause("spec.maxReplicas", max, "must be greater than 0"));
  if (min && max < *min) {
    causes.push_back(InvalidCause("spec.maxReplicas", max,
                                  "must be greater than or equal to `minReplicas`"));
  }
  const boost::json::object* ref =
      ObjectField(*spec, "scaleTargetRef", "spec.scaleTargetRef", causes);
  if (ref == nullptr) ref = &kEmpty;
  for (std::string_view key : {"kind", "name"}) {
    const std::string path = Child("spec.scaleTargetRef", key);
    if (StringField(*ref, key, path, causes).value_or("").empty()) {
      causes.push_back(RequiredCause(path));
    }
  }
}

// Keys of data/binaryData (and a secret's stringData) are config keys; values count toward
// the 1 MiB limit of one object.
std::size_t ValidateDataKeys(Causes& causes, const boost::json::object& object,
                             std::string_view key, bool base64_values) {
  const boost::json::object* data = ObjectField(object, key, key, causes);
  if (data == nullptr) return 0;
  std::size_t size = 0;
  for (const auto& [name, value] : *data) {
    AddInvalidEach(causes, Key("data", name), boost::json::string(name), IsConfigMapKey(name));
    const boost::json::string* text = value.if_string();
    const std::size_t length = text ? text->size() : 0;
    size += base64_values ? length / 4 * 3 : length;
  }
  return size;
}

void ValidateConfigMap(Causes& causes, const boost::json::object& object) {
  std::size_t size = ValidateDataKeys(causes, object, "data", false);
  size += ValidateDataKeys(causes, object, "binaryData", true);
  const boost::json::value* data = Present(object, "data");
  const boost::json::value* binary = Present(object, "binaryData");
  if (data && binary && data->is_object() && binary->is_object()) {
    for (const auto& [name, value] : data->get_object()) {
      if (binary->get_object().contains(name)) {
        causes.push_back(InvalidCause(Key("data", name), boost::json::string(name),
                                      "duplicate of key present in binaryData"));
      }
    }
  }
  if (size > kMaxConfigDataSize) causes.push_back(TooLongCause("", kMaxConfigDataSize));
}

void ValidateSecret(Causes& causes, const boost::json::object& object) {
  std::size_t size = ValidateDataKeys(causes, object, "data", true);
  size += ValidateDataKeys(causes, object, "stringData", false);
  if (size > kMaxConfigDataSize) causes.push_back(TooLongCause("data", kMaxConfigDataSize));
}

// --- updates ------------------------------------------------------------------------------

void CheckImmutable(Causes& causes, const boost::json::value* old_value,
                    const boost::json::value* new_value, std::string_view path) {
  const boost::json::value null_value;
  const boost::json::value& before = old_value ? *old_value : null_value;
  const boost::json::value& after = new_value ? *new_value : null_value;
  if (before != after) causes.push_back(InvalidCause(std::string(path), after, kImmutable));
}

const boost::json::value* ValueAt(const boost::json::object& object, std::string_view path) {
  const boost::json::value* value = FindPath(object, path);
  return value == nullptr || value->is_null() ? nullptr : value;
}

void CheckClusterIPUnchanged(Causes& causes, const boost::json::object& old_object,
                             const boost::json::object& updated) {
  const boost::json::value* before = ValueAt(old_object, "spec.clusterIP");
  const boost::json::value* after = ValueAt(updated, "spec.clusterIP");
  const boost::json::value* old_type = ValueAt(old_object, "spec.type");
  const boost::json::value* new_type = ValueAt(updated, "spec.type");
  const bool external_name_involved = (old_type && *old_type == "ExternalName") ||
                                      (new_type && *new_type == "ExternalName");
  const bool old_set = before && before->is_string() && !before->get_string().empty();
  const bool new_set = after && after->is_string() && !after->get_string().empty();
  if (old_set && new_set && *before != *after && !external_name_involved) {
    causes.push_back(InvalidCause("spec.clusterIPs[0]", *after, "may not change once set"));
  }
}

}  // namespace

// --- public -------------------------------------------------------------------------------

std::string GoQuote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned char>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

FieldCause InvalidCause(std::string field, const boost::json::value& bad, std::string_view detail) {
  return MakeCause("FieldValueInvalid", std::move(field),
                   WithDetail("Invalid value: " + RenderBadValue(bad), detail));
}

FieldCause RequiredCause(std::string field, std::string_view detail) {
  return MakeCause("FieldValueRequired", std::move(field), WithDetail("Required value", detail));
}

FieldCause NotSupportedCause(std::string field, const boost::json::value& bad,
                             const std::vector<std::string_view>& supported) {
  std::string detail;
  for (std::string_view value : supported) {
    detail += (detail.empty() ? "supported values: " : ", ") + GoQuote(value);
  }
  return MakeCause("FieldValueNotSupported", std::move(field),
                   WithDetail("Unsupported value: " + RenderBadValue(bad), detail));
}

FieldCause DuplicateCause(std::string field, const boost::json::value& bad) {
  return MakeCause("FieldValueDuplicate", std::move(field), "Duplicate value: " + RenderBadValue(bad));
}

FieldCause TooLongCause(std::string field, std::size_t max_bytes) {
  return MakeCause("FieldValueTooLong", std::move(field),
                   "Too long: may not be more than " + std::to_string(max_bytes) +
                       (max_bytes == 1 ? " byte" : " bytes"));
}

FieldCause ForbiddenCause(std::string field, std::string_view detail) {
  return MakeCause("FieldValueForbidden", std::move(field), WithDetail("Forbidden", detail));
}

std::string CauseText(const FieldCause& cause) { return cause.field + ": " + cause.message; }

std::string JoinCauseTexts(const std::vector<std::string>& texts) {
  std::vector<std::string_view> unique;
  for (const std::string& text : texts) {
    if (std::find(unique.begin(), unique.end(), text) == unique.end()) unique.push_back(text);
  }
  if (unique.size() == 1) return std::string(unique[0]);
  std::string joined;
  for (std::string_view text : unique) {
    if (!joined.empty()) joined += ", ";
    joined += text;
  }
  return unique.empty() ? "" : "[" + joined + "]";
}

std::vector<std::string> IsDNS1123Label(std::string_view value) {
  std::vector<std::string> errors;
  if (value.size() > kMaxLabelLength) errors.push_back(MaxLenError(kMaxLabelLength));
  if (!MatchesDns1123Label(value)) {
    errors.push_back(RegexError(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
        "and must start and end with an alphanumeric character",
        "[a-z0-9]([-a-z0-9]*[a-z0-9])?", {"my-name", "123-abc"}));
  }
  return errors;
}

std::vector<std::string> IsDNS1123Subdomain(std::string_view value) {
  std::vector<std::string> errors;
  if (value.size() > kMaxSubdomainLength) errors.push_back(MaxLenError(kMaxSubdomainLength));
  if (!MatchesDns1123Subdomain(value)) {
    errors.push_back(RegexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
        "or '.', and must start and end with an alphanumeric character",
        "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", {"example.com"}));
  }
  return errors;
}

std::vector<std::string> IsDNS1035Label(std::string_view value) {
  std::vector<std::string> errors;
  if (value.size() > kMaxLabelLength) errors.push_back(MaxLenError(kMaxLabelLength));
  if (!MatchesDns1035Label(value)) {
    errors.push_back(RegexError(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
        "an alphabetic character, and end with an alphanumeric character",
        "[a-z]([-a-z0-9]*[a-z0-9])?", {"my-name", "abc-123"}));
  }
  return errors;
}

std::vector<std::string> IsQualifiedName(std::string_view value) {
  std::vector<std::string> errors;
  std::string_view name = value;
  const std::size_t slash = value.find('/');
  if (slash != std::string_view::npos) {
    if (value.find('/', slash + 1) != std::string_view::npos) {
      return {"a qualified name " +
              RegexError(kQualifiedNameMessage, kQualifiedNameRegex, {"MyName", "my.name", "123-abc"}) +
              " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"};
    }
    const std::string_view prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (prefix.empty()) {
      errors.push_back("prefix part must be non-empty");
    } else {
      for (const std::string& message : IsDNS1123Subdomain(prefix)) {
        errors.push_back("prefix part " + message);
      }
    }
  }
  if (name.empty()) {
    errors.push_back("name part must be non-empty");
  } else if (name.size() > kMaxLabelLength) {
    errors.push_back("name part " + MaxLenError(kMaxLabelLength));
  }
  if (!MatchesQualifiedName(name)) {
    errors.push_back("name part " + RegexError(kQualifiedNameMessage, kQualifiedNameRegex,
                                               {"MyName", "my.name", "123-abc"}));
  }
  return errors;
}

std::vector<std::string> IsValidLabelValue(std::string_view value) {
  std::vector<std::string> errors;
  if (value.size() > kMaxLabelLength) errors.push_back(MaxLenError(kMaxLabelLength));
  if (!value.empty() && !MatchesQualifiedName(value)) {
    errors.push_back(RegexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
        "or '.', and must start and end with an alphanumeric character",
        "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?", {"MyValue", "my_value", "12345"}));
  }
  return errors;
}

std::vector<std::string> IsConfigMapKey(std::string_view value) {
  std::vector<std::string> errors;
  if (value.size() > kMaxSubdomainLength) errors.push_back(MaxLenError(kMaxSubdomainLength));
  if (!MatchesConfigMapKey(value)) {
    errors.push_back(RegexError(
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
        "[-._a-zA-Z0-9]+", {"key.name", "KEY_NAME", "key-name"}));
  }
  if (value == ".") {
    errors.emplace_back("must not be '.'");
  } else if (value == "..") {
    errors.emplace_back("must not be '..'");
  } else if (value.starts_with("..")) {
    errors.emplace_back("must not start with '..'");
  }
  return errors;
}

std::vector<std::string> IsValidPortName(std::string_view value) {
  std::vector<std::string> errors;
  if (value.size() > 15) errors.push_back(MaxLenError(15));
  const bool charset_ok = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
  if (!charset_ok) {
    errors.emplace_back("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  }
  if (std::none_of(value.begin(), value.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
    errors.emplace_back("must contain at least one letter (a-z)");
  }
  if (value.find("--") != std::string_view::npos) {
    errors.emplace_back("must not contain consecutive hyphens");
  }
  if (!value.empty() && (value.front() == '-' || value.back() == '-')) {
    errors.emplace_back("must not begin or end with a hyphen");
  }
  return errors;
}

std::vector<std::string> IsValidPortNum(std::int64_t port) {
  if (port >= 1 && port <= 65535) return {};
  return {"must be between 1 and 65535, inclusive"};
}

std::vector<FieldCause> ValidateObject(std::string_view group, std::string_view resource,
                                       const boost::json::object& object, bool namespaced) {
  Causes causes;
  ValidateObjectMeta(causes, object, NameRuleFor(group, resource), namespaced);
  if (group.empty() && resource == "pods") {
    ValidatePodSpecAt(causes, object, "spec");
  } else if (group == "apps" &&
             (resource == "deployments" || resource == "replicasets" || resource == "daemonsets")) {
    ValidateWorkload(causes, resource, object);
  } else if (group.empty() && resource == "services") {
    ValidateService(causes, object);
  } else if (group == "autoscaling" && resource == "horizontalpodautoscalers") {
    ValidateHorizontalPodAutoscaler(causes, object);
  } else if (group.empty() && resource == "configmaps") {
    ValidateConfigMap(causes, object);
  } else if (group.empty() && resource == "secrets") {
    ValidateSecret(causes, object);
  }
  return causes;
}

std::vector<FieldCause> ValidateUpdate(std::string_view group, std::string_view resource,
                                       const boost::json::object& old_object,
                                       const boost::json::object& updated, bool namespaced) {
  Causes causes = ValidateObject(group, resource, updated, namespaced);
  for (std::string_view field : {"metadata.name", "metadata.namespace", "metadata.uid"}) {
    CheckImmutable(causes, ValueAt(old_object, field), ValueAt(updated, field), field);
  }
  if (group == "apps" &&
      (resource == "deployments" || resource == "replicasets" || resource == "daemonsets")) {
    CheckImmutable(causes, ValueAt(old_object, "spec.selector"), ValueAt(updated, "spec.selector"),
                   "spec.selector");
  }
  if (group.empty() && resource == "services") CheckClusterIPUnchanged(causes, old_object, updated);
  return causes;
}

std::string QualifiedKind(std::string_view group, std::string_view kind) {
  return group.empty() ? std::string(kind) : std::string(kind) + "." + std::string(group);
}

std::string InvalidMessage(std::string_view qualified_kind, std::string_view name,
                           const std::vector<FieldCause>& causes) {
  std::vector<std::string> texts;
  texts.reserve(causes.size());
  for (const FieldCause& cause : causes) texts.push_back(CauseText(cause));
  return std::string(qualified_kind) + " " + GoQuote(name) + " is invalid: " + JoinCauseTexts(texts);
}

}  // namespace kelp::api
