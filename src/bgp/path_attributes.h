// Path attribute and IPv4 NLRI wire handling for UPDATE messages (internal to src/bgp).
// The decoder applies RFC 4271 §6.3 or, when revised error handling is on, RFC 7606: each
// attribute error becomes a NOTIFICATION, "treat-as-withdraw" or "attribute discard" as
// listed in README.md. It also folds AS4_PATH/AS4_AGGREGATOR into 4-octet values (RFC 6793).
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "bgp/codec.h"
#include "bgp/message.h"
#include "bgp/wire.h"

namespace kelp::bgp {

// Decodes an NLRI-style list of (length, prefix bytes); nullopt when a length exceeds 32 or
// a prefix overruns the field. Host bits are cleared (RFC 4271: trailing bits are irrelevant).
std::optional<std::vector<Ipv4Prefix>> DecodeIpv4Prefixes(std::span<const uint8_t> field);
void EncodeIpv4Prefixes(const std::vector<Ipv4Prefix>& prefixes, WireWriter& out);

// Decodes the Path Attributes field into update.attributes, setting treat_as_withdraw and
// attribute_errors as RFC 7606 says. Returns the NOTIFICATION when the session must reset.
std::optional<DecodeError> DecodePathAttributes(std::span<const uint8_t> field,
                                                const CodecOptions& options, Update& update);

// Checks the well-known mandatory attributes once the NLRI is known (RFC 4271 §6.3).
std::optional<DecodeError> CheckMandatoryAttributes(const CodecOptions& options, Update& update);

// Appends the Path Attributes field (without its length) in ascending type order.
Status EncodePathAttributes(const PathAttributes& attributes, const CodecOptions& options,
                            WireWriter& out);

}  // namespace kelp::bgp
