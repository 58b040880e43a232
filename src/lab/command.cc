// `kelp lab` subcommands over lab.h.
#include "lab/command.h"

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lab/lab.h"

namespace kelp::lab {

struct LabCommand::State {
  LabOptions options;
  std::string node;
  std::vector<std::string> command;
  bool follow = false;
  CLI::App* lab = nullptr;
  CLI::App* up = nullptr;
  CLI::App* down = nullptr;
  CLI::App* status = nullptr;
  CLI::App* exec = nullptr;
  CLI::App* logs = nullptr;
};

LabCommand::LabCommand(CLI::App& app) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.lab = app.add_subcommand("lab", "A multi-node cluster on this machine, in network namespaces");
  s.lab->require_subcommand(1);
  auto common = [&s](CLI::App* cmd) {
    cmd->add_option("--dir", s.options.dir, "Where the lab keeps its state and node files")
        ->capture_default_str();
    cmd->add_option("--prefix", s.options.prefix, "Prefix of the lab's namespaces and links")
        ->capture_default_str();
  };
  s.up = s.lab->add_subcommand("up", "Make the lab and wait until every node is Ready");
  s.up->add_option("--nodes", s.options.nodes, "Nodes: master, node01, node02, ...")
      ->capture_default_str();
  s.up->add_option("--flannel-backend", s.options.flannel_backend, "vxlan, host-gw or udp")
      ->capture_default_str();
  s.up->add_option("--subnet", s.options.subnet, "The nodes' LAN (a /24); .1 is the host")
      ->capture_default_str();
  s.up->add_flag("--hollow", s.options.hollow,
                 "Hollow agents: nodes register and report pods Running without containers");
  s.up->add_option("--image", s.options.images,
                   "An image archive to load on every node (repeatable; default: the *.tar files "
                   "in the images folder beside the kelp binary)");
  common(s.up);
  s.down = s.lab->add_subcommand("down", "Remove everything the lab made (safe to repeat)");
  common(s.down);
  s.status = s.lab->add_subcommand("status", "Nodes, addresses and processes");
  common(s.status);
  s.exec = s.lab->add_subcommand("exec", "Run a command inside a node: exec NODE -- CMD ...");
  s.exec->add_option("node", s.node, "master, node01, ...")->required();
  s.exec->add_option("command", s.command, "The command and its arguments")->required();
  common(s.exec);
  s.logs = s.lab->add_subcommand("logs", "The kelp server/agent logs of a node");
  s.logs->add_option("node", s.node, "master, node01, ...")->required();
  s.logs->add_flag("-f,--follow", s.follow, "Keep printing as the logs grow");
  common(s.logs);
}

LabCommand::~LabCommand() = default;

bool LabCommand::parsed() const { return state_->lab->parsed(); }

int LabCommand::Run() {
  State& s = *state_;
  Status status;
  if (s.up->parsed()) {
    status = Up(s.options, std::cout);
  } else if (s.down->parsed()) {
    status = Down(s.options, std::cout);
  } else if (s.status->parsed()) {
    status = PrintStatus(s.options, std::cout);
  } else if (s.exec->parsed()) {
    status = ExecInNode(s.options, s.node, s.command);
  } else if (s.logs->parsed()) {
    status = PrintLogs(s.options, s.node, s.follow, std::cout);
  }
  if (status.ok()) return 0;
  std::fprintf(stderr, "kelp lab: %s\n", status.message().c_str());
  return 1;
}

}  // namespace kelp::lab
