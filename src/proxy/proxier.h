// Proxier: turns Services + EndpointSlices into table ip kelp-proxy and keeps it there. It
// remembers what it applied per Service and on Sync() writes only what changed as one atomic
// nft transaction; the first Sync() (and the first after a failure) rebuilds the table, and
// Resync() rewrites it in place. Only table ip kelp-proxy is ever touched. Not thread-safe:
// one thread (ServiceProxy's sync loop, or a test) drives it.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "proxy/conntrack.h"
#include "proxy/nftables.h"
#include "proxy/ruleset.h"
#include "proxy/service_model.h"

namespace kelp::proxy {

struct ProxierOptions {
  RulesetOptions ruleset;
  std::chrono::milliseconds stale_chain_delay{1000};
};

struct ProxierCounts {
  size_t services = 0;  // Services with rules or elements in the table
  size_t chains = 0;    // per-Service chains in the table
  size_t sets = 0;      // affinity sets
  size_t elements = 0;  // map and set elements from Services
};

class Proxier {
 public:
  Proxier(Nftables& nftables, Conntrack& conntrack, Clock& clock, ProxierOptions options);
  Proxier(const Proxier&) = delete;
  Proxier& operator=(const Proxier&) = delete;

  // The inputs of Service `key` ("ns/name"): nullopt when it does not exist (or is not
  // proxied), and its EndpointSlices. Takes effect at the next Sync().
  void SetService(const std::string& key, std::optional<Service> service,
                  std::vector<EndpointSlice> slices);
  // New node settings (e.g. NodePort addresses changed); the next Sync() rewrites everything.
  void SetOptions(RulesetOptions options);

  // Applies what changed since the last successful sync: rewritten chains, added and deleted
  // map/set elements. Rebuilds the whole table (delete + create, one transaction) the first
  // time and after a failure.
  Status Sync();
  // Rewrites the whole table from the inputs in place (ClientIP affinity sets keep their
  // clients); falls back to a rebuild if that fails.
  Status Resync();
  // Chains that lose their last reference are flushed at once but deleted by a later Sync(),
  // at least `stale_chain_delay` after: kernels before 6.2 release a verdict-map element's
  // chain reference lazily, and deleting the chain in the same transaction fails there with
  // EBUSY. This says when the next ones become deletable; nullopt when there are none.
  std::optional<std::chrono::steady_clock::time_point> NextCleanup() const;

  ProxierCounts counts() const;
  // Every Service key the Proxier has inputs for or rules of.
  std::vector<std::string> service_keys() const;
  // The text of the last transaction applied successfully.
  const std::string& last_transaction() const { return last_transaction_; }

 private:
  enum class RewriteMode { kRebuild, kInPlace };
  using ElementKey = std::pair<std::string, std::string>;  // collection, key
  using Owners = std::map<std::string, std::string>;       // owner Service key → value

  struct Input {
    std::optional<Service> service;
    std::vector<EndpointSlice> slices;
  };

  ServiceRules Build(const std::string& key) const;
  Status SyncChanges();
  Status Rewrite(RewriteMode how);
  // Appends "delete chain" for stale chains old enough and drops them from stale_chains_.
  void AppendStaleChainDeletes(std::chrono::steady_clock::time_point now, std::string& text,
                               std::vector<std::string>& deleted) const;
  void CleanUpUdpFlows(const std::map<std::string, ServiceRules>& before,
                       const std::map<std::string, ServiceRules>& after);

  Nftables& nftables_;
  Conntrack& conntrack_;
  Clock& clock_;
  ProxierOptions options_;

  std::map<std::string, Input> inputs_;
  std::set<std::string> dirty_;
  bool need_rebuild_ = true;
  bool need_rewrite_ = false;

  // What the kernel holds, as far as this object knows.
  std::map<std::string, ServiceRules> applied_;
  std::map<ElementKey, Owners> element_owners_;
  std::map<std::string, std::chrono::steady_clock::time_point> stale_chains_;
  std::string last_transaction_;
};

}  // namespace kelp::proxy
