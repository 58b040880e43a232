// Status bodies are built with Boost.JSON; messages follow k8s.io/apimachinery's errors
// package word for word where kubectl users see them.
#include "apiserver/api_errors.h"

#include <boost/json.hpp>

namespace kelp::apiserver {
namespace {

namespace json = boost::json;

json::object Details(const ResourceInfo& resource, std::string_view name) {
  json::object details;
  if (!name.empty()) details["name"] = name;
  if (!resource.group.empty()) details["group"] = resource.group;
  details["kind"] = resource.plural;
  return details;
}

HttpResponse Failure(int code, std::string_view reason, std::string_view message,
                     json::object details) {
  json::object body{{"kind", "Status"},     {"apiVersion", "v1"},
                    {"metadata", json::object()}, {"status", "Failure"},
                    {"message", message},   {"reason", reason}};
  if (!details.empty()) body["details"] = std::move(details);
  body["code"] = code;
  return JsonResponse(code, json::serialize(body));
}

std::string Quoted(const ResourceInfo& resource, std::string_view name) {
  return resource.QualifiedResource() + " \"" + std::string(name) + "\"";
}

// "Deployment.apps" / "Pod": the kind as Invalid messages name it.
std::string QualifiedKind(const ResourceInfo& resource) {
  return resource.group.empty() ? resource.kind : resource.kind + "." + resource.group;
}

}  // namespace

HttpResponse NotFoundResponse(const ResourceInfo& resource, std::string_view name) {
  return Failure(404, "NotFound", Quoted(resource, name) + " not found", Details(resource, name));
}

HttpResponse AlreadyExistsResponse(const ResourceInfo& resource, std::string_view name) {
  return Failure(409, "AlreadyExists", Quoted(resource, name) + " already exists",
                 Details(resource, name));
}

HttpResponse ConflictResponse(const ResourceInfo& resource, std::string_view name,
                              std::string_view detail) {
  return Failure(409, "Conflict",
                 "Operation cannot be fulfilled on " + Quoted(resource, name) + ": " +
                     std::string(detail),
                 Details(resource, name));
}

HttpResponse ModifiedConflictResponse(const ResourceInfo& resource, std::string_view name) {
  return ConflictResponse(resource, name,
                          "the object has been modified; please apply your changes to the latest "
                          "version and try again");
}

HttpResponse InvalidResponse(const ResourceInfo& resource, std::string_view name,
                             const std::vector<api::FieldCause>& causes) {
  json::array cause_list;
  for (const api::FieldCause& cause : causes) {
    cause_list.push_back(json::object{
        {"reason", cause.reason}, {"message", cause.message}, {"field", cause.field}});
  }
  json::object details = Details(resource, name);
  details["kind"] = resource.kind;
  details["causes"] = std::move(cause_list);
  return Failure(422, "Invalid", api::InvalidMessage(QualifiedKind(resource), name, causes),
                 std::move(details));
}

HttpResponse BadRequestResponse(std::string_view message) {
  return Failure(400, "BadRequest", message, {});
}

HttpResponse MethodNotAllowedResponse(std::string_view method) {
  return Failure(405, "MethodNotAllowed",
                 "the server does not allow this method on the requested resource (" +
                     std::string(method) + ")",
                 {});
}

HttpResponse NamespaceTerminatingResponse(const ResourceInfo& resource, std::string_view name,
                                          std::string_view namespace_name) {
  std::string detail = "unable to create new content in namespace " +
                       std::string(namespace_name) + " because it is being terminated";
  json::object details = Details(resource, name);
  details["causes"] = json::array{json::object{
      {"reason", "NamespaceTerminating"}, {"message", detail}, {"field", "metadata.namespace"}}};
  return Failure(403, "Forbidden", Quoted(resource, name) + " is forbidden: " + detail,
                 std::move(details));
}

HttpResponse StoreErrorResponse(const Status& status, const ResourceInfo& resource,
                                std::string_view name) {
  switch (status.code()) {
    case StatusCode::kNotFound:
      return NotFoundResponse(resource, name);
    case StatusCode::kAlreadyExists:
      return AlreadyExistsResponse(resource, name);
    case StatusCode::kConflict:
      return ModifiedConflictResponse(resource, name);
    case StatusCode::kExpired:
      return Failure(410, "Expired", status.message(), {});
    case StatusCode::kInvalidArgument:
      return BadRequestResponse(status.message());
    case StatusCode::kUnimplemented:
      return Failure(415, "UnsupportedMediaType", status.message(), {});
    case StatusCode::kPermissionDenied:
      return Failure(403, "Forbidden", status.message(), Details(resource, name));
    case StatusCode::kUnavailable:
      return Failure(503, "ServiceUnavailable", status.message(), {});
    default:
      return Failure(500, "InternalError", "Internal error occurred: " + status.message(), {});
  }
}

}  // namespace kelp::apiserver
