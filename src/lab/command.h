// The `kelp lab` command line (CLI11): up, down, status, exec, logs and their flags, kept here
// so src/main.cc only registers the group and hands over.
#pragma once

#include <memory>

namespace CLI {
class App;
}

namespace kelp::lab {

class LabCommand {
 public:
  // Adds `lab` and its subcommands to `app`.
  explicit LabCommand(CLI::App& app);
  ~LabCommand();
  bool parsed() const;
  // Runs the parsed subcommand; the process exit code.
  int Run();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace kelp::lab
