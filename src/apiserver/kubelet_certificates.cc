// AddKubeletCertificateRoutes (see the header).
#include "apiserver/kubelet_certificates.h"

#include <boost/json.hpp>

#include "apiserver/pki.h"
#include "common/file.h"
#include "common/json.h"

namespace kelp::apiserver {
namespace json = boost::json;

namespace {
constexpr std::string_view kPrefix = "/apis/kelp.io/v1/nodes/";
constexpr std::string_view kSubresource = "/kubeletcertificate";
}  // namespace

void AddKubeletCertificateRoutes(Router& router, std::filesystem::path tls_dir) {
  router.AddPrefix(std::string(kPrefix), [tls_dir](const HttpRequest& request) {
    std::string_view rest = std::string_view(request.path).substr(kPrefix.size());
    if (!rest.ends_with(kSubresource)) {
      return StatusFailureResponse(404, "NotFound",
                                   "the server could not find the requested resource");
    }
    const std::string node(rest.substr(0, rest.size() - kSubresource.size()));
    if (request.method != "POST") {
      return StatusFailureResponse(
          405, "MethodNotAllowed",
          "the server does not allow this method on the requested resource");
    }
    Result<json::object> body = ParseJsonObject(request.body);
    if (!body.ok()) return StatusFailureResponse(400, "BadRequest", body.status().message());
    Result<std::string> csr = GetString(*body, "csr");
    if (!csr.ok()) return StatusFailureResponse(400, "BadRequest", csr.status().message());
    std::vector<std::string> addresses;
    if (const json::value* list = body->if_contains("addresses")) {
      if (!list->is_array())
        return StatusFailureResponse(400, "BadRequest", "addresses: expected an array");
      for (const json::value& address : list->get_array()) {
        if (!address.is_string()) {
          return StatusFailureResponse(400, "BadRequest", "addresses: expected strings");
        }
        addresses.emplace_back(address.get_string());
      }
    }
    Result<std::string> certificate = SignKubeletServingCertificate(tls_dir, *csr, node, addresses);
    if (!certificate.ok()) {
      const int code = certificate.status().code() == StatusCode::kInvalidArgument ? 400 : 500;
      return StatusFailureResponse(code, code == 400 ? "BadRequest" : "InternalError",
                                   certificate.status().message());
    }
    Result<std::string> ca = ReadFile(tls_dir / "ca.crt");
    if (!ca.ok()) return StatusFailureResponse(500, "InternalError", ca.status().message());
    json::object answer{{"kind", "KubeletCertificate"},
                        {"apiVersion", "kelp.io/v1"},
                        {"metadata", json::object{{"name", node}}},
                        {"certificate", *certificate},
                        {"ca", *ca}};
    return JsonResponse(201, json::serialize(answer));
  });
}

}  // namespace kelp::apiserver
