// OpenAPI v3 discovery for kubectl apply/edit/explain: /openapi/v3 lists one document per
// served group-version, each at /openapi/v3/<api/v1 | apis/<g>/<v>>?hash=<H>, with the
// resources' paths and operations and the component schemas from api/openapi.h. The
// documents are built once, when the routes are added, and owned by the routes.
#pragma once

#include "apiserver/router.h"

namespace kelp::apiserver {

void AddOpenApiRoutes(Router& router);

}  // namespace kelp::apiserver
