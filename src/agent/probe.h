// Container probes as the kubelet runs them: a Probe parsed from a pod spec's
// livenessProbe/readinessProbe/startupProbe (httpGet, tcpSocket, exec; initialDelaySeconds,
// periodSeconds, timeoutSeconds, successThreshold, failureThreshold with Kubernetes'
// defaults), and the network checks against the pod IP. Exec probes run through the
// ContainerRuntime (the caller passes it in a ProbeTarget).
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace kelp::agent {

struct Probe {
  enum class Kind { kHttpGet, kTcpSocket, kExec };
  Kind kind = Kind::kTcpSocket;
  std::string host;  // empty: the pod IP
  int port = 0;
  std::string path = "/";
  std::string scheme = "HTTP";
  std::vector<std::pair<std::string, std::string>> http_headers;
  std::vector<std::string> command;
  std::chrono::seconds initial_delay{0};
  std::chrono::seconds period{10};
  std::chrono::seconds timeout{1};
  int success_threshold = 1;
  int failure_threshold = 3;
};

// `container` is the container spec (for named ports); `probe` its xxxProbe object.
// InvalidArgument for a probe without a handler, an unknown named port or HTTPS.
Result<Probe> ParseProbe(const boost::json::object& container, const boost::json::object& probe);

struct ProbeOutcome {
  bool success = false;
  std::string message;  // why it failed
};

// httpGet (a status 200..399 succeeds) or tcpSocket (a connection succeeds) against
// probe.host or `pod_ip`. `exec` runs an exec probe's command (exit code 0 succeeds).
ProbeOutcome RunProbe(const Probe& probe, const std::string& pod_ip,
                      const std::function<ProbeOutcome(const std::vector<std::string>&,
                                                       std::chrono::milliseconds)>& exec);

}  // namespace kelp::agent
