// EnsureFlannelConfig: one POST through RestApi::Handle (no network, no authentication);
// 201 Created and 409 AlreadyExists are both success.
#include "apiserver/flannel_config.h"

#include <boost/json.hpp>
#include <string>

#include "common/json.h"
#include "flannel/net_conf.h"

namespace kelp::apiserver {

Status EnsureFlannelConfig(const RestApi& rest, std::string_view cluster_cidr,
                           std::string_view backend) {
  if (backend == "none") return Status::Ok();
  KELP_ASSIGN_OR_RETURN(std::string net_conf, flannel::MakeNetConf(cluster_cidr, backend));
  boost::json::object config_map{
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata",
       boost::json::object{{"name", flannel::kConfigMapName},
                           {"namespace", flannel::kConfigMapNamespace},
                           {"labels", boost::json::object{{"app", "flannel"}, {"tier", "node"}}}}},
      {"data", boost::json::object{{flannel::kNetConfKey, net_conf}}}};
  const std::string path =
      std::string("/api/v1/namespaces/") + flannel::kConfigMapNamespace + "/configmaps";
  HttpResponse response = rest.Handle(
      MakeRequest("POST", path, {{"Content-Type", "application/json"}}, SerializeJson(config_map)));
  if (response.status == 201 || response.status == 409) return Status::Ok();
  return InternalError("create ConfigMap " + std::string(flannel::kConfigMapNamespace) + "/" +
                       flannel::kConfigMapName + ": HTTP " + std::to_string(response.status) +
                       ": " + response.body);
}

}  // namespace kelp::apiserver
