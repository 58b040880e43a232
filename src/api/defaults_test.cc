// Tests of defaulting: golden objects after ApplyDefaults for each resource kubectl shows, and
// that values the client set are kept.
#include "api/defaults.h"

#include <gtest/gtest.h>

#include "common/json.h"

namespace kelp::api {
namespace {

// Applies defaults and compares with the expected object (both given as JSON text).
void ExpectDefaulted(std::string_view group, std::string_view resource, std::string_view input,
                     std::string_view expected) {
  boost::json::object object = *ParseJsonObject(input);
  ApplyDefaults(group, resource, object);
  EXPECT_EQ(SerializeJson(object), SerializeJson(*ParseJsonObject(expected)));
}

constexpr std::string_view kDefaultedPodSpec = R"("restartPolicy":"Always","dnsPolicy":"ClusterFirst",
    "terminationGracePeriodSeconds":30,"schedulerName":"default-scheduler","securityContext":{},
    "enableServiceLinks":true)";

// DefaultTolerationSeconds: pods (not templates) tolerate node failures for 300 s.
constexpr std::string_view kNodeFailureTolerations = R"("tolerations":[
    {"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},
    {"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}])";

TEST(DefaultsTest, Pod) {
  ExpectDefaulted("", "pods",
                  R"({"spec":{"containers":[{"name":"a","image":"nginx"},
                      {"name":"b","image":"reg:5000/app:1.2","ports":[{"containerPort":80}]},
                      {"name":"c","image":"busybox:latest"},{"name":"d","image":"x@sha256:ab"}]}})",
                  std::string(R"({"spec":{"containers":[
      {"name":"a","image":"nginx","imagePullPolicy":"Always","terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","resources":{}},
      {"name":"b","image":"reg:5000/app:1.2","ports":[{"containerPort":80,"protocol":"TCP"}],"imagePullPolicy":"IfNotPresent","terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","resources":{}},
      {"name":"c","image":"busybox:latest","imagePullPolicy":"Always","terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","resources":{}},
      {"name":"d","image":"x@sha256:ab","imagePullPolicy":"IfNotPresent","terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","resources":{}}],)") +
                      std::string(kDefaultedPodSpec) + "," + std::string(kNodeFailureTolerations) +
                      "}}");
}

TEST(DefaultsTest, PodToleratesOnlyTheNodeFailuresItDoesNotTolerateAlready) {
  ExpectDefaulted("", "pods",
                  R"({"spec":{"containers":[],"tolerations":[{"key":"node.kubernetes.io/not-ready",
                      "operator":"Exists","effect":"NoExecute","tolerationSeconds":10}]}})",
                  std::string(R"({"spec":{"containers":[],"tolerations":[{"key":"node.kubernetes.io/not-ready",
                      "operator":"Exists","effect":"NoExecute","tolerationSeconds":10},
                      {"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute",
                      "tolerationSeconds":300}],)") +
                      std::string(kDefaultedPodSpec) + "}}");
}

TEST(DefaultsTest, PodNodeFailureTolerationSecondsComeFromTheOptions) {
  boost::json::object pod = *ParseJsonObject(R"({"spec":{"containers":[]}})");
  ApplyDefaults("", "pods", pod,
                {.not_ready_toleration_seconds = 2, .unreachable_toleration_seconds = 3});
  EXPECT_EQ(SerializeJson(pod.at("spec").at("tolerations")),
            SerializeJson(*ParseJson(R"([
      {"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":2},
      {"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":3}])")));
}

TEST(DefaultsTest, KeepsClientValues) {
  ExpectDefaulted("", "pods",
                  R"({"spec":{"restartPolicy":"Never","dnsPolicy":"Default","terminationGracePeriodSeconds":5,
                      "schedulerName":"s","securityContext":{"runAsUser":1},"enableServiceLinks":false,
                      "tolerations":[{"operator":"Exists"}],
                      "containers":[{"name":"a","image":"nginx","imagePullPolicy":"Never",
                      "terminationMessagePath":"/t","terminationMessagePolicy":"FallbackToLogsOnError",
                      "resources":{"limits":{"cpu":"1"}}}]}})",
                  R"({"spec":{"restartPolicy":"Never","dnsPolicy":"Default","terminationGracePeriodSeconds":5,
                      "schedulerName":"s","securityContext":{"runAsUser":1},"enableServiceLinks":false,
                      "tolerations":[{"operator":"Exists"}],
                      "containers":[{"name":"a","image":"nginx","imagePullPolicy":"Never",
                      "terminationMessagePath":"/t","terminationMessagePolicy":"FallbackToLogsOnError",
                      "resources":{"limits":{"cpu":"1"}}}]}})");
}

TEST(DefaultsTest, Deployment) {
  ExpectDefaulted("apps", "deployments", R"({"spec":{"template":{"spec":{"containers":[]}}}})",
                  std::string(R"({"spec":{"template":{"spec":{"containers":[],)") +
                      std::string(kDefaultedPodSpec) +
                      R"(}},"replicas":1,"revisionHistoryLimit":10,"progressDeadlineSeconds":600,
      "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}}}})");
  ExpectDefaulted("apps", "deployments",
                  R"({"spec":{"replicas":0,"strategy":{"type":"Recreate"},"template":{"spec":{}}}})",
                  std::string(R"({"spec":{"replicas":0,"strategy":{"type":"Recreate"},"template":{"spec":{)") +
                      std::string(kDefaultedPodSpec) +
                      R"(}},"revisionHistoryLimit":10,"progressDeadlineSeconds":600}})");
}

TEST(DefaultsTest, ReplicaSetAndHpa) {
  ExpectDefaulted("apps", "replicasets", R"({"spec":{"template":{"spec":{}}}})",
                  std::string(R"({"spec":{"template":{"spec":{)") + std::string(kDefaultedPodSpec) +
                      R"(}},"replicas":1}})");
  ExpectDefaulted("autoscaling", "horizontalpodautoscalers", R"({"spec":{"maxReplicas":3}})",
                  R"({"spec":{"maxReplicas":3,"minReplicas":1}})");
}

TEST(DefaultsTest, Services) {
  ExpectDefaulted("", "services", R"({"spec":{"ports":[{"port":80},{"port":443,"targetPort":"https"}]}})",
                  R"({"spec":{"ports":[{"port":80,"protocol":"TCP","targetPort":80},
                      {"port":443,"targetPort":"https","protocol":"TCP"}],"type":"ClusterIP",
                      "sessionAffinity":"None","internalTrafficPolicy":"Cluster",
                      "ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack"}})");
  ExpectDefaulted("", "services", R"({"spec":{"type":"NodePort","ports":[{"port":80,"targetPort":0}]}})",
                  R"({"spec":{"type":"NodePort","ports":[{"port":80,"targetPort":80,"protocol":"TCP"}],
                      "sessionAffinity":"None","internalTrafficPolicy":"Cluster",
                      "ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack",
                      "externalTrafficPolicy":"Cluster"}})");
  ExpectDefaulted("", "services", R"({"spec":{"type":"ExternalName","externalName":"a.b"}})",
                  R"({"spec":{"type":"ExternalName","externalName":"a.b","sessionAffinity":"None"}})");
}

TEST(DefaultsTest, Namespace) {
  ExpectDefaulted("", "namespaces", R"({"metadata":{"name":"a"}})",
                  R"({"metadata":{"name":"a"},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}})");
}

TEST(DefaultsTest, UnexpectedTypesAreLeftAlone) {
  ExpectDefaulted("", "pods", R"({"spec":"x"})", R"({"spec":"x"})");
  ExpectDefaulted("apps", "deployments", R"({"spec":{"template":3,"strategy":[]}})",
                  R"({"spec":{"template":3,"strategy":[],"replicas":1,"revisionHistoryLimit":10,"progressDeadlineSeconds":600}})");
  ExpectDefaulted("", "configmaps", R"({"data":{}})", R"({"data":{}})");
}

}  // namespace
}  // namespace kelp::api
