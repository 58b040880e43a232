// Informer: one thread per informer runs the reflector loop (list, then watch from the list's
// resourceVersion; re-watch after a normal end; relist after kExpired, and after any other
// error once a backoff has passed). The cache and its indexes sit behind one mutex; handlers
// run on the informer thread outside that mutex, so a handler may read the cache.
#include "client/informer.h"

#include <algorithm>
#include <condition_variable>
#include <set>
#include <thread>

#include <boost/json.hpp>

#include <spdlog/spdlog.h>

namespace kelp::client {
namespace {

namespace json = boost::json;

constexpr int64_t kListPageSize = 500;
constexpr std::chrono::milliseconds kInitialBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{10000};

std::string ResourceVersionOf(const json::object& object) {
  const json::value* metadata = object.if_contains("metadata");
  if (metadata == nullptr || !metadata->is_object()) return "";
  const json::value* version = metadata->as_object().if_contains("resourceVersion");
  return version && version->is_string() ? std::string(version->as_string()) : "";
}

std::string ResourceLabel(const Resource& resource) {
  return resource.ApiVersion() + "/" + std::string(resource.plural);
}

}  // namespace

struct Informer::State {
  State(ApiClient& client, const Resource& resource, ListOptions options)
      : client(client), resource(resource), options(std::move(options)) {}

  ApiClient& client;
  const Resource resource;
  const ListOptions options;

  mutable std::mutex mutex;  // guards cache, index_funcs, indexes, synced, stopping
  mutable std::condition_variable changed;  // synced or stopping changed
  std::map<std::string, ObjectPtr, std::less<>> cache;
  std::map<std::string, IndexFunc, std::less<>> index_funcs;
  // index name → value → keys
  std::map<std::string, std::map<std::string, std::set<std::string>, std::less<>>, std::less<>>
      indexes;
  bool synced = false;
  bool stopping = false;

  std::mutex handlers_mutex;  // guards handlers; held while handlers run
  std::vector<InformerHandlers> handlers;

  std::mutex watch_mutex;  // guards watch
  WatchStream* watch = nullptr;

  std::thread thread;

  bool Stopping() const {
    std::lock_guard lock(mutex);
    return stopping;
  }

  // Waits `delay` unless Stop() comes first; false when stopping.
  bool Backoff(std::chrono::milliseconds delay) const {
    std::unique_lock lock(mutex);
    return !changed.wait_for(lock, delay, [&] { return stopping; });
  }

  void IndexLocked(const std::string& key, const ObjectPtr& old, const ObjectPtr& now) {
    for (const auto& [name, func] : index_funcs) {
      auto& values = indexes[name];
      if (old) {
        for (const std::string& value : func(*old)) {
          auto it = values.find(value);
          if (it == values.end()) continue;
          it->second.erase(key);
          if (it->second.empty()) values.erase(it);
        }
      }
      if (now) {
        for (const std::string& value : func(*now)) values[value].insert(key);
      }
    }
  }

  // Puts `object` in the cache; returns the state it replaced (null when new).
  ObjectPtr Upsert(const ObjectPtr& object) {
    std::string key = ObjectKey(*object);
    std::lock_guard lock(mutex);
    ObjectPtr& slot = cache[key];
    ObjectPtr old = slot;
    slot = object;
    IndexLocked(key, old, object);
    return old;
  }

  ObjectPtr Remove(const std::string& key) {
    std::lock_guard lock(mutex);
    auto it = cache.find(key);
    if (it == cache.end()) return nullptr;
    ObjectPtr old = it->second;
    cache.erase(it);
    IndexLocked(key, old, nullptr);
    return old;
  }

  void FireAdd(const ObjectPtr& object) {
    std::lock_guard lock(handlers_mutex);
    for (const InformerHandlers& h : handlers) {
      if (h.on_add) h.on_add(object);
    }
  }
  void FireUpdate(const ObjectPtr& old, const ObjectPtr& now) {
    std::lock_guard lock(handlers_mutex);
    for (const InformerHandlers& h : handlers) {
      if (h.on_update) h.on_update(old, now);
    }
  }
  void FireDelete(const ObjectPtr& object) {
    std::lock_guard lock(handlers_mutex);
    for (const InformerHandlers& h : handlers) {
      if (h.on_delete) h.on_delete(object);
    }
  }

  void Apply(const ObjectPtr& object) {
    ObjectPtr old = Upsert(object);
    if (old) {
      FireUpdate(old, object);
    } else {
      FireAdd(object);
    }
  }

  // Lists every page; the resourceVersion is the first page's (the list's snapshot).
  Result<ListResult> ListAll() {
    ListOptions list_options = options;
    list_options.limit = options.limit > 0 ? options.limit : kListPageSize;
    list_options.continue_token.clear();
    list_options.resource_version.clear();
    ListResult all;
    while (true) {
      KELP_ASSIGN_OR_RETURN(ListResult page, client.List(resource, "", list_options));
      if (all.resource_version.empty()) all.resource_version = page.resource_version;
      for (json::object& item : page.items) all.items.push_back(std::move(item));
      if (page.continue_token.empty()) return all;
      list_options.continue_token = page.continue_token;
    }
  }

  // Makes the cache equal to `items`, firing add/update/delete for the difference.
  void Replace(std::vector<json::object> items) {
    std::set<std::string> listed;
    for (json::object& item : items) {
      auto object = std::make_shared<const json::object>(std::move(item));
      std::string key = ObjectKey(*object);
      listed.insert(key);
      ObjectPtr old = Upsert(object);
      if (!old) {
        FireAdd(object);
      } else if (ResourceVersionOf(*old) != ResourceVersionOf(*object)) {
        FireUpdate(old, object);
      }
    }
    std::vector<std::string> gone;
    {
      std::lock_guard lock(mutex);
      for (const auto& [key, object] : cache) {
        if (!listed.contains(key)) gone.push_back(key);
      }
    }
    for (const std::string& key : gone) {
      if (ObjectPtr old = Remove(key)) FireDelete(old);
    }
    std::lock_guard lock(mutex);
    synced = true;
    changed.notify_all();
  }

  enum class WatchEnd { kNormal, kRelist, kStopped };

  // One watch from `resource_version` (advanced as events arrive) until it ends.
  WatchEnd WatchOnce(std::string& resource_version) {
    ListOptions watch_options = options;
    watch_options.resource_version = resource_version;
    watch_options.limit = 0;
    watch_options.continue_token.clear();
    Result<std::unique_ptr<WatchStream>> opened = client.Watch(resource, "", watch_options);
    if (!opened.ok()) {
      if (opened.status().code() != StatusCode::kExpired) {
        spdlog::warn("informer {}: watch failed: {}", ResourceLabel(resource),
                opened.status().ToString());
      }
      return WatchEnd::kRelist;
    }
    std::unique_ptr<WatchStream> stream = std::move(*opened);
    {
      std::lock_guard lock(watch_mutex);
      if (Stopping()) return WatchEnd::kStopped;
      watch = stream.get();
    }
    WatchEnd end = ConsumeEvents(*stream, resource_version);
    std::lock_guard lock(watch_mutex);
    watch = nullptr;
    return end;
  }

  WatchEnd ConsumeEvents(WatchStream& stream, std::string& resource_version) {
    while (true) {
      Result<std::optional<WatchEvent>> next = stream.Next();
      if (Stopping()) return WatchEnd::kStopped;
      if (!next.ok()) {
        if (next.status().code() != StatusCode::kExpired) {
          spdlog::warn("informer {}: watch broke: {}", ResourceLabel(resource),
                  next.status().ToString());
        }
        return WatchEnd::kRelist;
      }
      if (!next->has_value()) return WatchEnd::kNormal;
      WatchEvent& event = **next;
      std::string version = ResourceVersionOf(event.object);
      if (!version.empty()) resource_version = version;
      switch (event.type) {
        case WatchEvent::Type::kBookmark:
          break;
        case WatchEvent::Type::kAdded:
        case WatchEvent::Type::kModified:
          Apply(std::make_shared<const json::object>(std::move(event.object)));
          break;
        case WatchEvent::Type::kDeleted:
          if (ObjectPtr old = Remove(ObjectKey(event.object))) {
            FireDelete(std::make_shared<const json::object>(std::move(event.object)));
          }
          break;
      }
    }
  }

  void Run() {
    std::chrono::milliseconds backoff = kInitialBackoff;
    while (!Stopping()) {
      Result<ListResult> listed = ListAll();
      if (!listed.ok()) {
        spdlog::warn("informer {}: list failed: {}", ResourceLabel(resource),
                listed.status().ToString());
        if (!Backoff(backoff)) return;
        backoff = std::min(backoff * 2, kMaxBackoff);
        continue;
      }
      std::string resource_version = listed->resource_version;
      Replace(std::move(listed->items));
      WatchEnd end = WatchEnd::kNormal;
      while (end == WatchEnd::kNormal) end = WatchOnce(resource_version);
      if (end == WatchEnd::kStopped) return;
      if (!Backoff(backoff)) return;
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }
};

Informer::Informer(ApiClient& client, const Resource& resource, ListOptions options)
    : state_(std::make_unique<State>(client, resource, std::move(options))) {}

Informer::~Informer() { Stop(); }

void Informer::AddHandlers(InformerHandlers handlers) {
  std::lock_guard lock(state_->handlers_mutex);
  state_->handlers.push_back(std::move(handlers));
}

void Informer::AddIndex(std::string name, IndexFunc index) {
  std::lock_guard lock(state_->mutex);
  auto& values = state_->indexes[name];
  for (const auto& [key, object] : state_->cache) {
    for (const std::string& value : index(*object)) values[value].insert(key);
  }
  state_->index_funcs[std::move(name)] = std::move(index);
}

void Informer::Start() {
  std::lock_guard lock(state_->mutex);
  if (state_->thread.joinable() || state_->stopping) return;
  state_->thread = std::thread([state = state_.get()] { state->Run(); });
}

void Informer::Stop() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
    state_->changed.notify_all();
  }
  {
    std::lock_guard lock(state_->watch_mutex);
    if (state_->watch != nullptr) state_->watch->Cancel();
  }
  if (state_->thread.joinable()) state_->thread.join();
}

bool Informer::HasSynced() const {
  std::lock_guard lock(state_->mutex);
  return state_->synced;
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->mutex);
  return state_->changed.wait_for(lock, timeout, [&] { return state_->synced; });
}

ObjectPtr Informer::Get(std::string_view key) const {
  std::lock_guard lock(state_->mutex);
  auto it = state_->cache.find(key);
  return it == state_->cache.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Informer::List() const {
  std::lock_guard lock(state_->mutex);
  std::vector<ObjectPtr> objects;
  objects.reserve(state_->cache.size());
  for (const auto& [key, object] : state_->cache) objects.push_back(object);
  return objects;
}

std::vector<ObjectPtr> Informer::ListNamespace(std::string_view namespace_name) const {
  std::string prefix = std::string(namespace_name) + "/";
  std::lock_guard lock(state_->mutex);
  std::vector<ObjectPtr> objects;
  for (auto it = state_->cache.lower_bound(prefix);
       it != state_->cache.end() && it->first.starts_with(prefix); ++it) {
    objects.push_back(it->second);
  }
  return objects;
}

std::vector<ObjectPtr> Informer::ByIndex(std::string_view index_name,
                                         std::string_view value) const {
  std::lock_guard lock(state_->mutex);
  std::vector<ObjectPtr> objects;
  auto index = state_->indexes.find(index_name);
  if (index == state_->indexes.end()) return objects;
  auto keys = index->second.find(value);
  if (keys == index->second.end()) return objects;
  for (const std::string& key : keys->second) {
    auto it = state_->cache.find(key);
    if (it != state_->cache.end()) objects.push_back(it->second);
  }
  return objects;
}

const Resource& Informer::resource() const { return state_->resource; }

Informer& InformerFactory::For(const Resource& resource) {
  std::lock_guard lock(mutex_);
  std::unique_ptr<Informer>& informer = informers_[ResourceLabel(resource)];
  if (!informer) informer = std::make_unique<Informer>(client_, resource);
  return *informer;
}

void InformerFactory::Start() {
  std::lock_guard lock(mutex_);
  for (auto& [name, informer] : informers_) informer->Start();
}

void InformerFactory::Stop() {
  std::lock_guard lock(mutex_);
  for (auto& [name, informer] : informers_) informer->Stop();
}

bool InformerFactory::WaitForSync(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<Informer*> informers;
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, informer] : informers_) informers.push_back(informer.get());
  }
  for (Informer* informer : informers) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!informer->WaitForSync(std::max(left, std::chrono::milliseconds(0)))) return false;
  }
  return true;
}

}  // namespace kelp::client
