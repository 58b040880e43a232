// FlannelNode: flannel for one node, as the node agent hosts it (or `kelp flannel` runs it
// alone). Start() reads net-conf.json from ConfigMap kube-system/kube-flannel-cfg (unless the
// options carry a config), waits (bounded) for the node's spec.podCIDR, sets up the backend's
// devices, publishes flannel's annotations and NetworkUnavailable=False on the Node, writes
// /run/flannel/subnet.env atomically, installs the kelp-flannel conflist and plugin links,
// programs masquerade, and reconciles the peers once. Then (run_loop) a Node informer
// triggers Reconcile() on every lease change, and a periodic resync sweeps whatever drifted:
// the loop is level-triggered, each pass rebuilds the whole per-peer state from the leases.
//
// Threads: Start()/Stop() on the caller's; the informer's thread only signals; the sync
// thread runs Reconcile(). Every use of the kernel seams is serialized by kernel_mutex_.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/api_client.h"
#include "client/event_recorder.h"
#include "client/informer.h"
#include "common/clock.h"
#include "common/status.h"
#include "flannel/backend.h"
#include "flannel/cni_install.h"
#include "flannel/net_conf.h"
#include "net/netlink.h"
#include "proxy/nftables.h"

namespace kelp::flannel {

struct FlannelOptions {
  std::string node_name;
  std::string node_ip;  // the node's underlay address (flannel's public-ip)
  std::string iface;    // uplink; "" = the interface holding node_ip
  // Overrides the ConfigMap (standalone runs, tests).
  std::optional<NetworkConfig> network;
  std::filesystem::path subnet_file = "/run/flannel/subnet.env";
  bool install_cni = true;
  CniInstallOptions cni;
  bool ip_masq = true;
  std::chrono::milliseconds start_timeout{std::chrono::seconds(120)};  // ConfigMap, podCIDR
  // Set by the owner to give up waiting for the ConfigMap or the podCIDR at once (Start()
  // then fails with kCancelled), e.g. when the agent stops before flannel could start.
  const std::atomic<bool>* cancel = nullptr;
  std::chrono::milliseconds resync_period{std::chrono::seconds(30)};
  bool run_loop = true;  // false: Start() sets up and syncs once; the caller drives Reconcile
};

class FlannelNode {
 public:
  // The seams are borrowed and must outlive the object; `netlink` and `nft` act on the node's
  // network namespace.
  FlannelNode(client::ApiClient& client, net::Netlink& netlink, proxy::Nftables& nft, Clock& clock,
              FlannelOptions options);
  ~FlannelNode();  // Stop()
  FlannelNode(const FlannelNode&) = delete;
  FlannelNode& operator=(const FlannelNode&) = delete;

  // For the node agent: FlannelNode with the real kernel seams, opened in the calling
  // thread's network namespace, started. The ApiClient must outlive it.
  static Result<std::unique_ptr<FlannelNode>> StartWithKernel(client::ApiClient& client,
                                                              FlannelOptions options);

  // Blocks until the node is set up (or the error). Not restartable after Stop().
  Status Start();
  // Stops the loop; kernel state and subnet.env stay (pods keep working across a restart).
  void Stop();

  // One pass over `nodes` (Node objects): re-sets up the node if its podCIDR changed,
  // republishes missing annotations or condition, reconciles the peers' kernel state.
  Status Reconcile(const std::vector<client::ObjectPtr>& nodes);

  const NetworkConfig& network() const { return network_; }
  const net::Ipv4Prefix& subnet() const { return local_.subnet; }
  const BackendSetup& setup() const { return setup_; }
  // Errors of the last Reconcile about individual peers (also sent as Warning events).
  std::vector<std::string> peer_errors() const;

 private:
  // Waits one poll interval; false (at once) when the owner cancelled.
  bool PauseUnlessCancelled() const;
  Result<NetworkConfig> LoadNetworkConfig();
  Result<boost::json::object> WaitForOwnPodCidr();
  // Backend setup, subnet.env, CNI, masquerade, annotations for the node's current subnet.
  Status SetUpLocal(const boost::json::object& own_node);
  Status Publish(const boost::json::object& own_node);
  void Kick();
  void Loop();

  client::ApiClient& client_;
  net::Netlink& netlink_;
  proxy::Nftables& nft_;
  Clock& clock_;
  FlannelOptions options_;
  net::Ipv4Address public_ip_;
  NetworkConfig network_;
  LocalNode local_;
  BackendSetup setup_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<client::EventRecorder> events_;
  std::unique_ptr<client::Informer> informer_;

  mutable std::mutex kernel_mutex_;  // guards backend_, local_, setup_, peer_errors_, kernel seams
  std::vector<std::string> peer_errors_;

  std::mutex loop_mutex_;  // guards dirty_, stopping_
  std::condition_variable loop_cv_;
  bool dirty_ = false;
  bool stopping_ = false;
  std::thread loop_;

  // Owned seams when made by StartWithKernel.
  std::unique_ptr<net::Netlink> owned_netlink_;
  std::unique_ptr<proxy::Nftables> owned_nft_;
  std::unique_ptr<Clock> owned_clock_;
};

}  // namespace kelp::flannel
