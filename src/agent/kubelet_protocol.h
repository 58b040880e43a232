// The wire vocabulary of the kubelet's streaming and stats endpoints, free of any transport:
// the query parameters of /containerLogs and /exec, the Kubernetes remotecommand channel
// protocol (v5.channel.k8s.io / v4.channel.k8s.io: one channel byte per binary WebSocket
// message, a metav1.Status on the error channel carrying the exit code, terminal sizes on the
// resize channel, v5's close channel) and the Summary API document metrics-server reads.
// kubelet_server.cc speaks these over Beast; everything here is unit-tested on its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/runtime/cri_log.h"
#include "agent/runtime/exec.h"
#include "common/status.h"

namespace kelp::agent {

// Channel numbers of the remotecommand protocol.
inline constexpr uint8_t kStdinChannel = 0;
inline constexpr uint8_t kStdoutChannel = 1;
inline constexpr uint8_t kStderrChannel = 2;
inline constexpr uint8_t kErrorChannel = 3;
inline constexpr uint8_t kResizeChannel = 4;
inline constexpr uint8_t kCloseChannel = 255;  // v5 only: [255, channel] half-closes it

inline constexpr std::string_view kStreamProtocolV5 = "v5.channel.k8s.io";
inline constexpr std::string_view kStreamProtocolV4 = "v4.channel.k8s.io";

// The common name of the client certificate the API server presents to kubelets.
inline constexpr std::string_view kApiServerKubeletClientName = "kube-apiserver-kubelet-client";

// "a=1&b=x%20y&command=ls&command=-l" → every value of each key, in order, percent-decoded
// ('+' is a space).
std::multimap<std::string, std::string> ParseQueryString(std::string_view query);

struct ExecRequest {
  std::vector<std::string> command;
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
  bool tty = false;
};

// The exec query: `command` (repeated), `stdin`/`stdout`/`stderr`/`tty` ("true"/"1"), also
// under the kubelet's older names `input`/`output`/`error`. InvalidArgument without a
// command, without any stream, or with a tty and stderr together (as Kubernetes refuses).
Result<ExecRequest> ParseExecQuery(std::string_view query);

// The log query: follow, tailLines, timestamps, limitBytes, sinceSeconds, previous.
struct LogRequest {
  LogReadOptions options;
  std::optional<int64_t> since_seconds;
  bool previous = false;
};
Result<LogRequest> ParseLogQuery(std::string_view query);

// The subprotocol to answer a `Sec-WebSocket-Protocol` offer with: v5 when offered, else v4;
// nullopt when neither is.
std::optional<std::string_view> ChooseStreamProtocol(std::string_view offered);

// The error-channel message that ends an exec: Success for exit code 0; otherwise Failure,
// reason NonZeroExitCode, details.causes[{reason: ExitCode, message: "<code>"}] (kubectl exits
// with that code).
std::string ExecExitStatus(int exit_code, const std::vector<std::string>& command);
// A Failure Status on the error channel for an exec that could not run.
std::string ExecErrorStatus(std::string_view message);

// A resize-channel payload {"Width":W,"Height":H}; nullopt when it is not one.
std::optional<TerminalSize> ParseTerminalSize(std::string_view payload);

// A metav1.Status failure body, as the kubelet answers errors before streaming starts.
std::string StatusFailureJson(int code, std::string_view reason, std::string_view message);

// --- /stats/summary ---

// One cumulative sample of a cgroup.
struct CpuMemorySample {
  std::chrono::system_clock::time_point time;
  uint64_t cpu_usage_ns = 0;  // cumulative
  uint64_t memory_working_set_bytes = 0;
  uint64_t memory_usage_bytes = 0;
};

// A sample with the CPU rate worked out.
struct UsageStats {
  CpuMemorySample sample;
  std::optional<uint64_t> usage_nano_cores;  // nullopt: no rate known yet
};

// The CPU rate between two cumulative samples, in nanocores; nullopt when `later` is not
// later or the counter went backwards (a restarted container).
std::optional<uint64_t> CpuRate(const CpuMemorySample& earlier, const CpuMemorySample& later);

struct ContainerSummary {
  std::string name;
  std::chrono::system_clock::time_point start_time;
  UsageStats usage;
};

struct PodSummary {
  std::string name;
  std::string pod_namespace;
  std::string uid;
  std::chrono::system_clock::time_point start_time;
  UsageStats usage;
  std::vector<ContainerSummary> containers;
};

struct NodeSummary {
  std::string node_name;
  std::chrono::system_clock::time_point start_time;
  UsageStats usage;
  std::vector<PodSummary> pods;
};

// The kubelet Summary API (stats/v1alpha1) subset metrics-server reads: node and pod/container
// cpu (time, usageNanoCores, usageCoreNanoSeconds) and memory (time, workingSetBytes,
// usageBytes).
std::string SummaryJson(const NodeSummary& summary);

}  // namespace kelp::agent
