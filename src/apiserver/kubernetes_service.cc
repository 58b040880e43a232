// EnsureKubernetesService: three server-side applies through RestApi::Handle (no network, no
// authentication), each creating its object when absent, as kube-apiserver's own reconciler
// keeps them. The Service has no selector, so no endpoints controller touches its endpoints.
#include "apiserver/kubernetes_service.h"

#include <boost/json.hpp>
#include <string>

#include "common/json.h"

namespace kelp::apiserver {
namespace {

namespace json = boost::json;

constexpr std::string_view kName = "kubernetes";
constexpr std::string_view kFieldManager = "kube-apiserver";

json::object PortOf(int64_t port) {
  return {{"name", "https"}, {"port", port}, {"protocol", "TCP"}};
}

// Applies `object` at `path` (the item's URL); 200 and 201 are success.
Status Apply(const RestApi& rest, const std::string& path, const json::object& object) {
  HttpResponse response = rest.Handle(
      MakeRequest("PATCH", path + "?fieldManager=" + std::string(kFieldManager) + "&force=true",
                  {{"Content-Type", "application/apply-patch+yaml"}}, SerializeJson(object)));
  if (response.status == 200 || response.status == 201) return Status::Ok();
  return InternalError("apply " + path + ": HTTP " + std::to_string(response.status) + ": " +
                       response.body);
}

}  // namespace

Status EnsureKubernetesService(const RestApi& rest, const ServiceNetwork& network,
                               std::string_view endpoint_ip, uint16_t port) {
  const std::string cluster_ip = FormatIpv4Address(KubernetesServiceIp(network.service_cidr));
  json::object service{
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata", json::object{{"name", kName},
                                {"namespace", "default"},
                                {"labels", json::object{{"component", "apiserver"},
                                                        {"provider", "kubernetes"}}}}},
      {"spec", json::object{{"type", "ClusterIP"},
                            {"clusterIP", cluster_ip},
                            {"clusterIPs", json::array{json::string(cluster_ip)}},
                            {"sessionAffinity", "None"},
                            {"ports", json::array{json::object{{"name", "https"},
                                                               {"port", 443},
                                                               {"protocol", "TCP"},
                                                               {"targetPort", port}}}}}}};
  KELP_RETURN_IF_ERROR(Apply(rest, "/api/v1/namespaces/default/services/kubernetes", service));

  json::object endpoints{
      {"apiVersion", "v1"},
      {"kind", "Endpoints"},
      {"metadata", json::object{{"name", kName},
                                {"namespace", "default"},
                                {"labels", json::object{{"endpointslice.kubernetes.io/skip-mirror",
                                                         "true"}}}}},
      {"subsets", json::array{json::object{
                      {"addresses", json::array{json::object{{"ip", endpoint_ip}}}},
                      {"ports", json::array{PortOf(port)}}}}}};
  KELP_RETURN_IF_ERROR(Apply(rest, "/api/v1/namespaces/default/endpoints/kubernetes", endpoints));

  json::object slice{
      {"apiVersion", "discovery.k8s.io/v1"},
      {"kind", "EndpointSlice"},
      {"metadata", json::object{{"name", kName},
                                {"namespace", "default"},
                                {"labels", json::object{{"kubernetes.io/service-name", kName}}}}},
      {"addressType", "IPv4"},
      {"endpoints", json::array{json::object{
                        {"addresses", json::array{json::string(endpoint_ip)}},
                        {"conditions", json::object{{"ready", true}}}}}},
      {"ports", json::array{PortOf(port)}}};
  return Apply(rest, "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes",
               slice);
}

}  // namespace kelp::apiserver
