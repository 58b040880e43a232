// Transport-independent HTTP request/response types and the Router that maps method + path to
// a handler. The HTTPS layer (https_server.cc) converts Beast messages to and from these, so
// API handlers never see Beast or Asio types.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kelp::apiserver {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path plus optional "?query"
  std::string path;    // target up to '?'
  std::string query;   // after '?', not decoded
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  // Header value by case-insensitive name.
  std::optional<std::string_view> Header(std::string_view name) const;
};

// A response body produced over time (watch events, or a large LIST written while it is
// made): the transport sends `body` first, then calls Next() on a helper thread of its own and
// writes each chunk as soon as it is returned, as HTTP/1.1 chunked encoding. Next() may block;
// Cancel() (from any thread: client gone, server stopping) must make a blocked Next() return
// promptly.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // The next chunk, or nullopt when the stream has ended.
  virtual std::optional<std::string> Next() = 0;
  virtual void Cancel() = 0;
  // A finite body (a LIST) leaves the connection open for the client's next request; an
  // open-ended one (a watch) closes it when it ends.
  virtual bool KeepsConnection() const { return false; }
};

// TLS material for calling an upstream HTTPS server: the CA its certificate must chain to (its
// name is checked against UpstreamRequest::host) and the client certificate to present.
struct UpstreamTls {
  std::string ca_pem;
  std::string client_cert_pem;
  std::string client_key_pem;
};

// A request the transport sends on to another HTTPS server (a node's kubelet), relaying the
// answer: the upstream's response head and body go to the client byte for byte, and after a
// 101 Switching Protocols (a WebSocket upgrade) bytes flow both ways until either side closes.
// The client connection closes afterwards. If the upstream cannot be reached, the client gets
// a 500 Status "error dialing backend: ...".
struct UpstreamRequest {
  std::string host;  // an IP literal (or name) the upstream's certificate carries
  uint16_t port = 0;
  std::string method = "GET";
  std::string target;  // path and query at the upstream
  // Sent besides Host (e.g. the client's Upgrade, Connection and Sec-WebSocket-* headers);
  // without an Upgrade header, "Connection: close" is sent.
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<const UpstreamTls> tls;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> extra_headers;
  // Set for streamed responses; `body` is then the first chunk (possibly empty).
  std::shared_ptr<ResponseStream> stream;
  // Set to proxy the request (see UpstreamRequest); everything else is then ignored.
  std::shared_ptr<const UpstreamRequest> upstream;
};

// The whole body of `response`: `body`, then every chunk of its stream until it ends (for
// callers without a transport, such as tests). Leaves `response` without a stream.
std::string CollectBody(HttpResponse& response);

HttpResponse TextResponse(int status, std::string body);
HttpResponse JsonResponse(int status, std::string json_body);
// A Kubernetes metav1.Status failure: {"kind":"Status",...,"reason":<reason>,"code":<status>}.
HttpResponse StatusFailureResponse(int status, std::string_view reason, std::string_view message);

using RequestHandler = std::function<HttpResponse(const HttpRequest&)>;

// Exact method+path routes first, then the longest matching path prefix (any method);
// unmatched requests get a NotFound Status.
class Router {
 public:
  void Add(std::string method, std::string path, RequestHandler handler);
  // Routes every request whose path starts with `prefix` that no exact route takes.
  void AddPrefix(std::string prefix, RequestHandler handler);
  HttpResponse Handle(const HttpRequest& request) const;

 private:
  std::map<std::pair<std::string, std::string>, RequestHandler> routes_;
  std::map<std::string, RequestHandler> prefix_routes_;
};

// Splits a request target into path and query and lower-cases header names.
HttpRequest MakeRequest(std::string method, std::string target,
                        std::vector<std::pair<std::string, std::string>> headers,
                        std::string body);

}  // namespace kelp::apiserver
