// Consistency checks over every schema table reachable from the known objects: a typo in a
// table (duplicate number or name, message kind without a message) fails here, not at runtime.
// Then one hand-encoded object per kind that has no kubectl capture in
// /work/shared/fixtures, decoded through the tables to the JSON the client meant.
#include "api/protobuf_schema.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "api/protobuf_decode.h"

namespace kelp::api {
namespace {

bool TakesMessage(FieldKind kind) {
  return kind == FieldKind::kMessage || kind == FieldKind::kInlineMessage ||
         kind == FieldKind::kMessageList;
}

std::vector<const MessageSchema*> ReachableMessages() {
  std::vector<const MessageSchema*> found;
  std::set<const MessageSchema*> seen;
  for (const ObjectSchema& object : KnownObjectSchemas()) {
    if (seen.insert(object.schema).second) found.push_back(object.schema);
  }
  for (size_t i = 0; i < found.size(); ++i) {
    for (const FieldSpec& field : found[i]->fields) {
      if (field.message != nullptr && seen.insert(field.message).second) {
        found.push_back(field.message);
      }
    }
  }
  return found;
}

TEST(ProtobufSchema, EveryMessageHasUniqueNumbersAndNames) {
  for (const MessageSchema* message : ReachableMessages()) {
    std::set<uint32_t> numbers;
    std::set<std::string_view> names;
    for (const FieldSpec& field : message->fields) {
      EXPECT_TRUE(numbers.insert(field.number).second)
          << message->name << " repeats field number " << field.number;
      EXPECT_TRUE(names.insert(field.json_name).second)
          << message->name << " repeats field name " << field.json_name;
      EXPECT_GT(field.number, 0u) << message->name << "." << field.json_name;
    }
  }
}

TEST(ProtobufSchema, MessageKindsAndOnlyThemPointToAMessage) {
  for (const MessageSchema* message : ReachableMessages()) {
    for (const FieldSpec& field : message->fields) {
      EXPECT_EQ(TakesMessage(field.kind), field.message != nullptr)
          << message->name << "." << field.json_name;
    }
  }
}

TEST(ProtobufSchema, FindsKnownObjectsAndNothingElse) {
  const MessageSchema* deployment = FindObjectSchema("apps/v1", "Deployment");
  ASSERT_NE(deployment, nullptr);
  EXPECT_EQ(deployment->name, "Deployment");
  EXPECT_NE(FindObjectSchema("v1", "Namespace"), nullptr);
  EXPECT_NE(FindObjectSchema("autoscaling/v1", "HorizontalPodAutoscaler"), nullptr);
  EXPECT_NE(FindObjectSchema("autoscaling/v2", "HorizontalPodAutoscaler"), nullptr);
  for (const auto& [api_version, kind] :
       {std::pair{"v1", "Node"}, {"v1", "Event"}, {"v1", "Endpoints"}, {"v1", "ServiceAccount"},
        {"apps/v1", "DaemonSet"}, {"coordination.k8s.io/v1", "Lease"},
        {"discovery.k8s.io/v1", "EndpointSlice"}}) {
    EXPECT_NE(FindObjectSchema(api_version, kind), nullptr) << api_version << " " << kind;
  }
  EXPECT_EQ(FindObjectSchema("apps/v1", "Frobnicator"), nullptr);
  EXPECT_EQ(FindObjectSchema("v1", "Deployment"), nullptr);
}

TEST(ProtobufSchema, FindFieldLooksUpByNumber) {
  const MessageSchema* deployment = FindObjectSchema("apps/v1", "Deployment");
  ASSERT_NE(deployment, nullptr);
  const FieldSpec* spec = deployment->FindField(2);
  ASSERT_NE(spec, nullptr);
  EXPECT_EQ(spec->json_name, "spec");
  EXPECT_EQ(deployment->FindField(99), nullptr);
}


// ---- wire encoding helpers (protobuf's varint and length-delimited fields) ----

std::string Varint(uint64_t value) {
  std::string out;
  do {
    unsigned char byte = value & 0x7f;
    value >>= 7;
    if (value != 0) byte |= 0x80;
    out.push_back(static_cast<char>(byte));
  } while (value != 0);
  return out;
}
std::string VarintField(uint32_t number, uint64_t value) {
  return Varint(uint64_t{number} << 3) + Varint(value);
}
std::string BytesField(uint32_t number, std::string_view payload) {
  return Varint((uint64_t{number} << 3) | 2) + Varint(payload.size()) + std::string(payload);
}
std::string MapEntry(uint32_t number, std::string_view key, std::string_view value) {
  return BytesField(number, BytesField(1, key) + BytesField(2, value));
}
std::string Time(uint32_t number, uint64_t seconds) {
  return BytesField(number, VarintField(1, seconds));
}
std::string Metadata(std::string_view name) { return BytesField(1, BytesField(1, name)); }

// runtime.Unknown around `raw`, as kubectl sends it.
std::string Body(std::string_view api_version, std::string_view kind, std::string_view raw) {
  const std::string type_meta = BytesField(1, api_version) + BytesField(2, kind);
  return std::string(kKubernetesProtobufMagic) + BytesField(1, type_meta) + BytesField(2, raw);
}

void ExpectDecodesTo(std::string_view body, std::string_view expected) {
  Result<boost::json::object> object = DecodeKubernetesProtobuf(body);
  ASSERT_TRUE(object.ok()) << object.status().ToString();
  EXPECT_EQ(boost::json::value(*object), boost::json::parse(expected))
      << "actual:   " << boost::json::serialize(*object) << "\nexpected: " << expected;
}

constexpr uint64_t kJan1st2024 = 1704067200;  // 2024-01-01T00:00:00Z

TEST(ProtobufObjects, Node) {
  const std::string spec = BytesField(1, "10.244.1.0/24") + BytesField(7, "10.244.1.0/24") +
                           VarintField(4, 1) +
                           BytesField(5, BytesField(1, "dedicated") + BytesField(3, "NoSchedule"));
  const std::string status =
      MapEntry(1, "cpu", BytesField(1, "2")) + MapEntry(2, "pods", BytesField(1, "110")) +
      BytesField(4, BytesField(1, "Ready") + BytesField(2, "True") + Time(3, kJan1st2024) +
                        BytesField(5, "KubeletReady")) +
      BytesField(5, BytesField(1, "InternalIP") + BytesField(2, "192.168.206.20")) +
      BytesField(6, BytesField(1, VarintField(1, 10250))) +
      BytesField(7, BytesField(4, "6.1.0") + BytesField(7, "v1.32.0") + BytesField(9, "linux") +
                        BytesField(10, "amd64"));
  ExpectDecodesTo(
      Body("v1", "Node", Metadata("node01") + BytesField(2, spec) + BytesField(3, status)),
      R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"node01"},
          "spec":{"podCIDR":"10.244.1.0/24","podCIDRs":["10.244.1.0/24"],"unschedulable":true,
                  "taints":[{"key":"dedicated","effect":"NoSchedule"}]},
          "status":{"capacity":{"cpu":"2"},"allocatable":{"pods":"110"},
                    "conditions":[{"type":"Ready","status":"True",
                                   "lastHeartbeatTime":"2024-01-01T00:00:00Z",
                                   "reason":"KubeletReady"}],
                    "addresses":[{"type":"InternalIP","address":"192.168.206.20"}],
                    "daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},
                    "nodeInfo":{"kernelVersion":"6.1.0","kubeletVersion":"v1.32.0",
                                "operatingSystem":"linux","architecture":"amd64"}}})");
}

TEST(ProtobufObjects, Event) {
  const std::string involved = BytesField(1, "Pod") + BytesField(2, "default") +
                               BytesField(3, "web-0") + BytesField(5, "v1");
  ExpectDecodesTo(
      Body("v1", "Event",
           Metadata("web-0.17a") + BytesField(2, involved) + BytesField(3, "Scheduled") +
               BytesField(4, "Successfully assigned default/web-0 to node01") +
               BytesField(5, BytesField(1, "default-scheduler")) + Time(6, kJan1st2024) +
               Time(7, kJan1st2024) + VarintField(8, 1) + BytesField(9, "Normal") +
               BytesField(14, "") + BytesField(15, "")),
      R"({"apiVersion":"v1","kind":"Event","metadata":{"name":"web-0.17a"},
          "involvedObject":{"kind":"Pod","namespace":"default","name":"web-0","apiVersion":"v1"},
          "reason":"Scheduled","message":"Successfully assigned default/web-0 to node01",
          "source":{"component":"default-scheduler"},
          "firstTimestamp":"2024-01-01T00:00:00Z","lastTimestamp":"2024-01-01T00:00:00Z",
          "count":1,"type":"Normal","reportingComponent":"","reportingInstance":""})");
}

TEST(ProtobufObjects, Endpoints) {
  const std::string address = BytesField(1, "10.244.1.5") + BytesField(4, "node01") +
                              BytesField(2, BytesField(1, "Pod") + BytesField(3, "web-0"));
  const std::string port = BytesField(1, "http") + VarintField(2, 80) + BytesField(3, "TCP");
  ExpectDecodesTo(
      Body("v1", "Endpoints",
           Metadata("web") + BytesField(2, BytesField(1, address) + BytesField(3, port))),
      R"({"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"web"},
          "subsets":[{"addresses":[{"ip":"10.244.1.5","nodeName":"node01",
                                    "targetRef":{"kind":"Pod","name":"web-0"}}],
                      "ports":[{"name":"http","port":80,"protocol":"TCP"}]}]})");
}

TEST(ProtobufObjects, ServiceAccountKeepsAnExplicitFalse) {
  ExpectDecodesTo(
      Body("v1", "ServiceAccount",
           Metadata("builder") + BytesField(2, BytesField(3, "builder-token")) +
               BytesField(3, BytesField(1, "registry")) + VarintField(4, 0)),
      R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"builder"},
          "secrets":[{"name":"builder-token"}],"imagePullSecrets":[{"name":"registry"}],
          "automountServiceAccountToken":false})");
}

TEST(ProtobufObjects, DaemonSet) {
  const std::string selector = MapEntry(1, "app", "agent");
  const std::string container = BytesField(1, "agent") + BytesField(2, "busybox:1.36");
  const std::string pod_template =
      BytesField(1, MapEntry(11, "app", "agent")) + BytesField(2, BytesField(2, container));
  const std::string strategy =
      BytesField(1, "RollingUpdate") + BytesField(2, BytesField(1, VarintField(2, 1)));
  ExpectDecodesTo(
      Body("apps/v1", "DaemonSet",
           Metadata("agent") +
               BytesField(2, BytesField(1, selector) + BytesField(2, pod_template) +
                                 BytesField(3, strategy) + VarintField(6, 10))),
      R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent"},
          "spec":{"selector":{"matchLabels":{"app":"agent"}},
                  "template":{"metadata":{"labels":{"app":"agent"}},
                              "spec":{"containers":[{"name":"agent","image":"busybox:1.36"}]}},
                  "updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1}},
                  "revisionHistoryLimit":10}})");
}

TEST(ProtobufObjects, LeaseKeepsAZeroDuration) {
  ExpectDecodesTo(
      Body("coordination.k8s.io/v1", "Lease",
           Metadata("node01") + BytesField(2, BytesField(1, "node01") + VarintField(2, 0) +
                                                  Time(4, kJan1st2024))),
      R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"node01"},
          "spec":{"holderIdentity":"node01","leaseDurationSeconds":0,
                  "renewTime":"2024-01-01T00:00:00Z"}})");
}

TEST(ProtobufObjects, EndpointSlice) {
  const std::string endpoint = BytesField(1, "10.244.1.5") +
                               BytesField(2, VarintField(1, 0) + VarintField(3, 1)) +
                               BytesField(6, "node01");
  const std::string port = BytesField(1, "http") + BytesField(2, "TCP") + VarintField(3, 80);
  ExpectDecodesTo(
      Body("discovery.k8s.io/v1", "EndpointSlice",
           Metadata("web-abcde") + BytesField(4, "IPv4") + BytesField(2, endpoint) +
               BytesField(3, port)),
      R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
          "metadata":{"name":"web-abcde"},"addressType":"IPv4",
          "endpoints":[{"addresses":["10.244.1.5"],
                        "conditions":{"ready":false,"terminating":true},"nodeName":"node01"}],
          "ports":[{"name":"http","protocol":"TCP","port":80}]})");
}

}  // namespace
}  // namespace kelp::api
