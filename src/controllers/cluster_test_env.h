// What the cluster controllers' unit tests share: a FakeApiClient on a FakeClock, informers
// over it and the ControllerContext built from them, plus a wait for an informer cache to
// show a condition (controllers read their caches, which follow the fake asynchronously).
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "client/informer.h"
#include "client/testing/fake_api_client.h"
#include "common/json.h"
#include "common/testing/fake_clock.h"
#include "controllers/controller.h"

namespace kelp::controllers::testing {

namespace json = boost::json;

class ClusterTestEnv : public ::testing::Test {
 protected:
  static constexpr std::chrono::seconds kWait{10};

  void StartInformers() {
    informers_.Start();
    ASSERT_TRUE(informers_.WaitForSync(kWait));
  }
  // Informer handlers call into the controllers: they stop before the controllers go.
  void TearDown() override { informers_.Stop(); }

  // A controller that lives until after the informers stopped.
  template <typename T>
  T& Own(std::unique_ptr<T> controller) {
    T& ref = *controller;
    controllers_.push_back(std::move(controller));
    return ref;
  }

  // Polls `condition` until it holds; false after kWait of real time.
  static bool WaitUntil(const std::function<bool()>& condition) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }
  // Waits until the informer of `resource` holds `key` satisfying `condition` (null: gone).
  bool WaitForCache(const client::Resource& resource, const std::string& key,
                    const std::function<bool(const client::ObjectPtr&)>& condition) {
    client::Informer& informer = informers_.For(resource);
    return WaitUntil([&] { return condition(informer.Get(key)); });
  }
  static json::object Parse(std::string_view text) {
    Result<json::object> object = ParseJsonObject(text);
    EXPECT_TRUE(object.ok()) << text;
    return object.ok() ? *object : json::object();
  }
  // Reasons of the events about objects named `name`, in creation order.
  std::vector<std::string> EventReasons(std::string_view name) {
    std::vector<std::string> reasons;
    Result<client::ListResult> events = api_.List(client::kEvents, "", {});
    if (!events.ok()) return reasons;
    for (const json::object& event : events->items) {
      const json::value* involved = FindPath(event, "involvedObject.name");
      if (involved && involved->is_string() && involved->get_string() == name) {
        reasons.push_back(std::string(event.at("reason").as_string()));
      }
    }
    return reasons;
  }

  kelp::testing::FakeClock clock_;
  client::testing::FakeApiClient api_{clock_};
  client::InformerFactory informers_{api_};
  ControllerContext context_{api_, informers_, clock_, {}};
  std::vector<std::unique_ptr<Controller>> controllers_;
};

}  // namespace kelp::controllers::testing
