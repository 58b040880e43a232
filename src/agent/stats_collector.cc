// StatsCollector (see the header).
#include "agent/stats_collector.h"

#include <set>

namespace kelp::agent {
namespace {

using Clock = std::chrono::system_clock;
constexpr auto kMinimumWindow = std::chrono::milliseconds(500);

CpuMemorySample SampleOf(const ResourceStats& stats) {
  return {.time = stats.timestamp == Clock::time_point{} ? Clock::now() : stats.timestamp,
          .cpu_usage_ns = stats.cpu_usage_ns,
          .memory_working_set_bytes = stats.memory_working_set_bytes,
          .memory_usage_bytes = stats.memory_usage_bytes};
}

// The average rate since `start`, for a container or pod seen for the first time.
std::optional<uint64_t> AverageSince(Clock::time_point start, const CpuMemorySample& sample) {
  if (start == Clock::time_point{}) return std::nullopt;
  return CpuRate({.time = start, .cpu_usage_ns = 0}, sample);
}

}  // namespace

std::optional<uint64_t> StatsCollector::RateOf(const std::string& key,
                                               const CpuMemorySample& sample,
                                               std::optional<uint64_t> first) {
  auto it = rates_.find(key);
  if (it == rates_.end()) {
    rates_[key] = Rate{.base = sample, .nano_cores = first};
    return first;
  }
  Rate& rate = it->second;
  if (sample.time - rate.base.time >= kMinimumWindow ||
      sample.cpu_usage_ns < rate.base.cpu_usage_ns) {
    std::optional<uint64_t> now = CpuRate(rate.base, sample);
    rate.base = sample;
    if (now) rate.nano_cores = now;
  }
  return rate.nano_cores;
}

Result<NodeSummary> StatsCollector::Collect() {
  std::lock_guard lock(mutex_);
  NodeSummary summary{.node_name = node_name_};
  std::set<std::string> seen;
  KELP_ASSIGN_OR_RETURN(std::vector<SandboxStatus> sandboxes, runtime_.ListPodSandboxes());
  KELP_ASSIGN_OR_RETURN(std::vector<ContainerStatus> containers, runtime_.ListContainers());
  uint64_t pods_nano_cores = 0;
  for (const SandboxStatus& sandbox : sandboxes) {
    if (sandbox.state != SandboxState::kReady) continue;
    Result<ResourceStats> pod_stats = runtime_.PodStats(sandbox.id);
    if (!pod_stats.ok()) continue;  // e.g. torn down meanwhile
    PodSummary pod{.name = sandbox.name,
                   .pod_namespace = sandbox.pod_namespace,
                   .uid = sandbox.uid,
                   .start_time = sandbox.created_at};
    for (const ContainerStatus& container : containers) {
      if (container.sandbox_id != sandbox.id || container.state != ContainerState::kRunning) {
        continue;
      }
      Result<ResourceStats> stats = runtime_.ContainerStats(container.id);
      if (!stats.ok()) continue;
      CpuMemorySample sample = SampleOf(*stats);
      const std::string key = "container/" + container.id;
      seen.insert(key);
      const Clock::time_point started = container.started_at.value_or(container.created_at);
      pod.containers.push_back(
          {.name = container.name,
           .start_time = started,
           .usage = {.sample = sample,
                     .usage_nano_cores = RateOf(key, sample, AverageSince(started, sample))}});
    }
    CpuMemorySample sample = SampleOf(*pod_stats);
    const std::string key = "pod/" + sandbox.id;
    seen.insert(key);
    pod.usage = {.sample = sample,
                 .usage_nano_cores = RateOf(key, sample, AverageSince(sandbox.created_at, sample))};
    pods_nano_cores += pod.usage.usage_nano_cores.value_or(0);
    summary.pods.push_back(std::move(pod));
  }
  Result<ResourceStats> node_stats = runtime_.NodeStats();
  if (node_stats.ok()) {
    CpuMemorySample sample = SampleOf(*node_stats);
    seen.insert("node");
    summary.usage = {.sample = sample, .usage_nano_cores = RateOf("node", sample, pods_nano_cores)};
  } else {
    summary.usage = {.sample = {.time = Clock::now()}, .usage_nano_cores = pods_nano_cores};
  }
  for (auto it = rates_.begin(); it != rates_.end();) {
    it = seen.count(it->first) ? std::next(it) : rates_.erase(it);
  }
  return summary;
}

}  // namespace kelp::agent
