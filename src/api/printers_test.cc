// Golden tests for the Table printers: the cells each resource prints for realistic objects of
// the classic three-node lab, column definitions, the Table envelope and row objects, and
// objects with missing or mistyped fields (they must print, never fail).
#include "api/printers.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/json.h"
#include "common/testing/fake_clock.h"

namespace kelp::api {
namespace {

namespace json = boost::json;

// FakeClock starts at 2024-01-01T00:00:00Z; objects below are created relative to that.
class PrintersTest : public ::testing::Test {
 protected:
  json::object Parse(std::string_view text) {
    Result<json::object> object = ParseJsonObject(text);
    EXPECT_TRUE(object.ok()) << object.status().ToString();
    return object.ok() ? *object : json::object();
  }

  Result<json::object> Table(std::string_view resource, std::string_view group,
                             const std::vector<json::object>& objects,
                             const TableOptions& options = {}) {
    std::vector<const json::object*> pointers;
    for (const json::object& object : objects) pointers.push_back(&object);
    return BuildTable(resource, group, pointers, options, clock_);
  }

  // The cells of each row, serialized: one golden string per row.
  std::vector<std::string> Rows(std::string_view resource, std::string_view group,
                                const std::vector<std::string_view>& objects) {
    std::vector<json::object> parsed;
    for (std::string_view text : objects) parsed.push_back(Parse(text));
    Result<json::object> table = Table(resource, group, parsed);
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    std::vector<std::string> rows;
    if (!table.ok()) return rows;
    for (const json::value& row : table->at("rows").as_array()) {
      rows.push_back(SerializeJson(row.as_object().at("cells")));
    }
    return rows;
  }

  std::string Row(std::string_view resource, std::string_view group, std::string_view object) {
    std::vector<std::string> rows = Rows(resource, group, {object});
    return rows.empty() ? "" : rows.front();
  }

  // "Name:0 Ready:0 ... IP:1": column names with their priorities.
  std::string Columns(std::string_view resource, std::string_view group) {
    Result<json::object> table = Table(resource, group, {});
    EXPECT_TRUE(table.ok());
    std::string columns;
    if (!table.ok()) return columns;
    for (const json::value& column : table->at("columnDefinitions").as_array()) {
      const json::object& definition = column.as_object();
      if (!columns.empty()) columns += " ";
      columns += std::string(definition.at("name").as_string()) + ":" +
                 std::to_string(definition.at("priority").as_int64());
    }
    return columns;
  }

  testing::FakeClock clock_;
};

// ---- Pods ----

TEST_F(PrintersTest, PodColumnsAndPriorities) {
  EXPECT_EQ(Columns("pods", ""),
            "Name:0 Ready:0 Status:0 Restarts:0 Age:0 IP:1 Node:1 Nominated Node:1 "
            "Readiness Gates:1");
  Result<json::object> table = Table("pods", "", {});
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(SerializeJson(table->at("columnDefinitions").as_array()[0].as_object()["format"]),
            R"("name")");
  EXPECT_EQ(SerializeJson(table->at("columnDefinitions").as_array()[1].as_object()["format"]),
            R"("")");
}

TEST_F(PrintersTest, RunningPodOnANode) {
  EXPECT_EQ(Row("pods", "", R"({
    "metadata": {"name": "nginx-7c5ddbdf54-2xk8v", "namespace": "default",
                 "creationTimestamp": "2023-12-31T23:57:30Z"},
    "spec": {"nodeName": "node01", "containers": [{"name": "nginx", "image": "nginx:1.25"}]},
    "status": {"phase": "Running", "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}],
      "conditions": [{"type": "Ready", "status": "True"}],
      "containerStatuses": [{"name": "nginx", "ready": true, "restartCount": 0,
                             "state": {"running": {"startedAt": "2023-12-31T23:57:35Z"}}}]}})"),
            R"(["nginx-7c5ddbdf54-2xk8v","1/1","Running","0","2m30s","10.244.1.5","node01",)"
            R"("<none>","<none>"])");
}

TEST_F(PrintersTest, PendingPodWithoutNodeOrIp) {
  EXPECT_EQ(Row("pods", "", R"({
    "metadata": {"name": "web", "creationTimestamp": "2023-12-31T23:59:50Z"},
    "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    "status": {"phase": "Pending"}})"),
            R"(["web","0/1","Pending","0","10s","<none>","<none>","<none>","<none>"])");
}

TEST_F(PrintersTest, ContainerCreatingPod) {
  EXPECT_EQ(Row("pods", "", R"({
    "metadata": {"name": "web", "creationTimestamp": "2023-12-31T23:59:55Z"},
    "spec": {"nodeName": "node02", "containers": [{"name": "web"}]},
    "status": {"phase": "Pending", "containerStatuses": [{"name": "web", "ready": false,
      "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}})"),
            R"(["web","0/1","ContainerCreating","0","5s","<none>","node02","<none>","<none>"])");
}

TEST_F(PrintersTest, CrashLoopBackOffPodShowsRestartsAndWhenTheLastOneWas) {
  EXPECT_EQ(Row("pods", "", R"({
    "metadata": {"name": "crasher", "creationTimestamp": "2023-12-31T22:00:00Z"},
    "spec": {"nodeName": "node02", "containers": [{"name": "app", "image": "busybox"}]},
    "status": {"phase": "Running", "podIPs": [{"ip": "10.244.2.3"}],
      "containerStatuses": [{"name": "app", "ready": false, "restartCount": 5,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                     "finishedAt": "2023-12-31T23:55:00Z"}}}]}})"),
            R"j(["crasher","0/1","CrashLoopBackOff","5 (5m ago)","120m","10.244.2.3","node02",)j"
            R"("<none>","<none>"])");
}

TEST_F(PrintersTest, CompletedPodCarriesACompletedRowCondition) {
  json::object pod = Parse(R"({
    "metadata": {"name": "job-x", "creationTimestamp": "2023-12-31T00:00:00Z"},
    "spec": {"containers": [{"name": "main"}]},
    "status": {"phase": "Succeeded", "containerStatuses": [{"name": "main", "ready": false,
      "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}})");
  Result<json::object> table = Table("pods", "", {pod});
  ASSERT_TRUE(table.ok());
  const json::object& row = table->at("rows").as_array()[0].as_object();
  EXPECT_EQ(SerializeJson(row.at("cells")),
            R"(["job-x","0/1","Completed","0","24h","<none>","<none>","<none>","<none>"])");
  EXPECT_EQ(SerializeJson(row.at("conditions")),
            R"([{"type":"Completed","status":"True","reason":"Succeeded",)"
            R"("message":"The pod has completed successfully."}])");
}

TEST_F(PrintersTest, PodStatusFromTerminatedContainersAndDeletion) {
  EXPECT_EQ(Rows("pods", "",
                 {R"({"metadata": {"name": "err"}, "spec": {"containers": [{"name": "a"}]},
                      "status": {"phase": "Failed", "containerStatuses": [{"name": "a",
                        "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}})",
                  R"({"metadata": {"name": "killed"}, "spec": {"containers": [{"name": "a"}]},
                      "status": {"phase": "Running", "containerStatuses": [{"name": "a",
                        "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}})",
                  R"({"metadata": {"name": "going", "deletionTimestamp": "2024-01-01T00:00:00Z"},
                      "spec": {"containers": [{"name": "a"}]},
                      "status": {"phase": "Running", "containerStatuses": [{"name": "a",
                        "ready": true, "state": {"running": {}}}]}})",
                  R"({"metadata": {"name": "lost", "deletionTimestamp": "2024-01-01T00:00:00Z"},
                      "spec": {"containers": [{"name": "a"}]},
                      "status": {"phase": "Running", "reason": "NodeLost"}})"}),
            (std::vector<std::string>{
                R"(["err","0/1","Error","0","<unknown>","<none>","<none>","<none>","<none>"])",
                R"(["killed","0/1","Signal:9","0","<unknown>","<none>","<none>","<none>",)"
                R"("<none>"])",
                R"(["going","1/1","Terminating","0","<unknown>","<none>","<none>","<none>",)"
                R"("<none>"])",
                R"(["lost","0/1","Unknown","0","<unknown>","<none>","<none>","<none>",)"
                R"("<none>"])"}));
}

TEST_F(PrintersTest, PodInitContainersAndSidecars) {
  EXPECT_EQ(Rows("pods", "",
                 {R"({"metadata": {"name": "init-wait"},
                      "spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}],
                               "containers": [{"name": "a"}]},
                      "status": {"phase": "Pending", "initContainerStatuses": [
                        {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
                        {"name": "i2", "state": {"running": {}}}]}})",
                  R"({"metadata": {"name": "init-crash"},
                      "spec": {"initContainers": [{"name": "i1"}], "containers": [{"name": "a"}]},
                      "status": {"phase": "Pending", "initContainerStatuses": [
                        {"name": "i1", "restartCount": 2,
                         "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}})",
                  R"({"metadata": {"name": "sidecar"},
                      "spec": {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
                               "containers": [{"name": "a"}]},
                      "status": {"phase": "Running",
                        "conditions": [{"type": "Initialized", "status": "True"}],
                        "initContainerStatuses": [{"name": "proxy", "started": true,
                          "ready": true, "restartCount": 1, "state": {"running": {}}}],
                        "containerStatuses": [{"name": "a", "ready": true,
                          "state": {"running": {}}}]}})"}),
            (std::vector<std::string>{
                R"(["init-wait","0/1","Init:1/2","0","<unknown>","<none>","<none>","<none>",)"
                R"("<none>"])",
                R"(["init-crash","0/1","Init:CrashLoopBackOff","2","<unknown>","<none>",)"
                R"("<none>","<none>","<none>"])",
                R"(["sidecar","2/2","Running","1","<unknown>","<none>","<none>","<none>",)"
                R"("<none>"])"}));
}

TEST_F(PrintersTest, PodReadinessGates) {
  EXPECT_EQ(Row("pods", "", R"({"metadata": {"name": "gated"},
    "spec": {"containers": [], "readinessGates": [{"conditionType": "example.com/lb"},
                                                  {"conditionType": "example.com/dns"}]},
    "status": {"nominatedNodeName": "node01",
               "conditions": [{"type": "example.com/lb", "status": "True"}]}})"),
            R"(["gated","0/0","","0","<unknown>","<none>","<none>","node01","1/2"])");
}

// ---- Services, endpoints, endpoint slices ----

TEST_F(PrintersTest, Services) {
  EXPECT_EQ(Columns("services", ""),
            "Name:0 Type:0 Cluster-IP:0 External-IP:0 Port(s):0 Age:0 Selector:1");
  EXPECT_EQ(
      Rows("services", "",
           {R"({"metadata": {"name": "nginx", "creationTimestamp": "2023-12-31T23:00:00Z"},
                "spec": {"type": "NodePort", "clusterIP": "10.96.120.7",
                         "clusterIPs": ["10.96.120.7"], "selector": {"app": "nginx"},
                         "ports": [{"port": 80, "targetPort": 80, "nodePort": 30080,
                                    "protocol": "TCP"}]}})",
            R"({"metadata": {"name": "kubernetes", "creationTimestamp": "2023-12-01T00:00:00Z"},
                "spec": {"type": "ClusterIP", "clusterIPs": ["10.96.0.1"],
                         "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}})",
            R"({"metadata": {"name": "lb"},
                "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.3.3"],
                         "selector": {"tier": "web", "app": "shop"},
                         "ports": [{"port": 80, "nodePort": 31000}, {"port": 53,
                                    "protocol": "UDP"}]}})",
            R"({"metadata": {"name": "db"},
                "spec": {"type": "ExternalName", "externalName": "db.example.com"}})"}),
      (std::vector<std::string>{
          R"(["nginx","NodePort","10.96.120.7","<none>","80:30080/TCP","60m","app=nginx"])",
          R"(["kubernetes","ClusterIP","10.96.0.1","<none>","443/TCP","31d","<none>"])",
          R"(["lb","LoadBalancer","10.96.3.3","<pending>","80:31000/TCP,53/UDP","<unknown>",)"
          R"("app=shop,tier=web"])",
          R"(["db","ExternalName","<none>","db.example.com","<none>","<unknown>","<none>"])"}));
}

TEST_F(PrintersTest, LoadBalancerWithIngressAndExternalIps) {
  EXPECT_EQ(Row("services", "", R"({"metadata": {"name": "lb"},
    "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.3.3"], "externalIPs": ["192.168.206.50"]},
    "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.9"}, {"hostname": "lb.example"}]}}})"),
            R"(["lb","LoadBalancer","10.96.3.3","172.18.0.9,lb.example,192.168.206.50",)"
            R"("<none>","<unknown>","<none>"])");
}

TEST_F(PrintersTest, Endpoints) {
  EXPECT_EQ(Columns("endpoints", ""), "Name:0 Endpoints:0 Age:0");
  EXPECT_EQ(Rows("endpoints", "",
                 {R"({"metadata": {"name": "nginx", "creationTimestamp": "2023-12-31T23:00:00Z"},
                      "subsets": [{"addresses": [{"ip": "10.244.1.5"}, {"ip": "10.244.2.3"}],
                                   "ports": [{"port": 80, "protocol": "TCP"}]},
                                  {"addresses": [{"ip": "10.244.1.6"}, {"ip": "fd00::5"}],
                                   "ports": [{"port": 80}]}]})",
                  R"({"metadata": {"name": "headless"},
                      "subsets": [{"addresses": [{"ip": "10.244.1.7"}]}]})",
                  R"({"metadata": {"name": "empty"}})"}),
            (std::vector<std::string>{
                R"(["nginx","10.244.1.5:80,10.244.2.3:80,10.244.1.6:80 + 1 more...","60m"])",
                R"(["headless","10.244.1.7","<unknown>"])", R"(["empty","<none>","<unknown>"])"}));
}

TEST_F(PrintersTest, EndpointSlices) {
  EXPECT_EQ(Columns("endpointslices", "discovery.k8s.io"),
            "Name:0 AddressType:0 Ports:0 Endpoints:0 Age:0");
  EXPECT_EQ(Rows("endpointslices", "discovery.k8s.io",
                 {R"({"metadata": {"name": "nginx-abcde"}, "addressType": "IPv4",
                      "ports": [{"name": "http", "port": 80}, {"name": "metrics"}, {}],
                      "endpoints": [{"addresses": ["10.244.1.5"]}, {"addresses": ["10.244.2.3"]},
                                    {"addresses": ["10.244.1.6"]}, {"addresses": ["10.244.2.4"]}]})",
                  R"({"metadata": {"name": "none"}, "addressType": "IPv4"})"}),
            (std::vector<std::string>{
                R"(["nginx-abcde","IPv4","80,metrics,*","10.244.1.5,10.244.2.3,10.244.1.6 + 1 )"
                R"(more...","<unknown>"])",
                R"(["none","IPv4","<unset>","<unset>","<unknown>"])"}));
}

// ---- Nodes and namespaces ----

TEST_F(PrintersTest, NodesOfTheLab) {
  EXPECT_EQ(Columns("nodes", ""),
            "Name:0 Status:0 Roles:0 Age:0 Version:0 Internal-IP:1 External-IP:1 OS-Image:1 "
            "Kernel-Version:1 Container-Runtime:1");
  EXPECT_EQ(Rows("nodes", "",
                 {R"j({"metadata": {"name": "master", "creationTimestamp": "2023-12-19T00:00:00Z",
                             "labels": {"kubernetes.io/hostname": "master",
                                        "node-role.kubernetes.io/control-plane": ""}},
                "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                          {"type": "Ready", "status": "True"}],
                           "addresses": [{"type": "InternalIP", "address": "192.168.206.10"},
                                         {"type": "Hostname", "address": "master"}],
                           "nodeInfo": {"kubeletVersion": "v1.32.0-kelp.1",
                                        "osImage": "Debian GNU/Linux 12 (bookworm)",
                                        "kernelVersion": "6.1.0-18-amd64",
                                        "containerRuntimeVersion": "runc://1.1.5"}}})j",
                  R"({"metadata": {"name": "node01", "creationTimestamp": "2023-12-31T20:00:00Z",
                             "labels": {"kubernetes.io/role": "worker",
                                        "node-role.kubernetes.io/ingress": "true"}},
                "spec": {"unschedulable": true},
                "status": {"conditions": [{"type": "Ready", "status": "Unknown"}],
                           "addresses": [{"type": "InternalIP", "address": "192.168.206.20"},
                                         {"type": "ExternalIP", "address": "203.0.113.20"}],
                           "nodeInfo": {"kubeletVersion": "v1.32.0-kelp.1"}}})",
                  R"({"metadata": {"name": "node02"}})"}),
            (std::vector<std::string>{
                R"(["master","Ready","control-plane","13d","v1.32.0-kelp.1","192.168.206.10",)"
                R"j("<none>","Debian GNU/Linux 12 (bookworm)","6.1.0-18-amd64","runc://1.1.5"])j",
                R"(["node01","NotReady,SchedulingDisabled","ingress,worker","4h","v1.32.0-kelp.1",)"
                R"("192.168.206.20","203.0.113.20","<unknown>","<unknown>","<unknown>"])",
                R"(["node02","Unknown","<none>","<unknown>","","<none>","<none>","<unknown>",)"
                R"("<unknown>","<unknown>"])"}));
}

TEST_F(PrintersTest, Namespaces) {
  EXPECT_EQ(Columns("namespaces", ""), "Name:0 Status:0 Age:0");
  EXPECT_EQ(Row("namespaces", "", R"({"metadata": {"name": "kube-system",
    "creationTimestamp": "2023-10-01T00:00:00Z"}, "status": {"phase": "Active"}})"),
            R"(["kube-system","Active","92d"])");
}

// ---- Config and identity ----

TEST_F(PrintersTest, ConfigMapsSecretsServiceAccountsLeases) {
  EXPECT_EQ(Columns("configmaps", ""), "Name:0 Data:0 Age:0");
  EXPECT_EQ(Row("configmaps", "", R"({"metadata": {"name": "kube-flannel-cfg"},
    "data": {"net-conf.json": "{}", "cni-conf.json": "{}"}, "binaryData": {"blob": "AAE="}})"),
            R"(["kube-flannel-cfg",3,"<unknown>"])");
  EXPECT_EQ(Columns("secrets", ""), "Name:0 Type:0 Data:0 Age:0");
  EXPECT_EQ(Row("secrets", "", R"({"metadata": {"name": "db-pass",
    "creationTimestamp": "2023-12-31T23:59:00Z"}, "type": "Opaque",
    "data": {"username": "YWRtaW4=", "password": "czNjcjN0"}})"),
            R"(["db-pass","Opaque",2,"60s"])");
  EXPECT_EQ(Columns("serviceaccounts", ""), "Name:0 Secrets:0 Age:0");
  EXPECT_EQ(Row("serviceaccounts", "", R"({"metadata": {"name": "default"}})"),
            R"(["default",0,"<unknown>"])");
  EXPECT_EQ(Columns("leases", "coordination.k8s.io"), "Name:0 Holder:0 Age:0");
  EXPECT_EQ(Row("leases", "coordination.k8s.io", R"({"metadata": {"name": "node01",
    "namespace": "kube-node-lease"}, "spec": {"holderIdentity": "node01"}})"),
            R"(["node01","node01","<unknown>"])");
}

// ---- Events ----

TEST_F(PrintersTest, Events) {
  EXPECT_EQ(Columns("events", ""),
            "Last Seen:0 Type:0 Reason:0 Object:0 Subobject:1 Source:1 Message:0 First Seen:1 "
            "Count:1 Name:1");
  EXPECT_EQ(
      Rows("events", "",
           {R"({"metadata": {"name": "nginx.17a1b2c3d4e5f607"},
                "involvedObject": {"kind": "Pod", "name": "nginx",
                                   "fieldPath": "spec.containers{nginx}"},
                "reason": "Pulled", "type": "Normal",
                "message": "  Container image \"nginx:1.25\" already present on machine\n",
                "source": {"component": "kubelet", "host": "node01"},
                "firstTimestamp": "2023-12-31T23:00:00Z",
                "lastTimestamp": "2023-12-31T23:58:00Z", "count": 4})",
            R"({"metadata": {"name": "new-style"}, "involvedObject": {"kind": "Node"},
                "reason": "RegisteredNode", "type": "Normal", "message": "registered",
                "reportingComponent": "node-controller",
                "eventTime": "2023-12-31T23:59:30.123456Z"})",
            R"({"metadata": {"name": "series"}, "involvedObject": {"kind": "Pod", "name": "x"},
                "type": "Warning", "reason": "BackOff", "message": "Back-off",
                "eventTime": "2023-12-31T22:00:00.000000Z",
                "series": {"count": 12, "lastObservedTime": "2023-12-31T23:59:50.000000Z"}})"}),
      (std::vector<std::string>{
          R"(["2m","Normal","Pulled","pod/nginx","spec.containers{nginx}","kubelet, node01",)"
          R"("Container image \"nginx:1.25\" already present on machine","60m",4,)"
          R"("nginx.17a1b2c3d4e5f607"])",
          R"(["29s","Normal","RegisteredNode","node","","node-controller","registered","29s",1,)"
          R"("new-style"])",
          R"(["10s","Warning","BackOff","pod/x","","","Back-off","120m",12,"series"])"}));
}

// ---- Workloads ----

TEST_F(PrintersTest, NginxDeploymentOfTheLab) {
  EXPECT_EQ(Columns("deployments", "apps"),
            "Name:0 Ready:0 Up-to-date:0 Available:0 Age:0 Containers:1 Images:1 Selector:1");
  EXPECT_EQ(Rows("deployments", "apps",
                 {R"({"metadata": {"name": "nginx", "creationTimestamp": "2023-12-31T23:56:00Z"},
                      "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "nginx"}},
                               "template": {"spec": {"containers": [
                                 {"name": "nginx", "image": "nginx:1.25"},
                                 {"name": "log", "image": "busybox"}]}}},
                      "status": {"replicas": 3, "readyReplicas": 3, "updatedReplicas": 3,
                                 "availableReplicas": 3}})",
                  R"({"metadata": {"name": "fresh"},
                      "spec": {"replicas": 2, "selector": {"matchLabels": {"b": "2", "a": "1"},
                        "matchExpressions": [
                          {"key": "tier", "operator": "In", "values": ["web", "api"]},
                          {"key": "canary", "operator": "DoesNotExist"}]}}})",
                  R"({"metadata": {"name": "bad"}, "spec": {"selector": {"matchExpressions": [
                        {"key": "x", "operator": "Sometimes"}]}}})"}),
            (std::vector<std::string>{
                R"(["nginx","3/3",3,3,"4m","nginx,log","nginx:1.25,busybox","app=nginx"])",
                R"j(["fresh","0/2",0,0,"<unknown>","","","a=1,b=2,!canary,tier in (api,web)"])j",
                R"(["bad","0/0",0,0,"<unknown>","","","<invalid>"])"}));
}

TEST_F(PrintersTest, ReplicaSetsAndDaemonSets) {
  EXPECT_EQ(Columns("replicasets", "apps"),
            "Name:0 Desired:0 Current:0 Ready:0 Age:0 Containers:1 Images:1 Selector:1");
  EXPECT_EQ(Row("replicasets", "apps", R"({"metadata": {"name": "nginx-7c5ddbdf54"},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "nginx",
                                                         "pod-template-hash": "7c5ddbdf54"}},
             "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}},
    "status": {"replicas": 3, "readyReplicas": 2}})"),
            R"(["nginx-7c5ddbdf54",3,3,2,"<unknown>","nginx","nginx:1.25",)"
            R"("app=nginx,pod-template-hash=7c5ddbdf54"])");
  EXPECT_EQ(Row("replicasets", "apps", R"({"metadata": {"name": "no-selector"}})"),
            R"(["no-selector",0,0,0,"<unknown>","","","<none>"])");

  EXPECT_EQ(Columns("daemonsets", "apps"),
            "Name:0 Desired:0 Current:0 Ready:0 Up-to-date:0 Available:0 Node Selector:0 Age:0 "
            "Containers:1 Images:1 Selector:1");
  EXPECT_EQ(Row("daemonsets", "apps", R"({"metadata": {"name": "kube-flannel-ds"},
    "spec": {"selector": {"matchLabels": {"app": "flannel"}},
             "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                                   "containers": [{"name": "kube-flannel",
                                                   "image": "flannel/flannel:v0.24.0"}]}}},
    "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
               "updatedNumberScheduled": 3, "numberAvailable": 2}})"),
            R"(["kube-flannel-ds",3,3,2,3,2,"kubernetes.io/os=linux","<unknown>",)"
            R"("kube-flannel","flannel/flannel:v0.24.0","app=flannel"])");
}

TEST_F(PrintersTest, HorizontalPodAutoscalers) {
  EXPECT_EQ(Columns("horizontalpodautoscalers", "autoscaling"),
            "Name:0 Reference:0 Targets:0 MinPods:0 MaxPods:0 Replicas:0 Age:0");
  EXPECT_EQ(
      Rows("horizontalpodautoscalers", "autoscaling",
           {R"({"metadata": {"name": "nginx1"},
                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "nginx1"},
                         "minReplicas": 1, "maxReplicas": 10,
                         "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                           "target": {"type": "Utilization", "averageUtilization": 50}}}]},
                "status": {"currentReplicas": 1}})",
            R"({"metadata": {"name": "v1"},
                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "nginx1"},
                         "minReplicas": 1, "maxReplicas": 5,
                         "targetCPUUtilizationPercentage": 50},
                "status": {"currentReplicas": 2, "currentCPUUtilizationPercentage": 12}})",
            R"({"metadata": {"name": "many"},
                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "shop"},
                         "maxReplicas": 4, "metrics": [
                  {"type": "Resource", "resource": {"name": "memory",
                    "target": {"type": "AverageValue", "averageValue": "200Mi"}}},
                  {"type": "Pods", "pods": {"target": {"averageValue": "1k"}}},
                  {"type": "External", "external": {"target": {"value": "10"}}}]},
                "status": {"currentMetrics": [
                  {"type": "Resource", "resource": {"name": "memory",
                    "current": {"averageValue": "120Mi"}}},
                  {"type": "Pods", "pods": {"current": {"averageValue": "250"}}}]}})",
            R"({"metadata": {"name": "object"},
                "spec": {"maxReplicas": 2, "metrics": [
                  {"type": "Object", "object": {"target": {"averageValue": "5"}}},
                  {"type": "Weird"}]}})",
            R"({"metadata": {"name": "bare"}})"}),
      (std::vector<std::string>{
          R"(["nginx1","Deployment/nginx1","cpu: <unknown>/50%","1",10,1,"<unknown>"])",
          R"(["v1","Deployment/nginx1","cpu: 12%/50%","1",5,2,"<unknown>"])",
          R"(["many","Deployment/shop","memory: 120Mi/200Mi, 250/1k + 1 more...","<unset>",4,)"
          R"(0,"<unknown>"])",
          R"j(["object","/","<unknown>/5 (avg), <unknown type>","<unset>",2,0,"<unknown>"])j",
          R"(["bare","/","<none>","<unset>",0,0,"<unknown>"])"}));
}

// ---- Anything else ----

TEST_F(PrintersTest, UnknownResourcesGetNameAndAge) {
  EXPECT_EQ(Columns("widgets", "example.com"), "Name:0 Age:0");
  EXPECT_EQ(Columns("deployments", ""), "Name:0 Age:0");  // the group matters
  EXPECT_EQ(Row("widgets", "example.com", R"({"metadata": {"name": "w1",
    "creationTimestamp": "2021-06-01T00:00:00Z"}})"),
            R"(["w1","2y214d"])");
}

TEST_F(PrintersTest, ObjectsMissingEverythingStillPrint) {
  const std::vector<std::pair<std::string_view, std::string_view>> resources = {
      {"pods", ""},
      {"services", ""},
      {"endpoints", ""},
      {"nodes", ""},
      {"namespaces", ""},
      {"configmaps", ""},
      {"secrets", ""},
      {"events", ""},
      {"serviceaccounts", ""},
      {"deployments", "apps"},
      {"replicasets", "apps"},
      {"daemonsets", "apps"},
      {"horizontalpodautoscalers", "autoscaling"},
      {"leases", "coordination.k8s.io"},
      {"endpointslices", "discovery.k8s.io"},
      {"widgets", "example.com"}};
  // Mistyped fields everywhere: they read as absent.
  constexpr std::string_view kMistyped = R"({"metadata": 7, "spec": "x", "status": [1],
    "subsets": {}, "data": 3, "endpoints": [5], "ports": [null], "involvedObject": []})";
  for (const auto& [resource, group] : resources) {
    for (std::string_view object : {std::string_view("{}"), kMistyped}) {
      Result<json::object> columns = Table(resource, group, {});
      ASSERT_TRUE(columns.ok());
      std::vector<std::string> rows = Rows(resource, group, {object});
      ASSERT_EQ(rows.size(), 1u) << resource;
      Result<json::value> cells = ParseJson(rows.front());
      ASSERT_TRUE(cells.ok());
      EXPECT_EQ(cells->as_array().size(), columns->at("columnDefinitions").as_array().size())
          << resource << " " << object;
    }
  }
  EXPECT_EQ(Row("pods", "", "{}"),
            R"(["","0/0","","0","<unknown>","<none>","<none>","<none>","<none>"])");
  EXPECT_EQ(Row("services", "", "{}"),
            R"(["","ClusterIP","<none>","<none>","<none>","<unknown>","<none>"])");
  EXPECT_EQ(Row("events", "", "{}"), R"(["<unknown>","","","","","","","<unknown>",1,""])");
}

// ---- The Table envelope and row objects ----

TEST_F(PrintersTest, WatchEventTableHasOneRowWithPartialObjectMetadata) {
  json::object pod = Parse(R"({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"},
                 "resourceVersion": "42", "creationTimestamp": "2023-12-31T23:59:00Z"},
    "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    "status": {"phase": "Pending"}})");
  Result<json::object> table = Table("pods", "", {pod}, TableOptions{.resource_version = "42"});
  ASSERT_TRUE(table.ok());
  json::object& first_column = table->at("columnDefinitions").as_array()[0].as_object();
  EXPECT_EQ(SerializeJson(first_column),
            R"({"name":"Name","type":"string","format":"name",)"
            R"("description":"Name of the object, unique in its namespace.","priority":0})");
  table->erase("columnDefinitions");
  EXPECT_EQ(SerializeJson(*table),
            R"({"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"42"},)"
            R"("rows":[{"cells":["web","0/1","Pending","0","60s","<none>","<none>","<none>",)"
            R"("<none>"],"object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1",)"
            R"("metadata":{"name":"web","namespace":"default","labels":{"app":"web"},)"
            R"("resourceVersion":"42","creationTimestamp":"2023-12-31T23:59:00Z"}}}]})");
}

TEST_F(PrintersTest, IncludeObjectChoosesWhatRowsCarry) {
  json::object config_map = Parse(R"({"apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "c"}, "data": {"k": "v"}})");
  Result<json::object> whole =
      Table("configmaps", "", {config_map},
            TableOptions{.include_object = TableObjectKind::kObject, .continue_token = "abc"});
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(SerializeJson(whole->at("metadata")), R"({"continue":"abc"})");
  EXPECT_EQ(whole->at("rows").as_array()[0].as_object().at("object"), json::value(config_map));

  Result<json::object> bare =
      Table("configmaps", "", {config_map}, TableOptions{.include_object = TableObjectKind::kNone});
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(SerializeJson(bare->at("rows")), R"([{"cells":["c",1,"<unknown>"]}])");
  EXPECT_EQ(SerializeJson(bare->at("metadata")), "{}");

  Result<json::object> no_metadata = Table("configmaps", "", {json::object()});
  ASSERT_TRUE(no_metadata.ok());
  EXPECT_EQ(SerializeJson(no_metadata->at("rows").as_array()[0].as_object().at("object")),
            R"({"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{}})");
}

TEST_F(PrintersTest, EmptyListHasNoRows) {
  Result<json::object> table = Table("pods", "", {});
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(SerializeJson(table->at("rows")), "[]");
}

TEST_F(PrintersTest, NullObjectIsAnError) {
  Result<json::object> table = BuildTable("pods", "", {nullptr}, {}, clock_);
  EXPECT_EQ(table.status().code(), StatusCode::kInvalidArgument);
}

// The streamed Table (a LIST from the watch cache) is BuildTable's Table, byte for byte, for
// every includeObject, with rows that carry conditions and objects without metadata.
TEST_F(PrintersTest, TableTextWriterWritesWhatBuildTablePrints) {
  const std::vector<json::object> pods = {
      Parse(R"({"metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"},
                 "creationTimestamp": "2023-12-31T23:00:00Z"},
               "spec": {"nodeName": "node01", "containers": [{"name": "c"}]},
               "status": {"phase": "Succeeded", "containerStatuses": [{"name": "c",
                 "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}})"),
      Parse(R"({"metadata": {"name": "web-2", "creationTimestamp": "2023-12-31T23:59:00Z"},
               "status": {"phase": "Pending"}})"),
      json::object(),
  };
  std::vector<const json::object*> pointers;
  for (const json::object& pod : pods) pointers.push_back(&pod);
  for (TableObjectKind include : {TableObjectKind::kPartialObjectMetadata,
                                  TableObjectKind::kObject, TableObjectKind::kNone}) {
    const TableOptions options{.include_object = include, .resource_version = "42",
                               .continue_token = "abc"};
    Result<json::object> built = BuildTable("pods", "", pointers, options, clock_);
    ASSERT_TRUE(built.ok());
    TableTextWriter writer("pods", "", options, clock_);
    std::string text = writer.Head();
    for (const json::object& pod : pods) writer.AppendRow(pod, text);
    text.append(TableTextWriter::Tail());
    EXPECT_EQ(text, SerializeJson(*built));
  }
  TableTextWriter empty("configmaps", "", {}, clock_);
  Result<json::object> built_empty = BuildTable("configmaps", "", {}, {}, clock_);
  ASSERT_TRUE(built_empty.ok());
  EXPECT_EQ(empty.Head() + std::string(TableTextWriter::Tail()), SerializeJson(*built_empty));
}

TEST(ParseIncludeObjectTest, KnownValuesAndErrors) {
  EXPECT_EQ(*ParseIncludeObject(""), TableObjectKind::kPartialObjectMetadata);
  EXPECT_EQ(*ParseIncludeObject("Metadata"), TableObjectKind::kPartialObjectMetadata);
  EXPECT_EQ(*ParseIncludeObject("Object"), TableObjectKind::kObject);
  EXPECT_EQ(*ParseIncludeObject("None"), TableObjectKind::kNone);
  EXPECT_EQ(ParseIncludeObject("metadata").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kelp::api
