// libFuzzer target for the selector parsers: any labelSelector/fieldSelector query a client
// sends must parse or fail with a Status, never crash. A parsed label selector must also print
// to a string that parses back to the same selector. Seeds: testdata/selector_corpus/.
#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/selectors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const boost::json::object labels{{"app", "web"}, {"tier", "db"}, {"n", "3"}};
  kelp::Result<kelp::api::LabelSelector> label_selector = kelp::api::LabelSelector::Parse(text);
  if (label_selector.ok()) {
    (void)label_selector->Matches(&labels);
    const std::string printed = label_selector->ToString();
    kelp::Result<kelp::api::LabelSelector> reparsed = kelp::api::LabelSelector::Parse(printed);
    if (!reparsed.ok() || reparsed->ToString() != printed) std::abort();
  }
  const boost::json::object pod{{"metadata", {{"name", "p"}}}, {"spec", {{"nodeName", "n1"}}}};
  kelp::Result<kelp::api::FieldSelector> field_selector = kelp::api::FieldSelector::Parse(text, "pods");
  if (field_selector.ok()) (void)field_selector->Matches(pod);
  return 0;
}
