// BuildOciSpec against golden config.json files (testdata/*.json; regenerate with
// KELP_UPDATE_GOLDEN=1 and review the diff), plus Kubernetes' command/args and env rules.
#include "agent/runtime/oci_spec.h"

#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/file.h"

namespace kelp::agent {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;

// Two-space indented JSON so golden files are reviewable.
void Pretty(const json::value& v, std::string& out, int indent) {
  std::string pad(indent + 2, ' ');
  if (v.is_object() && !v.as_object().empty()) {
    out += "{\n";
    bool first = true;
    for (const auto& [key, value] : v.as_object()) {
      if (!first) out += ",\n";
      first = false;
      out += pad + json::serialize(json::value(key)) + ": ";
      Pretty(value, out, indent + 2);
    }
    out += "\n" + std::string(indent, ' ') + "}";
  } else if (v.is_array() && !v.as_array().empty()) {
    out += "[\n";
    bool first = true;
    for (const json::value& value : v.as_array()) {
      if (!first) out += ",\n";
      first = false;
      out += pad;
      Pretty(value, out, indent + 2);
    }
    out += "\n" + std::string(indent, ' ') + "]";
  } else {
    out += json::serialize(v);
  }
}

void ExpectGolden(const json::object& spec, const std::string& name) {
  std::string text;
  Pretty(spec, text, 0);
  text += "\n";
  std::string path = std::string(KELP_RUNTIME_TESTDATA) + "/" + name;
  if (std::getenv("KELP_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << text;
    return;
  }
  Result<std::string> golden = ReadFile(path);
  ASSERT_TRUE(golden.ok()) << golden.status().ToString();
  EXPECT_EQ(text, *golden) << "golden " << path << " differs";
}

ImageConfig NginxLikeImage() {
  return ImageConfig{.entrypoint = {"/docker-entrypoint.sh"},
                     .cmd = {"nginx", "-g", "daemon off;"},
                     .env = {"PATH=/usr/local/bin:/usr/bin:/bin", "NGINX_VERSION=1.22"},
                     .working_dir = "/srv",
                     .user = ""};
}

OciSpecInput PodInput(const ContainerConfig& c, const ImageConfig& image) {
  return OciSpecInput{
      .container = &c,
      .image = &image,
      .user = {.uid = 101, .gid = 101, .additional_gids = {101, 5}},
      .hostname = "web-0",
      .rootfs_path = "/var/lib/kelp/runtime/containers/c1/rootfs",
      .cgroups_path = "kelp/node01/pod1234/c1",
      .netns_path = "/run/netns/kelp-s1",
      .uts_ns_path = "/var/lib/kelp/runtime/sandboxes/s1/ns/uts",
      .ipc_ns_path = "/var/lib/kelp/runtime/sandboxes/s1/ns/ipc",
      .hosts_file = "/var/lib/kelp/runtime/sandboxes/s1/hosts",
      .resolv_conf_file = "/var/lib/kelp/runtime/sandboxes/s1/resolv.conf",
      .hostname_file = "/var/lib/kelp/runtime/sandboxes/s1/hostname",
      .annotations = {{"io.kubernetes.pod.name", "web-0"},
                      {"io.kubernetes.container.name", "nginx"}}};
}

TEST(OciSpecTest, PodContainerGolden) {
  ContainerConfig c{.name = "nginx",
                    .image = "nginx:1.22",
                    .args = {"nginx", "-g", "daemon off; worker_processes 1;"},
                    .env = {{"NGINX_VERSION", "1.23"}, {"POD_IP", "10.244.1.5"}},
                    .mounts = {{"/data/cache", "/var/lib/kelp/runtime/sandboxes/s1/volumes/cache"},
                               {"/data", "/var/lib/kelp/runtime/sandboxes/s1/volumes/data", true}},
                    .resources = ContainerResources::FromKubernetes(250, 500, 64 << 20),
                    .security = {.read_only_root_filesystem = true,
                                 .allow_privilege_escalation = false,
                                 .add_capabilities = {"NET_ADMIN"},
                                 .drop_capabilities = {"MKNOD", "CAP_NET_RAW"}}};
  c.resources.oom_score_adj = 999;
  ImageConfig image = NginxLikeImage();
  Result<json::object> spec = BuildOciSpec(PodInput(c, image));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ExpectGolden(*spec, "oci_pod_container.json");
}

TEST(OciSpecTest, HostNetworkTtyGolden) {
  ContainerConfig c{.name = "shell", .image = "busybox", .command = {"sh"}, .tty = true};
  ImageConfig image{.cmd = {"sh"}};
  OciSpecInput input = PodInput(c, image);
  input.user = {};
  input.netns_path = "";
  input.uts_ns_path = "";
  input.ipc_ns_path = "";
  input.hosts_file = "";
  input.annotations = {};
  Result<json::object> spec = BuildOciSpec(input);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ExpectGolden(*spec, "oci_host_network_tty.json");
}

TEST(OciSpecTest, CommandAndArgsFollowKubernetesRules) {
  ImageConfig image{.entrypoint = {"/ep"}, .cmd = {"default-arg"}};
  auto args = [&](std::vector<std::string> command, std::vector<std::string> a) {
    ContainerConfig c{.command = std::move(command), .args = std::move(a)};
    return ContainerArgs(c, image).value_or({"<error>"});
  };
  EXPECT_THAT(args({}, {}), ElementsAre("/ep", "default-arg"));
  EXPECT_THAT(args({}, {"x"}), ElementsAre("/ep", "x"));
  EXPECT_THAT(args({"/bin/sh"}, {}), ElementsAre("/bin/sh"));
  EXPECT_THAT(args({"/bin/sh"}, {"-c", "true"}), ElementsAre("/bin/sh", "-c", "true"));
  ImageConfig empty;
  EXPECT_EQ(ContainerArgs(ContainerConfig{}, empty).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(OciSpecTest, EnvMergesImageThenPodAndAddsDefaults) {
  ImageConfig image{.env = {"A=1", "B=2"}};
  ContainerConfig c{.env = {{"B", "3"}, {"C", "4"}}};
  EXPECT_THAT(ContainerEnv(c, image, "h"),
              ElementsAre("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                          "A=1", "B=3", "HOSTNAME=h", "C=4"));
}

TEST(OciSpecTest, DropAllThenAdd) {
  ContainerConfig c{.command = {"x"},
                    .security = {.add_capabilities = {"net_bind_service"},
                                 .drop_capabilities = {"ALL"}}};
  ImageConfig image;
  OciSpecInput input = PodInput(c, image);
  Result<json::object> spec = BuildOciSpec(input);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->at("process").at("capabilities").at("bounding"),
            json::array{"CAP_NET_BIND_SERVICE"});
}

TEST(OciSpecTest, RefusesPrivilegedAndRelativeWorkingDir) {
  ImageConfig image{.cmd = {"sh"}};
  ContainerConfig privileged{.security = {.privileged = true}};
  EXPECT_EQ(BuildOciSpec(PodInput(privileged, image)).status().code(),
            StatusCode::kUnimplemented);
  ContainerConfig relative{.working_dir = "srv"};
  EXPECT_EQ(BuildOciSpec(PodInput(relative, image)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(OciSpecTest, KubernetesCpuAndMemoryConversion) {
  ContainerResources r = ContainerResources::FromKubernetes(100, 1500, 128 << 20);
  EXPECT_EQ(r.cpu_shares, 102);
  EXPECT_EQ(r.cpu_quota, 150000);
  EXPECT_EQ(r.cpu_period, 100000);
  EXPECT_EQ(r.memory_limit_bytes, 128 << 20);
  EXPECT_EQ(ContainerResources::FromKubernetes(0, 0, 0).cpu_shares, 2);
  EXPECT_EQ(ContainerResources::FromKubernetes(0, 200, 0).cpu_shares, 204);
}

}  // namespace
}  // namespace kelp::agent
