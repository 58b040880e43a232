// The node-ipam controller, as Kubernetes' range allocator (pkg/controller/nodeipam): every
// Node without spec.podCIDR gets the lowest free /node_cidr_mask_size block of
// options.cluster_cidr in spec.podCIDR and spec.podCIDRs (flannel's SubnetLen). The blocks in
// use are learnt from every node the informer lists before any is allocated, so a CIDR is
// never handed out twice; a deleted node's block is free again. A full range records a
// CIDRNotAvailable event on the node, a failed write CIDRAssignmentFailed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <set>
#include <string>

#include "client/event_recorder.h"
#include "client/work_queue.h"
#include "controllers/controller.h"
#include "controllers/object_meta.h"
#include "controllers/queue_workers.h"

namespace kelp::controllers {

// An IPv4 range split into equal blocks: "10.244.0.0/16" with mask 24 has 256 blocks.
class CidrSet {
 public:
  static Result<CidrSet> Create(std::string_view cidr, int block_mask_size);
  size_t BlockCount() const { return size_t{1} << (block_mask_size_ - prefix_length_); }
  std::string Block(size_t index) const;
  // The index of `cidr` when it is one of the blocks; nullopt otherwise.
  std::optional<size_t> IndexOf(std::string_view cidr) const;

 private:
  CidrSet(uint32_t base, int prefix_length, int block_mask_size)
      : base_(base), prefix_length_(prefix_length), block_mask_size_(block_mask_size) {}
  uint32_t base_;
  int prefix_length_;
  int block_mask_size_;
};

class NodeIpamController final : public Controller {
 public:
  // kInvalidArgument when cluster_cidr / node_cidr_mask_size do not describe IPv4 blocks.
  static Result<std::unique_ptr<NodeIpamController>> Create(ControllerContext& context);
  std::string_view name() const override { return "node-ipam-controller"; }
  void Start() override;
  void Stop() override;

  // Gives node `name` a podCIDR when it has none.
  Status Sync(const std::string& name);
  void FlushEvents() { events_.Flush(); }

 private:
  NodeIpamController(ControllerContext& context, CidrSet cidrs);
  void Occupy(const boost::json::object& node);
  void Release(const boost::json::object& node);

  ControllerContext& context_;
  const CidrSet cidrs_;
  client::Informer& nodes_;
  client::EventRecorder events_;
  std::mutex mutex_;
  std::set<size_t> used_;  // guarded by mutex_
  std::map<std::string, size_t> assigned_;  // node → block this controller patched in; mutex_
  client::WorkQueue queue_;
  QueueWorkers workers_;
};

}  // namespace kelp::controllers
