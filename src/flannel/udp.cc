// The udp backend (see udp.h).
#include "flannel/udp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
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
constexpr size_t kBufferSize = kVnetHeader + 65536;
// kelp's frame for what flannel's wire format cannot carry (a TSO super-packet or a packet
// whose checksum the receiving kernel must complete): 0x00 'K' part parts seq32, then a
// chunk of virtio_net_hdr + packet. A raw IPv4 packet (first nibble 4) is flannel's format.
constexpr size_t kFrameHeader = 8;
constexpr size_t kMaxChunk = 65507 - kFrameHeader;  // largest UDP payload over IPv4

bool PlainPacket(const VnetHeader& header) { return header.flags == 0 && header.gso_type == 0; }

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
    if (ioctl(tun.get(), TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) != 0) {
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
  std::vector<uint8_t> buffers(kBatch * kBufferSize);
  iovec iov[kBatch][2];
  uint8_t frames[kBatch][kFrameHeader];
  mmsghdr messages[kBatch];
  sockaddr_in peers[kBatch];
  const uint32_t mask = local_.subnet.Mask();
  uint32_t sequence = 0;
  while (WaitReadable(tun_.get(), stop_event_.get())) {
    int count = 0;
    int packets = 0;
    {
      std::shared_lock lock(peers_mutex_);
      while (count + 2 <= kBatch) {
        uint8_t* buffer = buffers.data() + packets * kBufferSize;
        ssize_t n = read(tun_.get(), buffer, kBufferSize);
        if (n <= static_cast<ssize_t>(kVnetHeader)) break;  // EAGAIN: the TUN queue is empty
        const uint8_t* packet = buffer + kVnetHeader;
        const size_t length = static_cast<size_t>(n) - kVnetHeader;
        auto peer = peers_.find(DestinationOf(packet, length) & mask);
        if (peer == peers_.end()) {
          dropped_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        ++packets;
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(config_.port);
        to.sin_addr.s_addr = htonl(peer->second);
        VnetHeader header;
        std::memcpy(&header, buffer, sizeof(header));
        auto add = [&](int iovs) {
          peers[count] = to;
          messages[count] = {};
          messages[count].msg_hdr.msg_name = &peers[count];
          messages[count].msg_hdr.msg_namelen = sizeof(sockaddr_in);
          messages[count].msg_hdr.msg_iov = iov[count];
          messages[count].msg_hdr.msg_iovlen = iovs;
          ++count;
        };
        if (PlainPacket(header)) {  // flannel's format: the IP packet alone
          iov[count][0] = {const_cast<uint8_t*>(packet), length};
          add(1);
          continue;
        }
        const size_t total = static_cast<size_t>(n);
        const uint8_t parts = total > kMaxChunk ? 2 : 1;
        ++sequence;
        for (uint8_t part = 0; part < parts; ++part) {
          const size_t offset = part * kMaxChunk;
          uint8_t* frame = frames[count];
          frame[0] = 0;
          frame[1] = 'K';
          frame[2] = part;
          frame[3] = parts;
          std::memcpy(frame + 4, &sequence, 4);
          iov[count][0] = {frame, kFrameHeader};
          iov[count][1] = {buffer + offset, std::min(kMaxChunk, total - offset)};
          add(2);
        }
      }
    }
    int sent = 0;
    while (sent < count) {
      int n = sendmmsg(udp_.get(), messages + sent, count - sent, 0);
      sendmmsg_calls_.fetch_add(1, std::memory_order_relaxed);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          pollfd out{udp_.get(), POLLOUT, 0};
          poll(&out, 1, 100);
          continue;
        }
        dropped_.fetch_add(count - sent, std::memory_order_relaxed);  // e.g. unreachable peer
        break;
      }
      sent += n;
    }
    tun_packets_.fetch_add(packets, std::memory_order_relaxed);
  }
}

void UdpBackend::UdpToTun() {
  std::vector<uint8_t> buffers(kBatch * kBufferSize);
  iovec iov[kBatch];
  mmsghdr messages[kBatch];
  sockaddr_in from[kBatch];
  for (int i = 0; i < kBatch; ++i) {
    iov[i] = {buffers.data() + i * kBufferSize, kBufferSize};
  }
  const uint32_t mask = local_.subnet.Mask();
  const uint32_t own = local_.subnet.Network().address.value;
  const VnetHeader plain{};
  // The first half of a two-part frame, per sender, until its second half arrives.
  struct Pending {
    uint32_t sequence = 0;
    std::vector<uint8_t> data;
  };
  std::unordered_map<uint32_t, Pending> pending;
  auto for_us = [&](const uint8_t* packet, size_t length) {
    return (DestinationOf(packet, static_cast<ssize_t>(length)) & mask) == own;
  };
  auto deliver = [&](const iovec* parts, int count, size_t length) {
    if (writev(tun_.get(), parts, count) == static_cast<ssize_t>(length)) {
      udp_packets_.fetch_add(1, std::memory_order_relaxed);
    } else {
      dropped_.fetch_add(1, std::memory_order_relaxed);
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
      }
      int n = recvmmsg(udp_.get(), messages, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) break;
      recvmmsg_calls_.fetch_add(1, std::memory_order_relaxed);
      std::shared_lock lock(peers_mutex_);
      for (int i = 0; i < n; ++i) {
        uint8_t* data = static_cast<uint8_t*>(iov[i].iov_base);
        const size_t length = messages[i].msg_len;
        const uint32_t sender = ntohl(from[i].sin_addr.s_addr);
        if (!peer_ips_.contains(sender) || length == 0) {
          dropped_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        if ((data[0] >> 4) == 4) {  // flannel's format
          if (!for_us(data, length)) {
            dropped_.fetch_add(1, std::memory_order_relaxed);
            continue;
          }
          const iovec parts[2] = {{const_cast<VnetHeader*>(&plain), kVnetHeader}, {data, length}};
          deliver(parts, 2, kVnetHeader + length);
          continue;
        }
        if (length <= kFrameHeader + kVnetHeader || data[0] != 0 || data[1] != 'K' ||
            data[3] == 0 || data[3] > 2 || data[2] >= data[3]) {
          dropped_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        uint32_t sequence;
        std::memcpy(&sequence, data + 4, 4);
        uint8_t* chunk = data + kFrameHeader;
        const size_t chunk_length = length - kFrameHeader;
        if (data[2] == 0) {
          if (!for_us(chunk + kVnetHeader, chunk_length - kVnetHeader)) {
            dropped_.fetch_add(1, std::memory_order_relaxed);
            continue;
          }
          if (data[3] == 1) {
            const iovec parts[1] = {{chunk, chunk_length}};
            deliver(parts, 1, chunk_length);
          } else {
            Pending& first = pending[sender];
            first.sequence = sequence;
            first.data.assign(chunk, chunk + chunk_length);
          }
          continue;
        }
        auto first = pending.find(sender);
        if (first == pending.end() || first->second.sequence != sequence ||
            first->second.data.empty()) {
          dropped_.fetch_add(1, std::memory_order_relaxed);  // its first half was lost
          continue;
        }
        const iovec parts[2] = {{first->second.data.data(), first->second.data.size()},
                                {chunk, chunk_length}};
        deliver(parts, 2, first->second.data.size() + chunk_length);
        first->second.data.clear();
      }
    }
  }
}

}  // namespace kelp::flannel
