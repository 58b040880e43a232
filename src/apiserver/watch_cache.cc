// WatchCache: one List of /registry/ at start, then one store watch applied event by event on
// the follower thread. Each object is decoded and re-serialized once, when it is written, so a
// LIST only copies shared pointers under the lock and concatenates strings after it. A watch
// that falls too far behind (kExpired) re-lists; any other watch error stops the cache and
// readers fall back to the store.
#include "apiserver/watch_cache.h"

#include <boost/json.hpp>

#include "api/conversion.h"
#include "apiserver/objects.h"

namespace kelp::apiserver {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::string_view kRegistryPrefix = "/registry/";

// "/registry/<group>/<plural>/" of a key, or "" for a key of another shape.
std::string_view ResourcePrefix(std::string_view key) {
  size_t slash = 0;
  for (int i = 0; i < 4; ++i) {
    slash = key.find('/', i == 0 ? 0 : slash + 1);
    if (slash == std::string_view::npos) return "";
  }
  return key.substr(0, slash + 1);
}

// The served JSON of `kv`, or nullptr for a value that does not decode (kelp did not write it).
std::shared_ptr<const CachedObject> Render(const storage::KeyValue& kv) {
  const ResourceInfo* resource = WatchCache::StorageResourceOf(kv.key);
  if (resource == nullptr) return nullptr;
  json::monotonic_resource arena;
  Result<json::object> object = DecodeStoredObject(kv, *resource, &arena);
  if (!object.ok()) return nullptr;
  return std::make_shared<const CachedObject>(
      CachedObject{.key = kv.key, .json = json::serialize(*object), .mod_revision = kv.mod_revision});
}

}  // namespace

const ResourceInfo* WatchCache::StorageResourceOf(std::string_view key) {
  static const std::map<std::string, const ResourceInfo*, std::less<>> by_prefix = [] {
    std::map<std::string, const ResourceInfo*, std::less<>> map;
    for (const ResourceInfo& resource : ServedResources()) {
      const std::string api_version = resource.ApiVersion();
      if (api::StorageApiVersion(resource.group, resource.kind, api_version) != api_version) {
        continue;
      }
      map.emplace(StoragePrefix(resource, ""), &resource);
    }
    return map;
  }();
  auto it = by_prefix.find(ResourcePrefix(key));
  return it == by_prefix.end() ? nullptr : it->second;
}

Result<std::unique_ptr<WatchCache>> WatchCache::Start(storage::Store& store) {
  std::unique_ptr<WatchCache> cache(new WatchCache(store));
  KELP_RETURN_IF_ERROR(cache->Resync());
  cache->follower_ = std::thread([cache = cache.get()] { cache->Follow(); });
  return cache;
}

WatchCache::~WatchCache() {
  stopping_ = true;
  {
    std::lock_guard lock(watch_mu_);
    if (watch_) watch_->Close();
  }
  if (follower_.joinable()) follower_.join();
}

Status WatchCache::Resync() {
  KELP_ASSIGN_OR_RETURN(storage::ListResult listed,
                        store_.List(std::string(kRegistryPrefix), {}));
  std::map<std::string, std::shared_ptr<const CachedObject>, std::less<>> objects;
  for (const storage::KeyValue& kv : listed.items) {
    if (std::shared_ptr<const CachedObject> object = Render(kv)) {
      objects.emplace_hint(objects.end(), kv.key, std::move(object));
    }
  }
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<storage::WatchStream> watch,
                        store_.Watch(std::string(kRegistryPrefix), listed.revision));
  {
    std::lock_guard lock(watch_mu_);
    watch_ = std::move(watch);
    if (stopping_) watch_->Close();
  }
  {
    std::unique_lock lock(mu_);
    objects_ = std::move(objects);
    // Whatever changed before this list is not known in detail.
    last_change_.clear();
    synced_revision_ = listed.revision;
    revision_ = listed.revision;
  }
  std::lock_guard lock(fresh_mu_);
  fresh_cv_.notify_all();
  return Status::Ok();
}

void WatchCache::Follow() {
  while (!stopping_) {
    Result<std::vector<storage::Event>> events = watch_->Next(1000ms);
    if (events.ok()) {
      if (!events->empty()) Apply(*events);
      continue;
    }
    if (events.status().code() == StatusCode::kExpired && !stopping_ && Resync().ok()) continue;
    break;
  }
  stopped_ = true;
  std::lock_guard lock(fresh_mu_);
  fresh_cv_.notify_all();
}

void WatchCache::Apply(const std::vector<storage::Event>& events) {
  // Rendered before taking the lock: readers wait only for the map updates.
  std::vector<std::shared_ptr<const CachedObject>> rendered;
  rendered.reserve(events.size());
  for (const storage::Event& event : events) {
    rendered.push_back(event.type == storage::EventType::kDelete ? nullptr : Render(event.kv));
  }
  {
    std::unique_lock lock(mu_);
    for (size_t i = 0; i < events.size(); ++i) {
      const std::string& key = events[i].kv.key;
      if (rendered[i]) {
        objects_.insert_or_assign(key, std::move(rendered[i]));
      } else if (auto it = objects_.find(key); it != objects_.end()) {
        objects_.erase(it);
      }
      const std::string_view prefix = ResourcePrefix(key);
      auto change = last_change_.find(prefix);
      if (change == last_change_.end()) {
        last_change_.emplace(std::string(prefix), events[i].revision());
      } else {
        change->second = events[i].revision();
      }
    }
    revision_ = events.back().revision();
  }
  std::lock_guard lock(fresh_mu_);
  fresh_cv_.notify_all();
}

bool WatchCache::WaitUntilFresh(int64_t revision, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(fresh_mu_);
  fresh_cv_.wait_for(lock, timeout, [&] { return stopped_ || revision_ >= revision; });
  return !stopped_ && revision_ >= revision;
}

WatchCache::Snapshot WatchCache::List(std::string_view prefix, std::string_view after_key,
                                      size_t max_objects) const {
  Snapshot snapshot;
  std::shared_lock lock(mu_);
  snapshot.revision = revision_;
  auto it = after_key.empty() ? objects_.lower_bound(prefix) : objects_.upper_bound(after_key);
  for (; it != objects_.end() && it->first.starts_with(prefix); ++it) {
    if (max_objects != 0 && snapshot.objects.size() == max_objects) {
      snapshot.more = true;
      break;
    }
    snapshot.objects.push_back(it->second);
  }
  return snapshot;
}

int64_t WatchCache::LastChange(std::string_view key) const {
  std::shared_lock lock(mu_);
  auto it = last_change_.find(ResourcePrefix(key));
  return it == last_change_.end() ? synced_revision_ : it->second;
}

int64_t WatchCache::Revision() const { return revision_; }

}  // namespace kelp::apiserver
