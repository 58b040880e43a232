// OpenAPI v3 schemas of the served kinds, generated from the protobuf schema tables
// (protobuf_schema.h) and the strategic-merge list rules (patch.h), so the documents kubectl
// reads for apply/edit/explain and the server's strict field validation (UnknownFields) come
// from one description of each message. Kinds without a table get a permissive object schema.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

namespace kelp::api {

struct GroupVersionKind {
  std::string_view group;  // "" for the core group
  std::string_view version;
  std::string_view kind;
};

// The component name Kubernetes uses for a kind: "io.k8s.api.apps.v1.Deployment".
std::string OpenApiSchemaName(const GroupVersionKind& gvk);

// Adds to `schemas` (a components.schemas object) the schema of `gvk` and of every message it
// reaches, keyed by their component names. Schemas already present are left as they are.
void AddOpenApiSchemas(const GroupVersionKind& gvk, boost::json::object& schemas);

// The fields of `object` (an object of `gvk`) that its schema does not know, as Kubernetes
// names them in strict decoding errors: "spec.foo", "spec.template.spec.containers[0].imagee".
// A kind with a permissive schema has no unknown fields.
std::vector<std::string> UnknownFields(const boost::json::object& object,
                                       const GroupVersionKind& gvk);

}  // namespace kelp::api
