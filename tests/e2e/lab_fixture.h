// The fixture of the `kelp lab` e2e tests: each test gets its own prefix, /24 and directory,
// runs `kelp lab` subcommands and the real kubectl against its lab, checks what a lab leaves on
// the host, and runs `down` at the end whatever happened. Root.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/file.h"
#include "common/testing/temp_dir.h"
#include "lab/node_process.h"
#include "tests/e2e/harness.h"

namespace kelp::e2e {

class LabFixture : public ::testing::Test {
 protected:
  // `stem`: the prefix's first letters; `second_octet`: the test's subnets are
  // 10.<second_octet>.<pid % 250>.0/24, so different test binaries never share one.
  LabFixture(std::string stem, int second_octet) : stem_(std::move(stem)), octet_(second_octet) {}

  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "kelp lab needs root";
    const int id = getpid() % 100000;
    prefix_ = stem_ + std::to_string(id);
    subnet_base_ = "10." + std::to_string(octet_) + "." + std::to_string(id % 250) + ".";
    lab_dir_ = (dir_.path() / "lab").string();
    ASSERT_TRUE(CreateDirectories(dir_.path() / "home", 0700).ok());
  }
  void TearDown() override { Lab({"down"}); }

  // Runs `kelp lab <args[0]> --prefix P --dir D <args[1..]>`.
  ProcessResult Lab(std::vector<std::string> args) {
    std::vector<std::string> argv = {KELP_BINARY, "lab", args[0], "--prefix", prefix_, "--dir",
                                     lab_dir_};
    argv.insert(argv.end(), args.begin() + 1, args.end());
    Result<ProcessResult> result = runner_.Run({.argv = argv, .timeout = std::chrono::seconds(180)});
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? *result : ProcessResult{};
  }
  ProcessResult Kube(std::vector<std::string> args) {
    e2e::Kubectl kubectl(runner_, dir_.path() / "home", lab_dir_ + "/kubeconfig.yaml");
    return kubectl.Run(args);
  }
  // kubectl's output, expecting it to succeed.
  std::string KubeOk(std::vector<std::string> args) {
    ProcessResult result = Kube(std::move(args));
    EXPECT_EQ(result.exit_code, 0) << result.stderr_data;
    return result.stdout_data;
  }
  // What a lab leaves behind on the host: namespaces, links, mounts, files, processes, cgroups.
  std::string Leftovers() {
    std::string left;
    Result<ProcessResult> netns = runner_.Run({.argv = {"ip", "netns", "list"}});
    if (netns.ok() && netns->stdout_data.find(prefix_ + "-") != std::string::npos) {
      left += "netns: " + netns->stdout_data;
    }
    Result<ProcessResult> links = runner_.Run({.argv = {"ip", "-o", "link", "show"}});
    if (links.ok() && links->stdout_data.find(prefix_ + "-lab0") != std::string::npos) {
      left += "link " + prefix_ + "-lab0; ";
    }
    if (ReadFile("/proc/self/mountinfo").value_or("").find(lab_dir_) != std::string::npos) {
      left += "mounts under " + lab_dir_ + "; ";
    }
    if (std::filesystem::exists(lab_dir_)) left += lab_dir_ + " exists; ";
    Result<ProcessResult> processes = runner_.Run({.argv = {"pgrep", "-f", lab_dir_}});
    if (processes.ok() && !processes->stdout_data.empty()) {
      left += "processes: " + processes->stdout_data;
    }
    for (const std::filesystem::path& cgroup : lab::FindCgroupSubtrees(prefix_ + "-lab")) {
      left += "cgroup " + cgroup.string() + "; ";
    }
    return left;
  }

  kelp::testing::ScopedTempDir dir_;
  SubprocessRunner runner_;
  std::string prefix_;
  std::string subnet_base_;
  std::string lab_dir_;

 private:
  std::string stem_;
  int octet_;
};

}  // namespace kelp::e2e
