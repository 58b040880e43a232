// kelp's segmented udp frame (see udp_frame.h).
#include "flannel/udp_frame.h"

#include <algorithm>
#include <cstring>

namespace kelp::flannel {
namespace {

bool Continues(const Segment& previous, const Segment& next) {
  return next.header.sequence == previous.header.sequence &&
         next.header.parts == previous.header.parts &&
         next.header.slice == previous.header.slice &&
         next.header.part == previous.header.part + 1;
}

iovec PieceOf(std::span<const uint8_t> data) {
  return {const_cast<uint8_t*>(data.data()), data.size()};
}

}  // namespace

std::optional<SegmentPlan> PlanSegments(size_t frame_length, size_t max_payload) {
  if (frame_length == 0 || frame_length > kMaxFrame || max_payload <= kSegmentHeader) {
    return std::nullopt;
  }
  const size_t slice = std::min<size_t>(max_payload - kSegmentHeader, 65535);
  const size_t parts = (frame_length + slice - 1) / slice;
  if (parts > kMaxParts) return std::nullopt;
  return SegmentPlan{.slice = static_cast<uint16_t>(slice), .parts = static_cast<uint8_t>(parts)};
}

void WriteSegmentHeader(const SegmentHeader& header, uint8_t out[kSegmentHeader]) {
  out[0] = 0;
  out[1] = 'K';
  out[2] = kFrameVersion;
  out[3] = header.parts;
  out[4] = header.part;
  out[5] = 0;
  out[6] = static_cast<uint8_t>(header.slice >> 8);
  out[7] = static_cast<uint8_t>(header.slice);
  out[8] = static_cast<uint8_t>(header.sequence >> 24);
  out[9] = static_cast<uint8_t>(header.sequence >> 16);
  out[10] = static_cast<uint8_t>(header.sequence >> 8);
  out[11] = static_cast<uint8_t>(header.sequence);
}

std::optional<Segment> ParseSegment(std::span<const uint8_t> datagram) {
  if (datagram.size() <= kSegmentHeader) return std::nullopt;
  const uint8_t* d = datagram.data();
  if (d[0] != 0 || d[1] != 'K' || d[2] != kFrameVersion || d[5] != 0) return std::nullopt;
  Segment segment;
  segment.header.parts = d[3];
  segment.header.part = d[4];
  segment.header.slice = static_cast<uint16_t>((d[6] << 8) | d[7]);
  segment.header.sequence = (uint32_t{d[8]} << 24) | (uint32_t{d[9]} << 16) |
                            (uint32_t{d[10]} << 8) | uint32_t{d[11]};
  segment.data = datagram.subspan(kSegmentHeader);
  const SegmentHeader& h = segment.header;
  if (h.parts == 0 || h.part >= h.parts || h.slice == 0) return std::nullopt;
  const bool last = h.part + 1 == h.parts;
  if (last ? segment.data.size() > h.slice : segment.data.size() != h.slice) return std::nullopt;
  // The whole frame: every other part is a full slice, the last at least one byte.
  const size_t smallest_total =
      size_t{h.parts - 1u} * h.slice + (last ? segment.data.size() : size_t{1});
  if (smallest_total > kMaxFrame) return std::nullopt;
  return segment;
}

bool CompleteChecksum(std::span<uint8_t> packet, size_t start, size_t offset) {
  if (start >= packet.size() || packet.size() - start < 2 || offset > packet.size() - start - 2) {
    return false;
  }
  uint64_t sum = 0;
  size_t i = start;
  for (; i + 1 < packet.size(); i += 2) sum += (uint32_t{packet[i]} << 8) | packet[i + 1];
  if (i < packet.size()) sum += uint32_t{packet[i]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  const uint16_t checksum = static_cast<uint16_t>(~sum);
  packet[start + offset] = static_cast<uint8_t>(checksum >> 8);
  packet[start + offset + 1] = static_cast<uint8_t>(checksum);
  return true;
}

void FrameReceiver::Receive(std::span<const Datagram> datagrams, const Sink& sink) {
  run_.clear();
  uint32_t run_sender = 0;
  // A run is the in-order parts 0..k of one frame from one sender; whole, it is delivered
  // straight from the datagrams, otherwise its parts go to reassembly.
  auto flush_run = [&] {
    for (const Segment& segment : run_) Reassemble(run_sender, segment, sink);
    run_.clear();
  };
  for (const Datagram& datagram : datagrams) {
    const std::span<const uint8_t> data = datagram.data;
    if (!run_.empty() && datagram.sender != run_sender) flush_run();
    size_t segment_size = datagram.segment_size;
    if (segment_size == 0 || segment_size > data.size()) segment_size = data.size();
    for (size_t offset = 0; offset < data.size(); offset += segment_size) {
      const std::span<const uint8_t> piece =
          data.subspan(offset, std::min(segment_size, data.size() - offset));
      if (IsRawPacket(piece)) {
        flush_run();
        const iovec raw = PieceOf(piece);
        sink(true, {&raw, 1}, piece.size());
        continue;
      }
      std::optional<Segment> segment = ParseSegment(piece);
      if (!segment) {
        ++dropped_;
        continue;
      }
      if (!run_.empty() && !Continues(run_.back(), *segment)) flush_run();
      if (run_.empty() && segment->header.part != 0) {
        Reassemble(datagram.sender, *segment, sink);
        continue;
      }
      run_sender = datagram.sender;
      run_.push_back(*segment);
      if (run_.size() == run_.front().header.parts) {
        pieces_.clear();
        size_t length = 0;
        for (const Segment& part : run_) {
          pieces_.push_back(PieceOf(part.data));
          length += part.data.size();
        }
        run_.clear();
        sink(false, pieces_, length);
      }
    }
  }
  flush_run();
}

FrameReceiver::Sender& FrameReceiver::SenderFor(uint32_t sender) {
  auto it = senders_.find(sender);
  if (it != senders_.end()) return it->second;
  if (senders_.size() >= kMaxSenders) {
    // Bounded: forget the sender heard from least recently (its unfinished frames drop).
    auto oldest = std::min_element(senders_.begin(), senders_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    for (const Slot& slot : oldest->second.slots) dropped_ += slot.active ? 1 : 0;
    senders_.erase(oldest);
  }
  return senders_[sender];
}

void FrameReceiver::Reassemble(uint32_t sender_address, const Segment& segment,
                               const Sink& sink) {
  Sender& sender = SenderFor(sender_address);
  sender.last_used = ++clock_;
  const SegmentHeader& h = segment.header;
  Slot* slot = nullptr;
  for (Slot& candidate : sender.slots) {
    if (candidate.active && candidate.header.sequence == h.sequence) slot = &candidate;
  }
  if (slot != nullptr && (slot->header.parts != h.parts || slot->header.slice != h.slice)) {
    // Same sequence, another shape: not one frame (e.g. the sender restarted). Start over.
    ++dropped_;
    slot->active = false;
  }
  if (slot == nullptr || !slot->active) {
    if (slot == nullptr) {
      slot = &sender.slots[0];
      for (Slot& candidate : sender.slots) {
        if (!candidate.active) {
          slot = &candidate;
          break;
        }
        if (candidate.started < slot->started) slot = &candidate;
      }
      if (slot->active) ++dropped_;  // the oldest unfinished frame gives way
    }
    slot->active = true;
    slot->started = clock_;
    slot->header = h;
    slot->received = 0;
    slot->length = 0;
    slot->have.reset();
    slot->buffer.resize(kMaxFrame);
  }
  if (slot->have.test(h.part)) return;  // a duplicate
  const size_t offset = size_t{h.part} * h.slice;
  std::memcpy(slot->buffer.data() + offset, segment.data.data(), segment.data.size());
  slot->have.set(h.part);
  ++slot->received;
  if (h.part + 1 == h.parts) slot->length = offset + segment.data.size();
  if (slot->received < h.parts) return;
  slot->active = false;
  const iovec whole{slot->buffer.data(), slot->length};
  sink(false, {&whole, 1}, slot->length);
}

size_t FrameReceiver::pending() const {
  size_t count = 0;
  for (const auto& [address, sender] : senders_) {
    for (const Slot& slot : sender.slots) count += slot.active ? 1 : 0;
  }
  return count;
}

}  // namespace kelp::flannel
