// Decoding what an apiserver sends back, shared by every HTTP-based client: a non-2xx answer
// (normally a Kubernetes Status) as a kelp Status with the code api_client.h promises, and
// one line of a watch stream ({"type":"ADDED","object":{...}}) as a WatchEvent.
#pragma once

#include <string_view>

#include "client/api_client.h"
#include "common/status.h"

namespace kelp::client {

// `http_code` and `body` of an answer that is not 2xx. The message is the Status' message,
// else the body, else "HTTP <code>". 409 is kAlreadyExists when the Status' reason says so.
Status StatusFromResponse(int http_code, std::string_view body);

// One watch line. An ERROR event returns its Status through StatusFromResponse (410 →
// kExpired); malformed lines and unknown types are kInvalidArgument.
Result<WatchEvent> ParseWatchEvent(std::string_view line);

}  // namespace kelp::client
