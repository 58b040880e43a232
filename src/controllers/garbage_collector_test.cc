// GarbageCollector against the FakeApiClient: background collection of dependents whose
// owners are gone, removal of dangling references beside live ones, foreground deletion
// (dependents first, then the owner's finalizer) and orphaning.
#include "controllers/garbage_collector.h"

#include "controllers/cluster_test_env.h"

namespace kelp::controllers {
namespace {

using testing::json::array;
using testing::json::object;

class GarbageCollectorTest : public testing::ClusterTestEnv {
 protected:
  // Seeds an object of `resource` in "default", owned by `owners` (kind, name, uid).
  object SeedOwned(const client::Resource& resource, const std::string& name,
                   const array& owners, const array& finalizers = {}) {
    object metadata{{"name", name}, {"namespace", "default"}};
    if (!owners.empty()) metadata["ownerReferences"] = owners;
    if (!finalizers.empty()) metadata["finalizers"] = finalizers;
    object spec;
    if (resource == client::kPods) spec["containers"] = array();
    return api_.Seed(resource, object{{"metadata", metadata}, {"spec", spec}});
  }
  static object Ref(std::string_view api_version, std::string_view kind, const object& owner) {
    return {{"apiVersion", api_version},
            {"kind", kind},
            {"name", owner.at("metadata").at("name")},
            {"uid", owner.at("metadata").at("uid")},
            {"controller", true},
            {"blockOwnerDeletion", true}};
  }
  bool Exists(const client::Resource& resource, const std::string& name) {
    return api_.Get(resource, "default", name).ok();
  }
  bool WaitGone(const client::Resource& resource, const std::string& name) {
    return WaitForCache(resource, "default/" + name,
                        [](const client::ObjectPtr& object) { return object == nullptr; });
  }
  bool WaitDeleting(const client::Resource& resource, const std::string& name) {
    return WaitForCache(resource, "default/" + name, [](const client::ObjectPtr& object) {
      return object && object->at("metadata").as_object().contains("deletionTimestamp");
    });
  }
  static std::string Item(const client::Resource& resource, const std::string& name) {
    return std::string(resource.plural) + "|default/" + name;
  }
};

TEST_F(GarbageCollectorTest, DeletesDependentsWhoseOwnersAreGone) {
  object rs = SeedOwned(client::kReplicaSets, "rs", {});
  SeedOwned(client::kPods, "p", array{Ref("apps/v1", "ReplicaSet", rs)});
  GarbageCollector& collector = Own(std::make_unique<GarbageCollector>(context_));
  StartInformers();

  ASSERT_TRUE(collector.Sync(Item(client::kPods, "p")).ok());
  EXPECT_TRUE(Exists(client::kPods, "p")) << "its owner exists";

  ASSERT_TRUE(api_.Delete(client::kReplicaSets, "default", "rs", {}).ok());
  ASSERT_TRUE(WaitGone(client::kReplicaSets, "rs"));
  ASSERT_TRUE(collector.Sync(Item(client::kPods, "p")).ok());
  EXPECT_FALSE(Exists(client::kPods, "p"));
}

TEST_F(GarbageCollectorTest, AnOwnerRecreatedUnderTheSameNameIsNotTheOwner) {
  object old_rs = SeedOwned(client::kReplicaSets, "rs", {});
  SeedOwned(client::kPods, "p", array{Ref("apps/v1", "ReplicaSet", old_rs)});
  ASSERT_TRUE(api_.Delete(client::kReplicaSets, "default", "rs", {}).ok());
  SeedOwned(client::kReplicaSets, "rs", {});
  GarbageCollector& collector = Own(std::make_unique<GarbageCollector>(context_));
  StartInformers();

  ASSERT_TRUE(collector.Sync(Item(client::kPods, "p")).ok());
  EXPECT_FALSE(Exists(client::kPods, "p"));
}

TEST_F(GarbageCollectorTest, RemovesOnlyTheReferencesToOwnersThatAreGone) {
  object a = SeedOwned(client::kDeployments, "a", {});
  object b = SeedOwned(client::kDeployments, "b", {});
  SeedOwned(client::kReplicaSets, "rs",
            array{Ref("apps/v1", "Deployment", a), Ref("apps/v1", "Deployment", b)});
  ASSERT_TRUE(api_.Delete(client::kDeployments, "default", "a", {}).ok());
  GarbageCollector& collector = Own(std::make_unique<GarbageCollector>(context_));
  StartInformers();

  ASSERT_TRUE(collector.Sync(Item(client::kReplicaSets, "rs")).ok());
  Result<object> rs = api_.Get(client::kReplicaSets, "default", "rs");
  ASSERT_TRUE(rs.ok());
  EXPECT_EQ(rs->at("metadata").at("ownerReferences"), (array{Ref("apps/v1", "Deployment", b)}));
}

TEST_F(GarbageCollectorTest, ForegroundDeletionRemovesDependentsFirst) {
  object deployment = SeedOwned(client::kDeployments, "d", {}, array{"foregroundDeletion"});
  object rs = SeedOwned(client::kReplicaSets, "rs", array{Ref("apps/v1", "Deployment", deployment)});
  SeedOwned(client::kPods, "p", array{Ref("apps/v1", "ReplicaSet", rs)});
  GarbageCollector& collector = Own(std::make_unique<GarbageCollector>(context_));
  StartInformers();
  ASSERT_TRUE(api_.Delete(client::kDeployments, "default", "d", {}).ok());
  ASSERT_TRUE(WaitDeleting(client::kDeployments, "d"));

  ASSERT_TRUE(collector.Sync(Item(client::kDeployments, "d")).ok());
  EXPECT_FALSE(Exists(client::kReplicaSets, "rs"));
  EXPECT_TRUE(Exists(client::kDeployments, "d")) << "waits until its dependents are gone";
  ASSERT_TRUE(WaitGone(client::kReplicaSets, "rs"));
  ASSERT_TRUE(collector.Sync(Item(client::kPods, "p")).ok());
  EXPECT_FALSE(Exists(client::kPods, "p"));

  ASSERT_TRUE(collector.Sync(Item(client::kDeployments, "d")).ok());
  EXPECT_FALSE(Exists(client::kDeployments, "d"));
}

TEST_F(GarbageCollectorTest, OrphanDeletionKeepsDependentsWithoutTheOwner) {
  object rs = SeedOwned(client::kReplicaSets, "rs", {}, array{"orphan"});
  object other = SeedOwned(client::kDaemonSets, "ds", {});
  SeedOwned(client::kPods, "p",
            array{Ref("apps/v1", "ReplicaSet", rs), Ref("apps/v1", "DaemonSet", other)});
  SeedOwned(client::kPods, "q", array{Ref("apps/v1", "ReplicaSet", rs)});
  GarbageCollector& collector = Own(std::make_unique<GarbageCollector>(context_));
  StartInformers();
  ASSERT_TRUE(api_.Delete(client::kReplicaSets, "default", "rs", {}).ok());
  ASSERT_TRUE(WaitDeleting(client::kReplicaSets, "rs"));

  ASSERT_TRUE(collector.Sync(Item(client::kReplicaSets, "rs")).ok());
  EXPECT_FALSE(Exists(client::kReplicaSets, "rs"));
  Result<object> p = api_.Get(client::kPods, "default", "p");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->at("metadata").at("ownerReferences"), (array{Ref("apps/v1", "DaemonSet", other)}));
  Result<object> q = api_.Get(client::kPods, "default", "q");
  ASSERT_TRUE(q.ok());
  EXPECT_FALSE(q->at("metadata").as_object().contains("ownerReferences"));
}

}  // namespace
}  // namespace kelp::controllers
