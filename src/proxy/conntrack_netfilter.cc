// NetfilterConntrack: dump, filter, delete over ctnetlink (see conntrack_netfilter.h).
#include "proxy/conntrack_netfilter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
// libnetfilter_conntrack's header needs the fixed-width types first.
#include <cerrno>
#include <cstdint>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <unordered_map>

namespace kelp::proxy {

namespace {

struct DumpState {
  // The filters by original destination port, so an entry is compared with a few at most.
  std::unordered_multimap<uint16_t, const UdpFlowFilter*> by_port;
  std::vector<nf_conntrack*> matches;  // clones, owned until deleted
};

bool Selects(const UdpFlowFilter& filter, uint32_t orig_dst, uint16_t orig_port, uint32_t reply_src,
             uint16_t reply_port) {
  if (filter.destination && filter.destination->value != orig_dst) return false;
  if (filter.port != orig_port) return false;
  if (!filter.endpoint) return reply_src == orig_dst && reply_port == orig_port;
  return filter.endpoint->first.value == reply_src && filter.endpoint->second == reply_port;
}

int OnEntry(enum nf_conntrack_msg_type, struct nf_conntrack* ct, void* data) {
  auto* state = static_cast<DumpState*>(data);
  if (nfct_get_attr_u8(ct, ATTR_L4PROTO) != IPPROTO_UDP) return NFCT_CB_CONTINUE;
  const uint32_t orig_dst = ntohl(nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_DST));
  const uint16_t orig_port = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
  const uint32_t reply_src = ntohl(nfct_get_attr_u32(ct, ATTR_REPL_IPV4_SRC));
  const uint16_t reply_port = ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC));
  auto [first, last] = state->by_port.equal_range(orig_port);
  for (auto it = first; it != last; ++it) {
    if (Selects(*it->second, orig_dst, orig_port, reply_src, reply_port)) {
      state->matches.push_back(nfct_clone(ct));
      break;
    }
  }
  return NFCT_CB_CONTINUE;
}

}  // namespace

Result<std::unique_ptr<NetfilterConntrack>> NetfilterConntrack::Create() {
  nfct_handle* handle = nfct_open(CONNTRACK, 0);
  if (handle == nullptr) return ErrnoError("conntrack: nfct_open", errno);
  return std::unique_ptr<NetfilterConntrack>(new NetfilterConntrack(handle));
}

NetfilterConntrack::~NetfilterConntrack() { nfct_close(handle_); }

Result<int> NetfilterConntrack::DeleteUdpFlows(const std::vector<UdpFlowFilter>& filters) {
  if (filters.empty()) return 0;
  std::lock_guard lock(mutex_);
  DumpState state;
  for (const UdpFlowFilter& filter : filters) state.by_port.emplace(filter.port, &filter);
  nfct_callback_register(handle_, NFCT_T_ALL, OnEntry, &state);
  uint32_t family = AF_INET;
  const int dumped = nfct_query(handle_, NFCT_Q_DUMP, &family);
  const int dump_errno = errno;
  nfct_callback_unregister(handle_);
  int deleted = 0;
  for (nf_conntrack* ct : state.matches) {
    // An entry may expire between the dump and here (ENOENT): that is fine.
    if (nfct_query(handle_, NFCT_Q_DESTROY, ct) == 0) ++deleted;
    nfct_destroy(ct);
  }
  if (dumped != 0) return ErrnoError("conntrack: dump", dump_errno);
  return deleted;
}

}  // namespace kelp::proxy
