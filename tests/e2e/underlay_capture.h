// A packet capture on a lab's underlay (every interface of the underlay namespace, through an
// AF_PACKET socket opened inside it): what the e2e tests use to prove how pod traffic crosses
// the "physical" LAN — VXLAN frames on UDP 8472 or flannel udp datagrams on 8285 with the
// pods' packets inside (raw, or in the first segment of kelp's segmented frame), or the pods'
// own IP packets for host-gw. Decodes Ethernet/IPv4/UDP/VXLAN/kelp frame only; no tshark needed.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace kelp::e2e {

struct CapturedPacket {
  std::string src;  // outer IPv4 source / destination
  std::string dst;
  int protocol = 0;   // outer IPv4 protocol (1 ICMP, 6 TCP, 17 UDP)
  int udp_dport = 0;  // when UDP
  bool fragment = false;  // an IP fragment (more-fragments flag or a fragment offset)
  // UDP 8285 carrying kelp's segmented frame (src/flannel/udp_frame.h) rather than a raw packet;
  // its first segment has the pod's packet header (a UDP GSO train is captured as one frame).
  bool kelp_frame = false;
  // The encapsulated IPv4 packet of a VXLAN frame (udp_dport 8472 or 4789) or of a flannel
  // udp datagram (udp_dport 8285), if any.
  std::string inner_src;
  std::string inner_dst;
  int inner_protocol = 0;
};

class UnderlayCapture {
 public:
  UnderlayCapture() = default;
  UnderlayCapture(const UnderlayCapture&) = delete;
  UnderlayCapture& operator=(const UnderlayCapture&) = delete;
  ~UnderlayCapture() { Stop(); }

  // Starts capturing in the network namespace at `netns_path`; returns once the socket is open.
  Status Start(const std::string& netns_path);
  // Stops and returns every IPv4 packet seen (each once per interface it crossed).
  std::vector<CapturedPacket> Stop();

 private:
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;  // guards packets_
  std::vector<CapturedPacket> packets_;
};

}  // namespace kelp::e2e
