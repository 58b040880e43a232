// Transport-independent HTTP request/response types and the Router that maps method + path to
// a handler. The HTTPS layer (https_server.cc) converts Beast messages to and from these, so
// API handlers never see Beast or Asio types.
#pragma once

#include <functional>
#include <map>
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

struct HttpResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> extra_headers;
};

HttpResponse TextResponse(int status, std::string body);
HttpResponse JsonResponse(int status, std::string json_body);
// A Kubernetes metav1.Status failure: {"kind":"Status",...,"reason":<reason>,"code":<status>}.
HttpResponse StatusFailureResponse(int status, std::string_view reason, std::string_view message);

using RequestHandler = std::function<HttpResponse(const HttpRequest&)>;

// Exact method+path routes; unmatched requests get a NotFound Status.
class Router {
 public:
  void Add(std::string method, std::string path, RequestHandler handler);
  HttpResponse Handle(const HttpRequest& request) const;

 private:
  std::map<std::pair<std::string, std::string>, RequestHandler> routes_;
};

// Splits a request target into path and query and lower-cases header names.
HttpRequest MakeRequest(std::string method, std::string target,
                        std::vector<std::pair<std::string, std::string>> headers,
                        std::string body);

}  // namespace kelp::apiserver
