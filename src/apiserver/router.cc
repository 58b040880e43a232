// Router and response helpers; Status bodies are built with Boost.JSON so every message is
// escaped correctly.
#include "apiserver/router.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>

namespace kelp::apiserver {
namespace {

std::string Lowercase(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

}  // namespace

std::optional<std::string_view> HttpRequest::Header(std::string_view name) const {
  auto it = headers.find(Lowercase(name));
  if (it == headers.end()) return std::nullopt;
  return std::string_view(it->second);
}

std::string CollectBody(HttpResponse& response) {
  std::string body = std::move(response.body);
  response.body.clear();
  if (std::shared_ptr<ResponseStream> stream = std::move(response.stream)) {
    while (std::optional<std::string> chunk = stream->Next()) body.append(*chunk);
  }
  return body;
}

HttpResponse TextResponse(int status, std::string body) {
  return HttpResponse{.status = status, .content_type = "text/plain; charset=utf-8",
                      .body = std::move(body)};
}

HttpResponse JsonResponse(int status, std::string json_body) {
  return HttpResponse{.status = status, .content_type = "application/json",
                      .body = std::move(json_body)};
}

HttpResponse StatusFailureResponse(int status, std::string_view reason, std::string_view message) {
  boost::json::object body{{"kind", "Status"},
                           {"apiVersion", "v1"},
                           {"metadata", boost::json::object()},
                           {"status", "Failure"},
                           {"message", message},
                           {"reason", reason},
                           {"code", status}};
  return JsonResponse(status, boost::json::serialize(body));
}

void Router::Add(std::string method, std::string path, RequestHandler handler) {
  routes_[{std::move(method), std::move(path)}] = std::move(handler);
}

void Router::AddPrefix(std::string prefix, RequestHandler handler) {
  prefix_routes_[std::move(prefix)] = std::move(handler);
}

HttpResponse Router::Handle(const HttpRequest& request) const {
  auto it = routes_.find({request.method, request.path});
  if (it != routes_.end()) return it->second(request);
  // Map order puts a longer prefix after the shorter ones it extends: scan from the back.
  for (auto prefix = prefix_routes_.rbegin(); prefix != prefix_routes_.rend(); ++prefix) {
    if (request.path.starts_with(prefix->first)) return prefix->second(request);
  }
  return StatusFailureResponse(404, "NotFound", "the server could not find the requested resource");
}

HttpRequest MakeRequest(std::string method, std::string target,
                        std::vector<std::pair<std::string, std::string>> headers,
                        std::string body) {
  HttpRequest request{.method = std::move(method), .target = std::move(target),
                      .body = std::move(body)};
  size_t question = request.target.find('?');
  request.path = request.target.substr(0, question);
  if (question != std::string::npos) request.query = request.target.substr(question + 1);
  for (auto& [name, value] : headers) request.headers[Lowercase(name)] = std::move(value);
  return request;
}

}  // namespace kelp::apiserver
