// UnderlayCapture (see underlay_capture.h).
#include "tests/e2e/underlay_capture.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>

#include "common/file.h"
#include "flannel/udp_frame.h"
#include "net/netns.h"

namespace kelp::e2e {
namespace {

std::string Ipv4At(const uint8_t* p) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, p, text, sizeof(text));
  return text;
}

// Decodes an IPv4 packet at `p` (length `n`) into src/dst/protocol; returns the payload offset
// or 0 when it is not IPv4.
size_t DecodeIpv4(const uint8_t* p, size_t n, std::string& src, std::string& dst, int& protocol) {
  if (n < 20 || (p[0] >> 4) != 4) return 0;
  const size_t header = (p[0] & 0x0f) * 4u;
  if (header < 20 || n < header) return 0;
  protocol = p[9];
  src = Ipv4At(p + 12);
  dst = Ipv4At(p + 16);
  return header;
}

bool Decode(const uint8_t* frame, size_t n, CapturedPacket& packet) {
  if (n < 14 || frame[12] != 0x08 || frame[13] != 0x00) return false;
  const uint8_t* ip = frame + 14;
  n -= 14;
  const size_t payload = DecodeIpv4(ip, n, packet.src, packet.dst, packet.protocol);
  if (payload == 0) return false;
  const uint16_t fragment_field = static_cast<uint16_t>((ip[6] << 8) | ip[7]);
  packet.fragment = (fragment_field & 0x3fff) != 0;  // MF or an offset
  if ((fragment_field & 0x1fff) != 0) return true;   // not the first fragment: no UDP header
  if (packet.protocol != 17 || n < payload + 8) return true;
  const uint8_t* udp = ip + payload;
  packet.udp_dport = (udp[2] << 8) | udp[3];
  if (packet.udp_dport == 8285) {
    // flannel udp: the pod's IPv4 packet right after UDP, or kelp's segmented frame whose
    // first segment (part 0) starts with the virtio-net header, then the pod's packet.
    const uint8_t* data = udp + 8;
    const size_t length = n - payload - 8;
    using flannel::kSegmentHeader;
    using flannel::kVnetHeaderSize;
    if (length > kSegmentHeader && data[0] == 0 && data[1] == 'K' &&
        data[2] == flannel::kFrameVersion) {
      packet.kelp_frame = true;
      if (data[4] != 0 || length < kSegmentHeader + kVnetHeaderSize) return true;
      data += kSegmentHeader + kVnetHeaderSize;
    }
    DecodeIpv4(data, static_cast<size_t>(udp + 8 + length - data), packet.inner_src,
               packet.inner_dst, packet.inner_protocol);
    return true;
  }
  if (packet.udp_dport != 8472 && packet.udp_dport != 4789) return true;
  // UDP 8 + VXLAN 8 + inner Ethernet 14.
  const size_t inner = payload + 8 + 8 + 14;
  if (n < inner || udp[8 + 8 + 12] != 0x08 || udp[8 + 8 + 13] != 0x00) return true;
  DecodeIpv4(ip + inner, n - inner, packet.inner_src, packet.inner_dst, packet.inner_protocol);
  return true;
}

}  // namespace

Status UnderlayCapture::Start(const std::string& netns_path) {
  KELP_ASSIGN_OR_RETURN(UniqueFd netns, net::OpenNetns(netns_path));
  std::promise<Status> opened;
  std::future<Status> opened_future = opened.get_future();
  stop_ = false;
  thread_ = std::thread([this, fd = netns.release(), &opened] {
    UniqueFd netns_fd(fd);
    bool reported = false;
    Status status = net::RunInNetns(netns_fd.get(), [&]() -> Status {
      UniqueFd sock(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
      if (!sock.valid()) return ErrnoStatus("socket(AF_PACKET)", errno);
      timeval timeout{0, 100 * 1000};
      setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      opened.set_value(Status::Ok());
      reported = true;
      uint8_t frame[65536];
      // One frame; false when none was there (timeout, or nothing queued with MSG_DONTWAIT).
      auto take = [&](int flags) {
        sockaddr_ll from{};
        socklen_t from_len = sizeof(from);
        ssize_t n = recvfrom(sock.get(), frame, sizeof(frame), flags,
                             reinterpret_cast<sockaddr*>(&from), &from_len);
        if (n <= 0) return false;
        // Each frame is seen once per direction on a port; keep what arrives on a port
        // (PACKET_OUTGOING would be the same frame leaving through another).
        CapturedPacket packet;
        if (from.sll_pkttype == PACKET_OUTGOING ||
            !Decode(frame, static_cast<size_t>(n), packet)) {
          return true;
        }
        std::lock_guard lock(mutex_);
        packets_.push_back(std::move(packet));
        return true;
      };
      while (!stop_) take(0);
      // What was queued when Stop() came is part of the capture (a starved thread lags).
      for (int queued = 0; queued < 100000 && take(MSG_DONTWAIT); ++queued) {
      }
      return Status::Ok();
    });
    if (!reported) opened.set_value(status.ok() ? InternalError("capture ended early") : status);
  });
  Status status = opened_future.get();
  if (!status.ok()) Stop();
  return status;
}

std::vector<CapturedPacket> UnderlayCapture::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  return std::move(packets_);
}

}  // namespace kelp::e2e
