// JSON merge patch (RFC 7386): objects merge recursively, null deletes a member, anything
// else replaces. Used for `application/merge-patch+json` (kubectl scale) until the full patch
// engine (strategic merge, apply) in src/api/patch.h is plugged into RestOptions::apply_patch.
#pragma once

#include <boost/json/value.hpp>

namespace kelp::apiserver {

boost::json::value ApplyMergePatch(const boost::json::value& target,
                                   const boost::json::value& patch);

}  // namespace kelp::apiserver
