// kelp's segmented frame for the udp backend: what flannel's wire format (one raw IPv4 packet
// per datagram) cannot carry, a TCP super-packet read from flannel0 with its virtio-net header
// (TSO), crosses the LAN as a train of datagrams that each fit the underlay MTU (sent with one
// UDP GSO sendmsg, received with UDP GRO as one train where the path keeps it whole). Each
// datagram: a 12-byte segment header, then its slice of (virtio_net_hdr + packet).
// Pure functions and state only (no kernel): the sender's plan and headers, the receiver's
// parser and bounded per-sender reassembly. Everything received is outside input.
#pragma once

#include <sys/uio.h>

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace kelp::flannel {

// Segment header: 00 'K' 02 parts part 00 slice16 sequence32 (big endian). Byte 2 (the
// version) keeps the one/two-part frames of earlier kelp versions ("00 'K' part parts") from
// being taken for this format and the other way round: each side drops the other's frames.
inline constexpr size_t kSegmentHeader = 12;
inline constexpr uint8_t kFrameVersion = 2;
inline constexpr size_t kVnetHeaderSize = 10;  // struct virtio_net_hdr
// A frame is a virtio-net header and one IPv4 packet (at most 64 KiB).
inline constexpr size_t kMaxFrame = kVnetHeaderSize + 65535;
inline constexpr size_t kMaxParts = 255;

struct SegmentHeader {
  uint8_t parts = 0;   // 1..255
  uint8_t part = 0;    // 0..parts-1
  uint16_t slice = 0;  // frame bytes in every part but the last (the last has 1..slice)
  uint32_t sequence = 0;
};

struct Segment {
  SegmentHeader header;
  std::span<const uint8_t> data;  // this part's slice of the frame
};

struct SegmentPlan {
  uint16_t slice = 0;
  uint8_t parts = 0;
};

// How a frame of `frame_length` bytes is cut into datagrams of at most `max_payload` bytes
// (segment header included); nullopt when it cannot be (empty or too big a frame, or so small
// a payload that it would take more than kMaxParts).
std::optional<SegmentPlan> PlanSegments(size_t frame_length, size_t max_payload);

void WriteSegmentHeader(const SegmentHeader& header, uint8_t out[kSegmentHeader]);

// Parses and checks one datagram (or one GRO segment of it) as a segment: magic, version,
// part < parts, the data length against the slice, the whole frame within kMaxFrame.
std::optional<Segment> ParseSegment(std::span<const uint8_t> datagram);

// flannel's wire format: a datagram whose first nibble is 4 is a raw IPv4 packet.
inline bool IsRawPacket(std::span<const uint8_t> datagram) {
  return !datagram.empty() && (datagram[0] >> 4) == 4;
}

// Completes the checksum the kernel left to the device (virtio-net header flag NEEDS_CSUM):
// the 16-bit one's complement sum from `start` to the end of `packet`, stored at
// start + offset (which holds the pseudo-header sum). False when the offsets are out of range.
bool CompleteChecksum(std::span<uint8_t> packet, size_t start, size_t offset);

// The receiving side: splits each datagram into its GRO segments, passes raw packets on,
// delivers a frame whose parts arrive in order within one datagram without copying, and
// reassembles any other frame in a small bounded state per sender (kSlotsPerSender frames
// in progress; the oldest is dropped for a new one, so a lost segment drops only its frame).
class FrameReceiver {
 public:
  static constexpr int kSlotsPerSender = 2;
  static constexpr size_t kMaxSenders = 64;

  // raw: a raw IPv4 packet (one piece); otherwise a whole frame (virtio-net header + packet)
  // in one or more pieces of `length` bytes in total. The pieces live until Receive returns.
  using Sink = std::function<void(bool raw, std::span<const iovec> pieces, size_t length)>;

  struct Datagram {
    uint32_t sender = 0;
    std::span<const uint8_t> data;
    size_t segment_size = 0;  // the GRO segment size the kernel reported (0: one segment)
  };

  // One recvmmsg batch: a frame whose parts come in order from one sender, within one
  // datagram or across consecutive ones (a 64 KiB packet takes two GSO trains), is delivered
  // straight from the datagrams. The datagrams must live until Receive returns.
  void Receive(std::span<const Datagram> datagrams, const Sink& sink);
  void Receive(uint32_t sender, std::span<const uint8_t> datagram, size_t segment_size,
               const Sink& sink) {
    const Datagram one{sender, datagram, segment_size};
    Receive({&one, 1}, sink);
  }

  // Segments that failed to parse or did not fit their frame, and frames given up unfinished.
  uint64_t dropped() const { return dropped_; }
  // Frames in progress over all senders (for tests).
  size_t pending() const;

 private:
  struct Slot {
    bool active = false;
    uint64_t started = 0;  // when the first segment came (a receive counter), for eviction
    SegmentHeader header;  // parts, slice, sequence
    size_t received = 0;
    size_t length = 0;  // known once the last part came
    std::bitset<kMaxParts> have;
    std::vector<uint8_t> buffer;
  };
  struct Sender {
    uint64_t last_used = 0;
    Slot slots[kSlotsPerSender];
  };

  void Reassemble(uint32_t sender, const Segment& segment, const Sink& sink);
  Sender& SenderFor(uint32_t sender);

  std::unordered_map<uint32_t, Sender> senders_;
  uint64_t clock_ = 0;
  uint64_t dropped_ = 0;
  std::vector<iovec> pieces_;
  std::vector<Segment> run_;
};

}  // namespace kelp::flannel
