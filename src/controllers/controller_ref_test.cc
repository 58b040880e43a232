// Controller references and claiming: adopt orphans, release non-matching, skip others' objects.
#include "controllers/controller_ref.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>

#include <boost/json.hpp>

#include "client/testing/fake_api_client.h"
#include "common/testing/fake_clock.h"
#include "controllers/object_meta.h"

namespace kelp::controllers {
namespace {

class ClaimTest : public ::testing::Test {
 protected:
  boost::json::object SeedPod(const std::string& name, const std::string& app,
                              const boost::json::array& owners = {}) {
    boost::json::object pod{{"apiVersion", "v1"},
                            {"kind", "Pod"},
                            {"metadata", {{"name", name}, {"labels", {{"app", app}}}}}};
    if (!owners.empty()) pod["metadata"].get_object()["ownerReferences"] = owners;
    return client_.Seed(client::kPods, std::move(pod));
  }

  Result<std::vector<client::ObjectPtr>> Claim(const boost::json::object& owner,
                                               const std::vector<boost::json::object>& pods) {
    std::vector<client::ObjectPtr> candidates;
    for (const boost::json::object& pod : pods) {
      candidates.push_back(std::make_shared<const boost::json::object>(pod));
    }
    api::LabelSelector selector = *api::LabelSelector::Parse("app=web");
    return ClaimObjects(client_, client::kPods,
                        {owner, client::kReplicaSets, "apps/v1", "ReplicaSet"}, selector,
                        candidates);
  }

  kelp::testing::FakeClock clock_;
  client::testing::FakeApiClient client_{clock_};
};

TEST_F(ClaimTest, MakeControllerRefMarksControllerAndBlocksOwnerDeletion) {
  boost::json::object owner{{"metadata", {{"name", "web"}, {"uid", "u1"}}}};
  boost::json::object reference = MakeControllerRef(owner, "apps/v1", "ReplicaSet");
  EXPECT_EQ(reference, (boost::json::object{{"apiVersion", "apps/v1"},
                                            {"kind", "ReplicaSet"},
                                            {"name", "web"},
                                            {"uid", "u1"},
                                            {"controller", true},
                                            {"blockOwnerDeletion", true}}));
  boost::json::object pod{{"metadata", {{"ownerReferences", {reference}}}}};
  EXPECT_EQ(*ControllerRefOf(pod), reference);
  EXPECT_EQ(ControllerRefOf(boost::json::object{}), nullptr);
}

TEST_F(ClaimTest, AdoptsReleasesAndLeavesOthersAlone) {
  boost::json::object owner = client_.Seed(
      client::kReplicaSets, {{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"},
                             {"metadata", {{"name", "web"}, {"namespace", "default"}}}});
  boost::json::object reference = MakeControllerRef(owner, "apps/v1", "ReplicaSet");
  boost::json::object other{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "x"},
                            {"uid", "x"},             {"controller", true}};
  std::vector<boost::json::object> pods = {
      SeedPod("owned", "web", {reference}), SeedPod("orphan", "web"),
      SeedPod("stale", "db", {reference}), SeedPod("foreign", "web", {other}),
      SeedPod("unrelated", "db")};
  Result<std::vector<client::ObjectPtr>> claimed = Claim(owner, pods);
  ASSERT_TRUE(claimed.ok()) << claimed.status().ToString();
  std::set<std::string> names;
  for (const client::ObjectPtr& pod : *claimed) names.insert(Name(*pod));
  EXPECT_EQ(names, (std::set<std::string>{"owned", "orphan"}));
  EXPECT_EQ(StringAt(*ControllerRefOf(*client_.Get(client::kPods, "default", "orphan")), "uid"),
            Uid(owner));
  EXPECT_EQ(ControllerRefOf(*client_.Get(client::kPods, "default", "stale")), nullptr);
  EXPECT_EQ(StringAt(*ControllerRefOf(*client_.Get(client::kPods, "default", "foreign")), "uid"),
            "x");
}

TEST_F(ClaimTest, AnOwnerReplacedUnderTheSameNameDoesNotAdopt) {
  boost::json::object stale_owner{{"metadata", {{"name", "web"}, {"namespace", "default"},
                                                {"uid", "gone"}}}};
  client_.Seed(client::kReplicaSets, {{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"},
                                      {"metadata", {{"name", "web"}, {"namespace", "default"}}}});
  Result<std::vector<client::ObjectPtr>> claimed = Claim(stale_owner, {SeedPod("orphan", "web")});
  EXPECT_EQ(claimed.status().code(), StatusCode::kConflict);
  EXPECT_EQ(ControllerRefOf(*client_.Get(client::kPods, "default", "orphan")), nullptr);
}

}  // namespace
}  // namespace kelp::controllers
