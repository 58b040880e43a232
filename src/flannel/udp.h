// The udp backend: TUN device flannel0 (MTU = uplink − 28) holding <subnet>.0 with the whole
// network's prefix, so the kernel sends every pod packet for another node into the TUN; a
// userspace proxy then carries it over UDP port 8285 to the owner of the destination subnet,
// whose proxy writes it into its own flannel0.
// flannel's proxy is one thread doing one read() and one sendto() per packet ("debugging
// only"); this one runs a thread per direction, batches the UDP side (sendmmsg/recvmmsg) and
// opens flannel0 with a virtio-net header and TSO, so a TCP stream arrives as 64 KiB
// super-packets. Wire: a packet without segmentation pending travels raw, as flannel's (its
// checksum completed here); a super-packet in kelp's segmented frame (udp_frame.h), MTU-sized
// datagrams sent as one UDP GSO train (never IP-fragmented) and received with UDP GRO.
// Datagrams from addresses that are not a peer, or for addresses outside this node's subnet,
// are dropped (the proxy is not an open relay).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "common/file.h"
#include "flannel/backend.h"
#include "flannel/udp_frame.h"

namespace kelp::flannel {

class UdpBackend final : public Backend {
 public:
  static constexpr int kBatch = 64;

  UdpBackend(BackendConfig config, net::Netlink& netlink)
      : config_(std::move(config)), netlink_(netlink) {}
  ~UdpBackend() override;  // stops the proxy; flannel0 goes with its file descriptor

  std::string type() const override { return kBackendUdp; }
  Result<BackendSetup> Setup(const LocalNode& local) override;
  Result<ReconcileReport> Reconcile(const std::vector<NodeLease>& remotes) override;

  struct Counters {
    uint64_t tun_packets = 0;  // read from flannel0 and sent
    uint64_t udp_packets = 0;  // received and written to flannel0
    uint64_t sendmmsg_calls = 0;
    uint64_t recvmmsg_calls = 0;
    uint64_t dropped = 0;  // no peer for the destination, or not from a peer
  };
  Counters counters() const;

 private:
  void StopProxy();
  void TunToUdp();
  void UdpToTun();

  BackendConfig config_;
  net::Netlink& netlink_;
  std::optional<Uplink> uplink_;
  LocalNode local_;
  uint32_t mtu_ = 0;
  UniqueFd tun_;
  UniqueFd udp_;
  UniqueFd stop_event_;  // eventfd that wakes both threads on stop
  std::atomic<bool> stopping_{false};  // for a thread that is busy, not in poll()
  std::thread tun_to_udp_;
  std::thread udp_to_tun_;

  mutable std::shared_mutex peers_mutex_;         // guards peers_, peer_ips_
  std::unordered_map<uint32_t, uint32_t> peers_;  // subnet network address → peer public IP
  std::unordered_map<uint32_t, bool> peer_ips_;   // public IPs allowed to send to us

  std::atomic<bool> gso_{true};  // UDP GSO works on the way to the peers
  std::atomic<uint64_t> tun_packets_{0}, udp_packets_{0}, sendmmsg_calls_{0}, recvmmsg_calls_{0},
      dropped_{0};
};

}  // namespace kelp::flannel
