// Tests of the watch cache against a real SqliteStore in a temp dir: it follows the store,
// and RestApi answers LISTs and watch start states from it exactly as it would from the store
// (read-your-writes, selectors, limit/continue at one revision, Tables, fallback to the store).
#include "apiserver/watch_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <set>
#include <thread>

#include "api/printers.h"
#include "apiserver/rest.h"
#include "common/testing/fake_clock.h"
#include "common/testing/temp_dir.h"
#include "storage/sqlite/sqlite_store.h"

namespace kelp::apiserver {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kConfigMaps = "/api/v1/namespaces/default/configmaps";

class WatchCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::sqlite::SqliteStore::Open((dir_.path() / "state.db").string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    // The namespaces exist before the cache starts: its first list must bring them in.
    ASSERT_TRUE(RestApi(*store_, clock_).EnsureDefaultNamespaces().ok());
    auto cache = WatchCache::Start(*store_);
    ASSERT_TRUE(cache.ok()) << cache.status().ToString();
    cache_ = std::move(*cache);
    RestOptions options;
    options.watch_cache = cache_.get();
    options.hooks = [](const ResourceInfo&) {
      ResourceHooks hooks;
      hooks.print_table = [](const std::vector<const json::object*>& objects,
                             const TableRequest& request) -> Result<json::object> {
        json::array rows;
        for (const json::object* object : objects) {
          rows.push_back(json::object{{"cells", json::array{object->at("metadata").at("name")}}});
        }
        return json::object{{"kind", "Table"},
                            {"metadata", json::object{{"resourceVersion", request.resource_version},
                                                      {"continue", request.continue_token}}},
                            {"rows", std::move(rows)}};
      };
      return hooks;
    };
    cached_api_ = std::make_unique<RestApi>(*store_, clock_, std::move(options));
    store_api_ = std::make_unique<RestApi>(*store_, clock_);
  }

  static HttpResponse Send(const RestApi& api, std::string method, std::string target,
                           std::string body = "", std::string accept = "application/json") {
    return api.Handle(MakeRequest(std::move(method), std::move(target),
                                  {{"Content-Type", "application/json"}, {"Accept", accept}},
                                  std::move(body)));
  }
  HttpResponse Send(std::string method, std::string target, std::string body = "") {
    return Send(*cached_api_, std::move(method), std::move(target), std::move(body));
  }

  static json::object Body(const HttpResponse& response) {
    boost::system::error_code error;
    json::value value = json::parse(response.body, error);
    EXPECT_FALSE(error) << response.body;
    return value.is_object() ? value.as_object() : json::object();
  }

  static std::vector<std::string> Names(const json::object& list, const char* field = "items") {
    std::vector<std::string> names;
    for (const json::value& item : list.at(field).as_array()) {
      names.emplace_back(field == std::string("rows") ? item.at("cells").at(0).as_string()
                                                      : item.at("metadata").at("name").as_string());
    }
    return names;
  }

  void CreateConfigMap(const std::string& name, const std::string& app) {
    HttpResponse created = Send("POST", kConfigMaps,
                                R"({"metadata":{"name":")" + name + R"(","labels":{"app":")" +
                                    app + R"("}},"data":{"k":"v"}})");
    ASSERT_EQ(created.status, 201) << created.body;
  }

  // `count` config maps "big-<i>" of ~600 bytes each, written by 8 clients at once.
  void CreateBigConfigMaps(int count) {
    const std::string padding(500, 'x');
    std::vector<std::thread> writers;
    std::atomic<int> failed = 0;
    for (int w = 0; w < 8; ++w) {
      writers.emplace_back([&, w] {
        for (int i = w; i < count; i += 8) {
          HttpResponse created =
              Send("POST", kConfigMaps,
                   R"({"metadata":{"name":"big-)" + std::to_string(1000 + i) +
                       R"(","labels":{"app":"big"}},"data":{"k":"v","pad":")" + padding + R"("}})");
          if (created.status != 201) failed.fetch_add(1);
        }
      });
    }
    for (std::thread& writer : writers) writer.join();
    ASSERT_EQ(failed.load(), 0);
  }

  // Hooks with src/api's real Table printers, whole (print_table) and streamed (table_writer).
  RestOptions PrintingOptions(const WatchCache* cache) {
    RestOptions options;
    options.watch_cache = cache;
    options.hooks = [this](const ResourceInfo& resource) {
      ResourceHooks hooks;
      hooks.print_table = [this, &resource](const std::vector<const json::object*>& objects,
                                            const TableRequest& request) {
        return api::BuildTable(resource.plural, resource.group, objects,
                               {.resource_version = request.resource_version,
                                .continue_token = request.continue_token},
                               clock_);
      };
      hooks.table_writer = [this, &resource](const TableRequest& request)
          -> Result<std::unique_ptr<api::TableTextWriter>> {
        return std::make_unique<api::TableTextWriter>(
            resource.plural, resource.group,
            api::TableOptions{.resource_version = request.resource_version,
                              .continue_token = request.continue_token},
            clock_);
      };
      return hooks;
    };
    return options;
  }

  kelp::testing::ScopedTempDir dir_;
  kelp::testing::FakeClock clock_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<WatchCache> cache_;
  std::unique_ptr<RestApi> cached_api_;
  std::unique_ptr<RestApi> store_api_;  // the same API without the cache, for comparison
};

TEST_F(WatchCacheTest, StartsWithTheStoredObjectsAndFollowsWrites) {
  EXPECT_EQ(cache_->List("/registry/core/namespaces/", "", 0).objects.size(), 4u);
  CreateConfigMap("a", "x");
  ASSERT_TRUE(cache_->WaitUntilFresh(store_->CurrentRevision(), 10s));
  WatchCache::Snapshot snapshot = cache_->List("/registry/core/configmaps/", "", 0);
  ASSERT_EQ(snapshot.objects.size(), 1u);
  EXPECT_EQ(snapshot.revision, store_->CurrentRevision());
  json::object cached = json::parse(snapshot.objects[0]->json).as_object();
  EXPECT_EQ(cached.at("metadata").at("resourceVersion"),
            json::value(std::to_string(snapshot.revision)));
  EXPECT_EQ(cached.at("kind"), "ConfigMap");

  ASSERT_EQ(Send("DELETE", std::string(kConfigMaps) + "/a").status, 200);
  ASSERT_TRUE(cache_->WaitUntilFresh(store_->CurrentRevision(), 10s));
  EXPECT_TRUE(cache_->List("/registry/core/configmaps/", "", 0).objects.empty());
  EXPECT_EQ(cache_->LastChange("/registry/core/configmaps/default/a"), store_->CurrentRevision());
}

TEST_F(WatchCacheTest, ListAfterAWriteSeesItAndMatchesTheStoreList) {
  for (int i = 0; i < 20; ++i) {
    CreateConfigMap("cm-" + std::to_string(i), i % 2 ? "odd" : "even");
    // Read-your-writes: no waiting by the client between its write and its list.
    json::object list = Body(Send("GET", kConfigMaps));
    ASSERT_EQ(list.at("items").as_array().size(), static_cast<size_t>(i + 1));
  }
  HttpResponse cached = Send("GET", kConfigMaps);
  HttpResponse stored = Send(*store_api_, "GET", kConfigMaps);
  ASSERT_EQ(cached.status, 200);
  EXPECT_EQ(Body(cached), Body(stored));
  EXPECT_EQ(Body(Send("GET", "/api/v1/namespaces")), Body(Send(*store_api_, "GET", "/api/v1/namespaces")));
}

TEST_F(WatchCacheTest, LabelSelectorLimitAndContinueStayAtTheFirstPagesRevision) {
  for (const char* name : {"a", "b", "c", "d", "e"}) CreateConfigMap(name, name[0] == 'c' ? "no" : "yes");
  json::object first = Body(Send("GET", std::string(kConfigMaps) + "?labelSelector=app%3Dyes&limit=2"));
  EXPECT_EQ(Names(first), (std::vector<std::string>{"a", "b"}));
  const std::string token(first.at("metadata").at("continue").as_string());
  json::object second =
      Body(Send("GET", std::string(kConfigMaps) + "?labelSelector=app%3Dyes&limit=2&continue=" + token));
  EXPECT_EQ(Names(second), (std::vector<std::string>{"d", "e"}));
  EXPECT_EQ(second.at("metadata").at("resourceVersion"), first.at("metadata").at("resourceVersion"));

  // A change after the first page: the next page comes from the store at the first revision.
  ASSERT_EQ(Send("DELETE", std::string(kConfigMaps) + "/d").status, 200);
  CreateConfigMap("f", "yes");
  json::object after_change =
      Body(Send("GET", std::string(kConfigMaps) + "?labelSelector=app%3Dyes&limit=2&continue=" + token));
  EXPECT_EQ(Names(after_change), (std::vector<std::string>{"d", "e"}));
  EXPECT_EQ(after_change.at("metadata").at("resourceVersion"),
            first.at("metadata").at("resourceVersion"));
  EXPECT_EQ(Names(Body(Send("GET", kConfigMaps))),
            (std::vector<std::string>{"a", "b", "c", "e", "f"}));
}

TEST_F(WatchCacheTest, TableListPrintsTheSelectedObjects) {
  for (const char* name : {"a", "b", "c"}) CreateConfigMap(name, name[0] == 'b' ? "no" : "yes");
  json::object table = Body(Send(*cached_api_, "GET", std::string(kConfigMaps) + "?labelSelector=app%3Dyes",
                                 "", "application/json;as=Table;v=v1;g=meta.k8s.io"));
  EXPECT_EQ(Names(table, "rows"), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(table.at("metadata").at("resourceVersion"),
            json::value(std::to_string(store_->CurrentRevision())));
}

TEST_F(WatchCacheTest, WatchFromZeroStartsWithTheCachedObjects) {
  CreateConfigMap("a", "x");
  HttpResponse response = Send("GET", std::string(kConfigMaps) + "?watch=true&resourceVersion=0");
  ASSERT_EQ(response.status, 200);
  ASSERT_NE(response.stream, nullptr);
  std::optional<std::string> initial = response.stream->Next();
  ASSERT_TRUE(initial);
  EXPECT_TRUE(initial->starts_with(R"({"type":"ADDED","object":{)")) << *initial;
  EXPECT_NE(initial->find(R"("name":"a")"), std::string::npos) << *initial;
  CreateConfigMap("b", "x");
  std::string events;
  while (events.find(R"("name":"b")") == std::string::npos) {
    std::optional<std::string> chunk = response.stream->Next();
    ASSERT_TRUE(chunk);
    events += *chunk;
  }
  EXPECT_NE(events.find(R"({"type":"ADDED")"), std::string::npos) << events;
  response.stream->Cancel();
}

// A LIST larger than a chunk is written while it is made (a stream that keeps the
// connection); its body is the store's list, and its Table the one printed from the store.
TEST_F(WatchCacheTest, LargeListIsStreamedAndMatchesTheStoreList) {
  CreateBigConfigMaps(300);
  HttpResponse cached = Send("GET", kConfigMaps);
  ASSERT_EQ(cached.status, 200);
  ASSERT_NE(cached.stream, nullptr);
  EXPECT_TRUE(cached.stream->KeepsConnection());
  cached.body = CollectBody(cached);
  HttpResponse stored = Send(*store_api_, "GET", kConfigMaps);
  EXPECT_EQ(Body(cached), Body(stored));
  EXPECT_EQ(Body(cached).at("items").as_array().size(), 300u);

  const RestApi printing_cache(*store_, clock_, PrintingOptions(cache_.get()));
  const RestApi printing_store(*store_, clock_, PrintingOptions(nullptr));
  const std::string table_accept = "application/json;as=Table;v=v1;g=meta.k8s.io";
  HttpResponse table = Send(printing_cache, "GET", kConfigMaps, "", table_accept);
  ASSERT_EQ(table.status, 200);
  ASSERT_NE(table.stream, nullptr);
  table.body = CollectBody(table);
  json::object streamed_table = Body(table);
  EXPECT_EQ(Names(streamed_table, "rows").size(), 300u);
  EXPECT_EQ(streamed_table, Body(Send(printing_store, "GET", kConfigMaps, "", table_accept)));

  // A selector over the large list: filtered while written, and equal to the store's answer.
  HttpResponse selected = Send(printing_cache, "GET", std::string(kConfigMaps) +
                                                      "?labelSelector=app%3Dbig", "", table_accept);
  selected.body = CollectBody(selected);
  EXPECT_EQ(Body(selected), Body(Send(printing_store, "GET",
                                      std::string(kConfigMaps) + "?labelSelector=app%3Dbig", "",
                                      table_accept)));
}

// LISTs taken while clients write: every LIST is the store's state at its resourceVersion
// (same objects at the same versions), never a mix of before and after a write.
TEST_F(WatchCacheTest, ListUnderConcurrentWritesIsTheStoreStateAtItsRevision) {
  CreateBigConfigMaps(200);
  std::atomic<bool> stop = false;
  std::atomic<int> writers_running = 4;
  std::atomic<int> failed_writes = 0;
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int round = 0; round < 50 && !stop; ++round) {
        const std::string name = "big-" + std::to_string(1000 + (w * 50 + round) % 200);
        HttpResponse patched = cached_api_->Handle(
            MakeRequest("PATCH", std::string(kConfigMaps) + "/" + name,
                        {{"Content-Type", "application/merge-patch+json"}},
                        R"({"data":{"k":"round-)" + std::to_string(round) + R"("}})"));
        if (patched.status != 200) failed_writes.fetch_add(1);
      }
      writers_running.fetch_sub(1);
    });
  }
  std::set<std::string> revisions_seen;
  // Lists for as long as the writers write (and at least 10 times).
  for (int list = 0; list < 10 || (writers_running.load() > 0 && list < 1000); ++list) {
    HttpResponse response = Send("GET", kConfigMaps);
    ASSERT_EQ(response.status, 200);
    response.body = CollectBody(response);
    json::object body = Body(response);
    const std::string revision(body.at("metadata").at("resourceVersion").as_string());
    revisions_seen.insert(revision);
    storage::ListOptions at_revision;
    at_revision.revision = std::stoll(revision);
    Result<storage::ListResult> stored =
        store_->List("/registry/core/configmaps/default/", at_revision);
    ASSERT_TRUE(stored.ok()) << stored.status().ToString();
    const json::array& items = body.at("items").as_array();
    ASSERT_EQ(items.size(), stored->items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      const json::object& metadata = items[i].at("metadata").as_object();
      EXPECT_EQ(metadata.at("resourceVersion").as_string(),
                std::to_string(stored->items[i].mod_revision));
      EXPECT_LE(stored->items[i].mod_revision, at_revision.revision);
      json::object stored_object = json::parse(stored->items[i].value).as_object();
      EXPECT_EQ(items[i].at("data"), stored_object.at("data")) << metadata.at("name");
    }
  }
  stop = true;
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(failed_writes.load(), 0);
  EXPECT_GT(revisions_seen.size(), 1u) << "no LIST overlapped a write";
}

}  // namespace
}  // namespace kelp::apiserver
