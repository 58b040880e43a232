// UdpFlowFilter's text form (see conntrack.h).
#include "proxy/conntrack.h"

namespace kelp::proxy {

std::string UdpFlowFilter::ToString() const {
  std::string text = "udp " + (destination ? destination->ToString() : std::string("*")) + ":" +
                     std::to_string(port);
  if (!endpoint) return text + " not natted";
  return text + " via " + endpoint->first.ToString() + ":" + std::to_string(endpoint->second);
}

}  // namespace kelp::proxy
