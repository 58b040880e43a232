// libFuzzer target for what the proxy reads from the API: a Service and an EndpointSlice as
// JSON. Each must parse or fail with a Status, never crash, and whatever parses must turn into
// rules without crashing (the first half of the input is the Service, the second the slice).
// Seeds: testdata/objects_corpus/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/json.h"
#include "proxy/ruleset.h"
#include "proxy/service_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // A seed holds both objects separated by a line "---"; without it both get the whole input.
  const size_t split = text.find("\n---\n");
  const std::string_view service_text =
      split == std::string_view::npos ? text : text.substr(0, split);
  const std::string_view slice_text =
      split == std::string_view::npos ? text : text.substr(split + 5);
  kelp::Result<boost::json::object> service_json = kelp::ParseJsonObject(service_text);
  kelp::Result<boost::json::object> slice_json = kelp::ParseJsonObject(slice_text);
  if (!service_json.ok() || !slice_json.ok()) return 0;
  auto service = kelp::proxy::ParseService(*service_json);
  auto slice = kelp::proxy::ParseEndpointSlice(*slice_json);
  if (!service.ok() || !service->has_value()) return 0;
  std::vector<kelp::proxy::EndpointSlice> slices;
  if (slice.ok() && slice->has_value()) slices.push_back(**slice);
  kelp::proxy::RulesetOptions options;
  options.node_name = "node01";
  (void)kelp::proxy::BuildServiceRules(options, **service, slices);
  return 0;
}
