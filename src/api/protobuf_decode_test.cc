// Tests of DecodeKubernetesProtobuf: kubectl 1.32's captured bodies decode to exactly the JSON
// kubectl sends, the presence rule keeps set pointer zeros and drops unset value zeros, every
// special type converts like Kubernetes' Go code, and malformed bodies fail cleanly.
#include "api/protobuf_decode.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

namespace kelp::api {
namespace {

namespace json = boost::json;

std::string ReadTestdata(const std::string& name) {
  std::ifstream in(std::string(KELP_API_TESTDATA_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << "missing testdata " << name;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A tiny protobuf writer for hand-built test messages.
std::string Varint(uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
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
std::string Body(std::string_view api_version, std::string_view kind, std::string_view raw) {
  const std::string type_meta = BytesField(1, api_version) + BytesField(2, kind);
  return std::string(kKubernetesProtobufMagic) + BytesField(1, type_meta) +
         BytesField(2, raw) + BytesField(3, "") + BytesField(4, "");
}

json::object MustDecode(std::string_view body) {
  Result<json::object> object = DecodeKubernetesProtobuf(body);
  EXPECT_TRUE(object.ok()) << object.status().ToString();
  return object.ok() ? *object : json::object();
}

void ExpectJson(const json::object& actual, std::string_view expected) {
  EXPECT_EQ(json::value(actual), json::parse(expected))
      << "actual:   " << json::serialize(actual) << "\nexpected: " << expected;
}

std::vector<std::string> KeysInOrder(const json::object& object) {
  std::vector<std::string> keys;
  for (const auto& entry : object) keys.emplace_back(entry.key());
  return keys;
}

// ---- kubectl 1.32 captures ----

TEST(DecodeKubernetesProtobuf, KubectlCreateNamespace) {
  ExpectJson(MustDecode(ReadTestdata("pb_api_v1_namespaces.bin")), R"({
    "apiVersion": "v1", "kind": "Namespace",
    "metadata": {"name": "BAD", "creationTimestamp": null},
    "spec": {}, "status": {}})");
}

constexpr std::string_view kNginxDeploymentSpec = R"(
    "spec": {
      "replicas": 3,
      "selector": {"matchLabels": {"app": "nginx1"}},
      "template": {
        "metadata": {"creationTimestamp": null, "labels": {"app": "nginx1"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.22", "resources": {}}]}},
      "strategy": {}},
    "status": {}})";

TEST(DecodeKubernetesProtobuf, KubectlCreateDeploymentInNamespace) {
  const json::object deployment =
      MustDecode(ReadTestdata("pb_apis_apps_v1_namespaces_abc_deployments.bin"));
  ExpectJson(deployment, std::string(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "nginx1", "namespace": "abc", "creationTimestamp": null,
                 "labels": {"app": "nginx1"}},)") + std::string(kNginxDeploymentSpec));
  EXPECT_EQ(KeysInOrder(deployment),
            (std::vector<std::string>{"apiVersion", "kind", "metadata", "spec", "status"}));
}

TEST(DecodeKubernetesProtobuf, KubectlCreateDeploymentWithoutNamespace) {
  ExpectJson(MustDecode(ReadTestdata("pb_apis_apps_v1_namespaces_default_deployments.bin")),
             std::string(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "nginx1", "creationTimestamp": null, "labels": {"app": "nginx1"}},)") +
                 std::string(kNginxDeploymentSpec));
}

TEST(DecodeKubernetesProtobuf, KubectlAutoscale) {
  // currentReplicas and desiredReplicas have no `omitempty` in Go: kubectl's JSON has the zeros.
  ExpectJson(
      MustDecode(ReadTestdata("pb_apis_autoscaling_v1_namespaces_abc_horizontalpodautoscalers.bin")),
      R"({
    "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "nginx1", "creationTimestamp": null},
    "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "nginx1", "apiVersion": "apps/v1"},
             "minReplicas": 1, "maxReplicas": 5, "targetCPUUtilizationPercentage": 50},
    "status": {"currentReplicas": 0, "desiredReplicas": 0}})");
}

// ---- the presence rule ----

TEST(DecodeKubernetesProtobuf, KeepsZeroOfPointerFieldsAndDropsZeroOfOmitemptyFields) {
  // replicas (*int32) = 0 and revisionHistoryLimit (*int32) = 0 were set by the client;
  // minReadySeconds (int32, omitempty) = 0 and paused = false are Go's unset values.
  const std::string spec = VarintField(1, 0) + VarintField(5, 0) + VarintField(6, 0) +
                           VarintField(7, 0);
  ExpectJson(MustDecode(Body("apps/v1", "Deployment", BytesField(2, spec))), R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "spec": {"replicas": 0, "revisionHistoryLimit": 0}})");
}

TEST(DecodeKubernetesProtobuf, LastOccurrenceOfAScalarWins) {
  const std::string spec = VarintField(5, 7) + VarintField(5, 0) + VarintField(1, 2) +
                           VarintField(1, 4);
  ExpectJson(MustDecode(Body("apps/v1", "Deployment", BytesField(2, spec))), R"({
    "apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 4}})");
}

TEST(DecodeKubernetesProtobuf, RepeatedMessageFieldsMerge) {
  const std::string raw = BytesField(1, BytesField(1, "a")) + BytesField(1, BytesField(3, "ns"));
  ExpectJson(MustDecode(Body("v1", "ConfigMap", raw)), R"({
    "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "ns"}})");
}

TEST(DecodeKubernetesProtobuf, SkipsUnknownFieldsOfEveryWireType) {
  const std::string unknown = VarintField(90, 1) + BytesField(91, "\xff\xff") +
                              Varint((92 << 3) | 1) + std::string(8, '\x01') +
                              Varint((93 << 3) | 5) + std::string(4, '\x02');
  const std::string raw = unknown + BytesField(1, unknown + BytesField(1, "x"));
  ExpectJson(MustDecode(Body("v1", "Namespace", raw)),
             R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})");
}

// ---- special types and a pod with the common fields ----

TEST(DecodeKubernetesProtobuf, PodWithProbesEnvVolumesAndResources) {
  const std::string quantity_500m = BytesField(1, "500m");
  const std::string resources =
      BytesField(1, BytesField(1, "cpu") + BytesField(2, quantity_500m)) +
      BytesField(2, BytesField(1, "memory") + BytesField(2, BytesField(1, "64Mi")));
  const std::string int_port = VarintField(1, 0) + VarintField(2, 8080);
  const std::string named_port = VarintField(1, 1) + BytesField(3, "http");
  const std::string liveness =
      BytesField(1, BytesField(2, BytesField(1, "/healthz") + BytesField(2, int_port))) +
      VarintField(2, 3) + VarintField(4, 0);
  const std::string readiness = BytesField(1, BytesField(3, BytesField(1, named_port)));
  const std::string startup = BytesField(1, BytesField(1, BytesField(1, "true")));
  const std::string env_from_secret =
      BytesField(1, "PASSWORD") +
      BytesField(3, BytesField(4, BytesField(1, BytesField(1, "db")) + BytesField(2, "pw")));
  const std::string container =
      BytesField(1, "web") + BytesField(2, "nginx") + BytesField(3, "nginx") +
      BytesField(4, "-g") + BytesField(4, "daemon off;") +
      BytesField(6, VarintField(3, 80) + BytesField(4, "TCP")) +
      BytesField(7, BytesField(1, "MODE") + BytesField(2, "prod")) +
      BytesField(7, env_from_secret) + BytesField(8, resources) +
      BytesField(9, BytesField(1, "data") + VarintField(2, 1) + BytesField(3, "/data")) +
      BytesField(10, liveness) + BytesField(11, readiness) + BytesField(22, startup) +
      BytesField(14, "IfNotPresent") +
      BytesField(15, VarintField(2, 0) + VarintField(4, 1000)) + VarintField(18, 1);
  const std::string volumes =
      BytesField(1, BytesField(1, "data") + BytesField(2, BytesField(2, ""))) +
      BytesField(1, BytesField(1, "cfg") + BytesField(2, BytesField(19, BytesField(1, BytesField(1, "app"))))) +
      BytesField(1, BytesField(1, "host") + BytesField(2, BytesField(1, BytesField(1, "/tmp"))));
  const std::string pod_spec =
      volumes + BytesField(2, container) + BytesField(3, "Always") + VarintField(4, 0) +
      BytesField(7, BytesField(1, "disk") + BytesField(2, "ssd")) +
      BytesField(22, BytesField(1, "k") + BytesField(2, "Exists") + BytesField(4, "NoSchedule"));
  const std::string metadata =
      BytesField(1, "web-0") + BytesField(8, VarintField(1, 1704164645) + VarintField(2, 5)) +
      BytesField(12, BytesField(1, "note") + BytesField(2, "hi"));
  ExpectJson(MustDecode(Body("v1", "Pod", BytesField(1, metadata) + BytesField(2, pod_spec))),
             R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web-0", "creationTimestamp": "2024-01-02T03:04:05Z",
                 "annotations": {"note": "hi"}},
    "spec": {
      "volumes": [{"name": "data", "emptyDir": {}},
                  {"name": "cfg", "configMap": {"name": "app"}},
                  {"name": "host", "hostPath": {"path": "/tmp"}}],
      "containers": [{
        "name": "web", "image": "nginx", "command": ["nginx"], "args": ["-g", "daemon off;"],
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "env": [{"name": "MODE", "value": "prod"},
                {"name": "PASSWORD",
                 "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}],
        "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}},
        "volumeMounts": [{"name": "data", "readOnly": true, "mountPath": "/data"}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                          "initialDelaySeconds": 3},
        "readinessProbe": {"tcpSocket": {"port": "http"}},
        "startupProbe": {"exec": {"command": ["true"]}},
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {"privileged": false, "runAsUser": 1000},
        "tty": true}],
      "restartPolicy": "Always",
      "terminationGracePeriodSeconds": 0,
      "nodeSelector": {"disk": "ssd"},
      "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]}})");
}

TEST(DecodeKubernetesProtobuf, SecretDataBecomesBase64AndQuantityDefaultsToZero) {
  const std::string raw = BytesField(2, BytesField(1, "a") + BytesField(2, "x")) +
                          BytesField(2, BytesField(1, "b") + BytesField(2, "xy")) +
                          BytesField(2, BytesField(1, "c") + BytesField(2, "xyz")) +
                          BytesField(2, BytesField(1, "empty")) +
                          BytesField(2, BytesField(1, "bin") + BytesField(2, std::string("\xff\x00\x80", 3))) +
                          BytesField(3, "Opaque");
  ExpectJson(MustDecode(Body("v1", "Secret", raw)), R"({
    "apiVersion": "v1", "kind": "Secret",
    "data": {"a": "eA==", "b": "eHk=", "c": "eHl6", "empty": "", "bin": "/wCA"},
    "type": "Opaque"})");
}

TEST(DecodeKubernetesProtobuf, ServiceWithNamedAndNumericTargetPorts) {
  const std::string ports =
      BytesField(1, BytesField(1, "http") + VarintField(3, 80) +
                        BytesField(4, VarintField(1, 1) + BytesField(3, "web"))) +
      BytesField(1, VarintField(3, 443) + BytesField(4, VarintField(2, 8443)) +
                        VarintField(5, 0));
  const std::string spec = ports + MapEntry(2, "app", "web") + BytesField(4, "ClusterIP");
  const std::string raw = BytesField(2, spec) + BytesField(3, BytesField(1, ""));
  ExpectJson(MustDecode(Body("v1", "Service", raw)), R"({
    "apiVersion": "v1", "kind": "Service",
    "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "web"},
                       {"port": 443, "targetPort": 8443}],
             "selector": {"app": "web"}, "type": "ClusterIP"},
    "status": {"loadBalancer": {}}})");
}

TEST(DecodeKubernetesProtobuf, AutoscalingV2WithResourceMetric) {
  const std::string target = BytesField(1, "Utilization") + VarintField(4, 60);
  const std::string metric =
      BytesField(1, "Resource") + BytesField(4, BytesField(1, "cpu") + BytesField(2, target));
  const std::string spec =
      BytesField(1, BytesField(1, "Deployment") + BytesField(2, "web")) + VarintField(2, 1) +
      VarintField(3, 4) + BytesField(4, metric);
  ExpectJson(MustDecode(Body("autoscaling/v2", "HorizontalPodAutoscaler", BytesField(2, spec))),
             R"({
    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
    "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
             "minReplicas": 1, "maxReplicas": 4,
             "metrics": [{"type": "Resource",
                          "resource": {"name": "cpu",
                                       "target": {"type": "Utilization",
                                                  "averageUtilization": 60}}}]}})");
}

TEST(DecodeKubernetesProtobuf, NegativeInt32AndTimesBeforeTheEpoch) {
  // Negative int32s travel as 10-byte sign-extended varints.
  const std::string metadata =
      BytesField(8, VarintField(1, static_cast<uint64_t>(int64_t{-86400}))) +
      VarintField(10, static_cast<uint64_t>(int64_t{-5}));
  const std::string spec = VarintField(1, static_cast<uint64_t>(int64_t{-1}));
  ExpectJson(MustDecode(Body("apps/v1", "Deployment",
                             BytesField(1, metadata) + BytesField(2, spec))),
             R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"creationTimestamp": "1969-12-31T00:00:00Z", "deletionGracePeriodSeconds": -5},
    "spec": {"replicas": -1}})");
}

// ---- errors ----

Status DecodeStatus(std::string_view body) { return DecodeKubernetesProtobuf(body).status(); }

TEST(DecodeKubernetesProtobufErrors, WrongOrMissingMagic) {
  EXPECT_EQ(DecodeStatus("").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeStatus("k8s").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeStatus("{\"kind\":\"Namespace\"}").code(), StatusCode::kInvalidArgument);
  std::string body = ReadTestdata("pb_api_v1_namespaces.bin");
  body[3] = 'x';
  EXPECT_EQ(DecodeStatus(body).message(),
            "not a Kubernetes protobuf body: it must start with k8s\\0");
}

TEST(DecodeKubernetesProtobufErrors, EveryTruncationOfEveryFixtureFailsCleanly) {
  for (const char* name : {"pb_api_v1_namespaces.bin",
                           "pb_apis_apps_v1_namespaces_abc_deployments.bin",
                           "pb_apis_apps_v1_namespaces_default_deployments.bin",
                           "pb_apis_autoscaling_v1_namespaces_abc_horizontalpodautoscalers.bin"}) {
    const std::string body = ReadTestdata(name);
    ASSERT_GT(body.size(), 8u);
    // Cuts at a boundary between the envelope's fields leave a shorter valid envelope: after
    // typeMeta, after raw (the bodies end with empty contentEncoding and contentType).
    const size_t after_type_meta = 6 + static_cast<uint8_t>(body[5]);
    const std::set<size_t> field_boundaries = {after_type_meta, body.size() - 4,
                                               body.size() - 2};
    for (size_t length = 0; length < body.size(); ++length) {
      const Status status = DecodeStatus(std::string_view(body).substr(0, length));
      if (field_boundaries.contains(length)) {
        EXPECT_TRUE(status.ok()) << name << " cut at " << length << ": " << status.ToString();
      } else {
        EXPECT_EQ(status.code(), StatusCode::kInvalidArgument)
            << name << " cut at " << length << ": " << status.ToString();
      }
    }
  }
}

TEST(DecodeKubernetesProtobufErrors, BadVarintInsideTheObject) {
  const std::string raw = BytesField(2, "\x08" + std::string(10, '\x80') + "\x01");
  EXPECT_EQ(DecodeStatus(Body("apps/v1", "Deployment", raw)).message(),
            "Deployment: spec: varint longer than 10 bytes or over 64 bits");
}

TEST(DecodeKubernetesProtobufErrors, NestedLengthPastTheEndOfItsParent) {
  // The template claims 50 bytes inside a spec that holds 3.
  const std::string raw = BytesField(2, std::string("\x1a\x32\x0a\x00\x00", 5));
  EXPECT_EQ(DecodeStatus(Body("apps/v1", "Deployment", raw)).message(),
            "Deployment: spec: field 3: length 50 exceeds the 3 bytes left");
}

TEST(DecodeKubernetesProtobufErrors, WrongWireTypeNamesTheJsonPath) {
  const std::string container = BytesField(1, "nginx") + VarintField(2, 1);
  const std::string raw =
      BytesField(2, BytesField(3, BytesField(2, BytesField(2, BytesField(1, "x")) +
                                                    BytesField(2, container))));
  EXPECT_EQ(DecodeStatus(Body("apps/v1", "Deployment", raw)).message(),
            "Deployment: spec.template.spec.containers[1].image: wire type varint, expected "
            "length-delimited");
}

TEST(DecodeKubernetesProtobufErrors, UnknownKindIsUnimplemented) {
  const Status status = DecodeStatus(Body("apps/v1", "Frobnicator", ""));
  EXPECT_EQ(status.code(), StatusCode::kUnimplemented);
  EXPECT_EQ(status.message(), "no protobuf schema for apps/v1 Frobnicator");
}

TEST(DecodeKubernetesProtobufErrors, EnvelopeWithoutKindOrWithAnEncoding) {
  const std::string no_kind = std::string(kKubernetesProtobufMagic) +
                              BytesField(1, BytesField(1, "v1")) + BytesField(2, "");
  EXPECT_EQ(DecodeStatus(no_kind).code(), StatusCode::kInvalidArgument);
  const std::string gzip = std::string(kKubernetesProtobufMagic) +
                           BytesField(1, BytesField(1, "v1") + BytesField(2, "Namespace")) +
                           BytesField(3, "gzip");
  EXPECT_EQ(DecodeStatus(gzip).code(), StatusCode::kUnimplemented);
}

TEST(DecodeKubernetesProtobufErrors, InvalidUtf8AndBadSpecialTypes) {
  EXPECT_EQ(DecodeStatus(Body("v1", "Namespace", BytesField(1, BytesField(1, "\xc3\x28"))))
                .message(),
            "Namespace: metadata.name: string is not valid UTF-8");
  const std::string bad_int_or_string = VarintField(1, 2);
  EXPECT_EQ(DecodeStatus(Body("apps/v1", "Deployment",
                              BytesField(2, BytesField(4, BytesField(2, BytesField(1, bad_int_or_string))))))
                .message(),
            "Deployment: spec.strategy.rollingUpdate.maxUnavailable: IntOrString type 2 is "
            "neither 0 nor 1");
  const std::string far_future = BytesField(8, VarintField(1, uint64_t{1} << 40));
  EXPECT_EQ(DecodeStatus(Body("v1", "Namespace", BytesField(1, far_future))).code(),
            StatusCode::kInvalidArgument);
}

// A self-referencing schema, to reach the nesting limit that real Kubernetes objects never do.
extern const MessageSchema kNestedNode;
const FieldSpec kNestedNodeFields[] = {MessageField(1, "child", kNestedNode)};
const MessageSchema kNestedNode{"Node", kNestedNodeFields};

std::string NestedNodes(int depth) {
  std::string message;
  for (int i = 1; i < depth; ++i) message = BytesField(1, message);
  return message;
}

TEST(DecodeMessage, AcceptsNestingUpToTheLimit) {
  EXPECT_TRUE(DecodeMessage(NestedNodes(kMaxMessageDepth), kNestedNode).ok());
}

TEST(DecodeMessage, RejectsDeeperNesting) {
  const Status status = DecodeMessage(NestedNodes(kMaxMessageDepth + 1), kNestedNode).status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("nested deeper than 32"), std::string::npos)
      << status.message();
  EXPECT_EQ(DecodeMessage(NestedNodes(2000), kNestedNode).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kelp::api
