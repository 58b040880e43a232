// Tests of object validation: Kubernetes' field paths and message texts per resource, the
// immutable fields of updates, and the 422 message built from the causes.
#include "api/validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "api/quantity.h"
#include "common/json.h"

namespace kelp::api {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr std::string_view kSubdomainMessage =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
constexpr std::string_view kLabelMessage =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

boost::json::object Json(std::string_view text) {
  Result<boost::json::object> object = ParseJsonObject(text);
  EXPECT_TRUE(object.ok()) << object.status().ToString();
  return object.ok() ? *object : boost::json::object();
}

std::vector<std::string> Texts(const std::vector<FieldCause>& causes) {
  std::vector<std::string> texts;
  for (const FieldCause& cause : causes) texts.push_back(CauseText(cause));
  return texts;
}

std::vector<std::string> Validate(std::string_view group, std::string_view resource,
                                  std::string_view json, bool namespaced = true) {
  return Texts(ValidateObject(group, resource, Json(json), namespaced));
}

constexpr std::string_view kGoodPod = R"({"metadata":{"name":"web","namespace":"default"},
    "spec":{"restartPolicy":"Always","containers":[{"name":"c","image":"nginx",
    "ports":[{"containerPort":80,"protocol":"TCP"}],
    "resources":{"requests":{"cpu":"500m","memory":"1Gi"},"limits":{"cpu":"1","memory":"1024Mi"}}}]}})";

TEST(StringChecksTest, KubernetesMessages) {
  EXPECT_THAT(IsDNS1123Subdomain("BAD"), ElementsAre(std::string(kSubdomainMessage)));
  EXPECT_THAT(IsDNS1123Label("a.b"), ElementsAre(std::string(kLabelMessage)));
  EXPECT_THAT(IsDNS1123Label(std::string(64, 'a')), ElementsAre("must be no more than 63 characters"));
  EXPECT_THAT(IsDNS1035Label("1abc"),
              ElementsAre("a DNS-1035 label must consist of lower case alphanumeric characters or "
                          "'-', start with an alphabetic character, and end with an alphanumeric "
                          "character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
                          "'[a-z]([-a-z0-9]*[a-z0-9])?')"));
  EXPECT_THAT(IsQualifiedName("example.com/app"), IsEmpty());
  EXPECT_THAT(IsQualifiedName("/app"), ElementsAre("prefix part must be non-empty"));
  EXPECT_EQ(IsQualifiedName("a/b/c").size(), 1u);
  EXPECT_THAT(IsValidLabelValue(""), IsEmpty());
  EXPECT_THAT(IsConfigMapKey(".."), testing::Contains("must not be '..'"));
  EXPECT_THAT(IsValidPortName("80"), ElementsAre("must contain at least one letter (a-z)"));
  EXPECT_THAT(IsValidPortNum(0), ElementsAre("must be between 1 and 65535, inclusive"));
}

// The hand-written matchers accept exactly what Kubernetes' regexes accept: every string of up
// to four characters over an alphabet with one character of each class the grammars treat apart.
TEST(StringChecksTest, AgreeWithKubernetesRegexes) {
  const std::string alphabet = "aZ0-._%";
  std::vector<std::string> values = {""};
  for (std::size_t begin = 0, length = 1; length <= 4; ++length) {
    const std::size_t end = values.size();
    for (std::size_t i = begin; i < end; ++i) {
      for (char c : alphabet) values.push_back(values[i] + c);
    }
    begin = end;
  }
  struct Check {
    const char* regex;
    std::vector<std::string> (*function)(std::string_view);
  };
  const Check checks[] = {
      {"[a-z0-9]([-a-z0-9]*[a-z0-9])?", IsDNS1123Label},
      {"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", IsDNS1123Subdomain},
      {"[a-z]([-a-z0-9]*[a-z0-9])?", IsDNS1035Label},
      {"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]", IsQualifiedName},
      {"[-._a-zA-Z0-9]+", IsConfigMapKey},
  };
  for (const Check& check : checks) {
    const std::regex pattern(check.regex);
    for (const std::string& value : values) {
      bool valid = std::regex_match(value, pattern);
      // Keys also may not be "." or start with ".." (Kubernetes' IsConfigMapKey).
      if (check.function == IsConfigMapKey && (value == "." || value.starts_with(".."))) valid = false;
      EXPECT_EQ(check.function(value).empty(), valid)
          << check.regex << " on \"" << value << "\"";
    }
  }
}

TEST(ValidateMetadataTest, NamesPerKind) {
  EXPECT_THAT(Validate("", "pods", kGoodPod), IsEmpty());
  EXPECT_THAT(Validate("", "configmaps", R"({"metadata":{"name":"BAD","namespace":"d"}})"),
              ElementsAre("metadata.name: Invalid value: \"BAD\": " + std::string(kSubdomainMessage)));
  EXPECT_THAT(Validate("", "namespaces", R"({"metadata":{"name":"a.b"}})", false),
              ElementsAre("metadata.name: Invalid value: \"a.b\": " + std::string(kLabelMessage)));
  EXPECT_THAT(Validate("", "configmaps", R"({"metadata":{"namespace":"d"}})"),
              ElementsAre("metadata.name: Required value: name or generateName is required"));
  EXPECT_THAT(Validate("", "configmaps", R"({"metadata":{"generateName":"web-","namespace":"d"}})"),
              IsEmpty());
  EXPECT_THAT(Validate("", "configmaps", R"({"metadata":{"generateName":"Web-","namespace":"d"}})"),
              ElementsAre("metadata.generateName: Invalid value: \"Web-\": " +
                          std::string(kSubdomainMessage)));
  EXPECT_THAT(Validate("", "configmaps", R"({"metadata":{"name":"x"}})"),
              ElementsAre("metadata.namespace: Required value"));
  EXPECT_THAT(Validate("", "namespaces", R"({"metadata":{"name":"x","namespace":"y"}})", false),
              ElementsAre("metadata.namespace: Forbidden: not allowed on this type"));
}

TEST(ValidateMetadataTest, LabelsAndAnnotations) {
  EXPECT_THAT(
      Validate("", "configmaps", R"({"metadata":{"name":"x","namespace":"d","labels":{"a b":"-x"}}})"),
      ElementsAre(
          "metadata.labels: Invalid value: \"a b\": name part must consist of alphanumeric "
          "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
          "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
          "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
          "metadata.labels: Invalid value: \"-x\": a valid label must be an empty string or "
          "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
          "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
          "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"));
  boost::json::object big = Json(R"({"metadata":{"name":"x","namespace":"d","annotations":{}}})");
  big["metadata"].as_object()["annotations"].as_object()["k"] = std::string(256 * 1024, 'v');
  EXPECT_THAT(Texts(ValidateObject("", "configmaps", big, true)),
              ElementsAre("metadata.annotations: Too long: may not be more than 262144 bytes"));
}

TEST(ValidatePodTest, ContainersAndPorts) {
  EXPECT_THAT(Validate("", "pods", R"({"metadata":{"name":"p","namespace":"d"},"spec":{}})"),
              ElementsAre("spec.containers: Required value"));
  EXPECT_THAT(
      Validate("", "pods", R"({"metadata":{"name":"p","namespace":"d"},"spec":{
          "restartPolicy":"Sometimes","containers":[{"name":"a","image":"x"},{"name":"a"},
          {"name":"B_","image":"y","ports":[{"containerPort":70000,"protocol":"ICMP"},{}]}]}})"),
      ElementsAre(
          "spec.containers[1].name: Duplicate value: \"a\"",
          "spec.containers[1].image: Required value",
          "spec.containers[2].name: Invalid value: \"B_\": " + std::string(kLabelMessage),
          "spec.containers[2].ports[0].containerPort: Invalid value: 70000: must be between 1 "
          "and 65535, inclusive",
          "spec.containers[2].ports[0].protocol: Unsupported value: \"ICMP\": supported values: "
          "\"SCTP\", \"TCP\", \"UDP\"",
          "spec.containers[2].ports[1].containerPort: Required value",
          "spec.containers[2].ports[1].protocol: Required value",
          "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", "
          "\"OnFailure\", \"Never\""));
}

TEST(ValidatePodTest, RequestsMayNotExceedLimits) {
  EXPECT_THAT(
      Validate("", "pods", R"({"metadata":{"name":"p","namespace":"d"},"spec":{"containers":[
          {"name":"c","image":"x","resources":{"requests":{"cpu":"2"},"limits":{"cpu":"1500m",
          "memory":"lots"}}}]}})"),
      ElementsAre("spec.containers[0].resources.limits[memory]: Invalid value: \"lots\": " +
                      std::string(kQuantityFormatError),
                  "spec.containers[0].resources.requests: Invalid value: \"2\": must be less "
                  "than or equal to cpu limit of 1500m"));
}

constexpr std::string_view kDeployment = R"({"metadata":{"name":"web","namespace":"d"},
    "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},
    "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"}},
    "template":{"metadata":{"labels":{"app":"web"}},"spec":{"restartPolicy":"Always",
    "containers":[{"name":"c","image":"nginx"}]}}}})";

TEST(ValidateWorkloadTest, GoodDeployment) {
  EXPECT_THAT(Validate("apps", "deployments", kDeployment), IsEmpty());
}

TEST(ValidateWorkloadTest, SelectorMustMatchTemplate) {
  boost::json::object d = Json(kDeployment);
  d["spec"].as_object()["selector"] = Json(R"({"matchLabels":{"app":"api"}})");
  EXPECT_THAT(Texts(ValidateObject("apps", "deployments", d, true)),
              ElementsAre("spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: "
                          "`selector` does not match template `labels`"));
  d["spec"].as_object().erase("selector");
  EXPECT_THAT(Texts(ValidateObject("apps", "deployments", d, true)),
              ElementsAre("spec.selector: Required value",
                          "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: "
                          "`selector` does not match template `labels`"));
}

TEST(ValidateWorkloadTest, ReplicasStrategyAndRestartPolicy) {
  boost::json::object d = Json(kDeployment);
  boost::json::object& spec = d["spec"].as_object();
  spec["replicas"] = -1;
  spec["strategy"] = Json(R"({"type":"RollingUpdate","rollingUpdate":{"maxSurge":0,"maxUnavailable":0}})");
  spec["template"].as_object()["spec"].as_object()["restartPolicy"] = "Never";
  EXPECT_THAT(Texts(ValidateObject("apps", "deployments", d, true)),
              ElementsAre("spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                          "spec.template.spec.restartPolicy: Unsupported value: \"Never\": "
                          "supported values: \"Always\"",
                          "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not "
                          "be 0 when `maxSurge` is 0"));
  spec["strategy"] = Json(R"({"type":"Blue"})");
  spec["replicas"] = 1;
  spec["template"].as_object()["spec"].as_object()["restartPolicy"] = "Always";
  EXPECT_THAT(Texts(ValidateObject("apps", "deployments", d, true)),
              ElementsAre("spec.strategy: Unsupported value: {\"type\":\"Blue\"}: supported "
                          "values: \"Recreate\", \"RollingUpdate\""));
}

TEST(ValidateWorkloadTest, SelectorExpressions) {
  boost::json::object d = Json(kDeployment);
  d["spec"].as_object()["selector"] =
      Json(R"({"matchExpressions":[{"key":"app","operator":"In"}]})");
  EXPECT_THAT(Texts(ValidateObject("apps", "replicasets", d, true)),
              ElementsAre("spec.selector.matchExpressions[0].values: Required value: must be "
                          "specified when `operator` is 'In' or 'NotIn'",
                          "spec.selector: Invalid value: {\"matchExpressions\":[{\"key\":\"app\","
                          "\"operator\":\"In\"}]}: invalid label selector"));
}

constexpr std::string_view kService = R"({"metadata":{"name":"web","namespace":"d"},
    "spec":{"type":"ClusterIP","ports":[{"port":80,"protocol":"TCP","targetPort":8080}]}})";

TEST(ValidateServiceTest, PortsTypeAndName) {
  EXPECT_THAT(Validate("", "services", kService), IsEmpty());
  EXPECT_THAT(Validate("", "services", R"({"metadata":{"name":"1web","namespace":"d"},
      "spec":{"type":"Fancy","ports":[{"port":0,"protocol":"TCP","targetPort":"http--x"},
      {"name":"a","port":81,"protocol":"TCP"}]}})"),
              ElementsAre(
                  "metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower "
                  "case alphanumeric characters or '-', start with an alphabetic character, and "
                  "end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used "
                  "for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
                  "spec.ports[0].name: Required value",
                  "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                  "spec.ports[0].targetPort: Invalid value: \"http--x\": must not contain "
                  "consecutive hyphens",
                  "spec.type: Unsupported value: \"Fancy\": supported values: \"ClusterIP\", "
                  "\"ExternalName\", \"LoadBalancer\", \"NodePort\""));
  EXPECT_THAT(Validate("", "services", R"({"metadata":{"name":"w","namespace":"d"},
      "spec":{"type":"ClusterIP"}})"),
              ElementsAre("spec.ports: Required value"));
  EXPECT_THAT(Validate("", "services", R"({"metadata":{"name":"w","namespace":"d"},
      "spec":{"type":"ClusterIP","clusterIP":"None"}})"),
              IsEmpty());
}

TEST(ValidateOtherTest, HorizontalPodAutoscaler) {
  EXPECT_THAT(
      Validate("autoscaling", "horizontalpodautoscalers", R"({"metadata":{"name":"h","namespace":"d"},
          "spec":{"minReplicas":0,"maxReplicas":0,"scaleTargetRef":{"kind":"Deployment"}}})"),
      ElementsAre("spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
                  "spec.maxReplicas: Invalid value: 0: must be greater than 0",
                  "spec.scaleTargetRef.name: Required value"));
  EXPECT_THAT(
      Validate("autoscaling", "horizontalpodautoscalers", R"({"metadata":{"name":"h","namespace":"d"},
          "spec":{"minReplicas":3,"maxReplicas":2,"scaleTargetRef":{"kind":"Deployment","name":"w"}}})"),
      ElementsAre("spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"));
}

TEST(ValidateOtherTest, ConfigMapAndSecretKeys) {
  EXPECT_THAT(Validate("", "configmaps", R"({"metadata":{"name":"c","namespace":"d"},
      "data":{"ok.key":"v","bad key":"v"}})"),
              ElementsAre("data[bad key]: Invalid value: \"bad key\": a valid config key must "
                          "consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
                          "or 'KEY_NAME',  or 'key-name', regex used for validation is "
                          "'[-._a-zA-Z0-9]+')"));
  EXPECT_THAT(Validate("", "secrets", R"({"metadata":{"name":"s","namespace":"d"},
      "data":{"..x":"dg=="}})"),
              ElementsAre("data[..x]: Invalid value: \"..x\": must not start with '..'"));
}

TEST(ValidateUpdateTest, ImmutableFields) {
  boost::json::object old_d = Json(kDeployment);
  boost::json::object new_d = old_d;
  new_d["metadata"].as_object()["name"] = "other";
  new_d["spec"].as_object()["selector"] = Json(R"({"matchLabels":{"app":"web","x":"y"}})");
  EXPECT_THAT(Texts(ValidateUpdate("apps", "deployments", old_d, new_d, true)),
              ElementsAre("spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: "
                          "`selector` does not match template `labels`",
                          "metadata.name: Invalid value: \"other\": field is immutable",
                          "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\","
                          "\"x\":\"y\"}}: field is immutable"));

  boost::json::object old_s = Json(kService);
  old_s["spec"].as_object()["clusterIP"] = "10.96.0.10";
  boost::json::object new_s = old_s;
  EXPECT_THAT(ValidateUpdate("", "services", old_s, new_s, true), IsEmpty());
  new_s["spec"].as_object()["clusterIP"] = "10.96.0.11";
  EXPECT_THAT(Texts(ValidateUpdate("", "services", old_s, new_s, true)),
              ElementsAre("spec.clusterIPs[0]: Invalid value: \"10.96.0.11\": may not change once set"));
}

TEST(InvalidMessageTest, OneAndSeveralCauses) {
  const std::vector<FieldCause> one =
      ValidateObject("apps", "deployments", Json(R"({"metadata":{"name":"BAD","namespace":"d"},
          "spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},
          "spec":{"containers":[{"name":"c","image":"i"}]}}}})"),
                     true);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].reason, "FieldValueInvalid");
  EXPECT_EQ(one[0].field, "metadata.name");
  EXPECT_EQ(InvalidMessage(QualifiedKind("apps", "Deployment"), "BAD", one),
            "Deployment.apps \"BAD\" is invalid: metadata.name: Invalid value: \"BAD\": " +
                std::string(kSubdomainMessage));

  const std::vector<FieldCause> several = {RequiredCause("spec.containers"),
                                           RequiredCause("spec.containers"),
                                           InvalidCause("spec.replicas", -1, "must be greater than or equal to 0")};
  EXPECT_EQ(InvalidMessage(QualifiedKind("", "Pod"), "p", several),
            "Pod \"p\" is invalid: [spec.containers: Required value, spec.replicas: Invalid "
            "value: -1: must be greater than or equal to 0]");
}

TEST(ValidateRobustnessTest, WrongTypesAreCausesNotCrashes) {
  EXPECT_FALSE(Validate("", "pods", R"({"metadata":{"name":"p","namespace":"d"},"spec":{
      "containers":{"a":1}}})").empty());
  EXPECT_FALSE(Validate("apps", "deployments", R"({"metadata":[],"spec":{"selector":3,
      "template":"x","replicas":"1"}})").empty());
  EXPECT_FALSE(Validate("", "services", R"({"spec":{"ports":[1,{"port":"x","targetPort":1.5}]}})").empty());
}

}  // namespace
}  // namespace kelp::api
