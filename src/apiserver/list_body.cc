// CachedListBody: the chunks of a LIST from the watch cache. The objects are the snapshot the
// handler took (shared pointers, so later writes do not change what this LIST shows); each
// Next() copies or prints objects until the chunk is full.
#include "apiserver/list_body.h"

#include <boost/json.hpp>

namespace kelp::apiserver {
namespace {

namespace json = boost::json;

// Large enough for a typical object's DOM; a larger one spills into the heap for that object.
constexpr size_t kScratchBytes = 64 * 1024;

}  // namespace

CachedListBody::CachedListBody(std::string head,
                               std::vector<std::shared_ptr<const CachedObject>> objects,
                               ObjectFilter filter, std::unique_ptr<api::TableTextWriter> table,
                               std::string tail)
    : head_(std::move(head)),
      objects_(std::move(objects)),
      filter_(std::move(filter)),
      table_(std::move(table)),
      tail_(std::move(tail)),
      scratch_buffer_(new unsigned char[kScratchBytes]),
      scratch_(scratch_buffer_.get(), kScratchBytes) {}

size_t CachedListBody::JsonBytes(const std::vector<std::shared_ptr<const CachedObject>>& objects) {
  size_t bytes = 0;
  for (const std::shared_ptr<const CachedObject>& object : objects) bytes += object->json.size() + 1;
  return bytes;
}

std::optional<std::string> CachedListBody::Next() {
  if (ended_ || cancelled_) return std::nullopt;
  std::string chunk;
  chunk.reserve(kChunkBytes + kChunkBytes / 8);
  if (!head_sent_) {
    chunk.append(head_);
    head_sent_ = true;
  }
  while (next_ < objects_.size() && chunk.size() < kChunkBytes) {
    if (cancelled_) return std::nullopt;
    Append(*objects_[next_++], chunk);
  }
  if (next_ == objects_.size()) {
    chunk.append(tail_);
    ended_ = true;
  }
  return chunk;
}

void CachedListBody::Append(const CachedObject& object, std::string& chunk) {
  if (filter_.Empty() && !table_) {
    if (!first_item_) chunk.push_back(',');
    first_item_ = false;
    chunk.append(object.json);
    return;
  }
  scratch_.release();
  parser_.reset(json::storage_ptr(&scratch_));
  boost::system::error_code error;
  parser_.write(object.json, error);
  if (error) return;  // the cache holds only what it serialized itself
  json::value value = parser_.release();
  if (!value.is_object() || !filter_.Matches(value.as_object())) return;
  if (table_) {
    table_->AppendRow(value.as_object(), chunk);
    return;
  }
  if (!first_item_) chunk.push_back(',');
  first_item_ = false;
  chunk.append(object.json);
}

}  // namespace kelp::apiserver
