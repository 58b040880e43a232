// KubeletServer: the node's kubelet API on port 10250, what the API server calls for
// `kubectl logs`, `kubectl exec` and `kubectl top`:
//   GET  /containerLogs/{namespace}/{pod}/{container}?follow&tailLines&timestamps&sinceSeconds
//        &limitBytes&previous   → text/plain, chunked, flushed per entry; follow ends when the
//        container exits (or the client goes)
//   GET|POST /exec/{namespace}/{pod}/{container}?command=..&stdin&stdout&stderr&tty
//        → WebSocket, subprotocol v5.channel.k8s.io (v4 as fallback): the remotecommand
//        channels (kubelet_protocol.h), exit code as a Status on channel 3
//   GET  /stats/summary        → the Summary API subset metrics-server reads
//   GET  /healthz              → "ok"
// Mutual TLS: the server presents a certificate issued by the cluster CA (see
// kubelet_certificate.h for how an agent gets one) and accepts only clients whose certificate
// the same CA issued for client authentication with an allowed common name (the API server's
// "kube-apiserver-kubelet-client"); anything else fails the handshake or gets 403.
// Beast/Asio stay inside kubelet_server.cc.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "agent/container_lookup.h"
#include "agent/kubelet_protocol.h"
#include "agent/runtime/runtime.h"
#include "common/status.h"

namespace kelp::agent {

struct KubeletServerOptions {
  std::string bind_address = "0.0.0.0";
  uint16_t port = 10250;            // 0 picks a free port; see KubeletServer::port()
  std::filesystem::path cert_path;  // serving certificate (chain, PEM) issued by the cluster CA
  std::filesystem::path key_path;   // its private key (PEM)
  std::string client_ca_pem;        // the cluster CA: client certificates must chain to it
  std::vector<std::string> allowed_client_names = {std::string(kApiServerKubeletClientName)};
  std::string node_name;  // /stats/summary's node.nodeName
};

class KubeletServer {
 public:
  // Binds, listens and serves on a background thread. `runtime` and `lookup` must outlive the
  // server; their calls run on a small pool of the server's own threads.
  static Result<std::unique_ptr<KubeletServer>> Start(const KubeletServerOptions& options,
                                                      ContainerRuntime& runtime,
                                                      ContainerLookup& lookup);
  KubeletServer(const KubeletServer&) = delete;
  KubeletServer& operator=(const KubeletServer&) = delete;
  ~KubeletServer();  // Stop()

  uint16_t port() const;
  // Stops accepting, ends every log stream and connection and kills the exec'd processes of
  // open exec sessions. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit KubeletServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kelp::agent
