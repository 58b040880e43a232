// Fuzz target over the kubelet Summary documents the metrics API parses (a node's answer is
// outside input to the API server).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "apiserver/metrics_api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::pair<std::chrono::system_clock::time_point, uint64_t>> cumulative;
  kelp::apiserver::MetricsApi::Scrape scrape;
  // Twice, so the second pass computes rates against the first.
  (void)kelp::apiserver::AddSummaryToScrape(input, cumulative, scrape, std::chrono::seconds(10));
  (void)kelp::apiserver::AddSummaryToScrape(input, cumulative, scrape, std::chrono::seconds(10));
  return 0;
}
