// Informer over the FakeApiClient: list then watch, handlers, indexes, re-watch after a normal
// end, relist with a diff after 410 Expired, and a prompt Stop().
#include "client/informer.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "client/testing/fake_api_client.h"
#include "common/json.h"
#include "common/testing/fake_clock.h"

namespace kelp::client {
namespace {

namespace json = boost::json;
using std::chrono::seconds;

constexpr auto kWait = std::chrono::seconds(10);

json::object Pod(std::string_view name, std::string_view node = "") {
  json::object spec{{"containers", json::array{json::object{{"name", "c"}}}}};
  if (!node.empty()) spec["nodeName"] = node;
  return {{"metadata", json::object{{"name", name}, {"namespace", "default"}}},
          {"spec", std::move(spec)}};
}

// Waits (bounded) until the informer has its watch open on `client`.
bool WaitForOpenWatch(const testing::FakeApiClient& client) {
  for (int i = 0; i < 2000 && client.OpenWatches() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return client.OpenWatches() == 1;
}

// Records handler calls as "add ns/a", "update ns/a", "delete ns/a" and lets a test wait for
// a count.
class Recorder {
 public:
  InformerHandlers Handlers() {
    return {.on_add = [this](const ObjectPtr& o) { Push("add " + ObjectKey(*o)); },
            .on_update = [this](const ObjectPtr&,
                                const ObjectPtr& o) { Push("update " + ObjectKey(*o)); },
            .on_delete = [this](const ObjectPtr& o) { Push("delete " + ObjectKey(*o)); }};
  }
  // The calls so far once there are at least `count`, or what there is after a timeout.
  std::vector<std::string> WaitFor(size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, kWait, [&] { return calls_.size() >= count; });
    return calls_;
  }

 private:
  void Push(std::string call) {
    std::lock_guard lock(mutex_);
    calls_.push_back(std::move(call));
    changed_.notify_all();
  }
  std::mutex mutex_;  // guards calls_
  std::condition_variable changed_;
  std::vector<std::string> calls_;
};

// Forwards to the fake, but can fail the next lists and hold Watch() calls until released,
// so a test can make changes that the informer only learns about by relisting.
class GatedClient final : public ApiClient {
 public:
  explicit GatedClient(ApiClient& inner) : inner_(inner) {}
  void FailLists(int count) {
    std::lock_guard lock(mutex_);
    failing_lists_ = count;
  }
  void HoldWatches(bool hold) {
    std::lock_guard lock(mutex_);
    hold_ = hold;
    changed_.notify_all();
  }
  int Lists() const {
    std::lock_guard lock(mutex_);
    return lists_;
  }

  Result<json::object> Get(const Resource& r, std::string_view ns, std::string_view n) override {
    return inner_.Get(r, ns, n);
  }
  Result<ListResult> List(const Resource& r, std::string_view ns,
                          const ListOptions& o) override {
    {
      std::lock_guard lock(mutex_);
      ++lists_;
      if (failing_lists_ > 0) {
        --failing_lists_;
        return UnavailableError("injected list failure");
      }
    }
    return inner_.List(r, ns, o);
  }
  Result<json::object> Create(const Resource& r, std::string_view ns,
                              const json::object& o) override {
    return inner_.Create(r, ns, o);
  }
  Result<json::object> CreateSubresource(const Resource& r, std::string_view ns,
                                         std::string_view n, std::string_view s,
                                         const json::object& o) override {
    return inner_.CreateSubresource(r, ns, n, s, o);
  }
  Result<json::object> Update(const Resource& r, const json::object& o,
                              std::string_view s) override {
    return inner_.Update(r, o, s);
  }
  Result<json::object> Patch(const Resource& r, std::string_view ns, std::string_view n,
                             PatchType t, std::string_view b, std::string_view s) override {
    return inner_.Patch(r, ns, n, t, b, s);
  }
  Status Delete(const Resource& r, std::string_view ns, std::string_view n,
                const DeleteOptions& o) override {
    return inner_.Delete(r, ns, n, o);
  }
  Result<std::unique_ptr<WatchStream>> Watch(const Resource& r, std::string_view ns,
                                             const ListOptions& o) override {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !hold_; });
    lock.unlock();
    return inner_.Watch(r, ns, o);
  }

 private:
  ApiClient& inner_;
  mutable std::mutex mutex_;  // guards failing_lists_, hold_, lists_
  std::condition_variable changed_;
  int failing_lists_ = 0;
  bool hold_ = false;
  int lists_ = 0;
};

class InformerTest : public ::testing::Test {
 protected:
  kelp::testing::FakeClock clock_;
  testing::FakeApiClient client_{clock_};
  GatedClient gated_{client_};
  Recorder recorder_;
};

TEST_F(InformerTest, ListsThenFollowsTheWatch) {
  client_.Seed(kPods, Pod("a"));
  Informer informer(client_, kPods);
  informer.AddHandlers(recorder_.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(kWait));
  EXPECT_TRUE(informer.HasSynced());
  ASSERT_NE(informer.Get("default/a"), nullptr);

  ASSERT_TRUE(client_.Create(kPods, "default", Pod("b")).ok());
  ASSERT_TRUE(client_.Patch(kPods, "default", "a", PatchType::kMerge,
                            R"({"metadata":{"labels":{"x":"y"}}})")
                  .ok());
  ASSERT_TRUE(client_.Delete(kPods, "default", "b", {}).ok());
  EXPECT_EQ(recorder_.WaitFor(4), (std::vector<std::string>{"add default/a", "add default/b",
                                                             "update default/a",
                                                             "delete default/b"}));
  EXPECT_EQ(informer.Get("default/b"), nullptr);
  const json::value* label = FindPath(*informer.Get("default/a"), "metadata.labels.x");
  ASSERT_NE(label, nullptr);
  EXPECT_EQ(label->as_string(), "y");
}

TEST_F(InformerTest, IndexesAndNamespaceListsFollowChanges) {
  client_.Seed(kPods, Pod("a", "node01"));
  client_.Seed(kPods, Pod("b", "node02"));
  client_.Seed(kPods, {{"metadata", json::object{{"name", "c"}, {"namespace", "other"}}}});
  Informer informer(client_, kPods);
  informer.AddIndex("node", [](const json::object& pod) {
    const json::value* node = FindPath(pod, "spec.nodeName");
    return node && node->is_string() ? std::vector<std::string>{std::string(node->as_string())}
                                     : std::vector<std::string>{};
  });
  informer.AddHandlers(recorder_.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(kWait));
  EXPECT_EQ(informer.List().size(), 3u);
  EXPECT_EQ(informer.ListNamespace("default").size(), 2u);
  EXPECT_EQ(informer.ListNamespace("other").size(), 1u);
  EXPECT_EQ(informer.ListNamespace("def").size(), 0u);
  ASSERT_EQ(informer.ByIndex("node", "node01").size(), 1u);

  ASSERT_TRUE(client_.Patch(kPods, "default", "b", PatchType::kMerge,
                            R"({"spec":{"nodeName":"node01"}})")
                  .ok());
  recorder_.WaitFor(4);
  EXPECT_EQ(informer.ByIndex("node", "node01").size(), 2u);
  EXPECT_TRUE(informer.ByIndex("node", "node02").empty());
  EXPECT_TRUE(informer.ByIndex("missing", "node01").empty());
}

TEST_F(InformerTest, RewatchesFromTheLastVersionAfterANormalEnd) {
  Informer informer(client_, kPods);
  informer.AddHandlers(recorder_.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(kWait));
  ASSERT_TRUE(client_.Create(kPods, "default", Pod("a")).ok());
  ASSERT_EQ(recorder_.WaitFor(1).size(), 1u);
  client_.EndWatches();
  ASSERT_TRUE(client_.Create(kPods, "default", Pod("b")).ok());
  EXPECT_EQ(recorder_.WaitFor(2), (std::vector<std::string>{"add default/a", "add default/b"}));
  std::vector<testing::Action> writes = client_.Actions();
  EXPECT_EQ(writes.size(), 2u);
}

TEST_F(InformerTest, RelistsAfterExpiryAndDeliversTheDifference) {
  client_.Seed(kPods, Pod("keep"));
  client_.Seed(kPods, Pod("gone"));
  client_.Seed(kPods, Pod("changed"));
  Informer informer(gated_, kPods);
  informer.AddHandlers(recorder_.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(kWait));
  ASSERT_EQ(recorder_.WaitFor(3).size(), 3u);
  ASSERT_EQ(gated_.Lists(), 1);
  // Its first watch must be open before the gate closes: a Watch() call already past the gate
  // but not yet open would replay the changes below from history instead of expiring.
  ASSERT_TRUE(WaitForOpenWatch(client_));

  // Changes the informer's watch never delivers: its watch ends and the next one is held
  // until the history of these changes has been compacted away.
  gated_.HoldWatches(true);
  client_.EndWatches();
  ASSERT_TRUE(client_.Delete(kPods, "default", "gone", {}).ok());
  ASSERT_TRUE(client_.Patch(kPods, "default", "changed", PatchType::kMerge,
                            R"({"metadata":{"labels":{"v":"2"}}})")
                  .ok());
  ASSERT_TRUE(client_.Create(kPods, "default", Pod("new")).ok());
  client_.CompactHistory();
  gated_.HoldWatches(false);

  std::vector<std::string> calls = recorder_.WaitFor(6);
  ASSERT_EQ(calls.size(), 6u);
  std::vector<std::string> after(calls.begin() + 3, calls.end());
  std::sort(after.begin(), after.end());
  EXPECT_EQ(after, (std::vector<std::string>{"add default/new", "delete default/gone",
                                             "update default/changed"}));
  EXPECT_EQ(gated_.Lists(), 2) << "the expired watch made the informer relist";
  EXPECT_EQ(informer.List().size(), 3u);
  EXPECT_EQ(informer.Get("default/gone"), nullptr);
}

TEST_F(InformerTest, StopCancelsTheBlockedWatch) {
  Informer informer(client_, kPods);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(kWait));
  // The watch is opened right after the list; wait until it is, so Stop() has one to cancel.
  ASSERT_TRUE(WaitForOpenWatch(client_));
  informer.Stop();
  EXPECT_EQ(client_.OpenWatches(), 0u);
}

TEST_F(InformerTest, RetriesAFailedListAfterABackoff) {
  client_.Seed(kPods, Pod("a"));
  gated_.FailLists(2);
  Informer informer(gated_, kPods);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(kWait));
  EXPECT_EQ(gated_.Lists(), 3);
  EXPECT_NE(informer.Get("default/a"), nullptr);
}

TEST_F(InformerTest, FactorySharesOneInformerPerResource) {
  InformerFactory factory(client_);
  Informer& pods = factory.For(kPods);
  EXPECT_EQ(&pods, &factory.For(kPods));
  EXPECT_NE(&pods, &factory.For(kNodes));
  EXPECT_EQ(factory.For(kNodes).resource(), kNodes);
  factory.Start();
  EXPECT_TRUE(factory.WaitForSync(kWait));
  factory.Stop();
}

}  // namespace
}  // namespace kelp::client
