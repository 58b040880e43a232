// ServiceProxy: informers → dirty Service keys → coalesced Proxier syncs (see service_proxy.h).
#include "proxy/service_proxy.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "client/api_client.h"

namespace kelp::proxy {

namespace {

constexpr const char* kServiceIndex = "kelp-proxy/service";
constexpr const char* kSyncKey = "sync";
constexpr const char* kResyncKey = "resync";

// "ns/<kubernetes.io/service-name>" of a slice, or "" when it names no Service.
std::string SliceServiceKey(const boost::json::object& slice) {
  const boost::json::value* metadata = slice.if_contains("metadata");
  if (metadata == nullptr || !metadata->is_object()) return "";
  const boost::json::value* ns = metadata->get_object().if_contains("namespace");
  const boost::json::value* labels = metadata->get_object().if_contains("labels");
  if (ns == nullptr || !ns->is_string() || labels == nullptr || !labels->is_object()) return "";
  const boost::json::value* service = labels->get_object().if_contains(kServiceNameLabel);
  if (service == nullptr || !service->is_string() || service->get_string().empty()) return "";
  return std::string(ns->get_string()) + "/" + std::string(service->get_string());
}

}  // namespace

ServiceProxy::ServiceProxy(client::InformerFactory& informers, Nftables& nftables,
                           Conntrack& conntrack, Clock& clock, ServiceProxyOptions options)
    : services_(informers.For(client::kServices)),
      slices_(informers.For(client::kEndpointSlices)),
      clock_(clock),
      options_(std::move(options)),
      proxier_(nftables, conntrack, clock, options_.proxier),
      queue_(clock) {
  slices_.AddIndex(kServiceIndex, [](const boost::json::object& slice) {
    std::string key = SliceServiceKey(slice);
    return key.empty() ? std::vector<std::string>{} : std::vector<std::string>{key};
  });
  services_.AddHandlers(
      {.on_add = [this](const client::ObjectPtr& o) { MarkDirty(client::ObjectKey(*o)); },
       .on_update = [this](const client::ObjectPtr&,
                           const client::ObjectPtr& o) { MarkDirty(client::ObjectKey(*o)); },
       .on_delete = [this](const client::ObjectPtr& o) { MarkDirty(client::ObjectKey(*o)); }});
  slices_.AddHandlers({.on_add = [this](const client::ObjectPtr& o) { MarkSlice(o); },
                       .on_update =
                           [this](const client::ObjectPtr& old_slice, const client::ObjectPtr& o) {
                             MarkSlice(old_slice);  // the service-name label may have moved
                             MarkSlice(o);
                           },
                       .on_delete = [this](const client::ObjectPtr& o) { MarkSlice(o); }});
}

ServiceProxy::~ServiceProxy() { Stop(); }

void ServiceProxy::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void ServiceProxy::Stop() {
  stopping_ = true;
  queue_.ShutDown();
  if (thread_.joinable()) thread_.join();
}

ProxierCounts ServiceProxy::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

void ServiceProxy::MarkDirty(const std::string& key) {
  {
    std::lock_guard lock(mutex_);
    dirty_.insert(key);
  }
  queue_.Add(kSyncKey);
}

void ServiceProxy::MarkSlice(const client::ObjectPtr& slice) {
  std::string key = SliceServiceKey(*slice);
  if (!key.empty()) MarkDirty(key);
}

void ServiceProxy::Load(const std::string& key) {
  std::optional<Service> service;
  if (client::ObjectPtr object = services_.Get(key)) {
    Result<std::optional<Service>> parsed = ParseService(*object);
    if (parsed.ok()) {
      service = std::move(parsed).value();
    } else {
      spdlog::warn("proxy: Service {}: {}", key, parsed.status().message());
    }
  }
  std::vector<EndpointSlice> slices;
  for (const client::ObjectPtr& object : slices_.ByIndex(kServiceIndex, key)) {
    Result<std::optional<EndpointSlice>> parsed = ParseEndpointSlice(*object);
    if (!parsed.ok()) {
      spdlog::warn("proxy: EndpointSlice {}: {}", client::ObjectKey(*object),
                   parsed.status().message());
    } else if (parsed->has_value()) {
      slices.push_back(std::move(**parsed));
    }
  }
  std::sort(slices.begin(), slices.end(),
            [](const EndpointSlice& a, const EndpointSlice& b) { return a.name < b.name; });
  proxier_.SetService(key, std::move(service), std::move(slices));
}

Status ServiceProxy::SyncOnce(bool resync) {
  std::set<std::string> keys;
  {
    std::lock_guard lock(mutex_);
    keys.swap(dirty_);
  }
  if (resync || !initialized_) {
    // Everything the caches hold, and everything the Proxier still has (a delete the watch
    // missed shows up here as a key without objects).
    for (const client::ObjectPtr& object : services_.List())
      keys.insert(client::ObjectKey(*object));
    for (const client::ObjectPtr& object : slices_.List()) {
      std::string key = SliceServiceKey(*object);
      if (!key.empty()) keys.insert(key);
    }
    for (std::string& key : proxier_.service_keys()) keys.insert(std::move(key));
  }
  for (const std::string& key : keys) Load(key);
  // Everything scheduled after this sync counts from its start, not from when it ended.
  last_sync_ = clock_.Now();
  const auto start = std::chrono::steady_clock::now();
  Status status = resync ? proxier_.Resync() : proxier_.Sync();
  if (!status.ok()) return status;
  const auto elapsed =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  {
    std::lock_guard lock(mutex_);
    counts_ = proxier_.counts();
  }
  if (!initialized_ || resync) {
    spdlog::info("proxy: table ip kelp-proxy {}: {} Services, {} chains, {} elements in {:.1f} ms",
                 initialized_ ? "resynced" : "built", counts_.services, counts_.chains,
                 counts_.elements, elapsed.count());
  } else {
    spdlog::debug("proxy: synced {} changed Services in {:.1f} ms", keys.size(), elapsed.count());
  }
  initialized_ = true;
  ++sync_count_;
  return Status::Ok();
}

std::chrono::steady_clock::duration ServiceProxy::Remaining(
    std::chrono::steady_clock::time_point when) const {
  const auto now = clock_.Now();
  return when > now ? when - now : std::chrono::steady_clock::duration::zero();
}

void ServiceProxy::ScheduleCleanup() {
  std::optional<std::chrono::steady_clock::time_point> due = proxier_.NextCleanup();
  if (due) queue_.AddAfter(kSyncKey, Remaining(*due));
}

void ServiceProxy::Run() {
  // The first sync needs both caches: a table built from half the API would reject
  // connections to Services whose slices have not been listed yet.
  while (!stopping_ && !(services_.WaitForSync(std::chrono::milliseconds(100)) &&
                         slices_.WaitForSync(std::chrono::milliseconds(100)))) {
  }
  if (stopping_) return;
  int failures = 0;
  auto after_sync = [&](const Status& status) {
    if (status.ok()) {
      failures = 0;
      ScheduleCleanup();
      return;
    }
    ++failures;
    const auto delay = std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(5) * (1LL << std::min(failures, 20)),
        options_.max_retry_interval);
    spdlog::error("proxy: sync failed (retry in {} ms): {}",
                  std::chrono::duration_cast<std::chrono::milliseconds>(delay).count(),
                  status.ToString());
    queue_.AddAfter(kSyncKey, Remaining(last_sync_ + delay));
  };
  after_sync(SyncOnce(false));
  queue_.AddAfter(kResyncKey, Remaining(last_sync_ + options_.sync_period));
  while (std::optional<std::string> key = queue_.Get()) {
    if (*key == kResyncKey) {
      after_sync(SyncOnce(true));
      queue_.AddAfter(kResyncKey, Remaining(last_sync_ + options_.sync_period));
    } else if (failures == 0 && initialized_ &&
               clock_.Now() < last_sync_ + options_.min_sync_interval) {
      // Too soon after the last sync: let more changes gather and sync once.
      queue_.AddAfter(kSyncKey, Remaining(last_sync_ + options_.min_sync_interval));
    } else {
      after_sync(SyncOnce(false));
    }
    queue_.Done(*key);
  }
}

}  // namespace kelp::proxy
