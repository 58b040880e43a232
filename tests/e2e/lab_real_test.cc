// End to end: the classic three-node lab with real agents — `kelp lab up` (server + embedded
// agent on the master, `kelp agent` on node01/node02, flannel vxlan between them, the demo
// images loaded on every node), then the lab's flow with the real kubectl from the host:
// nginx:1.22 ×3 spread over the nodes with IPs from each node's /24, a distinct page per pod
// (kubectl exec), a NodePort curled at the master's address answering from every pod in turn,
// scale to 1, a deleted pod replaced; then `down` leaves nothing. Own prefix, subnet and
// directory; `down` runs at the end whatever happened. Root.
#include <unistd.h>

#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/e2e/lab_fixture.h"

namespace kelp::e2e {
namespace {

using namespace std::chrono_literals;

// Polls `ready` every 200 ms until it holds or `timeout` passes.
template <typename Predicate>
bool Eventually(Predicate ready, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(200ms);
  }
  return true;
}

class LabRealTest : public LabFixture {
 protected:
  LabRealTest() : LabFixture("kr", 214) {}

  // "name phase node ip" per app=nginx pod that is not being deleted.
  std::vector<std::vector<std::string>> NginxPods() {
    std::string out = Kube({"get", "pods", "-l", "app=nginx", "-o",
                            "jsonpath={range .items[*]}{.metadata.name} {.status.phase} "
                            "{.spec.nodeName} {.status.podIP} {.metadata.deletionTimestamp}\n{end}"})
                          .stdout_data;
    std::vector<std::vector<std::string>> pods;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      std::vector<std::string> fields;
      for (std::string word; words >> word;) fields.push_back(word);
      if (fields.size() == 4) pods.push_back(fields);  // 5 fields: terminating
    }
    return pods;
  }
  bool RunningNginx(size_t count) {
    std::vector<std::vector<std::string>> pods = NginxPods();
    if (pods.size() != count) return false;
    for (const auto& pod : pods) {
      if (pod[1] != "Running") return false;
    }
    return true;
  }
};

TEST_F(LabRealTest, ClassicLabFlowOverVxlanAndDownLeavesNothing) {
  ProcessResult up = Lab({"up", "--subnet", subnet_base_ + "0/24"});
  ASSERT_EQ(up.exit_code, 0) << up.stdout_data << up.stderr_data;
  EXPECT_NE(up.stdout_data.find("nginx:1.22"), std::string::npos) << "images loaded\n"
                                                                   << up.stdout_data;

  KubeOk({"create", "deployment", "nginx", "--image=nginx:1.22", "--replicas=3"});
  ASSERT_TRUE(Eventually([&] { return RunningNginx(3); }, 120s))
      << KubeOk({"get", "pods", "-o", "wide"}) << Lab({"logs", "node01"}).stdout_data;
  std::set<std::string> nodes;
  for (const auto& pod : NginxPods()) {
    nodes.insert(pod[2]);
    // Each node's pods get addresses from its own podCIDR.
    const std::string cidr =
        KubeOk({"get", "node", pod[2], "-o", "jsonpath={.spec.podCIDR}"});
    ASSERT_GE(cidr.size(), 9u);
    EXPECT_EQ(pod[3].substr(0, pod[3].rfind('.')), cidr.substr(0, cidr.rfind('.')))
        << pod[0] << " on " << pod[2] << " has " << pod[3] << ", node CIDR " << cidr;
    ProcessResult exec = Kube({"exec", pod[0], "--", "sh", "-c",
                               "echo \"Hello from $(hostname)\" > /usr/share/nginx/html/index.html"});
    EXPECT_EQ(exec.exit_code, 0) << exec.stderr_data;
  }
  EXPECT_EQ(nodes.size(), 3u) << "one pod per node";

  // kubectl top node: the lab's nodes share this machine, so each reports its own pods (one
  // nginx each: a few MiB), not the machine's memory.
  std::map<std::string, int> node_memory_mi;
  std::string top;
  EXPECT_TRUE(Eventually(
      [&] {
        ProcessResult result = Kube({"top", "node", "--no-headers"});
        top = result.stdout_data + result.stderr_data;
        node_memory_mi.clear();
        std::smatch row;
        const std::regex line(R"((\S+)\s+\d+m\s+\d+%\s+(\d+)Mi\s+\d+%)");
        for (auto it = top.cbegin(); std::regex_search(it, top.cend(), row, line);
             it = row.suffix().first) {
          node_memory_mi[row[1]] = std::stoi(row[2]);
        }
        return result.exit_code == 0 && node_memory_mi.size() == 3;
      },
      60s))
      << top;
  for (const auto& [node, mi] : node_memory_mi) EXPECT_LT(mi, 256) << node << "\n" << top;

  KubeOk({"expose", "deployment", "nginx", "--port=80", "--type=NodePort"});
  const std::string node_port =
      KubeOk({"get", "svc", "nginx", "-o", "jsonpath={.spec.ports[0].nodePort}"});
  ASSERT_FALSE(node_port.empty());
  const std::string url = "http://" + subnet_base_ + "10:" + node_port + "/";
  // Through the master's NodePort (pods on other nodes reached over vxlan), new connections
  // rotate through the endpoints: six requests see all three pages.
  std::set<std::string> pages;
  ASSERT_TRUE(Eventually(
      [&] {
        pages.clear();
        for (int i = 0; i < 6; ++i) {
          Result<ProcessResult> curl = runner_.Run(
              {.argv = {"curl", "-s", "--max-time", "3", url}, .timeout = 10s});
          if (curl.ok() && curl->exit_code == 0) pages.insert(curl->stdout_data);
        }
        return pages.size() == 3;
      },
      60s))
      << "pages seen: " << pages.size();
  for (const std::string& page : pages) EXPECT_EQ(page.rfind("Hello from nginx-", 0), 0u) << page;

  KubeOk({"scale", "deployment", "nginx", "--replicas=1"});
  ASSERT_TRUE(Eventually([&] { return RunningNginx(1); }, 60s));
  const std::string survivor = NginxPods().front()[0];
  KubeOk({"delete", "pod", survivor});
  ASSERT_TRUE(Eventually(
      [&] {
        std::vector<std::vector<std::string>> pods = NginxPods();
        return pods.size() == 1 && pods[0][0] != survivor && pods[0][1] == "Running";
      },
      60s));

  ProcessResult down = Lab({"down"});
  EXPECT_EQ(down.exit_code, 0) << down.stdout_data << down.stderr_data;
  EXPECT_EQ(Leftovers(), "");
}

}  // namespace
}  // namespace kelp::e2e
