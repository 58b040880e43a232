// Fuzz target over kelp's udp frame receiver: arbitrary datagrams (as a peer or anyone able to
// spoof one could send) through FrameReceiver, as single datagrams, as GRO trains and as a
// recvmmsg batch, checking that every delivered frame stays within bounds.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <span>

#include "flannel/udp_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kelp::flannel;
  if (size < 3) return 0;
  // Byte 0: the sender; bytes 1-2: the GRO segment size; the rest: datagrams of up to 1500
  // bytes (each split again by the segment size).
  const uint32_t sender = data[0] % 4;
  const size_t segment_size = (size_t{data[1]} << 8) | data[2];
  std::span<const uint8_t> input(data + 3, size - 3);
  FrameReceiver receiver;
  auto sink = [](bool raw, std::span<const iovec> pieces, size_t length) {
    size_t total = 0;
    for (const iovec& piece : pieces) total += piece.iov_len;
    if (total != length || length == 0 || length > kMaxFrame) std::abort();
    if (raw && (pieces.size() != 1 || (static_cast<const uint8_t*>(pieces[0].iov_base)[0] >> 4) != 4)) {
      std::abort();
    }
  };
  receiver.Receive(sender, input, segment_size, sink);
  for (size_t offset = 0; offset < input.size(); offset += 1500) {
    receiver.Receive(sender + 1, input.subspan(offset, std::min<size_t>(1500, input.size() - offset)),
                     0, sink);
  }
  // The same bytes as one recvmmsg batch of three datagrams from two senders.
  const size_t third = input.size() / 3;
  const FrameReceiver::Datagram batch[] = {
      {sender, input.subspan(0, third), segment_size},
      {sender + 1, input.subspan(third, third), segment_size},
      {sender, input.subspan(2 * third), segment_size}};
  receiver.Receive(batch, sink);
  (void)ParseSegment(input);
  return 0;
}
