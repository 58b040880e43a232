// EventRecorder: Events carry the involved object and source; repeats within 10 minutes bump
// count and lastTimestamp; later repeats and write failures behave as documented.
#include "client/event_recorder.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "client/testing/fake_api_client.h"
#include "common/json.h"
#include "common/testing/fake_clock.h"

namespace kelp::client {
namespace {

namespace json = boost::json;
using std::chrono::minutes;

std::string Str(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  return value && value->is_string() ? std::string(value->as_string()) : "";
}

class EventRecorderTest : public ::testing::Test {
 protected:
  std::vector<json::object> Events() {
    return client_.List(kEvents, "", {})->items;
  }

  kelp::testing::FakeClock clock_;
  testing::FakeApiClient client_{clock_};
  json::object deployment_ = client_.Seed(
      kDeployments, {{"metadata", json::object{{"name", "web"}, {"namespace", "default"}}},
                     {"spec", json::object{{"replicas", 1}}}});
};

TEST_F(EventRecorderTest, WritesAnEventAboutTheObject) {
  EventRecorder recorder(client_, clock_, "deployment-controller", "master");
  recorder.Record(deployment_, "Normal", "ScalingReplicaSet",
                  "Scaled up replica set web-abc to 1");
  recorder.Flush();
  std::vector<json::object> events = Events();
  ASSERT_EQ(events.size(), 1u);
  const json::object& event = events[0];
  EXPECT_EQ(Str(event, "metadata.namespace"), "default");
  EXPECT_TRUE(Str(event, "metadata.name").starts_with("web."));
  EXPECT_EQ(Str(event, "involvedObject.kind"), "Deployment");
  EXPECT_EQ(Str(event, "involvedObject.apiVersion"), "apps/v1");
  EXPECT_EQ(Str(event, "involvedObject.name"), "web");
  EXPECT_EQ(Str(event, "involvedObject.uid"), Str(deployment_, "metadata.uid"));
  EXPECT_EQ(Str(event, "type"), "Normal");
  EXPECT_EQ(Str(event, "reason"), "ScalingReplicaSet");
  EXPECT_EQ(Str(event, "message"), "Scaled up replica set web-abc to 1");
  EXPECT_EQ(Str(event, "source.component"), "deployment-controller");
  EXPECT_EQ(Str(event, "source.host"), "master");
  EXPECT_EQ(Str(event, "reportingComponent"), "deployment-controller");
  EXPECT_EQ(Str(event, "firstTimestamp"), "2024-01-01T00:00:00Z");
  EXPECT_EQ(FindPath(event, "count")->as_int64(), 1);
}

TEST_F(EventRecorderTest, ClusterScopedObjectsGetEventsInDefault) {
  json::object node = client_.Seed(kNodes, {{"metadata", json::object{{"name", "node01"}}}});
  EventRecorder recorder(client_, clock_, "node-controller");
  recorder.Record(node, "Normal", "RegisteredNode", "Node node01 event: Registered");
  recorder.Flush();
  std::vector<json::object> events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(Str(events[0], "metadata.namespace"), "default");
  EXPECT_EQ(Str(events[0], "involvedObject.kind"), "Node");
}

TEST_F(EventRecorderTest, RepeatsWithinTenMinutesBumpTheCount) {
  EventRecorder recorder(client_, clock_, "replicaset-controller");
  recorder.Record(deployment_, "Warning", "FailedCreate", "quota exceeded");
  clock_.Advance(minutes(1));
  recorder.Record(deployment_, "Warning", "FailedCreate", "quota exceeded");
  recorder.Record(deployment_, "Warning", "FailedCreate", "another message");
  recorder.Flush();
  std::vector<json::object> events = Events();
  ASSERT_EQ(events.size(), 2u);
  int64_t total = 0;
  for (const json::object& event : events) {
    if (Str(event, "message") == "quota exceeded") {
      EXPECT_EQ(FindPath(event, "count")->as_int64(), 2);
      EXPECT_EQ(Str(event, "firstTimestamp"), "2024-01-01T00:00:00Z");
      EXPECT_EQ(Str(event, "lastTimestamp"), "2024-01-01T00:01:00Z");
    }
    total += FindPath(event, "count")->as_int64();
  }
  EXPECT_EQ(total, 3);

  clock_.Advance(minutes(11));
  recorder.Record(deployment_, "Warning", "FailedCreate", "quota exceeded");
  recorder.Flush();
  EXPECT_EQ(Events().size(), 3u) << "a repeat after the window is a new Event";
}

TEST_F(EventRecorderTest, FailedWritesAreDroppedWithoutBlocking) {
  EventRecorder recorder(client_, clock_, "replicaset-controller");
  client_.FailNext(1, UnavailableError("injected"));
  recorder.Record(deployment_, "Normal", "A", "first");
  recorder.Record(deployment_, "Normal", "B", "second");
  recorder.Flush();
  std::vector<json::object> events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(Str(events[0], "reason"), "B");
}

TEST_F(EventRecorderTest, DestructionWritesWhatIsPending) {
  {
    EventRecorder recorder(client_, clock_, "c");
    for (int i = 0; i < 20; ++i) {
      recorder.Record(deployment_, "Normal", "R", "message " + std::to_string(i));
    }
  }
  EXPECT_EQ(Events().size(), 20u);
}

}  // namespace
}  // namespace kelp::client
