// Tests of kelp's segmented udp frame: plan, header, parser checks, checksum completion, and
// the receiver's paths (GRO train, one segment per datagram, reordering, loss, several senders).
#include "flannel/udp_frame.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>

namespace kelp::flannel {
namespace {

using Bytes = std::vector<uint8_t>;

// A frame of `length` bytes: a virtio-net header, then an IPv4 header, then a counting pattern.
Bytes Frame(size_t length, uint8_t seed) {
  Bytes frame(length);
  for (size_t i = 0; i < length; ++i) frame[i] = static_cast<uint8_t>(i * 7 + seed);
  if (length >= kVnetHeaderSize + 20) frame[kVnetHeaderSize] = 0x45;
  return frame;
}

// What the sender puts on the wire: one datagram per part.
std::vector<Bytes> Segments(const Bytes& frame, size_t max_payload, uint32_t sequence) {
  std::optional<SegmentPlan> plan = PlanSegments(frame.size(), max_payload);
  EXPECT_TRUE(plan.has_value());
  std::vector<Bytes> out;
  for (uint8_t part = 0; part < plan->parts; ++part) {
    Bytes datagram(kSegmentHeader);
    WriteSegmentHeader(
        {.parts = plan->parts, .part = part, .slice = plan->slice, .sequence = sequence},
        datagram.data());
    const size_t offset = size_t{part} * plan->slice;
    const size_t take = std::min<size_t>(plan->slice, frame.size() - offset);
    datagram.insert(datagram.end(), frame.begin() + offset, frame.begin() + offset + take);
    out.push_back(std::move(datagram));
  }
  return out;
}

Bytes Concat(const std::vector<Bytes>& parts, size_t from, size_t to) {
  Bytes out;
  for (size_t i = from; i < to; ++i) out.insert(out.end(), parts[i].begin(), parts[i].end());
  return out;
}

struct Delivered {
  bool raw = false;
  size_t pieces = 0;
  Bytes data;
};

class Collector {
 public:
  FrameReceiver::Sink sink() {
    return [this](bool raw, std::span<const iovec> pieces, size_t length) {
      Delivered d{.raw = raw, .pieces = pieces.size()};
      for (const iovec& piece : pieces) {
        const uint8_t* p = static_cast<const uint8_t*>(piece.iov_base);
        d.data.insert(d.data.end(), p, p + piece.iov_len);
      }
      EXPECT_EQ(d.data.size(), length);
      delivered.push_back(std::move(d));
    };
  }
  std::vector<Delivered> delivered;
};

TEST(UdpFrameTest, PlanCutsASuperPacketIntoMtuSizedParts) {
  std::optional<SegmentPlan> plan = PlanSegments(kMaxFrame, 1472);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->slice, 1460);
  EXPECT_EQ(plan->parts, 45);  // ceil(65545 / 1460)
  plan = PlanSegments(100, 1472);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->parts, 1);
  EXPECT_FALSE(PlanSegments(0, 1472).has_value());
  EXPECT_FALSE(PlanSegments(kMaxFrame + 1, 1472).has_value());
  EXPECT_FALSE(PlanSegments(100, kSegmentHeader).has_value());
  EXPECT_FALSE(PlanSegments(kMaxFrame, 200).has_value());  // more than 255 parts
}

TEST(UdpFrameTest, HeaderRoundTrips) {
  Bytes datagram(kSegmentHeader + 5, 0xaa);
  WriteSegmentHeader({.parts = 3, .part = 2, .slice = 1460, .sequence = 0x01020304},
                     datagram.data());
  EXPECT_EQ(Bytes(datagram.begin(), datagram.begin() + kSegmentHeader),
            (Bytes{0x00, 'K', 0x02, 3, 2, 0, 0x05, 0xb4, 0x01, 0x02, 0x03, 0x04}));
  std::optional<Segment> segment = ParseSegment(datagram);
  ASSERT_TRUE(segment.has_value());
  EXPECT_EQ(segment->header.parts, 3);
  EXPECT_EQ(segment->header.part, 2);
  EXPECT_EQ(segment->header.slice, 1460);
  EXPECT_EQ(segment->header.sequence, 0x01020304u);
  EXPECT_EQ(segment->data.size(), 5u);
}

TEST(UdpFrameTest, ParserRejectsBadSegments) {
  auto make = [](SegmentHeader h, size_t data) {
    Bytes d(kSegmentHeader + data, 1);
    WriteSegmentHeader(h, d.data());
    return d;
  };
  EXPECT_TRUE(ParseSegment(make({.parts = 2, .part = 0, .slice = 4, .sequence = 1}, 4)));
  EXPECT_TRUE(ParseSegment(make({.parts = 2, .part = 1, .slice = 4, .sequence = 1}, 1)));
  EXPECT_FALSE(ParseSegment(make({.parts = 2, .part = 0, .slice = 4, .sequence = 1}, 3)));
  EXPECT_FALSE(ParseSegment(make({.parts = 2, .part = 1, .slice = 4, .sequence = 1}, 5)));
  EXPECT_FALSE(ParseSegment(make({.parts = 2, .part = 2, .slice = 4, .sequence = 1}, 4)));
  EXPECT_FALSE(ParseSegment(make({.parts = 0, .part = 0, .slice = 4, .sequence = 1}, 4)));
  EXPECT_FALSE(ParseSegment(make({.parts = 1, .part = 0, .slice = 0, .sequence = 1}, 1)));
  EXPECT_FALSE(ParseSegment(make({.parts = 1, .part = 0, .slice = 4, .sequence = 1}, 0)));
  // 255 parts of 65535 bytes: far beyond one 64 KiB packet.
  EXPECT_FALSE(ParseSegment(make({.parts = 255, .part = 0, .slice = 65535, .sequence = 1}, 65535)));
  EXPECT_FALSE(ParseSegment(make({.parts = 3, .part = 2, .slice = 40000, .sequence = 1}, 1)));
  Bytes bad = make({.parts = 1, .part = 0, .slice = 4, .sequence = 1}, 4);
  bad[1] = 'X';
  EXPECT_FALSE(ParseSegment(bad));
  bad[1] = 'K';
  bad[2] = 1;  // an earlier kelp's frame
  EXPECT_FALSE(ParseSegment(bad));
  bad[2] = kFrameVersion;
  bad[5] = 1;
  EXPECT_FALSE(ParseSegment(bad));
  EXPECT_FALSE(ParseSegment({}));
}

TEST(UdpFrameTest, CompletesTheChecksum) {
  // An IPv4 header (RFC 1071 style example) with its checksum field zeroed: 0xb861.
  Bytes header{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
               0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  ASSERT_TRUE(CompleteChecksum(header, 0, 10));
  EXPECT_EQ(header[10], 0xb8);
  EXPECT_EQ(header[11], 0x61);
  // An odd length pads with a zero byte; the seed already in the field is summed.
  Bytes odd{0x00, 0x01, 0x00, 0x00, 0xf2};
  ASSERT_TRUE(CompleteChecksum(odd, 0, 2));
  EXPECT_EQ((odd[2] << 8) | odd[3], 0xffff - 0x0001 - 0xf200);
  EXPECT_FALSE(CompleteChecksum(header, 19, 0));
  EXPECT_FALSE(CompleteChecksum(header, 10, 9));
  EXPECT_FALSE(CompleteChecksum(header, 20, 0));
}

TEST(UdpFrameTest, GroTrainIsDeliveredWholeWithoutCopying) {
  const Bytes frame = Frame(kMaxFrame, 3);
  const std::vector<Bytes> segments = Segments(frame, 1472, 9);
  const Bytes train = Concat(segments, 0, segments.size());
  FrameReceiver receiver;
  Collector out;
  receiver.Receive(1, train, segments[0].size(), out.sink());
  ASSERT_EQ(out.delivered.size(), 1u);
  EXPECT_FALSE(out.delivered[0].raw);
  EXPECT_EQ(out.delivered[0].pieces, segments.size());
  EXPECT_EQ(out.delivered[0].data, frame);
  EXPECT_EQ(receiver.pending(), 0u);
  EXPECT_EQ(receiver.dropped(), 0u);
}

TEST(UdpFrameTest, TrainSplitAcrossTwoDatagramsIsReassembled) {
  const Bytes frame = Frame(60000, 4);
  const std::vector<Bytes> segments = Segments(frame, 1472, 10);
  FrameReceiver receiver;
  Collector out;
  receiver.Receive(1, Concat(segments, 0, 30), segments[0].size(), out.sink());
  EXPECT_TRUE(out.delivered.empty());
  EXPECT_EQ(receiver.pending(), 1u);
  receiver.Receive(1, Concat(segments, 30, segments.size()), segments[0].size(), out.sink());
  ASSERT_EQ(out.delivered.size(), 1u);
  EXPECT_EQ(out.delivered[0].data, frame);
  EXPECT_EQ(receiver.pending(), 0u);
}

TEST(UdpFrameTest, TwoTrainsInOneBatchAreDeliveredWithoutCopying) {
  const Bytes frame = Frame(kMaxFrame, 6);
  const std::vector<Bytes> segments = Segments(frame, 1472, 12);
  const Bytes first = Concat(segments, 0, 44);
  const Bytes second = Concat(segments, 44, segments.size());
  const Bytes other = Frame(100, 7);  // another sender's one-part frame in between
  const std::vector<Bytes> other_segments = Segments(other, 1472, 12);
  FrameReceiver receiver;
  Collector out;
  const FrameReceiver::Datagram batch[] = {{1, first, segments[0].size()},
                                           {1, second, segments[0].size()}};
  receiver.Receive(batch, out.sink());
  ASSERT_EQ(out.delivered.size(), 1u);
  EXPECT_EQ(out.delivered[0].pieces, segments.size());
  EXPECT_EQ(out.delivered[0].data, frame);
  // With another sender in between, the first train goes to reassembly: still one frame.
  const FrameReceiver::Datagram mixed[] = {{1, first, segments[0].size()},
                                           {2, other_segments[0], 0},
                                           {1, second, segments[0].size()}};
  receiver.Receive(mixed, out.sink());
  ASSERT_EQ(out.delivered.size(), 3u);
  EXPECT_EQ(out.delivered[1].data, other);
  EXPECT_EQ(out.delivered[2].data, frame);
  EXPECT_EQ(receiver.pending(), 0u);
}

TEST(UdpFrameTest, SegmentsOneByOneInAnyOrderAreReassembled) {
  const Bytes frame = Frame(20000, 5);
  std::vector<Bytes> segments = Segments(frame, 1472, 11);
  std::reverse(segments.begin(), segments.end());
  std::swap(segments[2], segments[7]);
  FrameReceiver receiver;
  Collector out;
  for (const Bytes& s : segments) receiver.Receive(1, s, 0, out.sink());
  ASSERT_EQ(out.delivered.size(), 1u);
  EXPECT_EQ(out.delivered[0].data, frame);
  // A duplicate of an already delivered part starts nothing that completes.
  receiver.Receive(1, segments[0], 0, out.sink());
  EXPECT_EQ(out.delivered.size(), 1u);
}

TEST(UdpFrameTest, LostSegmentDropsOnlyItsFrameAndStateStaysBounded) {
  FrameReceiver receiver;
  Collector out;
  std::vector<Bytes> frames;
  for (uint32_t sequence = 1; sequence <= 10; ++sequence) {
    frames.push_back(Frame(5000 + sequence, static_cast<uint8_t>(sequence)));
    const std::vector<Bytes> segments = Segments(frames.back(), 1472, sequence);
    for (size_t i = 0; i < segments.size(); ++i) {
      if (sequence % 3 == 0 && i == 1) continue;  // lost on the way
      receiver.Receive(1, segments[i], 0, out.sink());
    }
    EXPECT_LE(receiver.pending(), size_t{FrameReceiver::kSlotsPerSender});
  }
  ASSERT_EQ(out.delivered.size(), 7u);
  size_t next = 0;
  for (uint32_t sequence = 1; sequence <= 10; ++sequence) {
    if (sequence % 3 == 0) continue;
    EXPECT_EQ(out.delivered[next++].data, frames[sequence - 1]) << sequence;
  }
  EXPECT_GE(receiver.dropped(), 1u);  // the unfinished frames that gave way
}

TEST(UdpFrameTest, SendersWithTheSameSequenceDoNotMix) {
  const Bytes a = Frame(4000, 1);
  const Bytes b = Frame(4000, 2);
  const std::vector<Bytes> from_a = Segments(a, 1472, 5);
  const std::vector<Bytes> from_b = Segments(b, 1472, 5);
  FrameReceiver receiver;
  Collector out;
  for (size_t i = 0; i < from_a.size(); ++i) {
    receiver.Receive(1, from_a[from_a.size() - 1 - i], 0, out.sink());
    receiver.Receive(2, from_b[from_b.size() - 1 - i], 0, out.sink());
  }
  ASSERT_EQ(out.delivered.size(), 2u);
  EXPECT_EQ(out.delivered[0].data, a);
  EXPECT_EQ(out.delivered[1].data, b);
}

TEST(UdpFrameTest, SameSequenceWithAnotherShapeStartsOver) {
  const Bytes first = Frame(4000, 1);
  const Bytes second = Frame(4000, 2);
  const std::vector<Bytes> old_shape = Segments(first, 1472, 5);
  const std::vector<Bytes> new_shape = Segments(second, 1000, 5);
  FrameReceiver receiver;
  Collector out;
  receiver.Receive(1, old_shape[1], 0, out.sink());
  for (size_t i = new_shape.size(); i-- > 0;) receiver.Receive(1, new_shape[i], 0, out.sink());
  ASSERT_EQ(out.delivered.size(), 1u);
  EXPECT_EQ(out.delivered[0].data, second);
  EXPECT_EQ(receiver.dropped(), 1u);  // the old shape's part
}

TEST(UdpFrameTest, RawPacketsPassThroughAlsoInAGroTrain) {
  Bytes raw(100, 0);
  raw[0] = 0x45;
  Bytes train = raw;
  train.insert(train.end(), raw.begin(), raw.end());
  train.push_back(0x45);  // a shorter last one
  FrameReceiver receiver;
  Collector out;
  receiver.Receive(1, train, 100, out.sink());
  ASSERT_EQ(out.delivered.size(), 3u);
  for (const Delivered& d : out.delivered) EXPECT_TRUE(d.raw);
  EXPECT_EQ(out.delivered[2].data.size(), 1u);
  Bytes garbage{0x00, 0x01, 0x02};
  receiver.Receive(1, garbage, 0, out.sink());
  EXPECT_EQ(out.delivered.size(), 3u);
  EXPECT_EQ(receiver.dropped(), 1u);
}

TEST(UdpFrameTest, SendersAreBounded) {
  const Bytes frame = Frame(3000, 1);
  const std::vector<Bytes> segments = Segments(frame, 1472, 1);
  FrameReceiver receiver;
  Collector out;
  for (uint32_t sender = 0; sender < 3 * FrameReceiver::kMaxSenders; ++sender) {
    receiver.Receive(sender, segments[0], 0, out.sink());
  }
  EXPECT_LE(receiver.pending(), FrameReceiver::kMaxSenders);
  EXPECT_TRUE(out.delivered.empty());
}

}  // namespace
}  // namespace kelp::flannel
