// WorkloadsCluster: a test bench for the ReplicaSet and Deployment controllers — a
// FakeApiClient and FakeClock, shared informers, both controllers (workers not started: tests
// call Sync themselves), and a pretend kubelet that binds pods, marks them Running and Ready,
// and finishes graceful deletions. Settle() runs sync rounds until nothing changes.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "api/defaults.h"
#include "client/informer.h"
#include "client/testing/fake_api_client.h"
#include "common/testing/fake_clock.h"
#include "controllers/deployment.h"
#include "controllers/object_meta.h"
#include "controllers/replicaset.h"

namespace kelp::controllers::testing {

class WorkloadsCluster {
 public:
  WorkloadsCluster()
      : client_(clock_),
        informers_(client_),
        context_{client_, informers_, clock_, ControllerOptions{}},
        replica_sets_(std::make_unique<ReplicaSetController>(context_)),
        deployments_(std::make_unique<DeploymentController>(context_)) {
    informers_.Start();
    EXPECT_TRUE(informers_.WaitForSync(std::chrono::seconds(10)));
  }
  // Informer handlers call into the controllers: the informers stop before the controllers go.
  ~WorkloadsCluster() {
    informers_.Stop();
    deployments_.reset();
    replica_sets_.reset();
  }

  kelp::testing::FakeClock& clock() { return clock_; }
  client::testing::FakeApiClient& client() { return client_; }
  ReplicaSetController& replica_set_controller() { return *replica_sets_; }
  DeploymentController& deployment_controller() { return *deployments_; }

  // Creates `object` as the apiserver would store it (with Kubernetes' defaults applied).
  boost::json::object Create(const client::Resource& resource, boost::json::object object) {
    api::ApplyDefaults(resource.group, resource.plural, object);
    Result<boost::json::object> created = client_.Create(resource, "default", object);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : boost::json::object();
  }

  boost::json::object Get(const client::Resource& resource, const std::string& name) {
    Result<boost::json::object> object = client_.Get(resource, "default", name);
    EXPECT_TRUE(object.ok()) << name << ": " << object.status().ToString();
    return object.ok() ? *object : boost::json::object();
  }

  std::vector<boost::json::object> List(const client::Resource& resource) {
    Result<client::ListResult> list = client_.List(resource, "default", {});
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    return list.ok() ? list->items : std::vector<boost::json::object>();
  }

  // Pods that are not being deleted.
  std::vector<boost::json::object> LivePods() {
    std::vector<boost::json::object> live;
    for (boost::json::object& pod : List(client::kPods)) {
      if (!IsBeingDeleted(pod)) live.push_back(std::move(pod));
    }
    return live;
  }

  // Reads, changes and writes an object (main resource).
  boost::json::object Modify(const client::Resource& resource, const std::string& name,
                             const std::function<void(boost::json::object&)>& change) {
    boost::json::object object = Get(resource, name);
    change(object);
    Result<boost::json::object> written = client_.Update(resource, object);
    EXPECT_TRUE(written.ok()) << written.status().ToString();
    return written.ok() ? *written : boost::json::object();
  }

  // Waits until every informer holds exactly what the API holds (same objects, same versions).
  void WaitForCaches() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (const client::Resource* resource :
         {&client::kPods, &client::kReplicaSets, &client::kDeployments}) {
      while (Versions(List(*resource)) != Versions(informers_.For(*resource).List())) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline)
            << "informer for " << resource->plural << " did not catch up";
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  }

  Status SyncReplicaSet(const std::string& name) {
    WaitForCaches();
    return replica_sets_->Sync("default/" + name);
  }
  Status SyncDeployment(const std::string& name) {
    WaitForCaches();
    return deployments_->Sync("default/" + name);
  }

  // The kubelet: binds unbound pods to node01, reports them Running and Ready (Ready since
  // now), and finishes the deletion of pods marked for deletion.
  void RunKubelet() {
    WaitForCaches();
    for (boost::json::object& pod : List(client::kPods)) {
      const std::string name = Name(pod);
      if (IsBeingDeleted(pod)) {
        client::DeleteOptions now;
        now.grace_period_seconds = 0;
        EXPECT_TRUE(client_.Delete(client::kPods, "default", name, now).ok());
        continue;
      }
      if (StringAt(pod, "spec.nodeName").empty()) {
        Result<boost::json::object> bound = client_.CreateSubresource(
            client::kPods, "default", name, "binding",
            {{"apiVersion", "v1"},
             {"kind", "Binding"},
             {"metadata", {{"name", name}, {"namespace", "default"}}},
             {"target", {{"kind", "Node"}, {"name", "node01"}}}});
        EXPECT_TRUE(bound.ok()) << bound.status().ToString();
        pod = Get(client::kPods, name);
      }
      if (StringAt(pod, "status.phase") == "Running") continue;
      const std::string now = FormatRfc3339(clock_.WallNow());
      pod["status"] = {{"phase", "Running"},
                       {"conditions",
                        {{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", now}}}}};
      EXPECT_TRUE(client_.Update(client::kPods, pod, "status").ok());
    }
  }

  // One round: sync every deployment, then every replica set.
  void SyncAll() {
    WaitForCaches();
    for (const boost::json::object& deployment : List(client::kDeployments)) {
      EXPECT_TRUE(SyncDeployment(Name(deployment)).ok());
    }
    for (const boost::json::object& rs : List(client::kReplicaSets)) {
      EXPECT_TRUE(SyncReplicaSet(Name(rs)).ok());
    }
  }

  // Rounds of SyncAll (and, if `with_kubelet`, RunKubelet) until a round writes nothing but
  // events. `after_each_round` may check invariants.
  void Settle(bool with_kubelet = true, const std::function<void()>& after_each_round = nullptr) {
    for (int round = 0; round < 100; ++round) {
      const size_t before = NonEventWrites();
      SyncAll();
      if (after_each_round) after_each_round();
      if (with_kubelet) RunKubelet();
      if (NonEventWrites() == before) return;
    }
    ADD_FAILURE() << "controllers did not settle in 100 rounds";
  }

  size_t NonEventWrites() const {
    size_t count = 0;
    for (const client::testing::Action& action : client_.Actions()) {
      if (action.resource != "events") ++count;
    }
    return count;
  }

  // The events written so far, as "Reason: message".
  std::vector<std::string> Events() {
    replica_sets_->FlushEvents();
    deployments_->FlushEvents();
    std::vector<std::string> events;
    for (const boost::json::object& event : List(client::kEvents)) {
      events.push_back(StringAt(event, "reason") + ": " + StringAt(event, "message"));
    }
    return events;
  }

 private:
  template <typename Objects>
  static std::map<std::string, std::string> Versions(const Objects& objects) {
    std::map<std::string, std::string> versions;
    for (const auto& object : objects) {
      const boost::json::object& fields = Deref(object);
      versions[client::ObjectKey(fields)] = StringAt(fields, "metadata.resourceVersion");
    }
    return versions;
  }
  static const boost::json::object& Deref(const boost::json::object& object) { return object; }
  static const boost::json::object& Deref(const client::ObjectPtr& object) { return *object; }

  kelp::testing::FakeClock clock_;
  client::testing::FakeApiClient client_;
  client::InformerFactory informers_;
  ControllerContext context_;
  std::unique_ptr<ReplicaSetController> replica_sets_;
  std::unique_ptr<DeploymentController> deployments_;
};

// A pod template labelled app=<app> with one container running `image`.
inline boost::json::object PodTemplate(const std::string& app, const std::string& image) {
  return {{"metadata", {{"labels", {{"app", app}}}}},
          {"spec", {{"containers", {{{"name", "main"}, {"image", image}}}}}}};
}

inline boost::json::object ReplicaSetObject(const std::string& name, int64_t replicas,
                                            const std::string& app = "web") {
  return {{"apiVersion", "apps/v1"},
          {"kind", "ReplicaSet"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", app}}}}},
            {"template", PodTemplate(app, "nginx:1.25")}}}};
}

inline boost::json::object DeploymentObject(const std::string& name, int64_t replicas,
                                            const std::string& image = "nginx:1.25") {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", name}}}}},
            {"template", PodTemplate(name, image)}}}};
}

}  // namespace kelp::controllers::testing
