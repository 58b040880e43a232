// FlannelNode (see flannel_node.h).
#include "flannel/flannel_node.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <thread>

#include "common/file.h"
#include "common/json.h"
#include "flannel/masquerade.h"
#include "flannel/node_lease.h"
#include "net/netlink_libnl.h"
#include "proxy/libnftables.h"

namespace kelp::flannel {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr auto kPollInterval = 200ms;
constexpr auto kRetryAfterError = 1s;

}  // namespace

FlannelNode::FlannelNode(client::ApiClient& client, net::Netlink& netlink, proxy::Nftables& nft,
                         Clock& clock, FlannelOptions options)
    : client_(client), netlink_(netlink), nft_(nft), clock_(clock), options_(std::move(options)) {}

FlannelNode::~FlannelNode() { Stop(); }

Result<std::unique_ptr<FlannelNode>> FlannelNode::StartWithKernel(client::ApiClient& client,
                                                                  FlannelOptions options) {
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<net::LibnlNetlink> netlink, net::LibnlNetlink::Open());
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<proxy::LibNftables> nft, proxy::LibNftables::Create());
  auto clock = std::make_unique<RealClock>();
  std::unique_ptr<FlannelNode> node(
      new FlannelNode(client, *netlink, *nft, *clock, std::move(options)));
  node->owned_netlink_ = std::move(netlink);
  node->owned_nft_ = std::move(nft);
  node->owned_clock_ = std::move(clock);
  KELP_RETURN_IF_ERROR(node->Start());
  return node;
}

bool FlannelNode::PauseUnlessCancelled() const {
  // Short steps, so that a cancel is seen within a few milliseconds.
  for (auto waited = 0ms; waited < kPollInterval; waited += 10ms) {
    if (options_.cancel != nullptr && options_.cancel->load()) return false;
    std::this_thread::sleep_for(10ms);
  }
  return options_.cancel == nullptr || !options_.cancel->load();
}

Result<NetworkConfig> FlannelNode::LoadNetworkConfig() {
  if (options_.network) return *options_.network;
  const auto deadline = clock_.Now() + options_.start_timeout;
  Status last;
  while (true) {
    Result<json::object> config_map =
        client_.Get(client::kConfigMaps, kConfigMapNamespace, kConfigMapName);
    if (config_map.ok()) {
      // Not a FindPath path: the key itself has a dot.
      const json::value* data = config_map->if_contains("data");
      const json::value* text = data != nullptr && data->is_object()
                                    ? data->get_object().if_contains(kNetConfKey)
                                    : nullptr;
      if (text == nullptr || !text->is_string()) {
        return InvalidArgumentError(fmt::format("ConfigMap {}/{} has no data.{}",
                                                kConfigMapNamespace, kConfigMapName, kNetConfKey));
      }
      return ParseNetConf(text->get_string());
    }
    last = config_map.status();
    if (clock_.Now() >= deadline) break;
    if (!PauseUnlessCancelled()) return CancelledError("flannel: start cancelled");
  }
  return last.WithContext(fmt::format("read ConfigMap {}/{}", kConfigMapNamespace, kConfigMapName));
}

Result<json::object> FlannelNode::WaitForOwnPodCidr() {
  const auto deadline = clock_.Now() + options_.start_timeout;
  Status last;
  while (true) {
    Result<json::object> node = client_.Get(client::kNodes, "", options_.node_name);
    if (node.ok()) {
      Result<net::Ipv4Prefix> cidr = PodCidrOf(*node);
      if (cidr.ok()) return node;
      last = cidr.status();
      if (last.code() != StatusCode::kNotFound) return last;
    } else {
      last = node.status();
    }
    if (clock_.Now() >= deadline) break;
    if (!PauseUnlessCancelled()) return CancelledError("flannel: start cancelled");
  }
  return DeadlineExceededError(fmt::format(
      "node {} got no spec.podCIDR within {} s ({}); is the node registered and the node-ipam "
      "controller running?",
      options_.node_name,
      std::chrono::duration_cast<std::chrono::seconds>(options_.start_timeout).count(),
      last.ToString()));
}

Status FlannelNode::Start() {
  if (options_.node_name.empty()) return InvalidArgumentError("flannel: the node name is required");
  Result<net::Ipv4Address> ip = net::Ipv4Address::Parse(options_.node_ip);
  if (!ip.ok()) return InvalidArgumentError("flannel: node IP: " + ip.status().message());
  public_ip_ = *ip;
  KELP_ASSIGN_OR_RETURN(network_, LoadNetworkConfig());
  KELP_ASSIGN_OR_RETURN(json::object own, WaitForOwnPodCidr());
  {
    std::lock_guard lock(kernel_mutex_);
    KELP_ASSIGN_OR_RETURN(backend_, MakeBackend(network_.backend, netlink_));
  }
  events_ = std::make_unique<client::EventRecorder>(client_, clock_, "flannel", options_.node_name);
  KELP_RETURN_IF_ERROR(SetUpLocal(own));
  // The first pass from a fresh list: sweeps what an earlier run left behind before anything
  // else is added.
  KELP_ASSIGN_OR_RETURN(client::ListResult nodes, client_.List(client::kNodes, "", {}));
  std::vector<client::ObjectPtr> objects;
  for (json::object& n : nodes.items)
    objects.push_back(std::make_shared<json::object>(std::move(n)));
  KELP_RETURN_IF_ERROR(Reconcile(objects));
  spdlog::info("flannel: node {} subnet {} backend {} mtu {}", options_.node_name,
               local_.subnet.ToString(), network_.backend.type, setup_.mtu);
  if (!options_.run_loop) return Status::Ok();

  informer_ = std::make_unique<client::Informer>(client_, client::kNodes);
  informer_->AddHandlers(
      {.on_add = [this](const client::ObjectPtr&) { Kick(); },
       .on_update =
           [this](const client::ObjectPtr& old_node, const client::ObjectPtr& new_node) {
             // Heartbeats change nothing flannel uses; leases, podCIDRs and our own node's
             // annotations and condition do.
             Result<NodeLease> before = LeaseFromNode(*old_node);
             Result<NodeLease> after = LeaseFromNode(*new_node);
             const bool lease_changed =
                 before.ok() != after.ok() || (before.ok() && !(*before == *after));
             const bool own =
                 GetString(*new_node, "metadata.name").value_or("") == options_.node_name;
             if (lease_changed || (own && !NetworkAvailable(*new_node))) Kick();
           },
       .on_delete = [this](const client::ObjectPtr&) { Kick(); }});
  informer_->Start();
  loop_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void FlannelNode::Stop() {
  {
    std::lock_guard lock(loop_mutex_);
    stopping_ = true;
  }
  loop_cv_.notify_all();
  if (informer_) informer_->Stop();
  if (loop_.joinable()) loop_.join();
  if (events_) events_->Flush();
}

void FlannelNode::Kick() {
  {
    std::lock_guard lock(loop_mutex_);
    dirty_ = true;
  }
  loop_cv_.notify_all();
}

void FlannelNode::Loop() {
  informer_->WaitForSync(options_.start_timeout);
  std::unique_lock lock(loop_mutex_);
  while (!stopping_) {
    loop_cv_.wait_for(lock, options_.resync_period, [this] { return dirty_ || stopping_; });
    if (stopping_) break;
    dirty_ = false;
    lock.unlock();
    Status status = Reconcile(informer_->List());
    lock.lock();
    if (!status.ok()) {
      spdlog::warn("flannel: reconcile: {}; retrying", status.ToString());
      loop_cv_.wait_for(lock, kRetryAfterError, [this] { return stopping_; });
      dirty_ = true;
    }
  }
}

Status FlannelNode::SetUpLocal(const json::object& own_node) {
  std::lock_guard lock(kernel_mutex_);
  KELP_ASSIGN_OR_RETURN(net::Ipv4Prefix subnet, PodCidrOf(own_node));
  if (!network_.network.Contains(subnet.address) || subnet.length < network_.network.length) {
    return InvalidArgumentError(fmt::format("node {} podCIDR {} is outside the flannel network {}",
                                            options_.node_name, subnet.ToString(),
                                            network_.network.ToString()));
  }
  local_ = {.name = options_.node_name,
            .subnet = subnet,
            .network = network_.network,
            .public_ip = public_ip_,
            .uplink = options_.iface};
  KELP_ASSIGN_OR_RETURN(setup_, backend_->Setup(local_));
  if (options_.ip_masq) KELP_RETURN_IF_ERROR(ApplyMasquerade(nft_, network_.network, subnet));
  if (options_.install_cni) KELP_RETURN_IF_ERROR(InstallCni(options_.cni));
  KELP_RETURN_IF_ERROR(CreateDirectories(options_.subnet_file.parent_path(), 0755));
  const std::string env = FormatSubnetEnv({.network = network_.network,
                                           .subnet = subnet,
                                           .mtu = setup_.mtu,
                                           .ip_masq = options_.ip_masq});
  if (ReadFile(options_.subnet_file).value_or("") != env) {
    KELP_RETURN_IF_ERROR(WriteFileAtomic(options_.subnet_file, env, 0644));
  }
  return Publish(own_node);
}

Status FlannelNode::Publish(const json::object& own_node) {
  if (!HasAnnotations(own_node, backend_->type(), setup_.backend_data, public_ip_)) {
    KELP_RETURN_IF_ERROR(
        client_
            .Patch(client::kNodes, "", options_.node_name, client::PatchType::kMerge,
                   AnnotationPatch(backend_->type(), setup_.backend_data, public_ip_))
            .status()
            .WithContext("annotate node " + options_.node_name));
  }
  if (!NetworkAvailable(own_node)) {
    KELP_RETURN_IF_ERROR(client_
                             .Patch(client::kNodes, "", options_.node_name,
                                    client::PatchType::kStrategicMerge,
                                    NetworkAvailablePatch(clock_.WallNow()), "status")
                             .status()
                             .WithContext("set NetworkUnavailable=False on " + options_.node_name));
  }
  return Status::Ok();
}

Status FlannelNode::Reconcile(const std::vector<client::ObjectPtr>& nodes) {
  std::vector<NodeLease> remotes;
  const json::object* own = nullptr;
  for (const client::ObjectPtr& node : nodes) {
    const std::string name(GetString(*node, "metadata.name").value_or(""));
    if (name == options_.node_name) {
      own = node.get();
      continue;
    }
    if (FindPath(*node, "metadata.deletionTimestamp") != nullptr) continue;
    Result<NodeLease> lease = LeaseFromNode(*node);
    if (!lease.ok()) {
      if (lease.status().code() != StatusCode::kNotFound) {
        spdlog::warn("flannel: ignoring node {}: {}", name, lease.status().message());
      }
      continue;
    }
    if (lease->backend_type != backend_->type()) {
      spdlog::warn("flannel: node {} runs backend {}, this node {}: not reachable", name,
                   lease->backend_type, backend_->type());
      continue;
    }
    remotes.push_back(std::move(*lease));
  }
  if (own == nullptr) {
    return NotFoundError("node " + options_.node_name + " is not in the API (deleted?)");
  }
  Result<net::Ipv4Prefix> cidr = PodCidrOf(*own);
  if (cidr.ok() && *cidr != local_.subnet) {
    spdlog::warn("flannel: node {} podCIDR changed {} → {}; re-setting up", options_.node_name,
                 local_.subnet.ToString(), cidr->ToString());
    KELP_RETURN_IF_ERROR(SetUpLocal(*own));
  } else {
    KELP_RETURN_IF_ERROR(Publish(*own));
  }
  std::lock_guard lock(kernel_mutex_);
  KELP_ASSIGN_OR_RETURN(ReconcileReport report, backend_->Reconcile(remotes));
  if (report.added + report.removed > 0) {
    spdlog::info("flannel: {} peer(s): {} kernel object(s) added or replaced, {} removed",
                 remotes.size(), report.added, report.removed);
  }
  if (report.errors != peer_errors_) {
    for (const std::string& error : report.errors) {
      spdlog::error("flannel: {}", error);
      events_->Record(*own, "Warning", "FlannelPeerUnreachable", error);
    }
    peer_errors_ = report.errors;
  }
  return Status::Ok();
}

std::vector<std::string> FlannelNode::peer_errors() const {
  std::lock_guard lock(kernel_mutex_);
  return peer_errors_;
}

}  // namespace kelp::flannel
