// `kelp`: one binary, several commands. This file only parses the command line (CLI11) and
// hands over to the component that implements each command; commands arrive as their
// components do (server now; agent, lab, images, bgp, kubectl later).
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "version.h"

namespace {

int RunVersion() {
  std::printf("kelp version v%s (commit %s)\n", kelp::kVersion, kelp::kGitCommit);
  std::printf("Kubernetes API compatibility: v1.32\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kelp: a lightweight Kubernetes-compatible cluster with built-in pod networking",
               "kelp"};
  app.require_subcommand(1);
  CLI::App* version = app.add_subcommand("version", "Print the kelp version");

  CLI11_PARSE(app, argc, argv);

  if (version->parsed()) return RunVersion();
  return 1;
}
