// Pod predicates and Kubernetes' scale-down order.
#include "controllers/pod_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include <boost/json.hpp>

#include "api/duration.h"

namespace kelp::controllers {
namespace {

using ::testing::ElementsAre;

// A pod's state; setters chain so each test names only what it changes.
struct PodSpec {
  explicit PodSpec(std::string pod_name) : name(std::move(pod_name)) {}
  PodSpec& Node(std::string value) { node = std::move(value); return *this; }
  PodSpec& Phase(std::string value) { phase = std::move(value); return *this; }
  PodSpec& ReadySince(std::string value) { ready_since = std::move(value); return *this; }
  PodSpec& Created(std::string value) { created = std::move(value); return *this; }
  PodSpec& Restarts(int64_t value) { restarts = value; return *this; }
  PodSpec& DeletionCost(std::string value) { deletion_cost = std::move(value); return *this; }

  std::string name;
  std::string node = "node01";
  std::string phase = "Running";
  std::string ready_since;  // empty: not ready
  std::string created = "2024-01-01T00:00:00Z";
  int64_t restarts = 0;
  std::string deletion_cost;
};

client::ObjectPtr MakePod(const PodSpec& spec) {
  boost::json::object pod{
      {"metadata", {{"name", spec.name}, {"uid", spec.name}, {"creationTimestamp", spec.created}}},
      {"spec", {{"nodeName", spec.node}}},
      {"status",
       {{"phase", spec.phase}, {"containerStatuses", {{{"restartCount", spec.restarts}}}}}}};
  if (!spec.ready_since.empty()) {
    pod["status"].get_object()["conditions"] = {
        {{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", spec.ready_since}}};
  }
  if (!spec.deletion_cost.empty()) {
    pod["metadata"].get_object()["annotations"] = {
        {"controller.kubernetes.io/pod-deletion-cost", spec.deletion_cost}};
  }
  return std::make_shared<const boost::json::object>(std::move(pod));
}

std::vector<std::string> Names(const std::vector<client::ObjectPtr>& pods) {
  std::vector<std::string> names;
  for (const client::ObjectPtr& pod : pods) {
    names.push_back(std::string(pod->at("metadata").at("name").as_string()));
  }
  return names;
}

const auto kNow = *api::ParseRfc3339("2024-01-10T00:00:00Z");

TEST(PodStateTest, ActiveReadyAvailable) {
  client::ObjectPtr ready = MakePod(PodSpec("a").ReadySince("2024-01-09T23:59:50Z"));
  EXPECT_TRUE(IsPodActive(*ready));
  EXPECT_TRUE(IsPodReady(*ready));
  EXPECT_TRUE(IsPodAvailable(*ready, 0, kNow));
  EXPECT_TRUE(IsPodAvailable(*ready, 5, kNow));
  EXPECT_FALSE(IsPodAvailable(*ready, 10, kNow));
  EXPECT_FALSE(IsPodActive(*MakePod(PodSpec("b").Phase("Succeeded"))));
  EXPECT_FALSE(IsPodActive(*MakePod(PodSpec("c").Phase("Failed"))));
  EXPECT_FALSE(IsPodReady(*MakePod(PodSpec("d"))));
}

TEST(PodStateTest, DeletionOrderFollowsKubernetes) {
  std::vector<client::ObjectPtr> pods = {
      MakePod(PodSpec("old-ready").ReadySince("2024-01-02T00:00:00Z")),
      MakePod(PodSpec("running-not-ready")),
      MakePod(PodSpec("pending").Phase("Pending")),
      MakePod(PodSpec("unknown").Phase("Unknown")),
      MakePod(PodSpec("unscheduled").Node("").Phase("Pending")),
      MakePod(PodSpec("new-ready").ReadySince("2024-01-09T23:59:00Z")),
      MakePod(PodSpec("costly").ReadySince("2024-01-09T23:59:00Z").DeletionCost("100")),
  };
  EXPECT_THAT(Names(PodsToDelete(pods, pods, 6, kNow)),
              ElementsAre("unscheduled", "pending", "unknown", "running-not-ready", "new-ready",
                          "old-ready"));
}

TEST(PodStateTest, CrowdedNodesRestartsAndAgeBreakTies) {
  const std::string ready = "2024-01-05T00:00:00Z";
  std::vector<client::ObjectPtr> pods = {
      MakePod(PodSpec("alone").Node("node02").ReadySince(ready)),
      MakePod(PodSpec("crowded").Node("node01").ReadySince(ready)),
      MakePod(PodSpec("crowded-restarts").Node("node01").ReadySince(ready).Restarts(4)),
  };
  std::vector<client::ObjectPtr> related = pods;
  related.push_back(MakePod(PodSpec("sibling").Node("node01").ReadySince(ready)));
  EXPECT_THAT(Names(PodsToDelete(pods, related, 2, kNow)),
              ElementsAre("crowded-restarts", "crowded"));

  std::vector<client::ObjectPtr> by_age = {
      MakePod(PodSpec("older").Created("2024-01-01T00:00:00Z")),
      MakePod(PodSpec("newer").Created("2024-01-09T23:00:00Z")),
  };
  EXPECT_THAT(Names(PodsToDelete(by_age, by_age, 1, kNow)), ElementsAre("newer"));
}

}  // namespace
}  // namespace kelp::controllers
