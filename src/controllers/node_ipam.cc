// NodeIpamController and CidrSet: the in-use blocks follow the nodes the informer sees;
// a block is taken under the mutex before the node is patched and given back if that fails.
#include "controllers/node_ipam.h"

#include <arpa/inet.h>

#include <boost/json.hpp>
#include <charconv>

#include "common/json.h"

namespace kelp::controllers {

namespace json = boost::json;

Result<CidrSet> CidrSet::Create(std::string_view cidr, int block_mask_size) {
  const size_t slash = cidr.find('/');
  int prefix_length = -1;
  if (slash != std::string_view::npos) {
    std::string_view digits = cidr.substr(slash + 1);
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix_length);
    if (error != std::errc() || end != digits.data() + digits.size()) prefix_length = -1;
  }
  in_addr address{};
  const std::string ip(cidr.substr(0, slash));
  if (prefix_length < 0 || prefix_length > 32 || inet_pton(AF_INET, ip.c_str(), &address) != 1) {
    return InvalidArgumentError("cluster CIDR " + std::string(cidr) + " is not an IPv4 CIDR");
  }
  if (block_mask_size < prefix_length || block_mask_size > 32 ||
      block_mask_size - prefix_length > 24) {
    return InvalidArgumentError("node CIDR mask size " + std::to_string(block_mask_size) +
                                " does not fit cluster CIDR " + std::string(cidr));
  }
  uint32_t base = ntohl(address.s_addr);
  if (prefix_length < 32) base &= ~((uint32_t{1} << (32 - prefix_length)) - 1);
  return CidrSet(base, prefix_length, block_mask_size);
}

std::string CidrSet::Block(size_t index) const {
  const uint32_t first = base_ + static_cast<uint32_t>(
                                     block_mask_size_ == 32 ? index : index << (32 - block_mask_size_));
  in_addr address{.s_addr = htonl(first)};
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &address, text, sizeof(text));
  return std::string(text) + "/" + std::to_string(block_mask_size_);
}

std::optional<size_t> CidrSet::IndexOf(std::string_view cidr) const {
  Result<CidrSet> block = Create(cidr, block_mask_size_);
  if (!block.ok() || block->prefix_length_ != block_mask_size_) return std::nullopt;
  const uint32_t span = block_mask_size_ - prefix_length_ >= 32
                            ? 0
                            : static_cast<uint32_t>(BlockCount());
  const uint32_t offset = block->base_ - base_;
  const uint32_t index = block_mask_size_ == 32 ? offset : offset >> (32 - block_mask_size_);
  if (block->base_ < base_ || index >= span) return std::nullopt;
  return index;
}

Result<std::unique_ptr<NodeIpamController>> NodeIpamController::Create(ControllerContext& context) {
  KELP_ASSIGN_OR_RETURN(CidrSet cidrs, CidrSet::Create(context.options.cluster_cidr,
                                                       context.options.node_cidr_mask_size));
  return std::unique_ptr<NodeIpamController>(new NodeIpamController(context, cidrs));
}

NodeIpamController::NodeIpamController(ControllerContext& context, CidrSet cidrs)
    : context_(context),
      cidrs_(cidrs),
      nodes_(context.informers.For(client::kNodes)),
      events_(context.client, context.clock, "node-controller"),
      queue_(context.clock),
      workers_(queue_, [this](const std::string& key) { return Sync(key); }, "nodeipam") {
  nodes_.AddHandlers({.on_add =
                          [this](const client::ObjectPtr& node) {
                            Occupy(*node);
                            queue_.Add(client::ObjectKey(*node));
                          },
                      .on_update =
                          [this](const client::ObjectPtr&, const client::ObjectPtr& node) {
                            Occupy(*node);
                            queue_.Add(client::ObjectKey(*node));
                          },
                      .on_delete = [this](const client::ObjectPtr& node) { Release(*node); }});
}

void NodeIpamController::Start() { workers_.Start(context_.options.workers); }
void NodeIpamController::Stop() { workers_.Stop(); }

void NodeIpamController::Occupy(const json::object& node) {
  std::optional<size_t> index = cidrs_.IndexOf(StringAt(node, "spec.podCIDR"));
  std::lock_guard lock(mutex_);
  if (index) used_.insert(*index);
}

void NodeIpamController::Release(const json::object& node) {
  const std::string name = StringAt(node, "metadata.name");
  std::optional<size_t> index = cidrs_.IndexOf(StringAt(node, "spec.podCIDR"));
  std::lock_guard lock(mutex_);
  if (auto assigned = assigned_.find(name); assigned != assigned_.end()) {
    used_.erase(assigned->second);
    assigned_.erase(assigned);
  }
  if (index) used_.erase(*index);
}

Status NodeIpamController::Sync(const std::string& name) {
  client::ObjectPtr node = nodes_.Get(name);
  if (node == nullptr || !StringAt(*node, "spec.podCIDR").empty()) return Status::Ok();
  std::optional<size_t> index;
  {
    std::lock_guard lock(mutex_);
    // The cache may still show the node as it was before this controller's own patch.
    if (assigned_.contains(name)) return Status::Ok();
    for (size_t i = 0; i < cidrs_.BlockCount(); ++i) {
      if (!used_.contains(i)) {
        index = i;
        used_.insert(i);
        break;
      }
    }
  }
  if (!index) {
    events_.Record(*node, "Normal", "CIDRNotAvailable",
                   "Node " + name + " status is now: CIDRNotAvailable");
    return UnavailableError("no free /" + std::to_string(context_.options.node_cidr_mask_size) +
                                  " left in cluster CIDR " + context_.options.cluster_cidr +
                                  " for node " + name);
  }
  const std::string cidr = cidrs_.Block(*index);
  json::object patch{{"spec", json::object{{"podCIDR", cidr}, {"podCIDRs", json::array{json::string(cidr)}}}}};
  Result<json::object> patched = context_.client.Patch(client::kNodes, "", name,
                                                       client::PatchType::kMerge,
                                                       json::serialize(patch));
  if (!patched.ok()) {
    {
      std::lock_guard lock(mutex_);
      used_.erase(*index);
    }
    if (patched.status().code() == StatusCode::kNotFound) return Status::Ok();
    events_.Record(*node, "Warning", "CIDRAssignmentFailed",
                   "Node " + name + " status is now: CIDRAssignmentFailed");
    return patched.status();
  }
  std::lock_guard lock(mutex_);
  assigned_[name] = *index;
  return Status::Ok();
}

}  // namespace kelp::controllers
