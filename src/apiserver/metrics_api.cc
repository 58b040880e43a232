// MetricsApi (see the header): scraping, rates and the metrics.k8s.io objects.
#include "apiserver/metrics_api.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cctype>
#include <future>

#include "api/duration.h"
#include "apiserver/objects.h"
#include "apiserver/resources.h"
#include "apiserver/selection.h"
#include "common/json.h"

namespace kelp::apiserver {
namespace json = boost::json;
namespace {

constexpr std::string_view kPrefix = "/apis/metrics.k8s.io/v1beta1/";
constexpr std::string_view kApiVersion = "metrics.k8s.io/v1beta1";

std::string StringAt(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  return value && value->is_string() ? std::string(value->get_string()) : "";
}

std::optional<uint64_t> UintAt(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  if (value == nullptr) return std::nullopt;
  if (value->is_uint64()) return value->get_uint64();
  if (value->is_int64() && value->get_int64() >= 0)
    return static_cast<uint64_t>(value->get_int64());
  return std::nullopt;
}

// Go's time.Duration text for whole seconds: "15s", "1m0s", "1h2m3s".
std::string GoDuration(std::chrono::seconds window) {
  int64_t total = window.count();
  if (total < 60) return fmt::format("{}s", total);
  if (total < 3600) return fmt::format("{}m{}s", total / 60, total % 60);
  return fmt::format("{}h{}m{}s", total / 3600, (total % 3600) / 60, total % 60);
}

std::string CpuQuantity(int64_t nano_cores) { return fmt::format("{}n", nano_cores); }

std::string MemoryQuantity(int64_t bytes) {
  if (bytes % 1024 == 0) return fmt::format("{}Ki", bytes / 1024);
  return std::to_string(bytes);
}

json::object UsageJson(const MetricsApi::Usage& usage) {
  return {{"cpu", CpuQuantity(usage.nano_cores)}, {"memory", MemoryQuantity(usage.memory_bytes)}};
}

// CPU and memory of a Summary entry ("node", a pod or a container); the CPU rate from the
// cumulative counter against the previous scrape's under `key`, else usageNanoCores.
// nullopt when there is no CPU rate at all.
std::optional<MetricsApi::Usage> UsageOf(
    const json::object& entry, const std::string& key,
    std::map<std::string, std::pair<std::chrono::system_clock::time_point, uint64_t>>& cumulative,
    std::chrono::system_clock::time_point* time, std::chrono::seconds* window) {
  MetricsApi::Usage usage;
  std::optional<uint64_t> counter = UintAt(entry, "cpu.usageCoreNanoSeconds");
  std::optional<std::chrono::system_clock::time_point> at =
      api::ParseRfc3339(StringAt(entry, "cpu.time"));
  std::optional<int64_t> rate;
  if (counter && at) {
    auto previous = cumulative.find(key);
    if (previous != cumulative.end() && *at > previous->second.first &&
        *counter >= previous->second.second) {
      const auto elapsed = *at - previous->second.first;
      const long double ns = std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count();
      rate = static_cast<int64_t>(static_cast<long double>(*counter - previous->second.second) /
                                  ns * 1e9L);
      *window = std::max(std::chrono::seconds(1),
                         std::chrono::duration_cast<std::chrono::seconds>(elapsed));
    }
    cumulative[key] = {*at, *counter};
    *time = *at;
  }
  if (!rate) {
    std::optional<uint64_t> nano_cores = UintAt(entry, "cpu.usageNanoCores");
    if (!nano_cores) return std::nullopt;
    rate = static_cast<int64_t>(*nano_cores);
  }
  usage.nano_cores = *rate;
  usage.memory_bytes = static_cast<int64_t>(UintAt(entry, "memory.workingSetBytes").value_or(0));
  return usage;
}

HttpResponse MethodNotAllowed() {
  return StatusFailureResponse(405, "MethodNotAllowed",
                               "the server does not allow this method on the requested resource");
}

std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    size_t slash = path.find('/');
    if (slash != 0) out.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

std::string QueryParam(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) != key || eq == std::string_view::npos) continue;
    std::string value;
    std::string_view raw = pair.substr(eq + 1);
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        value += ' ';
      } else if (raw[i] == '%' && i + 2 < raw.size() && std::isxdigit(raw[i + 1]) &&
                 std::isxdigit(raw[i + 2])) {
        value += static_cast<char>(std::stoi(std::string(raw.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        value += raw[i];
      }
    }
    return value;
  }
  return "";
}

}  // namespace

Status AddSummaryToScrape(
    std::string_view summary_json,
    std::map<std::string, std::pair<std::chrono::system_clock::time_point, uint64_t>>& cumulative,
    MetricsApi::Scrape& scrape, std::chrono::seconds default_window) {
  KELP_ASSIGN_OR_RETURN(json::object summary, ParseJsonObject(summary_json));
  const json::value* node = summary.if_contains("node");
  if (node == nullptr || !node->is_object()) return InvalidArgumentError("summary without node");
  const std::string node_name = StringAt(node->get_object(), "nodeName");
  MetricsApi::Sample node_sample{.time = std::chrono::system_clock::now(),
                                 .window = default_window};
  if (std::optional<MetricsApi::Usage> usage =
          UsageOf(node->get_object(), "node/" + node_name, cumulative, &node_sample.time,
                  &node_sample.window)) {
    node_sample.usage = *usage;
    scrape.nodes[node_name] = node_sample;
  }
  const json::value* pods = summary.if_contains("pods");
  if (pods == nullptr || !pods->is_array()) return Status::Ok();
  for (const json::value& pod_value : pods->get_array()) {
    if (!pod_value.is_object()) continue;
    const json::object& pod = pod_value.get_object();
    const std::string key = StringAt(pod, "podRef.namespace") + "/" + StringAt(pod, "podRef.name");
    MetricsApi::Sample sample{.time = std::chrono::system_clock::now(), .window = default_window};
    const json::value* containers = pod.if_contains("containers");
    if (containers == nullptr || !containers->is_array() || containers->get_array().empty()) {
      continue;
    }
    bool complete = true;
    for (const json::value& container_value : containers->get_array()) {
      if (!container_value.is_object()) continue;
      const json::object& container = container_value.get_object();
      const std::string name = StringAt(container, "name");
      std::optional<MetricsApi::Usage> usage =
          UsageOf(container, "pod/" + key + "/" + name, cumulative, &sample.time, &sample.window);
      if (!usage) {
        complete = false;
        break;
      }
      sample.containers[name] = *usage;
      sample.usage.nano_cores += usage->nano_cores;
      sample.usage.memory_bytes += usage->memory_bytes;
    }
    if (complete) scrape.pods[key] = std::move(sample);
  }
  return Status::Ok();
}

MetricsApi::MetricsApi(storage::Store& store, SummaryFetcher fetch_summary, const Clock& clock,
                       MetricsOptions options)
    : store_(store), fetch_summary_(std::move(fetch_summary)), clock_(clock), options_(options) {}

void MetricsApi::AddRoutes(Router& router) {
  router.AddPrefix(std::string(kPrefix),
                   [this](const HttpRequest& request) { return Handle(request); });
}

std::shared_ptr<const MetricsApi::Scrape> MetricsApi::Current() {
  std::lock_guard lock(mutex_);
  if (last_ && clock_.Now() - last_->taken < options_.resolution) return last_;
  last_ = TakeScrape();
  return last_;
}

std::shared_ptr<const MetricsApi::Scrape> MetricsApi::TakeScrape() {
  auto scrape = std::make_shared<Scrape>();
  scrape->taken = clock_.Now();
  const ResourceInfo& nodes = *FindResource("", "v1", "nodes");
  Result<storage::ListResult> listed = store_.List(StoragePrefix(nodes, ""), {});
  if (!listed.ok()) return scrape;
  std::vector<std::future<Result<std::string>>> summaries;
  for (const storage::KeyValue& kv : listed->items) {
    Result<json::object> node = DecodeStoredObject(kv, nodes);
    if (!node.ok()) continue;
    summaries.push_back(std::async(
        std::launch::async, [this, node = std::move(*node)] { return fetch_summary_(node); }));
  }
  const auto default_window =
      std::max(std::chrono::seconds(1),
               std::chrono::duration_cast<std::chrono::seconds>(options_.resolution));
  for (auto& summary : summaries) {
    Result<std::string> text = summary.get();
    if (text.ok()) (void)AddSummaryToScrape(*text, cumulative_, *scrape, default_window);
  }
  return scrape;
}

HttpResponse MetricsApi::Handle(const HttpRequest& request) {
  if (request.method != "GET") return MethodNotAllowed();
  const std::string query_watch = QueryParam(request.query, "watch");
  if (query_watch == "true" || query_watch == "1") return MethodNotAllowed();
  std::vector<std::string> segments =
      Segments(std::string_view(request.path).substr(kPrefix.size()));
  std::string namespace_name;
  if (segments.size() >= 3 && segments[0] == "namespaces") {
    namespace_name = segments[1];
    segments.erase(segments.begin(), segments.begin() + 2);
  }
  if (segments.empty() || segments.size() > 2 ||
      (segments[0] != "nodes" && segments[0] != "pods") ||
      (segments[0] == "nodes" && !namespace_name.empty())) {
    return StatusFailureResponse(404, "NotFound",
                                 "the server could not find the requested resource");
  }
  const bool pods = segments[0] == "pods";
  const std::string name = segments.size() == 2 ? segments[1] : "";
  const ResourceInfo& metrics_resource = *FindResource("metrics.k8s.io", "v1beta1", segments[0]);
  const ResourceInfo& source = *FindResource("", "v1", segments[0]);
  if (pods && !name.empty() && namespace_name.empty()) {
    return StatusFailureResponse(404, "NotFound",
                                 "the server could not find the requested resource");
  }
  Result<ObjectFilter> filter =
      ObjectFilter::Parse(QueryParam(request.query, "labelSelector"),
                          QueryParam(request.query, "fieldSelector"), source.plural);
  if (!filter.ok()) return StatusFailureResponse(400, "BadRequest", filter.status().message());

  // The objects the metrics are about: their names and labels.
  std::vector<json::object> objects;
  if (!name.empty()) {
    Result<storage::KeyValue> kv = store_.Get(StorageKey(source, namespace_name, name));
    if (kv.ok()) {
      Result<json::object> object = DecodeStoredObject(*kv, source);
      if (object.ok()) objects.push_back(std::move(*object));
    }
  } else {
    Result<storage::ListResult> listed = store_.List(StoragePrefix(source, namespace_name), {});
    if (!listed.ok()) return StatusFailureResponse(500, "InternalError", listed.status().message());
    for (const storage::KeyValue& kv : listed->items) {
      Result<json::object> object = DecodeStoredObject(kv, source);
      if (object.ok() && filter->Matches(*object)) objects.push_back(std::move(*object));
    }
  }
  std::shared_ptr<const Scrape> scrape = Current();
  json::array items;
  for (const json::object& object : objects) {
    const std::string object_name = StringAt(object, "metadata.name");
    const std::string object_namespace = StringAt(object, "metadata.namespace");
    const auto& samples = pods ? scrape->pods : scrape->nodes;
    auto found = samples.find(pods ? object_namespace + "/" + object_name : object_name);
    if (found == samples.end()) continue;
    const Sample& sample = found->second;
    json::object metadata{{"name", object_name}, {"creationTimestamp", Rfc3339(clock_.WallNow())}};
    if (pods) metadata["namespace"] = object_namespace;
    if (const json::value* labels = FindPath(object, "metadata.labels"))
      metadata["labels"] = *labels;
    json::object item{{"kind", metrics_resource.kind},
                      {"apiVersion", kApiVersion},
                      {"metadata", std::move(metadata)},
                      {"timestamp", Rfc3339(sample.time)},
                      {"window", GoDuration(sample.window)}};
    if (pods) {
      json::array containers;
      for (const auto& [container, usage] : sample.containers) {
        containers.push_back(json::object{{"name", container}, {"usage", UsageJson(usage)}});
      }
      item["containers"] = std::move(containers);
    } else {
      item["usage"] = UsageJson(sample.usage);
    }
    items.push_back(std::move(item));
  }
  if (!name.empty()) {
    if (items.empty()) {
      json::object details{{"name", name}, {"group", "metrics.k8s.io"}, {"kind", segments[0]}};
      json::object status{{"kind", "Status"},
                          {"apiVersion", "v1"},
                          {"metadata", json::object()},
                          {"status", "Failure"},
                          {"message", segments[0] + ".metrics.k8s.io \"" + name + "\" not found"},
                          {"reason", "NotFound"},
                          {"details", std::move(details)},
                          {"code", 404}};
      return JsonResponse(404, json::serialize(status));
    }
    return JsonResponse(200, json::serialize(items.front()));
  }
  json::object list{{"kind", metrics_resource.kind + "List"},
                    {"apiVersion", kApiVersion},
                    {"metadata", json::object()},
                    {"items", std::move(items)}};
  return JsonResponse(200, json::serialize(list));
}

}  // namespace kelp::apiserver
