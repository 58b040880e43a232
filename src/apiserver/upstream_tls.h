// The client side of mutual TLS towards an upstream (a node's kubelet), shared by the relay in
// https_server.cc and FetchFromUpstream in kubelet_client.cc, where it is defined. Include it
// only from those Beast/Asio translation units.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include "apiserver/router.h"
#include "common/status.h"

namespace kelp::apiserver {

// Makes `context` (a tls_client one) speak TLS 1.2 or later, verify the peer, trust the CA in
// `tls` and present its client certificate and key; InvalidArgument "TLS material: ..." when
// one of them does not load. A null `tls` leaves the default trust store and no certificate.
Status ConfigureUpstreamTls(boost::asio::ssl::context& context, const UpstreamTls* tls);

}  // namespace kelp::apiserver
