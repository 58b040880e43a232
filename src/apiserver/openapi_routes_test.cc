// Tests of the /openapi/v3 index and per-group-version documents: every served group-version
// is listed with its hash, the documents carry what kubectl looks for (a PATCH operation
// with the kind and the fieldValidation parameter, the schemas) and the caching headers.
#include "apiserver/openapi_routes.h"

#include <gtest/gtest.h>

#include <string>

#include <boost/json.hpp>

namespace kelp::apiserver {
namespace {

namespace json = boost::json;

std::string HeaderOf(const HttpResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.extra_headers) {
    if (key == name) return value;
  }
  return "";
}

class OpenApiRoutesTest : public ::testing::Test {
 protected:
  OpenApiRoutesTest() { AddOpenApiRoutes(router_); }
  HttpResponse Get(const std::string& target) const {
    return router_.Handle(MakeRequest("GET", target, {}, ""));
  }
  std::string DocumentUrl(const std::string& group_version) const {
    json::value index = json::parse(Get("/openapi/v3").body);
    return std::string(index.at("paths").at(group_version).at("serverRelativeURL").as_string());
  }
  Router router_;
};

TEST_F(OpenApiRoutesTest, IndexListsEveryServedGroupVersionWithItsHash) {
  HttpResponse index = Get("/openapi/v3");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "application/json");
  EXPECT_EQ(HeaderOf(index, "Cache-Control"), "no-cache, private");
  json::value body = json::parse(index.body);
  const json::object& paths = body.at("paths").as_object();
  for (std::string_view group_version :
       {"api/v1", "apis/apps/v1", "apis/autoscaling/v1", "apis/autoscaling/v2",
        "apis/coordination.k8s.io/v1", "apis/discovery.k8s.io/v1"}) {
    EXPECT_TRUE(paths.contains(group_version)) << group_version;
  }
  EXPECT_TRUE(DocumentUrl("apis/apps/v1").starts_with("/openapi/v3/apis/apps/v1?hash="));
}

TEST_F(OpenApiRoutesTest, GroupVersionDocumentHasPatchOperationsAndSchemas) {
  std::string url = DocumentUrl("apis/apps/v1");
  HttpResponse document = Get(url);
  ASSERT_EQ(document.status, 200);
  EXPECT_EQ(HeaderOf(document, "Cache-Control"), "public, immutable");
  EXPECT_EQ(HeaderOf(document, "ETag"), "\"" + url.substr(url.find("hash=") + 5) + "\"");
  json::value body = json::parse(document.body);
  EXPECT_EQ(body.at("openapi"), "3.0.0");
  const json::object& patch =
      body.at("paths").at("/apis/apps/v1/namespaces/{namespace}/deployments/{name}").at("patch")
          .as_object();
  EXPECT_EQ(json::serialize(patch.at("x-kubernetes-group-version-kind")),
            R"({"group":"apps","version":"v1","kind":"Deployment"})");
  bool has_field_validation = false;
  for (const json::value& parameter : patch.at("parameters").as_array()) {
    has_field_validation |= parameter.at("name") == "fieldValidation" && parameter.at("in") == "query";
  }
  EXPECT_TRUE(has_field_validation);
  const json::object& schemas = body.at("components").at("schemas").as_object();
  EXPECT_TRUE(schemas.contains("io.k8s.api.apps.v1.Deployment"));
  EXPECT_TRUE(schemas.contains("io.k8s.api.core.v1.PodSpec"));
  EXPECT_TRUE(schemas.contains("io.k8s.api.apps.v1.DaemonSet"));
}

TEST_F(OpenApiRoutesTest, CoreDocumentHasClusterScopedPathsWithoutNamespace) {
  json::value body = json::parse(Get(DocumentUrl("api/v1")).body);
  EXPECT_TRUE(body.at("paths").as_object().contains("/api/v1/namespaces/{name}"));
  EXPECT_TRUE(body.at("paths").as_object().contains("/api/v1/namespaces/{namespace}/pods/{name}"));
}

TEST_F(OpenApiRoutesTest, StaleOrMissingHashIsNotImmutableAndUnknownGroupIsNotFound) {
  EXPECT_EQ(HeaderOf(Get("/openapi/v3/apis/apps/v1"), "Cache-Control"), "no-cache, private");
  EXPECT_EQ(HeaderOf(Get("/openapi/v3/apis/apps/v1?hash=0"), "Cache-Control"), "no-cache, private");
  EXPECT_EQ(Get("/openapi/v3/apis/nope/v1").status, 404);
  EXPECT_EQ(Get("/openapi/v2").status, 404);
}

}  // namespace
}  // namespace kelp::apiserver
