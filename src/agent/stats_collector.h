// StatsCollector: the node's /stats/summary from the runtime's cgroup stats. cgroups give
// cumulative CPU time; the CPU rate (usageNanoCores, what `kubectl top` shows) is the
// difference to the sample this collector took before, as cAdvisor works it out. A container
// seen for the first time gets its average since it started; the node the sum of its pods.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "agent/kubelet_protocol.h"
#include "agent/runtime/runtime.h"
#include "common/status.h"

namespace kelp::agent {

class StatsCollector {
 public:
  StatsCollector(ContainerRuntime& runtime, std::string node_name)
      : runtime_(runtime), node_name_(std::move(node_name)) {}

  // Ready sandboxes and their running containers with usage. Thread-safe.
  Result<NodeSummary> Collect();

 private:
  struct Rate {
    CpuMemorySample base;  // the sample rates are taken against
    std::optional<uint64_t> nano_cores;
  };
  // The rate for `key` at `sample`: against the stored base when it is old enough (and the
  // base moves on), else the last rate; `first` when nothing is known yet.
  std::optional<uint64_t> RateOf(const std::string& key, const CpuMemorySample& sample,
                                 std::optional<uint64_t> first);

  ContainerRuntime& runtime_;
  const std::string node_name_;
  std::mutex mutex_;  // guards rates_ and Collect as a whole
  std::map<std::string, Rate> rates_;
};

}  // namespace kelp::agent
