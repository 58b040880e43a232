// Node credentials for `kelp agent`: the server writes <data-dir>/agent-token as
// "K10<sha256 hex of the CA certificate's DER>::node:<secret>" (k3s' format). The whole string
// is the bearer token; its K10 part lets an agent that has no CA file pin the server's CA.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace kelp::agent {

// The CA hash (64 lower-case hex digits) of a K10 token. InvalidArgument, naming the expected
// form, when `token` is not one.
Result<std::string> K10CaHash(std::string_view token);

}  // namespace kelp::agent
