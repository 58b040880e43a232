// NetfilterConntrack: the real Conntrack seam on libnetfilter_conntrack (ctnetlink). It dumps
// the IPv4 conntrack table once per call, picks the UDP entries the filters select and deletes
// them one by one. Its netlink socket is opened on creation, so it belongs to the network
// namespace of the creating thread (create it where the proxy's rules are).
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "proxy/conntrack.h"

struct nfct_handle;

namespace kelp::proxy {

class NetfilterConntrack final : public Conntrack {
 public:
  static Result<std::unique_ptr<NetfilterConntrack>> Create();
  ~NetfilterConntrack() override;
  NetfilterConntrack(const NetfilterConntrack&) = delete;
  NetfilterConntrack& operator=(const NetfilterConntrack&) = delete;

  Result<int> DeleteUdpFlows(const std::vector<UdpFlowFilter>& filters) override;

 private:
  explicit NetfilterConntrack(nfct_handle* handle) : handle_(handle) {}

  std::mutex mutex_;  // guards handle_ (one query at a time)
  nfct_handle* handle_;
};

}  // namespace kelp::proxy
