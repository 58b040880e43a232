// The body of a LIST answered from the watch cache, made in chunks while the transport writes
// them: the list's head, then each object's cached JSON as it is (or, for a Table, its row
// printed from a parse into a scratch arena reused object by object), then the tail. Nothing
// the size of the whole list is ever built; memory stays at a chunk or two per LIST in flight.
#pragma once

#include <atomic>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/printers.h"
#include "apiserver/router.h"
#include "apiserver/selection.h"
#include "apiserver/watch_cache.h"

namespace kelp::apiserver {

class CachedListBody final : public ResponseStream {
 public:
  // A chunk is closed once it holds this much (under glibc's mmap threshold, so chunk buffers
  // are reused from the heap instead of being mapped and faulted in anew).
  static constexpr size_t kChunkBytes = 128 * 1024;

  // `objects` in order; those `filter` rejects are left out. Without `table`, the body is
  // `head`, the objects' JSON separated by commas, `tail`; with it, `head` and `tail` are the
  // Table's and each object becomes a row.
  CachedListBody(std::string head, std::vector<std::shared_ptr<const CachedObject>> objects,
                 ObjectFilter filter, std::unique_ptr<api::TableTextWriter> table,
                 std::string tail);

  std::optional<std::string> Next() override;
  void Cancel() override { cancelled_ = true; }
  bool KeepsConnection() const override { return true; }

  // The sum of the objects' JSON sizes: what the body of a plain list is about to weigh.
  static size_t JsonBytes(const std::vector<std::shared_ptr<const CachedObject>>& objects);

 private:
  // Appends the object's part of the body to `chunk`.
  void Append(const CachedObject& object, std::string& chunk);

  std::string head_;
  const std::vector<std::shared_ptr<const CachedObject>> objects_;
  const ObjectFilter filter_;
  const std::unique_ptr<api::TableTextWriter> table_;
  std::string tail_;
  size_t next_ = 0;
  bool head_sent_ = false;
  bool ended_ = false;
  bool first_item_ = true;
  std::atomic<bool> cancelled_{false};
  // Objects are parsed only to filter or print them: into this arena, released each time.
  std::unique_ptr<unsigned char[]> scratch_buffer_;
  boost::json::monotonic_resource scratch_;
  boost::json::parser parser_;
};

}  // namespace kelp::apiserver
