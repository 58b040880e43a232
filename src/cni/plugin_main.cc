// main() of build/kelp-cni: reads stdin, runs the plugin for the name it was invoked as
// (kelp-bridge, kelp-ipam, kelp-flannel...) and prints the result or CNI error JSON.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <string>

#include "cni/plugin.h"

int main(int argc, char** argv) {
  std::string stdin_data;
  if (isatty(STDIN_FILENO) == 0) {
    stdin_data.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::string invoked_as =
      argc > 0 ? std::filesystem::path(argv[0]).filename().string() : "kelp-cni";
  auto lookup = [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  kelp::cni::PluginOutput out = kelp::cni::RunPlugin(lookup, stdin_data, invoked_as, kelp::cni::MakeRealSystem);
  std::cout << out.stdout_data << std::flush;
  return out.exit_code;
}
