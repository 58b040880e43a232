// Proxier: desired state per Service, diffed into nft transactions (see proxier.h).
#include "proxy/proxier.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace kelp::proxy {

namespace {

constexpr const char* kTableComment = "rules of the kelp Service proxy; do not edit";

std::optional<std::string> Effective(const std::map<std::string, std::string>& owners) {
  if (owners.empty()) return std::nullopt;
  return owners.begin()->second;
}

std::string ElementText(const std::string& key, const std::string& value) {
  return value.empty() ? key : key + " : " + value;
}

// "delete element ip kelp-proxy <collection> { ... }" per collection, one element per line when
// there are several.
void AppendElementDeletes(std::string& text,
                          const std::map<std::string, std::vector<std::string>>& by_collection) {
  for (const auto& [collection, items] : by_collection) {
    if (items.empty()) continue;
    text += std::string("delete element ") + kTable + " " + collection + " {";
    if (items.size() == 1) {
      text += " " + items.front() + " }\n";
      continue;
    }
    text += "\n";
    for (size_t i = 0; i < items.size(); ++i) {
      text += "\t" + items[i] + (i + 1 < items.size() ? ",\n" : "\n");
    }
    text += "}\n";
  }
}

// "add set|map ip kelp-proxy <collection> { type ...; elements = { ... } }" per collection.
// It adds the elements as "add element" would, but libnftables 1.0.6 evaluates a set command
// with only the table in its cache, while "add element" first fetches every chain and set of
// the ruleset (about 10 ms with 10k Services). The type is the one the set was created with
// and the comment is left out (the set keeps its own), so the set itself never changes.
void AppendElementAdds(std::string& text,
                       const std::map<std::string, std::vector<std::string>>& by_collection,
                       const std::vector<CollectionDecl>& collections) {
  for (const auto& [collection, items] : by_collection) {
    if (items.empty()) continue;
    auto decl = std::find_if(collections.begin(), collections.end(),
                             [&](const CollectionDecl& c) { return c.name == collection; });
    if (decl == collections.end()) {
      text += std::string("add element ") + kTable + " " + collection + " {";
    } else {
      text += "add " + decl->kind + " " + kTable + " " + collection + " {";
      for (const std::string& line : decl->declaration) {
        if (!line.starts_with("comment ")) text += " " + line + ";";
      }
      text += " elements = {";
    }
    const std::string close = decl == collections.end() ? "}\n" : "} }\n";
    if (items.size() == 1) {
      text += " " + items.front() + " " + close;
      continue;
    }
    text += "\n";
    for (size_t i = 0; i < items.size(); ++i) {
      text += "\t" + items[i] + (i + 1 < items.size() ? ",\n" : "\n");
    }
    text += close;
  }
}

void AppendCollectionBlock(std::string& text, const std::string& kind, const std::string& name,
                           const std::vector<std::string>& declaration) {
  text += "\t" + kind + " " + name + " {\n";
  for (const std::string& line : declaration) text += "\t\t" + line + "\n";
  text += "\t}\n";
}

void AppendChainBlock(std::string& text, const std::string& name, const std::string& hook,
                      const std::vector<std::string>& rules) {
  text += "\tchain " + name + " {\n";
  if (!hook.empty()) text += "\t\t" + hook + "\n";
  for (const std::string& rule : rules) text += "\t\t" + rule + "\n";
  text += "\t}\n";
}

std::string CollectionCommand(std::string_view verb, const std::string& kind,
                              const std::string& name,
                              const std::vector<std::string>& declaration) {
  std::string text = std::string(verb) + " " + kind + " " + kTable + " " + name + " {";
  for (const std::string& line : declaration) text += " " + line + ";";
  return text + " }\n";
}

// "add chain ip kelp-proxy <chain> { <hook> <rules> }": appends the rules to the chain (which
// must exist or is created). Unlike one "add rule" per rule, which makes libnftables 1.0.6
// fetch every chain of the ruleset before it evaluates the script (about 10 ms with 10k
// Services), a chain command needs only the table in its cache; a set its rules name must be
// declared earlier in the same script.
void AppendChainRules(std::string& text, const std::string& chain, const std::string& hook,
                      const std::vector<std::string>& rules) {
  if (rules.empty()) return;
  text += std::string("add chain ") + kTable + " " + chain + " {\n";
  if (!hook.empty()) text += "\t" + hook + "\n";
  for (const std::string& rule : rules) text += "\t" + rule + "\n";
  text += "}\n";
}

const UdpTargets* FindUdp(const ServiceRules* rules, const UdpTargets& like) {
  if (rules == nullptr) return nullptr;
  for (const UdpTargets& u : rules->udp) {
    if (u.cluster_ip == like.cluster_ip && u.port == like.port && u.node_port == like.node_port) {
      return &u;
    }
  }
  return nullptr;
}

}  // namespace

Proxier::Proxier(Nftables& nftables, Conntrack& conntrack, Clock& clock, ProxierOptions options)
    : nftables_(nftables), conntrack_(conntrack), clock_(clock), options_(std::move(options)) {}

void Proxier::SetService(const std::string& key, std::optional<Service> service,
                         std::vector<EndpointSlice> slices) {
  if (!service && slices.empty()) {
    inputs_.erase(key);
  } else {
    inputs_[key] = Input{std::move(service), std::move(slices)};
  }
  dirty_.insert(key);
}

void Proxier::SetOptions(RulesetOptions options) {
  if (options.node_name == options_.ruleset.node_name &&
      options.nodeport_addresses == options_.ruleset.nodeport_addresses &&
      options.nodeport_all_local == options_.ruleset.nodeport_all_local &&
      options.cluster_cidr == options_.ruleset.cluster_cidr &&
      options.masquerade_mark == options_.ruleset.masquerade_mark) {
    return;
  }
  options_.ruleset = std::move(options);
  need_rewrite_ = true;
}

ServiceRules Proxier::Build(const std::string& key) const {
  auto it = inputs_.find(key);
  if (it == inputs_.end() || !it->second.service) return {};
  return BuildServiceRules(options_.ruleset, *it->second.service, it->second.slices);
}

Status Proxier::Sync() {
  if (need_rebuild_) return Rewrite(RewriteMode::kRebuild);
  if (need_rewrite_) return Rewrite(RewriteMode::kInPlace);
  return SyncChanges();
}

Status Proxier::Resync() {
  return Rewrite(need_rebuild_ ? RewriteMode::kRebuild : RewriteMode::kInPlace);
}

std::optional<std::chrono::steady_clock::time_point> Proxier::NextCleanup() const {
  std::optional<std::chrono::steady_clock::time_point> next;
  for (const auto& [name, since] : stale_chains_) {
    const auto due = since + options_.stale_chain_delay;
    if (!next || due < *next) next = due;
  }
  return next;
}

ProxierCounts Proxier::counts() const {
  ProxierCounts counts;
  for (const auto& [key, rules] : applied_) {
    ++counts.services;
    counts.chains += rules.chains.size();
    counts.sets += rules.sets.size();
    counts.elements += rules.elements.size();
  }
  return counts;
}

std::vector<std::string> Proxier::service_keys() const {
  std::set<std::string> keys;
  for (const auto& [key, input] : inputs_) keys.insert(key);
  for (const auto& [key, rules] : applied_) keys.insert(key);
  return {keys.begin(), keys.end()};
}

void Proxier::AppendStaleChainDeletes(std::chrono::steady_clock::time_point now, std::string& text,
                                      std::vector<std::string>& deleted) const {
  for (const auto& [name, since] : stale_chains_) {
    if (now - since < options_.stale_chain_delay) continue;
    text += std::string("delete chain ") + kTable + " " + name + "\n";
    deleted.push_back(name);
  }
}

Status Proxier::SyncChanges() {
  static const ServiceRules kNone;
  // Staleness counts from the start of the transaction that dropped the last reference.
  const auto now = clock_.Now();
  std::map<std::string, ServiceRules> changed;
  for (const std::string& key : dirty_) {
    ServiceRules rules = Build(key);
    auto old = applied_.find(key);
    if (rules == (old == applied_.end() ? kNone : old->second)) continue;
    changed.emplace(key, std::move(rules));
  }

  std::map<std::string, const std::vector<std::string>*> added_chains, rewritten_chains;
  std::set<std::string> removed_chains, removed_sets;
  // New or changed sets, and the sets of every Service whose chains are written: a chain
  // command resolves the sets its rules name only among those declared in the same script.
  std::map<std::string, const std::vector<std::string>*> declared_sets;
  std::map<ElementKey, Owners> pending;
  auto owners_of = [&](const Element& e) -> Owners& {
    ElementKey key{e.collection, e.key};
    auto it = pending.find(key);
    if (it != pending.end()) return it->second;
    auto current = element_owners_.find(key);
    return pending.emplace(key, current == element_owners_.end() ? Owners{} : current->second)
        .first->second;
  };
  for (const auto& [key, rules] : changed) {
    auto old_it = applied_.find(key);
    const ServiceRules& old = old_it == applied_.end() ? kNone : old_it->second;
    bool writes_chains = false;
    for (const auto& [name, chain_rules] : rules.chains) {
      auto previous = old.chains.find(name);
      if (previous == old.chains.end()) {
        added_chains[name] = &chain_rules;
        writes_chains = true;
      } else if (previous->second != chain_rules) {
        rewritten_chains[name] = &chain_rules;
        writes_chains = true;
      }
    }
    for (const auto& [name, chain_rules] : old.chains) {
      if (!rules.chains.contains(name)) removed_chains.insert(name);
    }
    for (const auto& [name, declaration] : rules.sets) {
      auto previous = old.sets.find(name);
      if (writes_chains || previous == old.sets.end() || previous->second != declaration) {
        declared_sets[name] = &declaration;
      }
    }
    for (const auto& [name, declaration] : old.sets) {
      if (!rules.sets.contains(name)) removed_sets.insert(name);
    }
    for (const Element& e : old.elements) owners_of(e).erase(key);
    for (const Element& e : rules.elements) owners_of(e)[key] = e.value;
  }

  std::map<std::string, std::vector<std::string>> element_deletes, element_adds;
  for (const auto& [element, owners] : pending) {
    auto current = element_owners_.find(element);
    const std::optional<std::string> before =
        current == element_owners_.end() ? std::nullopt : Effective(current->second);
    const std::optional<std::string> after = Effective(owners);
    if (before == after) continue;
    if (before) element_deletes[element.first].push_back(element.second);
    if (after) element_adds[element.first].push_back(ElementText(element.second, *after));
  }

  // The order matters: what a rule or an element refers to must exist first, and a chain or a
  // set may only go once nothing refers to it any more.
  // Only commands that libnftables evaluates without fetching the ruleset's chains are used
  // here (add set/chain, flush chain) unless something is deleted.
  std::string text;
  for (const auto& [name, declaration] : declared_sets) {
    text += CollectionCommand("add", "set", name, *declaration);
  }
  // New chains exist before any rule jumps to one of them.
  for (const auto& [name, rules] : added_chains) {
    text += std::string("add chain ") + kTable + " " + name + "\n";
  }
  for (const auto& [name, rules] : added_chains) AppendChainRules(text, name, "", *rules);
  for (const auto& [name, rules] : rewritten_chains) {
    text += std::string("flush chain ") + kTable + " " + name + "\n";
    AppendChainRules(text, name, "", *rules);
  }
  AppendElementDeletes(text, element_deletes);
  AppendElementAdds(text, element_adds, FixedCollections(options_.ruleset));
  for (const std::string& name : removed_chains) {
    text += std::string("flush chain ") + kTable + " " + name + "\n";
  }
  for (const std::string& name : removed_sets) {
    text += std::string("delete set ") + kTable + " " + name + "\n";
  }
  std::vector<std::string> deleted_stale;
  {
    // A stale chain that comes back is simply reused.
    std::map<std::string, std::chrono::steady_clock::time_point> saved;
    for (const auto& [name, rules] : added_chains) {
      auto it = stale_chains_.find(name);
      if (it != stale_chains_.end()) saved.insert(stale_chains_.extract(it));
    }
    AppendStaleChainDeletes(now, text, deleted_stale);
    stale_chains_.merge(saved);
  }

  if (!text.empty()) {
    Status status = nftables_.Apply(text);
    if (!status.ok()) {
      need_rebuild_ = true;
      return status.WithContext("proxy: incremental sync");
    }
    last_transaction_ = std::move(text);
  }

  std::map<std::string, ServiceRules> before;
  for (auto& [key, rules] : changed) {
    auto old = applied_.find(key);
    if (old != applied_.end()) before.emplace(key, std::move(old->second));
    if (rules.chains.empty() && rules.elements.empty() && rules.sets.empty()) {
      applied_.erase(key);
    } else {
      applied_[key] = rules;
    }
  }
  for (auto& [element, owners] : pending) {
    if (owners.empty()) {
      element_owners_.erase(element);
    } else {
      element_owners_[element] = std::move(owners);
    }
  }
  for (const std::string& name : deleted_stale) stale_chains_.erase(name);
  for (const auto& [name, rules] : added_chains) stale_chains_.erase(name);
  for (const std::string& name : removed_chains) stale_chains_[name] = now;
  dirty_.clear();
  CleanUpUdpFlows(before, changed);
  return Status::Ok();
}

Status Proxier::Rewrite(RewriteMode how) {
  const auto now = clock_.Now();
  std::map<std::string, ServiceRules> fragments;
  std::map<ElementKey, Owners> owners;
  for (const auto& [key, input] : inputs_) {
    if (!input.service) continue;
    ServiceRules rules = BuildServiceRules(options_.ruleset, *input.service, input.slices);
    if (rules.chains.empty() && rules.elements.empty() && rules.sets.empty()) continue;
    for (const Element& e : rules.elements) owners[{e.collection, e.key}][key] = e.value;
    fragments.emplace(key, std::move(rules));
  }
  // The node's own elements sort before every Service key.
  for (const Element& e : FixedElements(options_.ruleset))
    owners[{e.collection, e.key}][""] = e.value;

  const std::vector<CollectionDecl> collections = FixedCollections(options_.ruleset);
  const std::vector<ChainDecl> chains = FixedChains(options_.ruleset);
  std::string text;
  if (how == RewriteMode::kRebuild) {
    text = std::string("add table ") + kTable + "\ndelete table " + kTable + "\ntable " + kTable +
           " {\n\tcomment \"" + kTableComment + "\"\n";
    for (const CollectionDecl& c : collections)
      AppendCollectionBlock(text, c.kind, c.name, c.declaration);
    for (const auto& [key, rules] : fragments) {
      for (const auto& [name, declaration] : rules.sets)
        AppendCollectionBlock(text, "set", name, declaration);
    }
    for (const ChainDecl& c : chains) AppendChainBlock(text, c.name, c.hook, c.rules);
    for (const auto& [key, rules] : fragments) {
      for (const auto& [name, chain_rules] : rules.chains)
        AppendChainBlock(text, name, "", chain_rules);
    }
    text += "}\n";
  } else {
    text = std::string("add table ") + kTable + " { comment \"" + kTableComment + "\"; }\n";
    for (const CollectionDecl& c : collections) {
      text += CollectionCommand("add", c.kind, c.name, c.declaration);
      text += "flush " + c.kind + " " + kTable + " " + c.name + "\n";
    }
    for (const auto& [key, rules] : fragments) {
      for (const auto& [name, declaration] : rules.sets) {
        text += CollectionCommand("add", "set", name, declaration);
      }
    }
    for (const ChainDecl& c : chains) {
      text += std::string("add chain ") + kTable + " " + c.name +
              (c.hook.empty() ? "" : " { " + c.hook + " }") + "\n";
    }
    for (const auto& [key, rules] : fragments) {
      for (const auto& [name, chain_rules] : rules.chains) {
        text += std::string("add chain ") + kTable + " " + name + "\n";
      }
    }
    auto rewrite_chain = [&](const std::string& name, const std::string& hook,
                             const std::vector<std::string>& rules) {
      text += std::string("flush chain ") + kTable + " " + name + "\n";
      AppendChainRules(text, name, hook, rules);
    };
    for (const ChainDecl& c : chains) rewrite_chain(c.name, c.hook, c.rules);
    for (const auto& [key, rules] : fragments) {
      for (const auto& [name, chain_rules] : rules.chains) rewrite_chain(name, "", chain_rules);
    }
  }
  std::map<std::string, std::vector<std::string>> element_adds;
  for (const auto& [element, element_owners] : owners) {
    element_adds[element.first].push_back(ElementText(element.second, *Effective(element_owners)));
  }
  AppendElementAdds(text, element_adds, collections);

  std::set<std::string> removed_chains;
  std::vector<std::string> deleted_stale;
  if (how == RewriteMode::kInPlace) {
    std::set<std::string> removed_sets;
    for (const auto& [key, rules] : applied_) {
      auto now_rules = fragments.find(key);
      for (const auto& [name, chain_rules] : rules.chains) {
        if (now_rules == fragments.end() || !now_rules->second.chains.contains(name)) {
          removed_chains.insert(name);
        }
      }
      for (const auto& [name, declaration] : rules.sets) {
        if (now_rules == fragments.end() || !now_rules->second.sets.contains(name)) {
          removed_sets.insert(name);
        }
      }
    }
    for (const std::string& name : removed_chains) {
      text += std::string("flush chain ") + kTable + " " + name + "\n";
    }
    for (const std::string& name : removed_sets) {
      text += std::string("delete set ") + kTable + " " + name + "\n";
    }
    std::map<std::string, std::chrono::steady_clock::time_point> saved;
    for (const auto& [key, rules] : fragments) {
      for (const auto& [name, chain_rules] : rules.chains) {
        auto it = stale_chains_.find(name);
        if (it != stale_chains_.end()) saved.insert(stale_chains_.extract(it));
      }
    }
    AppendStaleChainDeletes(now, text, deleted_stale);
    stale_chains_.merge(saved);
  }

  Status status = nftables_.Apply(text);
  if (!status.ok()) {
    if (how == RewriteMode::kInPlace) {
      spdlog::warn("proxy: rewriting table {} in place failed ({}); rebuilding it", kTable,
                   status.ToString());
      return Rewrite(RewriteMode::kRebuild);
    }
    need_rebuild_ = true;
    return status.WithContext("proxy: rebuilding the table");
  }
  last_transaction_ = std::move(text);

  std::map<std::string, ServiceRules> before = std::move(applied_);
  applied_ = std::move(fragments);
  element_owners_ = std::move(owners);
  if (how == RewriteMode::kRebuild) {
    stale_chains_.clear();
  } else {
    for (const std::string& name : deleted_stale) stale_chains_.erase(name);
    for (const auto& [key, rules] : applied_) {
      for (const auto& [name, chain_rules] : rules.chains) stale_chains_.erase(name);
    }
    for (const std::string& name : removed_chains) stale_chains_[name] = now;
  }
  need_rebuild_ = false;
  need_rewrite_ = false;
  dirty_.clear();
  CleanUpUdpFlows(before, applied_);
  return Status::Ok();
}

void Proxier::CleanUpUdpFlows(const std::map<std::string, ServiceRules>& before,
                              const std::map<std::string, ServiceRules>& after) {
  std::vector<UdpFlowFilter> filters;
  auto lookup = [](const std::map<std::string, ServiceRules>& m,
                   const std::string& key) -> const ServiceRules* {
    auto it = m.find(key);
    return it == m.end() ? nullptr : &it->second;
  };
  std::set<std::string> keys;
  for (const auto& [key, rules] : before) keys.insert(key);
  for (const auto& [key, rules] : after) keys.insert(key);
  for (const std::string& key : keys) {
    const ServiceRules* old_rules = lookup(before, key);
    const ServiceRules* new_rules = lookup(after, key);
    if (new_rules != nullptr) {
      for (const UdpTargets& now : new_rules->udp) {
        const UdpTargets* was = FindUdp(old_rules, now);
        if (now.endpoints.empty() || (was != nullptr && !was->endpoints.empty())) continue;
        // The port just got endpoints: flows that started before went around the Service.
        filters.push_back({.destination = now.cluster_ip, .port = now.port});
        if (now.node_port != 0) filters.push_back({.port = now.node_port});
      }
    }
    if (old_rules != nullptr) {
      for (const UdpTargets& was : old_rules->udp) {
        const UdpTargets* now = FindUdp(new_rules, was);
        for (const auto& endpoint : was.endpoints) {
          if (now != nullptr &&
              std::binary_search(now->endpoints.begin(), now->endpoints.end(), endpoint)) {
            continue;
          }
          filters.push_back(
              {.destination = was.cluster_ip, .port = was.port, .endpoint = endpoint});
          if (was.node_port != 0) filters.push_back({.port = was.node_port, .endpoint = endpoint});
        }
      }
    }
  }
  if (filters.empty()) return;
  Result<int> deleted = conntrack_.DeleteUdpFlows(filters);
  if (!deleted.ok()) {
    spdlog::warn("proxy: deleting stale UDP conntrack entries: {}", deleted.status().ToString());
  } else if (*deleted > 0) {
    spdlog::info("proxy: deleted {} stale UDP conntrack entries", *deleted);
  }
}

}  // namespace kelp::proxy
