// Golden checks of the generated OpenAPI schemas (types, formats, merge extensions, component
// names) and of strict field validation's unknown-field paths.
#include "api/openapi.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/protobuf_schema.h"
#include "common/json.h"

namespace kelp::api {
namespace {

namespace json = boost::json;

json::object SchemasOf(const GroupVersionKind& gvk) {
  json::object schemas;
  AddOpenApiSchemas(gvk, schemas);
  return schemas;
}

const json::object& Property(const json::object& schemas, const std::string& name,
                             const std::string& field) {
  return schemas.at(name).at("properties").at(field).as_object();
}

json::object Object(std::string_view text) {
  Result<json::object> object = ParseJsonObject(text);
  EXPECT_TRUE(object.ok()) << object.status().message();
  return object.ok() ? *object : json::object();
}

TEST(OpenApi, NamesFollowKubernetesPackages) {
  EXPECT_EQ(OpenApiSchemaName({"apps", "v1", "Deployment"}), "io.k8s.api.apps.v1.Deployment");
  EXPECT_EQ(OpenApiSchemaName({"", "v1", "Pod"}), "io.k8s.api.core.v1.Pod");
  EXPECT_EQ(OpenApiSchemaName({"coordination.k8s.io", "v1", "Lease"}),
            "io.k8s.api.coordination.v1.Lease");
}

TEST(OpenApi, DeploymentSchema) {
  json::object schemas = SchemasOf({"apps", "v1", "Deployment"});
  const json::object& deployment = schemas.at("io.k8s.api.apps.v1.Deployment").as_object();
  EXPECT_EQ(json::serialize(deployment.at("x-kubernetes-group-version-kind")),
            R"([{"group":"apps","kind":"Deployment","version":"v1"}])");
  EXPECT_EQ(json::serialize(deployment.at("properties").at("spec")),
            R"({"$ref":"#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"})");
  EXPECT_EQ(json::serialize(deployment.at("properties").at("metadata")),
            R"({"$ref":"#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"})");

  const json::object& replicas = Property(schemas, "io.k8s.api.apps.v1.DeploymentSpec", "replicas");
  EXPECT_EQ(replicas.at("type"), "integer");
  EXPECT_EQ(replicas.at("format"), "int32");

  const json::object& containers = Property(schemas, "io.k8s.api.core.v1.PodSpec", "containers");
  EXPECT_EQ(json::serialize(containers.at("items")),
            R"({"$ref":"#/components/schemas/io.k8s.api.core.v1.Container"})");
  EXPECT_EQ(containers.at("x-kubernetes-patch-merge-key"), "name");
  EXPECT_EQ(containers.at("x-kubernetes-patch-strategy"), "merge");
  EXPECT_EQ(containers.at("x-kubernetes-list-type"), "map");
  EXPECT_EQ(json::serialize(containers.at("x-kubernetes-list-map-keys")), R"(["name"])");
  EXPECT_EQ(Property(schemas, "io.k8s.api.core.v1.Container", "ports")
                .at("x-kubernetes-patch-merge-key"),
            "containerPort");
  // Lists without a merge rule are atomic: no strategy.
  EXPECT_FALSE(Property(schemas, "io.k8s.api.core.v1.Container", "args")
                   .contains("x-kubernetes-patch-strategy"));

  EXPECT_EQ(json::serialize(Property(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                                     "labels")
                                .at("additionalProperties")),
            R"({"type":"string"})");
  EXPECT_EQ(Property(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                     "creationTimestamp")
                .at("format"),
            "date-time");
  EXPECT_EQ(Property(schemas, "io.k8s.api.apps.v1.RollingUpdateDeployment", "maxSurge")
                .at("x-kubernetes-int-or-string"),
            true);
  EXPECT_EQ(Property(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers")
                .at("x-kubernetes-list-type"),
            "set");
}

// Every $ref of a kind's schemas names a component that was added with it.
void ExpectRefsResolve(const json::value& value, const json::object& schemas) {
  if (const json::object* object = value.if_object()) {
    for (const auto& [key, inner] : *object) {
      if (key == "$ref") {
        std::string ref(inner.as_string());
        EXPECT_TRUE(schemas.contains(ref.substr(ref.rfind('/') + 1))) << ref;
      } else {
        ExpectRefsResolve(inner, schemas);
      }
    }
  } else if (const json::array* array = value.if_array()) {
    for (const json::value& inner : *array) ExpectRefsResolve(inner, schemas);
  }
}

TEST(OpenApi, EveryReferenceOfEveryKnownKindResolves) {
  for (const ObjectSchema& object : KnownObjectSchemas()) {
    std::string_view api_version = object.api_version;
    size_t slash = api_version.find('/');
    GroupVersionKind gvk{slash == std::string_view::npos ? "" : api_version.substr(0, slash),
                         api_version.substr(slash + 1), object.kind};
    json::object schemas = SchemasOf(gvk);
    EXPECT_TRUE(schemas.contains(OpenApiSchemaName(gvk))) << object.kind;
    ExpectRefsResolve(schemas, schemas);
  }
}

TEST(OpenApi, AutoscalingVersionsKeepTheirOwnSpecs) {
  json::object v2 = SchemasOf({"autoscaling", "v2", "HorizontalPodAutoscaler"});
  EXPECT_TRUE(v2.at("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec")
                  .at("properties")
                  .as_object()
                  .contains("metrics"));
  json::object v1 = SchemasOf({"autoscaling", "v1", "HorizontalPodAutoscaler"});
  EXPECT_TRUE(v1.at("io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerSpec")
                  .at("properties")
                  .as_object()
                  .contains("targetCPUUtilizationPercentage"));
}

TEST(OpenApi, KindsWithoutATableArePermissive) {
  json::object schemas = SchemasOf({"", "v1", "PersistentVolume"});
  const json::object& volume = schemas.at("io.k8s.api.core.v1.PersistentVolume").as_object();
  EXPECT_EQ(volume.at("x-kubernetes-preserve-unknown-fields"), true);
  EXPECT_TRUE(schemas.contains("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
  EXPECT_TRUE(UnknownFields(Object(R"({"spec":{"anything":1},"whatever":2})"),
                            {"", "v1", "PersistentVolume"})
                  .empty());
}

TEST(OpenApi, UnknownFieldsNameKubernetesPaths) {
  json::object deployment = Object(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"any": "label"}, "managedFields": [{"x": 1}]},
    "spec": {"foo": 1, "replicas": 2,
      "template": {"spec": {
        "affinity": {"nodeAffinity": {}},
        "containers": [{"name": "a", "image": "nginx"}, {"name": "b", "imagee": "nginx"}],
        "volumes": [{"name": "v", "configMap": {"name": "cm"}}]}}},
    "bar": true})");
  EXPECT_EQ(UnknownFields(deployment, {"apps", "v1", "Deployment"}),
            (std::vector<std::string>{"spec.foo", "spec.template.spec.containers[1].imagee",
                                      "bar"}));
}

TEST(OpenApi, KnownObjectHasNoUnknownFields) {
  json::object pod = Object(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
    "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"limits": {"cpu": "1"}},
      "livenessProbe": {"httpGet": {"port": 80}, "periodSeconds": 3}}]}})");
  EXPECT_TRUE(UnknownFields(pod, {"", "v1", "Pod"}).empty());
}

}  // namespace
}  // namespace kelp::api
