// Server-side printing: the meta.k8s.io/v1 Table that kubectl asks for on `get` (Accept
// "application/json;as=Table;v=v1;g=meta.k8s.io"). Each known resource gets Kubernetes' own
// columns and cell formats (pods: NAME READY STATUS RESTARTS AGE | IP NODE ...); anything else
// gets NAME and AGE. Priority-1 columns are always filled; kubectl shows them with `-o wide`.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace kelp::api {

// What each row's "object" holds, from the `includeObject` query parameter.
enum class TableObjectKind {
  kPartialObjectMetadata,  // "Metadata" (the default): kind PartialObjectMetadata + metadata
  kObject,                 // "Object": the whole stored object
  kNone,                   // "None": no object in the row
};

struct TableOptions {
  TableObjectKind include_object = TableObjectKind::kPartialObjectMetadata;
  std::string resource_version;  // the Table's metadata.resourceVersion; empty leaves it out
  std::string continue_token;    // metadata.continue of a paged list; empty leaves it out
};

// Parses the `includeObject` query parameter: "" or "Metadata", "Object", "None".
// Anything else is InvalidArgument.
Result<TableObjectKind> ParseIncludeObject(std::string_view value);

// Builds the Table for `objects` of `resource` (plural, e.g. "pods") in API `group` ("" for
// the core group). Ages are measured against clock.WallNow(). Objects missing fields still
// print (blank, 0 or <none> cells). A null entry in `objects` is InvalidArgument. A watch
// event's object is BuildTable over the one object.
Result<boost::json::object> BuildTable(std::string_view resource, std::string_view group,
                                       const std::vector<const boost::json::object*>& objects,
                                       const TableOptions& options, const Clock& clock);

// The same Table written as text one row at a time, so a LIST of thousands of objects never
// holds a Table DOM: Head(), then AppendRow per object (rows separated by commas), then Tail().
// The text parses to what BuildTable returns for the same objects at the same time.
struct ResourcePrinter;  // printers.cc: a resource's columns and row printer

class TableTextWriter {
 public:
  TableTextWriter(std::string_view resource, std::string_view group, TableOptions options,
                  const Clock& clock);

  // `{"kind":"Table",...,"rows":[`
  std::string Head() const;
  // Appends the row of `object` (preceded by a comma unless it is the first row).
  void AppendRow(const boost::json::object& object, std::string& out);
  // `]}`
  static std::string_view Tail() { return "]}"; }

 private:
  const ResourcePrinter& printer_;
  TableOptions options_;
  std::chrono::system_clock::time_point now_;
  bool first_row_ = true;
};

}  // namespace kelp::api
