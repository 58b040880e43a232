// NamespaceController against the FakeApiClient: a Terminating namespace is emptied, its
// conditions say what remains, and it is finalized (and gone) only once nothing is left.
#include "controllers/namespace.h"

#include "controllers/cluster_test_env.h"

namespace kelp::controllers {
namespace {

using testing::json::object;

class NamespaceControllerTest : public testing::ClusterTestEnv {
 protected:
  std::string ConditionStatus(const std::string& name, std::string_view type) {
    Result<object> ns = api_.Get(client::kNamespaces, "", name);
    if (!ns.ok()) return "";
    for (const auto& condition : ns->at("status").at("conditions").as_array()) {
      if (condition.at("type").as_string() == type) return std::string(condition.at("status").as_string());
    }
    return "";
  }
};

TEST_F(NamespaceControllerTest, EmptiesATerminatingNamespaceThenFinalizesIt) {
  api_.Seed(client::kNamespaces, Parse(R"({"metadata":{"name":"abc"}})"));
  api_.Seed(client::kConfigMaps, Parse(R"({"metadata":{"name":"c","namespace":"abc"}})"));
  api_.Seed(client::kDeployments, Parse(R"({"metadata":{"name":"d","namespace":"abc"},"spec":{}})"));
  api_.Seed(client::kPods, Parse(R"({"metadata":{"name":"p","namespace":"abc"},
                                     "spec":{"nodeName":"n1","containers":[]}})"));
  api_.Seed(client::kConfigMaps, Parse(R"({"metadata":{"name":"keep","namespace":"default"}})"));
  NamespaceController& controller = Own(std::make_unique<NamespaceController>(context_));
  StartInformers();

  ASSERT_TRUE(controller.Sync("abc").ok()) << "an Active namespace is left alone";
  EXPECT_TRUE(api_.Get(client::kConfigMaps, "abc", "c").ok());

  ASSERT_TRUE(api_.Delete(client::kNamespaces, "", "abc", {}).ok());
  // The pod on a node takes its grace period, so content remains after the first pass.
  EXPECT_EQ(controller.Sync("abc").code(), StatusCode::kUnavailable);
  EXPECT_EQ(api_.Get(client::kConfigMaps, "abc", "c").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(api_.Get(client::kDeployments, "abc", "d").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ConditionStatus("abc", "NamespaceContentRemaining"), "True");
  EXPECT_EQ(ConditionStatus("abc", "NamespaceDeletionContentFailure"), "False");
  EXPECT_EQ(controller.Sync("abc").code(), StatusCode::kUnavailable);
  EXPECT_TRUE(api_.Get(client::kNamespaces, "", "abc").ok());

  // The kubelet's final delete.
  ASSERT_TRUE(api_.Delete(client::kPods, "abc", "p", {.grace_period_seconds = 0}).ok());
  ASSERT_TRUE(controller.Sync("abc").ok());
  EXPECT_EQ(api_.Get(client::kNamespaces, "", "abc").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(api_.Get(client::kConfigMaps, "default", "keep").ok());
}

TEST_F(NamespaceControllerTest, AFailedDeleteIsReportedAndRetried) {
  api_.Seed(client::kNamespaces, Parse(R"({"metadata":{"name":"abc"}})"));
  api_.Seed(client::kConfigMaps, Parse(R"({"metadata":{"name":"c","namespace":"abc"}})"));
  NamespaceController& controller = Own(std::make_unique<NamespaceController>(context_));
  StartInformers();
  ASSERT_TRUE(api_.Delete(client::kNamespaces, "", "abc", {}).ok());

  api_.FailNext(1, UnavailableError("etcd is down"));
  EXPECT_EQ(controller.Sync("abc").code(), StatusCode::kUnavailable);
  EXPECT_EQ(ConditionStatus("abc", "NamespaceDeletionContentFailure"), "True");
  EXPECT_EQ(controller.Sync("abc").code(), StatusCode::kUnavailable);  // deleted now
  ASSERT_TRUE(controller.Sync("abc").ok());
  EXPECT_EQ(api_.Get(client::kNamespaces, "", "abc").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace kelp::controllers
