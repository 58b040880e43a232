// libFuzzer target for the apiserver's handling of untrusted request fields: arbitrary
// method, target, headers and body go through MakeRequest and the authenticated pipeline.
// (Beast's own HTTP parser is fuzzed upstream; this covers what kelp adds on top.)
// Input: "<method>\n<target>\n<Name: value>\n...\n\n<body>".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "apiserver/server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto next_line = [&input]() {
    size_t end = input.find('\n');
    std::string_view line = input.substr(0, end);
    input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);
    return std::string(line);
  };
  std::string method = next_line();
  std::string target = next_line();
  std::vector<std::pair<std::string, std::string>> headers;
  for (std::string line = next_line(); !line.empty(); line = next_line()) {
    size_t colon = line.find(':');
    headers.emplace_back(line.substr(0, colon),
                         colon == std::string::npos ? "" : line.substr(colon + 1));
  }
  static const kelp::apiserver::RequestHandler pipeline =
      kelp::apiserver::BuildRequestPipeline("fuzz-token");
  kelp::apiserver::HttpRequest request = kelp::apiserver::MakeRequest(
      std::move(method), std::move(target), std::move(headers), std::string(input));
  kelp::apiserver::HttpResponse response = pipeline(request);
  // Every answer must be a real HTTP status; anything else is a kelp bug.
  if (response.status < 200 || response.status >= 600) std::abort();
  return 0;
}
