// The udp backend (see udp.h).
#include "flannel/udp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

namespace kelp::flannel {
namespace {

constexpr uint32_t kUdpOverhead = 28;  // outer IPv4 20 + UDP 8
constexpr char kDevice[] = "flannel0";
// struct virtio_net_hdr (linux/virtio_net.h, which C++ cannot include: a field is `class`).
struct VnetHeader {
  uint8_t flags;     // VIRTIO_NET_HDR_F_NEEDS_CSUM ...
  uint8_t gso_type;  // VIRTIO_NET_HDR_GSO_NONE (0), _TCPV4 (1) ...
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};
static_assert(sizeof(VnetHeader) == 10);
constexpr size_t kVnetHeader = sizeof(VnetHeader);  // before every packet on flannel0
static_assert(kVnetHeader == kVnetHeaderSize);
constexpr uint8_t kNeedsChecksum = 1;                  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr size_t kBufferSize = kVnetHeader + 65536;    // one read from flannel0
constexpr size_t kMaxUdpPayload = 65507;               // over IPv4, GSO trains included
constexpr size_t kReceiveBuffer = 65536;               // one datagram or GRO train
constexpr size_t kMaxGsoSegments = 64;                 // UDP_MAX_SEGMENTS of older kernels

uint32_t DestinationOf(const uint8_t* packet, ssize_t n) {
  if (n < 20 || (packet[0] >> 4) != 4) return 0;
  uint32_t be = 0;
  std::memcpy(&be, packet + 16, 4);
  return ntohl(be);
}

// Waits until `fd` is readable or `stop` fires; false on stop.
bool WaitReadable(int fd, int stop) {
  pollfd fds[2] = {{fd, POLLIN, 0}, {stop, POLLIN, 0}};
  while (true) {
    int n = poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (fds[1].revents != 0) return false;
    if (fds[0].revents != 0) return true;
  }
}

}  // namespace

UdpBackend::~UdpBackend() { StopProxy(); }

void UdpBackend::StopProxy() {
  stopping_.store(true);
  if (stop_event_.valid()) {
    uint64_t one = 1;
    (void)!write(stop_event_.get(), &one, sizeof(one));
  }
  if (tun_to_udp_.joinable()) tun_to_udp_.join();
  if (udp_to_tun_.joinable()) udp_to_tun_.join();
}

Result<BackendSetup> UdpBackend::Setup(const LocalNode& local) {
  KELP_ASSIGN_OR_RETURN(Uplink uplink, FindUplink(netlink_, local.uplink, local.public_ip));
  if (uplink.link.mtu <= kUdpOverhead + 68) {
    return InvalidArgumentError(
        fmt::format("uplink {} MTU {} is too small for udp", uplink.link.name, uplink.link.mtu));
  }
  const uint32_t mtu = uplink.link.mtu - kUdpOverhead;
  KELP_RETURN_IF_ERROR(RemoveOtherVxlanDevices(netlink_, ""));
  if (!tun_.valid()) {
    // A flannel0 left by a crashed run (persistent TUNs only) is replaced.
    if (Result<net::Link> stale = netlink_.GetLink(kDevice); stale.ok()) {
      KELP_RETURN_IF_ERROR(netlink_.DeleteLink(stale->index));
    }
    UniqueFd tun(open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK));
    if (!tun.valid()) return ErrnoStatus("open /dev/net/tun", errno);
    ifreq request{};
    // With a virtio-net header the kernel may hand over TCP super-packets (TSO) with the
    // checksum left to the receiver: one read and one or two datagrams per 64 KiB instead of
    // per 1.4 KiB.
    request.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
    std::strncpy(request.ifr_name, kDevice, IFNAMSIZ - 1);
    if (ioctl(tun.get(), TUNSETIFF, &request) != 0) return ErrnoStatus("TUNSETIFF flannel0", errno);
    // A super-packet crosses the LAN as MTU-sized segments of kelp's frame, at most
    // kMaxParts of them: on a tiny MTU there is no TSO (the kernel segments before flannel0).
    const bool tso = PlanSegments(kMaxFrame, mtu).has_value();
    if (ioctl(tun.get(), TUNSETOFFLOAD, TUN_F_CSUM | (tso ? TUN_F_TSO4 : 0)) != 0) {
      return ErrnoStatus("TUNSETOFFLOAD flannel0", errno);
    }
    UniqueFd udp(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!udp.valid()) return ErrnoStatus("udp socket", errno);
    // Bursts of a TCP window must not overflow the socket (each drop costs the pod's TCP a
    // retransmission): 4 MiB, beyond net.core.rmem_max where we may (CAP_NET_ADMIN).
    int buffer = 4 << 20;
    if (setsockopt(udp.get(), SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof(buffer)) != 0) {
      setsockopt(udp.get(), SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
    }
    if (setsockopt(udp.get(), SOL_SOCKET, SO_SNDBUFFORCE, &buffer, sizeof(buffer)) != 0) {
      setsockopt(udp.get(), SOL_SOCKET, SO_SNDBUF, &buffer, sizeof(buffer));
    }
    // A train of segments sent with UDP GSO arrives as one datagram where the path keeps it
    // whole (veth, bridge, loopback) or the NIC does GRO; without it, one by one.
    int on = 1;
    if (setsockopt(udp.get(), SOL_UDP, UDP_GRO, &on, sizeof(on)) != 0) {
      spdlog::info("udp: UDP_GRO not available ({}); receiving segments one by one",
                   std::strerror(errno));
    }
    sockaddr_in bind_to{};
    bind_to.sin_family = AF_INET;
    bind_to.sin_port = htons(config_.port);
    bind_to.sin_addr.s_addr = htonl(local.public_ip.value);
    if (bind(udp.get(), reinterpret_cast<sockaddr*>(&bind_to), sizeof(bind_to)) != 0) {
      return ErrnoStatus(fmt::format("bind udp {}:{}", local.public_ip.ToString(), config_.port),
                         errno);
    }
    UniqueFd stop(eventfd(0, EFD_CLOEXEC));
    if (!stop.valid()) return ErrnoStatus("eventfd", errno);
    tun_ = std::move(tun);
    udp_ = std::move(udp);
    stop_event_ = std::move(stop);
  }
  KELP_ASSIGN_OR_RETURN(net::Link device, netlink_.GetLink(kDevice));
  if (device.mtu != mtu) KELP_RETURN_IF_ERROR(netlink_.SetLinkMtu(device.index, mtu));
  // <subnet>.0 with the whole network's prefix: the connected route sends every other pod
  // subnet into flannel0 (this node's own subnet is more specific, on cni0).
  const net::Address own{device.index, {local.subnet.Network().address, local.network.length}};
  KELP_ASSIGN_OR_RETURN(std::vector<net::Address> addresses, netlink_.ListAddresses(device.index));
  bool has_own = false;
  for (const net::Address& a : addresses) {
    if (a.index != device.index) continue;
    if (a.prefix == own.prefix) {
      has_own = true;
    } else {
      KELP_RETURN_IF_ERROR(netlink_.DeleteAddress(a));
    }
  }
  if (!has_own) KELP_RETURN_IF_ERROR(netlink_.AddAddress(own));
  if (!device.up) KELP_RETURN_IF_ERROR(netlink_.SetLinkUp(device.index, true));
  uplink_ = uplink;
  local_ = local;
  mtu_ = mtu;
  if (!tun_to_udp_.joinable()) {
    tun_to_udp_ = std::thread([this] { TunToUdp(); });
    udp_to_tun_ = std::thread([this] { UdpToTun(); });
  }
  return BackendSetup{.backend_data = "null", .mtu = mtu};
}

Result<ReconcileReport> UdpBackend::Reconcile(const std::vector<NodeLease>& remotes) {
  if (!uplink_) return InternalError("udp: Reconcile before Setup");
  ReconcileReport report;
  std::unordered_map<uint32_t, uint32_t> peers;
  std::unordered_map<uint32_t, bool> ips;
  for (const NodeLease& lease : remotes) {
    peers[lease.subnet.Network().address.value] = lease.public_ip.value;
    ips[lease.public_ip.value] = true;
  }
  std::unique_lock lock(peers_mutex_);
  for (const auto& [subnet, ip] : peers) {
    auto it = peers_.find(subnet);
    if (it == peers_.end() || it->second != ip) ++report.added;
  }
  for (const auto& [subnet, ip] : peers_) {
    if (!peers.contains(subnet)) ++report.removed;
  }
  peers_ = std::move(peers);
  peer_ips_ = std::move(ips);
  // Routes flannel made with another backend before are not this one's: sweep them.
  lock.unlock();
  KELP_RETURN_IF_ERROR(SyncRoutes(netlink_, {}, report));
  return report;
}

UdpBackend::Counters UdpBackend::counters() const {
  return {tun_packets_.load(), udp_packets_.load(), sendmmsg_calls_.load(), recvmmsg_calls_.load(),
          dropped_.load()};
}

void UdpBackend::TunToUdp() {
  // Per read packet at most one message per part (without GSO) and two iovecs per part.
  const size_t max_messages = kBatch * kMaxParts;
  std::vector<uint8_t> buffers(kBatch * kBufferSize);
  std::vector<uint8_t> headers(kBatch * kMaxParts * kSegmentHeader);
  std::vector<iovec> iov(kBatch * kMaxParts * 2);
  std::vector<mmsghdr> messages(max_messages);
  std::vector<sockaddr_in> peers(max_messages);
  constexpr size_t kControl = CMSG_SPACE(sizeof(uint16_t));
  std::vector<uint8_t> controls(max_messages * kControl);
  const uint32_t mask = local_.subnet.Mask();
  // The largest datagram that crosses the underlay unfragmented; a train sent with UDP GSO is
  // at most 64 segments and 64 KiB of UDP payload (65507 bytes over IPv4).
  const size_t max_payload = mtu_;
  uint32_t sequence = 0;
  // Sending a batch takes a while (the kernel runs much of the peer's receive path in it):
  // read again before sleeping in poll(), which only comes after a read round found nothing.
  bool drained = true;
  while (!stopping_.load(std::memory_order_relaxed)) {
    if (drained && !WaitReadable(tun_.get(), stop_event_.get())) break;
    int reads = 0;
    size_t count = 0;
    size_t iovs = 0;
    int packets = 0;
    const bool gso = gso_.load(std::memory_order_relaxed);
    auto add = [&](const sockaddr_in& to, size_t first_iov, size_t iov_count, uint16_t segment) {
      peers[count] = to;
      messages[count] = {};
      msghdr& m = messages[count].msg_hdr;
      m.msg_name = &peers[count];
      m.msg_namelen = sizeof(sockaddr_in);
      m.msg_iov = &iov[first_iov];
      m.msg_iovlen = iov_count;
      if (segment != 0) {
        m.msg_control = &controls[count * kControl];
        m.msg_controllen = kControl;
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        std::memcpy(CMSG_DATA(c), &segment, sizeof(segment));
      }
      ++count;
    };
    {
      std::shared_lock lock(peers_mutex_);
      while (packets < kBatch) {
        uint8_t* buffer = buffers.data() + packets * kBufferSize;
        ssize_t n = read(tun_.get(), buffer, kBufferSize);
        if (n <= static_cast<ssize_t>(kVnetHeader)) break;  // EAGAIN: the TUN queue is empty
        ++reads;
        uint8_t* packet = buffer + kVnetHeader;
        const size_t length = static_cast<size_t>(n) - kVnetHeader;
        auto peer = peers_.find(DestinationOf(packet, length) & mask);
        if (peer == peers_.end()) {
          dropped_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(config_.port);
        to.sin_addr.s_addr = htonl(peer->second);
        VnetHeader header;
        std::memcpy(&header, buffer, sizeof(header));
        if (header.gso_type == 0) {
          // flannel's format, the IP packet alone, with the checksum the kernel left to the
          // "device" completed here (a small packet: cheaper than a frame).
          if ((header.flags & kNeedsChecksum) != 0 &&
              !CompleteChecksum({packet, length}, header.csum_start, header.csum_offset)) {
            dropped_.fetch_add(1, std::memory_order_relaxed);
            continue;
          }
          ++packets;
          iov[iovs] = {packet, length};
          add(to, iovs, 1, 0);
          ++iovs;
          continue;
        }
        const std::optional<SegmentPlan> plan = PlanSegments(static_cast<size_t>(n), max_payload);
        if (!plan) {
          dropped_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        ++packets;
        ++sequence;
        const size_t segment = kSegmentHeader + plan->slice;
        const size_t per_train =
            gso ? std::min<size_t>(kMaxGsoSegments, kMaxUdpPayload / segment) : 1;
        size_t train_start = iovs;
        size_t in_train = 0;
        for (uint8_t part = 0; part < plan->parts; ++part) {
          uint8_t* frame = &headers[(packets - 1) * kMaxParts * kSegmentHeader +
                                    part * kSegmentHeader];
          WriteSegmentHeader({.parts = plan->parts, .part = part, .slice = plan->slice,
                              .sequence = sequence},
                             frame);
          const size_t offset = size_t{part} * plan->slice;
          iov[iovs++] = {frame, kSegmentHeader};
          iov[iovs++] = {buffer + offset,
                         std::min<size_t>(plan->slice, static_cast<size_t>(n) - offset)};
          ++in_train;
          if (in_train == per_train || part + 1 == plan->parts) {
            add(to, train_start, iovs - train_start,
                in_train > 1 ? static_cast<uint16_t>(segment) : 0);
            train_start = iovs;
            in_train = 0;
          }
        }
      }
    }
    size_t sent = 0;
    while (sent < count) {
      int n = sendmmsg(udp_.get(), messages.data() + sent, count - sent, 0);
      sendmmsg_calls_.fetch_add(1, std::memory_order_relaxed);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          pollfd out{udp_.get(), POLLOUT, 0};
          poll(&out, 1, 100);
          continue;
        }
        if (gso && (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP)) {
          // The route's device cannot take UDP GSO (no checksum offload, smaller path MTU):
          // from now on one datagram per segment.
          spdlog::warn("udp: UDP GSO send failed ({}); sending segments one by one",
                       std::strerror(errno));
          gso_.store(false, std::memory_order_relaxed);
        }
        dropped_.fetch_add(count - sent, std::memory_order_relaxed);  // e.g. unreachable peer
        break;
      }
      sent += static_cast<size_t>(n);
    }
    tun_packets_.fetch_add(packets, std::memory_order_relaxed);
    drained = reads == 0;
  }
}

void UdpBackend::UdpToTun() {
  std::vector<uint8_t> buffers(kBatch * kReceiveBuffer);
  constexpr size_t kControl = CMSG_SPACE(sizeof(int));
  std::vector<uint8_t> controls(kBatch * kControl);
  iovec iov[kBatch];
  mmsghdr messages[kBatch];
  sockaddr_in from[kBatch];
  for (int i = 0; i < kBatch; ++i) {
    iov[i] = {buffers.data() + i * kReceiveBuffer, kReceiveBuffer};
  }
  const uint32_t mask = local_.subnet.Mask();
  const uint32_t own = local_.subnet.Network().address.value;
  const VnetHeader plain{};
  FrameReceiver receiver;
  std::vector<FrameReceiver::Datagram> batch;
  batch.reserve(kBatch);
  uint64_t receiver_dropped = 0;
  auto deliver = [&](const iovec* parts, int count, size_t length) {
    if (writev(tun_.get(), parts, count) == static_cast<ssize_t>(length)) {
      udp_packets_.fetch_add(1, std::memory_order_relaxed);
    } else {
      dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  };
  // Only packets for this node's subnet go into flannel0 (not an open relay).
  const FrameReceiver::Sink sink = [&](bool raw, std::span<const iovec> pieces, size_t length) {
    uint8_t start[kVnetHeader + 20];
    size_t have = 0;
    for (const iovec& piece : pieces) {
      const size_t take = std::min(sizeof(start) - have, piece.iov_len);
      std::memcpy(start + have, piece.iov_base, take);
      have += take;
      if (have == sizeof(start)) break;
    }
    const size_t skip = raw ? 0 : kVnetHeader;
    if (have < skip || (DestinationOf(start + skip, have - skip) & mask) != own) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (raw) {
      const iovec parts[2] = {{const_cast<VnetHeader*>(&plain), kVnetHeader}, pieces[0]};
      deliver(parts, 2, kVnetHeader + length);
    } else {
      deliver(pieces.data(), static_cast<int>(pieces.size()), length);
    }
  };
  while (WaitReadable(udp_.get(), stop_event_.get())) {
    while (true) {
      for (int i = 0; i < kBatch; ++i) {
        messages[i] = {};
        messages[i].msg_hdr.msg_name = &from[i];
        messages[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
        messages[i].msg_hdr.msg_iov = &iov[i];
        messages[i].msg_hdr.msg_iovlen = 1;
        messages[i].msg_hdr.msg_control = &controls[i * kControl];
        messages[i].msg_hdr.msg_controllen = kControl;
      }
      int n = recvmmsg(udp_.get(), messages, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) break;
      recvmmsg_calls_.fetch_add(1, std::memory_order_relaxed);
      std::shared_lock lock(peers_mutex_);
      batch.clear();
      for (int i = 0; i < n; ++i) {
        const msghdr& m = messages[i].msg_hdr;
        const size_t length = messages[i].msg_len;
        const uint32_t sender = ntohl(from[i].sin_addr.s_addr);
        if (!peer_ips_.contains(sender) || length == 0 || (m.msg_flags & MSG_TRUNC) != 0) {
          dropped_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        // With UDP_GRO a datagram may be a whole train; the kernel says its segment size.
        int segment = 0;
        for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&m), c)) {
          if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
            std::memcpy(&segment, CMSG_DATA(c), sizeof(segment));
          }
        }
        batch.push_back({sender, {static_cast<const uint8_t*>(iov[i].iov_base), length},
                         segment > 0 ? static_cast<size_t>(segment) : 0});
      }
      receiver.Receive(batch, sink);
      dropped_.fetch_add(receiver.dropped() - receiver_dropped, std::memory_order_relaxed);
      receiver_dropped = receiver.dropped();
    }
  }
}

}  // namespace kelp::flannel
