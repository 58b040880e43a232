// HttpsApiClient: the real ApiClient, speaking the Kubernetes REST API over HTTPS (HTTP/1.1
// keep-alive, JSON, bearer token) to a kelp server — or any apiserver. Requests borrow a
// connection from a small pool so concurrent callers do not wait on each other; each watch
// streams on a connection of its own. ClientConfig says where the server is and how to trust
// it: a CA certificate (PEM or file), or k3s-style the SHA-256 of the CA certificate, which the
// server presents in its chain. LoadKubeconfig() reads the kubeconfig `kelp server` writes.
#pragma once

#include <memory>

#include "client/api_client.h"
#include "client/client_config.h"
#include "common/status.h"

namespace kelp::client {

class HttpsApiClient final : public ApiClient {
 public:
  // Validates `config` (URL, CA material); connections are opened on first use.
  static Result<std::unique_ptr<HttpsApiClient>> Create(ClientConfig config);
  ~HttpsApiClient() override;
  HttpsApiClient(const HttpsApiClient&) = delete;
  HttpsApiClient& operator=(const HttpsApiClient&) = delete;

  Result<boost::json::object> Get(const Resource& resource, std::string_view namespace_name,
                                  std::string_view name) override;
  Result<ListResult> List(const Resource& resource, std::string_view namespace_name,
                          const ListOptions& options) override;
  Result<boost::json::object> Create(const Resource& resource, std::string_view namespace_name,
                                     const boost::json::object& object) override;
  Result<boost::json::object> CreateSubresource(const Resource& resource,
                                                std::string_view namespace_name,
                                                std::string_view name,
                                                std::string_view subresource,
                                                const boost::json::object& object) override;
  Result<boost::json::object> Update(const Resource& resource, const boost::json::object& object,
                                     std::string_view subresource = "") override;
  Result<boost::json::object> Patch(const Resource& resource, std::string_view namespace_name,
                                    std::string_view name, PatchType type, std::string_view body,
                                    std::string_view subresource = "") override;
  Status Delete(const Resource& resource, std::string_view namespace_name, std::string_view name,
                const DeleteOptions& options) override;
  Result<std::unique_ptr<WatchStream>> Watch(const Resource& resource,
                                             std::string_view namespace_name,
                                             const ListOptions& options) override;

  // Connections currently idle in the pool (for tests of keep-alive).
  size_t IdleConnections() const;

 private:
  struct Impl;
  explicit HttpsApiClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kelp::client
