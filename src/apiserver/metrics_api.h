// MetricsApi: metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics (what metrics-server serves,
// and `kubectl top` and the HPA read), gathered from every node's kubelet /stats/summary on
// demand and kept for `resolution`: a request finding the last scrape older than that scrapes
// all nodes again (in parallel; a node that does not answer just has no metrics). CPU is the rate
// between this scrape's and the previous one's cumulative counters (the window), or the kubelet's
// own usageNanoCores the first time; memory is the working set. Pods carry their labels, so
// labelSelector works as it does for pods; fieldSelector metadata.name/namespace too.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "apiserver/router.h"
#include "common/clock.h"
#include "storage/store.h"

namespace kelp::apiserver {

struct MetricsOptions {
  std::chrono::milliseconds resolution{std::chrono::seconds(10)};
};

// The kubelet Summary document of a node (KubeletConnector::StatsSummary in the server).
using SummaryFetcher = std::function<Result<std::string>(const boost::json::object& node)>;

class MetricsApi {
 public:
  MetricsApi(storage::Store& store, SummaryFetcher fetch_summary, const Clock& clock,
             MetricsOptions options = {});

  // GET /apis/metrics.k8s.io/v1beta1/nodes[/name], /pods, /namespaces/{ns}/pods[/name].
  HttpResponse Handle(const HttpRequest& request);
  // Routes /apis/metrics.k8s.io/v1beta1/ to Handle (discovery stays with discovery.h).
  void AddRoutes(Router& router);

  struct Usage {
    int64_t nano_cores = 0;
    int64_t memory_bytes = 0;
  };
  struct Sample {
    std::chrono::system_clock::time_point time;
    std::chrono::seconds window{0};
    Usage usage;
    std::map<std::string, Usage> containers;  // pods only, by container name
  };
  struct Scrape {
    std::chrono::steady_clock::time_point taken;
    std::map<std::string, Sample> nodes;  // by node name
    std::map<std::string, Sample> pods;   // by "namespace/name"
  };

 private:
  // The current scrape, taking a new one when the last is older than the resolution.
  std::shared_ptr<const Scrape> Current();
  std::shared_ptr<const Scrape> TakeScrape();

  storage::Store& store_;
  const SummaryFetcher fetch_summary_;
  const Clock& clock_;
  const MetricsOptions options_;
  std::mutex mutex_;  // guards last_ and cumulative_, and serializes scrapes
  std::shared_ptr<const Scrape> last_;
  // Cumulative CPU counters of the previous scrape, by "node/<name>" or
  // "pod/<ns>/<name>/<container>": (time, usageCoreNanoSeconds).
  std::map<std::string, std::pair<std::chrono::system_clock::time_point, uint64_t>> cumulative_;
};

// Parses a kubelet Summary document into `scrape` (node and pods); rates from `cumulative`
// (updated). Exposed for tests.
Status AddSummaryToScrape(
    std::string_view summary_json,
    std::map<std::string, std::pair<std::chrono::system_clock::time_point, uint64_t>>& cumulative,
    MetricsApi::Scrape& scrape, std::chrono::seconds default_window);

}  // namespace kelp::apiserver
