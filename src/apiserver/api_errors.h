// Kubernetes metav1.Status failures for resource requests, with the reason, code and details
// kubectl keys on (`deployments.apps "nginx1" already exists`, `namespaces "abc" not found`).
// StoreErrorResponse maps a store or decoding Status to the matching HTTP answer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/validation.h"
#include "apiserver/resources.h"
#include "apiserver/router.h"
#include "common/status.h"

namespace kelp::apiserver {

HttpResponse NotFoundResponse(const ResourceInfo& resource, std::string_view name);
HttpResponse AlreadyExistsResponse(const ResourceInfo& resource, std::string_view name);
// "Operation cannot be fulfilled on <resource> \"<name>\": <detail>".
HttpResponse ConflictResponse(const ResourceInfo& resource, std::string_view name,
                              std::string_view detail);
// The object has been modified since the client read it.
HttpResponse ModifiedConflictResponse(const ResourceInfo& resource, std::string_view name);
HttpResponse InvalidResponse(const ResourceInfo& resource, std::string_view name,
                             const std::vector<api::FieldCause>& causes);
HttpResponse BadRequestResponse(std::string_view message);
HttpResponse MethodNotAllowedResponse(std::string_view method);
// Create in a namespace that is being deleted (403, cause NamespaceTerminating).
HttpResponse NamespaceTerminatingResponse(const ResourceInfo& resource, std::string_view name,
                                          std::string_view namespace_name);

// The response for a failed store call or body decoding about object `name` of `resource`:
// NotFound 404, AlreadyExists 409, Conflict 409, Expired 410, InvalidArgument 400,
// Unimplemented 415, PermissionDenied 403, Unavailable 503, anything else 500.
HttpResponse StoreErrorResponse(const Status& status, const ResourceInfo& resource,
                                std::string_view name);

}  // namespace kelp::apiserver
