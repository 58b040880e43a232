// JSON Patch, JSON merge patch and strategic merge patch over Boost.JSON documents. Every
// recursion follows the patch's structure, whose depth is capped before anything is applied,
// so a hostile patch cannot exhaust the stack; JSON Patch also caps what `copy` may duplicate.
#include "api/patch.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "common/json.h"

namespace kelp::api {
namespace {

namespace json = boost::json;

// Kubernetes' own decoder rejects deeper documents, so no stored object is deeper than this.
constexpr std::size_t kMaxDocumentDepth = 128;

// ---------------------------------------------------------------------------------------------
// Shared: parsing with limits, depth, equality.

// The nesting depth of `value` (a scalar is 0, `{"a":1}` is 1), or limit + 1 if it is deeper;
// the recursion never goes deeper than limit + 1 whatever the input.
std::size_t DepthUpTo(const json::value& value, std::size_t limit) {
  std::size_t deepest = 0;
  auto visit = [&](const json::value& child) {
    deepest = std::max(deepest, limit == 0 ? 1 : 1 + DepthUpTo(child, limit - 1));
    return deepest <= limit;
  };
  if (const json::object* object = value.if_object()) {
    if (object->empty()) return 1;
    for (const auto& member : *object) {
      if (!visit(member.value())) break;
    }
  } else if (const json::array* array = value.if_array()) {
    if (array->empty()) return 1;
    for (const json::value& element : *array) {
      if (!visit(element)) break;
    }
  }
  return deepest;
}

Result<json::value> ParsePatch(std::string_view text) {
  if (text.size() > kMaxPatchBytes) {
    return InvalidArgumentError(fmt::format("patch is larger than {} bytes", kMaxPatchBytes));
  }
  KELP_ASSIGN_OR_RETURN(json::value patch, ParseJson(text));
  if (DepthUpTo(patch, kMaxPatchDepth) > kMaxPatchDepth) {
    return InvalidArgumentError(fmt::format("patch nests deeper than {} levels", kMaxPatchDepth));
  }
  return patch;
}

// JSON equality as RFC 6902 defines it for `test`: numbers compare by value (1 equals 1.0),
// objects ignore member order. Recursion stops at the shallower side, i.e. within the patch.
bool JsonEqual(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) {
    if (!a.is_double() && !b.is_double()) return a == b;
    json::error_code ec_a;
    json::error_code ec_b;
    return a.to_number<double>(ec_a) == b.to_number<double>(ec_b) && !ec_a && !ec_b;
  }
  if (a.kind() != b.kind()) return false;
  if (const json::object* object = a.if_object()) {
    const json::object& other = b.get_object();
    if (object->size() != other.size()) return false;
    return std::all_of(object->begin(), object->end(), [&](const json::key_value_pair& member) {
      const json::value* match = other.if_contains(member.key());
      return match != nullptr && JsonEqual(member.value(), *match);
    });
  }
  if (const json::array* array = a.if_array()) {
    const json::array& other = b.get_array();
    return array->size() == other.size() &&
           std::equal(array->begin(), array->end(), other.begin(), JsonEqual);
  }
  return a == b;
}

// A string that is equal for list items that are equal as merge keys: like JsonEqual, a number
// spelled 80 or 80.0 is one key.
std::string CanonicalKey(const json::value& value) {
  if (const double* number = value.if_double()) {
    constexpr double kInt64Bound = 9.2e18;
    if (std::trunc(*number) == *number && std::fabs(*number) < kInt64Bound) {
      return std::to_string(static_cast<std::int64_t>(*number));
    }
  }
  return SerializeJson(value);
}

// ---------------------------------------------------------------------------------------------
// JSON Patch (RFC 6902).

// Finds a repeated member name, which Boost.JSON silently collapses (the last one wins) but
// which makes a JSON Patch document invalid (RFC 6902 appendix A.13): `{"op":"add",...,
// "op":"remove"}` must not run as either operation.
class DuplicateKeyFinder {
 public:
  static constexpr std::size_t max_object_size = std::numeric_limits<std::size_t>::max();
  static constexpr std::size_t max_array_size = std::numeric_limits<std::size_t>::max();
  static constexpr std::size_t max_key_size = std::numeric_limits<std::size_t>::max();
  static constexpr std::size_t max_string_size = std::numeric_limits<std::size_t>::max();

  const std::optional<std::string>& duplicate() const { return duplicate_; }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    open_objects_.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    open_objects_.pop_back();
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view part, std::size_t, json::error_code&) {
    key_.append(part.data(), part.size());
    return true;
  }
  bool on_key(json::string_view last, std::size_t, json::error_code& ec) {
    key_.append(last.data(), last.size());
    std::string key = std::move(key_);
    key_.clear();
    if (open_objects_.back().insert(key).second) return true;
    duplicate_ = std::move(key);
    ec = json::error::syntax;
    return false;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  std::vector<std::unordered_set<std::string>> open_objects_;
  std::string key_;
  std::optional<std::string> duplicate_;
};

// Called on text ParseJson already accepted, so the only failure left is a duplicate name.
Status RejectDuplicateKeys(std::string_view text) {
  json::parse_options options;
  options.max_depth = kMaxDocumentDepth;
  json::basic_parser<DuplicateKeyFinder> parser(options);
  json::error_code ec;
  parser.write_some(false, text.data(), text.size(), ec);
  if (const auto& duplicate = parser.handler().duplicate()) {
    return InvalidArgumentError(fmt::format(
        "jsonpatch: invalid patch: member \"{}\" appears twice in an object", *duplicate));
  }
  return Status::Ok();
}

// A parsed JSON Pointer (RFC 6901) with its text kept for messages.
struct Pointer {
  std::string text;
  std::vector<std::string> tokens;
};

Result<Pointer> ParsePointer(std::string_view text) {
  Pointer pointer{std::string(text), {}};
  if (text.empty()) return pointer;
  if (text.front() != '/') {
    return InvalidArgumentError(
        fmt::format("jsonpatch: invalid JSON pointer \"{}\": it must start with /", text));
  }
  std::string token;
  for (std::size_t i = 1; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '/') {
      pointer.tokens.push_back(std::move(token));
      token.clear();
      continue;
    }
    if (text[i] != '~') {
      token.push_back(text[i]);
      continue;
    }
    char escaped = i + 1 < text.size() ? text[i + 1] : '\0';
    if (escaped != '0' && escaped != '1') {
      return InvalidArgumentError(fmt::format(
          "jsonpatch: invalid JSON pointer \"{}\": ~ must be followed by 0 or 1", text));
    }
    token.push_back(escaped == '0' ? '~' : '/');
    ++i;
  }
  return pointer;
}

// An array index token: "0" or digits without a leading zero (RFC 6901 section 4).
std::optional<std::size_t> ParseArrayIndex(std::string_view token) {
  if (token.empty() || token.size() > 18) return std::nullopt;
  if (token.size() > 1 && token.front() == '0') return std::nullopt;
  std::size_t index = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
    index = index * 10 + static_cast<std::size_t>(c - '0');
  }
  return index;
}

// The value reached by the first `count` tokens, or nullptr.
json::value* Resolve(json::value& root, const std::vector<std::string>& tokens, std::size_t count) {
  json::value* current = &root;
  for (std::size_t i = 0; i < count; ++i) {
    if (json::object* object = current->if_object()) {
      current = object->if_contains(tokens[i]);
    } else if (json::array* array = current->if_array()) {
      std::optional<std::size_t> index = ParseArrayIndex(tokens[i]);
      current = index && *index < array->size() ? &(*array)[*index] : nullptr;
    } else {
      current = nullptr;
    }
    if (current == nullptr) return nullptr;
  }
  return current;
}

Status MissingPath(std::string_view op, const Pointer& path) {
  return InvalidArgumentError(
      fmt::format("jsonpatch {} operation does not apply: doc is missing path: {}", op, path.text));
}

std::size_t CountNodes(const json::value& value) {
  std::size_t nodes = 1;
  if (const json::object* object = value.if_object()) {
    for (const auto& member : *object) nodes += CountNodes(member.value());
  } else if (const json::array* array = value.if_array()) {
    for (const json::value& element : *array) nodes += CountNodes(element);
  }
  return nodes;
}

// Applies the operations of one JSON Patch to its own copy of the document.
class JsonPatcher {
 public:
  explicit JsonPatcher(json::value document) : document_(std::move(document)) {}

  Status Apply(json::value& operation);
  json::value TakeDocument() && { return std::move(document_); }

 private:
  Status Add(std::string_view op, const Pointer& path, json::value value);
  Status Remove(std::string_view op, const Pointer& path);
  Status Replace(const Pointer& path, json::value value);
  Status Move(const Pointer& from, const Pointer& path);
  Status Copy(const Pointer& from, const Pointer& path);
  Status Test(const Pointer& path, const json::value& value);

  json::value document_;
  std::size_t copied_nodes_ = 0;
};

Result<std::string_view> StringMember(const json::object& operation, std::string_view name) {
  const json::value* member = operation.if_contains(name);
  if (member == nullptr || !member->is_string()) {
    return InvalidArgumentError(fmt::format("jsonpatch: operation {} needs a string \"{}\"",
                                            SerializeJson(operation), name));
  }
  return std::string_view(member->get_string());
}

Status JsonPatcher::Apply(json::value& operation_value) {
  json::object* operation = operation_value.if_object();
  if (operation == nullptr) {
    return InvalidArgumentError("jsonpatch: every operation must be a JSON object");
  }
  KELP_ASSIGN_OR_RETURN(std::string_view op, StringMember(*operation, "op"));
  KELP_ASSIGN_OR_RETURN(std::string_view path_text, StringMember(*operation, "path"));
  KELP_ASSIGN_OR_RETURN(Pointer path, ParsePointer(path_text));
  if (op == "remove") return Remove(op, path);
  if (op == "move" || op == "copy") {
    KELP_ASSIGN_OR_RETURN(std::string_view from_text, StringMember(*operation, "from"));
    KELP_ASSIGN_OR_RETURN(Pointer from, ParsePointer(from_text));
    return op == "move" ? Move(from, path) : Copy(from, path);
  }
  if (op != "add" && op != "replace" && op != "test") {
    return InvalidArgumentError(fmt::format("jsonpatch: unknown operation \"{}\"", op));
  }
  json::value* value = operation->if_contains("value");
  if (value == nullptr) {
    return InvalidArgumentError(fmt::format("jsonpatch {} operation needs a \"value\"", op));
  }
  if (op == "test") return Test(path, *value);
  return op == "add" ? Add(op, path, std::move(*value)) : Replace(path, std::move(*value));
}

Status JsonPatcher::Add(std::string_view op, const Pointer& path, json::value value) {
  if (path.tokens.size() + DepthUpTo(value, kMaxDocumentDepth) > kMaxDocumentDepth) {
    return InvalidArgumentError(
        fmt::format("jsonpatch {} operation would nest the document deeper than {} levels", op,
                    kMaxDocumentDepth));
  }
  if (path.tokens.empty()) {
    document_ = std::move(value);
    return Status::Ok();
  }
  json::value* parent = Resolve(document_, path.tokens, path.tokens.size() - 1);
  if (parent == nullptr) return MissingPath(op, path);
  const std::string& last = path.tokens.back();
  if (json::object* object = parent->if_object()) {
    (*object)[last] = std::move(value);
    return Status::Ok();
  }
  json::array* array = parent->if_array();
  if (array == nullptr) return MissingPath(op, path);
  if (last == "-") {
    array->push_back(std::move(value));
    return Status::Ok();
  }
  std::optional<std::size_t> index = ParseArrayIndex(last);
  if (!index || *index > array->size()) {
    return InvalidArgumentError(fmt::format(
        "jsonpatch {} operation does not apply: index out of range: {}", op, path.text));
  }
  array->insert(array->begin() + static_cast<std::ptrdiff_t>(*index), std::move(value));
  return Status::Ok();
}

Status JsonPatcher::Remove(std::string_view op, const Pointer& path) {
  if (path.tokens.empty()) {
    return InvalidArgumentError(fmt::format(
        "jsonpatch {} operation does not apply: the document root cannot be removed", op));
  }
  json::value* parent = Resolve(document_, path.tokens, path.tokens.size() - 1);
  if (parent == nullptr) return MissingPath(op, path);
  const std::string& last = path.tokens.back();
  if (json::object* object = parent->if_object()) {
    return object->erase(last) == 1 ? Status::Ok() : MissingPath(op, path);
  }
  json::array* array = parent->if_array();
  std::optional<std::size_t> index = ParseArrayIndex(last);
  if (array == nullptr || !index || *index >= array->size()) return MissingPath(op, path);
  array->erase(array->begin() + static_cast<std::ptrdiff_t>(*index));
  return Status::Ok();
}

Status JsonPatcher::Replace(const Pointer& path, json::value value) {
  json::value* current = Resolve(document_, path.tokens, path.tokens.size());
  if (current == nullptr) return MissingPath("replace", path);
  if (path.tokens.size() + DepthUpTo(value, kMaxDocumentDepth) > kMaxDocumentDepth) {
    return InvalidArgumentError(
        fmt::format("jsonpatch replace operation would nest the document deeper than {} levels",
                    kMaxDocumentDepth));
  }
  *current = std::move(value);
  return Status::Ok();
}

Status JsonPatcher::Move(const Pointer& from, const Pointer& path) {
  json::value* source = Resolve(document_, from.tokens, from.tokens.size());
  if (source == nullptr) {
    return InvalidArgumentError(fmt::format(
        "jsonpatch move operation does not apply: doc is missing from path: {}", from.text));
  }
  if (from.tokens == path.tokens) return Status::Ok();
  bool into_itself = from.tokens.size() < path.tokens.size() &&
                     std::equal(from.tokens.begin(), from.tokens.end(), path.tokens.begin());
  if (into_itself) {
    return InvalidArgumentError(fmt::format(
        "jsonpatch move operation does not apply: {} cannot be moved into its own child {}",
        from.text, path.text));
  }
  json::value value = std::move(*source);
  KELP_RETURN_IF_ERROR(Remove("move", from));
  return Add("move", path, std::move(value));
}

Status JsonPatcher::Copy(const Pointer& from, const Pointer& path) {
  const json::value* source = Resolve(document_, from.tokens, from.tokens.size());
  if (source == nullptr) {
    return InvalidArgumentError(fmt::format(
        "jsonpatch copy operation does not apply: doc is missing from path: {}", from.text));
  }
  if (DepthUpTo(*source, kMaxDocumentDepth) > kMaxDocumentDepth) {
    return InvalidArgumentError("jsonpatch copy operation does not apply: value nests too deep");
  }
  copied_nodes_ += CountNodes(*source);
  if (copied_nodes_ > kMaxJsonPatchCopiedNodes) {
    return InvalidArgumentError(fmt::format(
        "jsonpatch copy operations duplicate more than {} values", kMaxJsonPatchCopiedNodes));
  }
  return Add("copy", path, *source);
}

Status JsonPatcher::Test(const Pointer& path, const json::value& value) {
  const json::value* current = Resolve(document_, path.tokens, path.tokens.size());
  if (current == nullptr) return MissingPath("test", path);
  if (!JsonEqual(*current, value)) {
    return InvalidArgumentError(fmt::format(
        "jsonpatch test operation does not apply: value differs at path: {}", path.text));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// JSON merge patch (RFC 7386).

void MergePatchInto(json::value& target, const json::value& patch) {
  const json::object* patch_object = patch.if_object();
  if (patch_object == nullptr) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = json::object();
  json::object& object = target.get_object();
  for (const auto& member : *patch_object) {
    if (member.value().is_null()) {
      object.erase(member.key());
      continue;
    }
    MergePatchInto(object[member.key()], member.value());
  }
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch.

constexpr std::string_view kPatchDirective = "$patch";
constexpr std::string_view kRetainKeysDirective = "$retainKeys";
constexpr std::string_view kSetElementOrderPrefix = "$setElementOrder/";
constexpr std::string_view kDeleteFromPrimitiveListPrefix = "$deleteFromPrimitiveList/";

std::string ChildPath(std::string_view path, std::string_view field) {
  return path.empty() ? std::string(field) : fmt::format("{}.{}", path, field);
}

// Where an error is, for messages: the dotted path, or "patch" at the root.
std::string_view Where(std::string_view path) { return path.empty() ? "patch" : path; }

// A list item with the key it is matched by: its merge key's value, or itself if primitive.
struct ListItem {
  json::value value;
  std::string key;
};

// Position of each key's first occurrence in a list.
using Positions = std::unordered_map<std::string, std::size_t>;
constexpr std::size_t kAbsent = std::numeric_limits<std::size_t>::max();

template <typename Items, typename KeyOf>
Positions PositionsOf(const Items& items, KeyOf key_of) {
  Positions positions;
  std::size_t position = 0;
  for (const auto& item : items) positions.emplace(key_of(item), position++);
  return positions;
}

std::size_t PositionOf(const Positions& positions, const std::string& key) {
  auto found = positions.find(key);
  return found == positions.end() ? kAbsent : found->second;
}

// Kubernetes' element order: items named in `order` come in that order, the others keep the
// stored order, and the two runs interleave where the stored list (`server`) orders them.
std::vector<ListItem> OrderItems(std::vector<ListItem> merged, const Positions& order,
                                 const Positions& server) {
  std::vector<ListItem> ordered;
  std::vector<ListItem> server_only;
  for (ListItem& item : merged) {
    (order.contains(item.key) ? ordered : server_only).push_back(std::move(item));
  }
  auto by = [](const Positions& positions) {
    return [&positions](const ListItem& a, const ListItem& b) {
      return PositionOf(positions, a.key) < PositionOf(positions, b.key);
    };
  };
  std::stable_sort(ordered.begin(), ordered.end(), by(order));
  std::stable_sort(server_only.begin(), server_only.end(), by(server));

  std::vector<ListItem> result;
  result.reserve(ordered.size() + server_only.size());
  auto next_ordered = ordered.begin();
  auto next_server = server_only.begin();
  while (next_ordered != ordered.end() || next_server != server_only.end()) {
    bool take_server = next_ordered == ordered.end();
    if (!take_server && next_server != server_only.end()) {
      std::size_t server_at = PositionOf(server, next_server->key);
      std::size_t ordered_at = PositionOf(server, next_ordered->key);
      take_server = server_at != kAbsent && ordered_at != kAbsent && server_at < ordered_at;
    }
    result.push_back(std::move(take_server ? *next_server++ : *next_ordered++));
  }
  return result;
}

enum class ElementKind { kNone, kObjects, kPrimitives };

Result<ElementKind> ClassifyElements(const json::array& original, const json::array& patch,
                                     std::string_view path) {
  ElementKind kind = ElementKind::kNone;
  for (const json::array* list : {&original, &patch}) {
    for (const json::value& element : *list) {
      if (element.is_array()) {
        return InvalidArgumentError(fmt::format("{}: lists of lists cannot be merged", path));
      }
      ElementKind this_kind =
          element.is_object() ? ElementKind::kObjects : ElementKind::kPrimitives;
      if (kind != ElementKind::kNone && kind != this_kind) {
        return InvalidArgumentError(
            fmt::format("{}: list mixes objects and primitives and cannot be merged", path));
      }
      kind = this_kind;
    }
  }
  return kind;
}

// A null key never equals a real JSON key, so stored items lacking the merge key match nothing.
std::string ItemKey(const json::value& item, std::string_view merge_key) {
  if (merge_key.empty()) return CanonicalKey(item);
  const json::object* object = item.if_object();
  const json::value* key = object == nullptr ? nullptr : object->if_contains(merge_key);
  return key == nullptr ? std::string(1, '\0') : CanonicalKey(*key);
}

std::vector<ListItem> ToListItems(json::array& list, std::string_view merge_key) {
  std::vector<ListItem> items;
  items.reserve(list.size());
  for (json::value& value : list) {
    std::string key = ItemKey(value, merge_key);
    items.push_back({std::move(value), std::move(key)});
  }
  return items;
}

// A merged list of primitives is a set: the stored values, then new patch values, each once.
std::vector<ListItem> MergePrimitiveItems(std::vector<ListItem> stored, json::array& patch,
                                          std::vector<std::string>& patch_keys) {
  std::vector<ListItem> merged;
  std::unordered_set<std::string> present;
  for (ListItem& item : stored) {
    if (present.insert(item.key).second) merged.push_back(std::move(item));
  }
  for (json::value& value : patch) {
    std::string key = CanonicalKey(value);
    patch_keys.push_back(key);
    if (present.insert(key).second) merged.push_back({std::move(value), std::move(key)});
  }
  return merged;
}

Result<std::string_view> DirectiveValue(const json::value& value, std::string_view path) {
  if (const json::string* directive = value.if_string()) return std::string_view(*directive);
  return InvalidArgumentError(fmt::format("{}: $patch must be a string", Where(path)));
}

Status UnknownPatchDirective(std::string_view directive, std::string_view path) {
  return InvalidArgumentError(
      fmt::format("{}: unknown patch directive \"$patch: {}\"", Where(path), directive));
}

class StrategicMerger {
 public:
  StrategicMerger(const PatchSchema& schema, std::string kind)
      : schema_(schema), kind_(std::move(kind)) {}

  Status MergeObject(json::object& original, json::object& patch, std::string_view path) const;

 private:
  Status MergeField(json::object& original, std::string_view key, json::value& patch_value,
                    std::string_view path, const json::array* element_order) const;
  Status MergeList(json::array& original, json::array& patch, std::string_view path,
                   const json::array* element_order) const;
  Status MergeObjectItems(std::vector<ListItem>& merged, json::array& patch,
                          std::string_view merge_key, std::string_view path,
                          std::vector<std::string>& patch_keys) const;
  Status ReorderList(json::array& list, const json::array& element_order,
                     std::string_view path) const;
  Result<json::array> Materialize(json::array& patch, std::string_view path) const;

  const PatchSchema& schema_;
  const std::string kind_;
};

Status ValidateDirectiveKeys(const json::object& patch, std::string_view path) {
  for (const auto& member : patch) {
    std::string_view key = member.key();
    if (!key.starts_with('$') || key == kPatchDirective || key == kRetainKeysDirective) continue;
    bool is_list_directive =
        key.starts_with(kSetElementOrderPrefix) || key.starts_with(kDeleteFromPrimitiveListPrefix);
    if (!is_list_directive) {
      return InvalidArgumentError(
          fmt::format("{}: unknown patch directive \"{}\"", Where(path), key));
    }
    if (key.substr(key.find('/') + 1).empty() || !member.value().is_array()) {
      return InvalidArgumentError(
          fmt::format("{}: directive \"{}\" must name a field and hold a list", Where(path), key));
    }
  }
  return Status::Ok();
}

// $retainKeys: the stored object keeps only the listed fields (clearing, say, rollingUpdate
// when a Deployment's strategy turns Recreate), and the patch may set only listed fields.
Status ApplyRetainKeys(json::object& original, json::object& patch, std::string_view path) {
  const json::value* directive = patch.if_contains(kRetainKeysDirective);
  if (directive == nullptr) return Status::Ok();
  const json::array* list = directive->if_array();
  bool all_names =
      list != nullptr &&
      std::all_of(list->begin(), list->end(), [](const json::value& v) { return v.is_string(); });
  if (!all_names) {
    return InvalidArgumentError(
        fmt::format("{}: $retainKeys must be a list of field names", Where(path)));
  }
  std::unordered_set<std::string_view> retained;
  for (const json::value& name : *list) retained.insert(name.get_string());
  for (const auto& member : patch) {
    if (member.value().is_null() || member.key().starts_with('$')) continue;
    if (!retained.contains(member.key())) {
      return InvalidArgumentError(fmt::format(
          "{}: field \"{}\" is patched but not listed in $retainKeys", Where(path), member.key()));
    }
  }
  std::vector<std::string> dropped;
  for (const auto& member : original) {
    if (!retained.contains(member.key())) dropped.emplace_back(member.key());
  }
  for (const std::string& key : dropped) original.erase(key);
  patch.erase(kRetainKeysDirective);
  return Status::Ok();
}

void ApplyDeletesFromPrimitiveLists(json::object& original, const json::object& patch) {
  for (const auto& member : patch) {
    std::string_view key = member.key();
    if (!key.starts_with(kDeleteFromPrimitiveListPrefix)) continue;
    json::value* field = original.if_contains(key.substr(kDeleteFromPrimitiveListPrefix.size()));
    json::array* list = field == nullptr ? nullptr : field->if_array();
    if (list == nullptr) continue;
    std::unordered_set<std::string> doomed;
    for (const json::value& value : member.value().get_array()) doomed.insert(CanonicalKey(value));
    json::array kept;
    for (json::value& value : *list) {
      if (!doomed.contains(CanonicalKey(value))) kept.push_back(std::move(value));
    }
    *list = std::move(kept);
  }
}

const json::array* ElementOrderFor(const json::object& patch, std::string_view field) {
  const json::value* order = patch.if_contains(fmt::format("{}{}", kSetElementOrderPrefix, field));
  return order == nullptr ? nullptr : order->if_array();
}

Status StrategicMerger::MergeObject(json::object& original, json::object& patch,
                                    std::string_view path) const {
  if (const json::value* directive_value = patch.if_contains(kPatchDirective)) {
    KELP_ASSIGN_OR_RETURN(std::string_view directive, DirectiveValue(*directive_value, path));
    if (directive == "delete") {
      original.clear();
      return Status::Ok();
    }
    if (directive == "replace") {
      original.clear();
    } else if (directive != "merge") {
      return UnknownPatchDirective(directive, path);
    }
    patch.erase(kPatchDirective);
  }
  KELP_RETURN_IF_ERROR(ValidateDirectiveKeys(patch, path));
  KELP_RETURN_IF_ERROR(ApplyRetainKeys(original, patch, path));
  ApplyDeletesFromPrimitiveLists(original, patch);
  for (auto& member : patch) {
    std::string_view key = member.key();
    if (key.starts_with('$')) continue;
    KELP_RETURN_IF_ERROR(MergeField(original, key, member.value(), ChildPath(path, key),
                                    ElementOrderFor(patch, key)));
  }
  // Lists the patch orders without changing their content.
  for (const auto& member : patch) {
    std::string_view key = member.key();
    if (!key.starts_with(kSetElementOrderPrefix)) continue;
    std::string_view field = key.substr(kSetElementOrderPrefix.size());
    json::value* list = original.if_contains(field);
    if (patch.contains(field) || list == nullptr || !list->is_array()) continue;
    KELP_RETURN_IF_ERROR(
        ReorderList(list->get_array(), member.value().get_array(), ChildPath(path, field)));
  }
  return Status::Ok();
}

Status StrategicMerger::MergeField(json::object& original, std::string_view key,
                                   json::value& patch_value, std::string_view path,
                                   const json::array* element_order) const {
  if (patch_value.is_null()) {
    original.erase(key);
    return Status::Ok();
  }
  json::value* existing = original.if_contains(key);
  if (json::object* patch_object = patch_value.if_object()) {
    json::object merged;
    if (existing != nullptr && existing->is_object()) merged = std::move(existing->get_object());
    KELP_RETURN_IF_ERROR(MergeObject(merged, *patch_object, path));
    original[key] = std::move(merged);
    return Status::Ok();
  }
  if (json::array* patch_array = patch_value.if_array()) {
    json::array merged;
    if (existing != nullptr && existing->is_array()) merged = std::move(existing->get_array());
    KELP_RETURN_IF_ERROR(MergeList(merged, *patch_array, path, element_order));
    original[key] = std::move(merged);
    return Status::Ok();
  }
  original[key] = std::move(patch_value);
  return Status::Ok();
}

// An atomic list taken from the patch: its objects still go through the merge so that nulls
// and directives inside them do not reach the stored object.
Result<json::array> StrategicMerger::Materialize(json::array& patch, std::string_view path) const {
  json::array result;
  result.reserve(patch.size());
  for (json::value& element : patch) {
    if (json::object* object = element.if_object()) {
      json::object fresh;
      KELP_RETURN_IF_ERROR(MergeObject(fresh, *object, path));
      result.push_back(std::move(fresh));
    } else {
      result.push_back(std::move(element));
    }
  }
  return result;
}

Status StrategicMerger::MergeList(json::array& original, json::array& patch, std::string_view path,
                                  const json::array* element_order) const {
  const ListMergeRule* rule = schema_.FindListRule(kind_, path);
  if (rule == nullptr) {
    KELP_ASSIGN_OR_RETURN(original, Materialize(patch, path));
    return Status::Ok();
  }
  KELP_ASSIGN_OR_RETURN(ElementKind kind, ClassifyElements(original, patch, path));
  if (kind == ElementKind::kObjects && rule->merge_key.empty()) {
    return InvalidArgumentError(
        fmt::format("{}: a list of objects cannot be merged without a merge key", path));
  }
  std::string_view merge_key =
      kind == ElementKind::kObjects ? std::string_view(rule->merge_key) : std::string_view();

  std::vector<ListItem> merged = ToListItems(original, merge_key);
  Positions server = PositionsOf(merged, [](const ListItem& item) { return item.key; });
  std::vector<std::string> patch_keys;
  if (kind == ElementKind::kObjects) {
    KELP_RETURN_IF_ERROR(MergeObjectItems(merged, patch, merge_key, path, patch_keys));
  } else {
    merged = MergePrimitiveItems(std::move(merged), patch, patch_keys);
  }
  merged = OrderItems(std::move(merged), PositionsOf(patch_keys, std::identity()), server);
  original.clear();
  for (ListItem& item : merged) original.push_back(std::move(item.value));
  if (element_order == nullptr) return Status::Ok();
  return ReorderList(original, *element_order, path);
}

// Applies `$patch` list items (delete one item by key, replace the whole list), then merges
// every other patch item into the stored item with the same key or appends it.
Status StrategicMerger::MergeObjectItems(std::vector<ListItem>& merged, json::array& patch,
                                         std::string_view merge_key, std::string_view path,
                                         std::vector<std::string>& patch_keys) const {
  std::vector<json::object*> items;
  bool replace_list = false;
  for (json::value& element : patch) {
    json::object& item = element.get_object();
    const json::value* directive_value = item.if_contains(kPatchDirective);
    if (directive_value == nullptr) {
      items.push_back(&item);
      continue;
    }
    KELP_ASSIGN_OR_RETURN(std::string_view directive, DirectiveValue(*directive_value, path));
    if (directive == "replace") {
      replace_list = true;
    } else if (directive == "merge") {
      item.erase(kPatchDirective);
      items.push_back(&item);
    } else if (directive == "delete") {
      const json::value* key = item.if_contains(merge_key);
      if (key == nullptr) {
        return InvalidArgumentError(fmt::format(
            "{}: $patch: delete item does not contain the merge key \"{}\"", path, merge_key));
      }
      std::erase_if(merged, [doomed = CanonicalKey(*key)](const ListItem& stored) {
        return stored.key == doomed;
      });
    } else {
      return UnknownPatchDirective(directive, path);
    }
  }
  if (replace_list) merged.clear();

  Positions positions = PositionsOf(merged, [](const ListItem& item) { return item.key; });
  for (json::object* item : items) {
    const json::value* key_value = item->if_contains(merge_key);
    if (key_value == nullptr) {
      return InvalidArgumentError(
          fmt::format("{}: list item does not contain the merge key \"{}\"", path, merge_key));
    }
    std::string key = CanonicalKey(*key_value);
    patch_keys.push_back(key);
    auto [found, inserted] = positions.emplace(key, merged.size());
    if (inserted) merged.push_back({json::object(), key});
    KELP_RETURN_IF_ERROR(MergeObject(merged[found->second].value.get_object(), *item, path));
  }
  return Status::Ok();
}

// $setElementOrder/<field>: the full order the client wants for the list's items.
Status StrategicMerger::ReorderList(json::array& list, const json::array& element_order,
                                    std::string_view path) const {
  const ListMergeRule* rule = schema_.FindListRule(kind_, path);
  if (rule == nullptr) return Status::Ok();
  KELP_ASSIGN_OR_RETURN(ElementKind kind, ClassifyElements(list, element_order, path));
  std::string_view merge_key =
      kind == ElementKind::kObjects ? std::string_view(rule->merge_key) : std::string_view();
  std::vector<std::string> order_keys;
  for (const json::value& entry : element_order) {
    const json::object* object = entry.if_object();
    if (!merge_key.empty() && (object == nullptr || !object->contains(merge_key))) {
      return InvalidArgumentError(fmt::format(
          "{}: $setElementOrder item does not contain the merge key \"{}\"", path, merge_key));
    }
    order_keys.push_back(ItemKey(entry, merge_key));
  }
  std::vector<ListItem> items = ToListItems(list, merge_key);
  Positions server = PositionsOf(items, [](const ListItem& item) { return item.key; });
  items = OrderItems(std::move(items), PositionsOf(order_keys, std::identity()), server);
  list.clear();
  for (ListItem& item : items) list.push_back(std::move(item.value));
  return Status::Ok();
}

std::string KindOf(const json::object& target, const json::object& patch) {
  for (const json::object* object : {&target, &patch}) {
    const json::value* kind = object->if_contains("kind");
    if (kind != nullptr && kind->is_string()) return std::string(kind->get_string());
  }
  return "";
}

// Kubernetes' patchStrategy=merge fields of the kinds kelp serves (k8s.io/api types).
std::vector<ListMergeRule> KubernetesListRules() {
  std::vector<ListMergeRule> rules;
  auto add = [&rules](std::string_view kind, std::string path, std::string_view merge_key) {
    rules.push_back({std::string(kind), std::move(path), std::string(merge_key)});
  };
  add("", "metadata.finalizers", "");
  add("", "metadata.ownerReferences", "uid");

  struct PodTemplate {
    std::string_view kind;
    std::string_view prefix;  // where the pod's metadata and spec sit; empty for a Pod itself
  };
  constexpr PodTemplate kPodTemplates[] = {
      {"Pod", ""},
      {"PodTemplate", "template."},
      {"Deployment", "spec.template."},
      {"ReplicaSet", "spec.template."},
      {"DaemonSet", "spec.template."},
      {"StatefulSet", "spec.template."},
      {"ReplicationController", "spec.template."},
      {"Job", "spec.template."},
      {"CronJob", "spec.jobTemplate.spec.template."},
  };
  constexpr std::pair<std::string_view, std::string_view> kPodSpecLists[] = {
      {"containers", "name"},
      {"initContainers", "name"},
      {"ephemeralContainers", "name"},
      {"volumes", "name"},
      {"imagePullSecrets", "name"},
      {"hostAliases", "ip"},
      {"schedulingGates", "name"},
      {"resourceClaims", "name"},
      {"topologySpreadConstraints", "topologyKey"},
  };
  constexpr std::pair<std::string_view, std::string_view> kContainerLists[] = {
      {"ports", "containerPort"},
      {"env", "name"},
      {"volumeMounts", "mountPath"},
      {"volumeDevices", "devicePath"},
  };
  for (const PodTemplate& pod : kPodTemplates) {
    if (!pod.prefix.empty()) {
      add(pod.kind, fmt::format("{}metadata.finalizers", pod.prefix), "");
      add(pod.kind, fmt::format("{}metadata.ownerReferences", pod.prefix), "uid");
    }
    for (const auto& [list, merge_key] : kPodSpecLists) {
      add(pod.kind, fmt::format("{}spec.{}", pod.prefix, list), merge_key);
    }
    for (std::string_view containers : {"containers", "initContainers", "ephemeralContainers"}) {
      for (const auto& [list, merge_key] : kContainerLists) {
        add(pod.kind, fmt::format("{}spec.{}.{}", pod.prefix, containers, list), merge_key);
      }
    }
  }

  for (std::string_view kind :
       {"Pod", "Node", "Namespace", "Service", "PersistentVolumeClaim", "Deployment", "ReplicaSet",
        "DaemonSet", "StatefulSet", "ReplicationController", "Job", "HorizontalPodAutoscaler"}) {
    add(kind, "status.conditions", "type");
  }
  add("Pod", "status.podIPs", "ip");
  add("Pod", "status.hostIPs", "ip");
  add("Node", "status.addresses", "type");
  add("Node", "spec.podCIDRs", "");
  add("Service", "spec.ports", "port");
  return rules;
}

}  // namespace

const PatchSchema& KubernetesPatchSchema() {
  static const PatchSchema kSchema(KubernetesListRules());
  return kSchema;
}

const ListMergeRule* PatchSchema::FindListRule(std::string_view kind, std::string_view path) const {
  for (const ListMergeRule& rule : rules_) {
    if ((rule.kind.empty() || rule.kind == kind) && rule.path == path) return &rule;
  }
  return nullptr;
}

Result<json::value> ApplyJsonPatch(const json::value& target, std::string_view patch_text) {
  KELP_ASSIGN_OR_RETURN(json::value patch, ParsePatch(patch_text));
  KELP_RETURN_IF_ERROR(RejectDuplicateKeys(patch_text));
  json::array* operations = patch.if_array();
  if (operations == nullptr) {
    return InvalidArgumentError("jsonpatch: the patch must be a JSON array of operations");
  }
  if (operations->size() > kMaxJsonPatchOperations) {
    return InvalidArgumentError(
        fmt::format("jsonpatch: the patch has {} operations, over the limit of {}",
                    operations->size(), kMaxJsonPatchOperations));
  }
  JsonPatcher patcher(target);
  for (json::value& operation : *operations) {
    KELP_RETURN_IF_ERROR(patcher.Apply(operation));
  }
  return std::move(patcher).TakeDocument();
}

Result<json::value> ApplyMergePatch(const json::value& target, std::string_view patch_text) {
  KELP_ASSIGN_OR_RETURN(json::value patch, ParsePatch(patch_text));
  json::value result = target;
  MergePatchInto(result, patch);
  return result;
}

Result<json::value> ApplyStrategicMergePatch(const json::value& target, std::string_view patch_text,
                                             const PatchSchema& schema) {
  KELP_ASSIGN_OR_RETURN(json::value patch, ParsePatch(patch_text));
  json::object* patch_object = patch.if_object();
  if (patch_object == nullptr) {
    return InvalidArgumentError("strategic merge patch must be a JSON object");
  }
  const json::object* target_object = target.if_object();
  if (target_object == nullptr) {
    return InvalidArgumentError("strategic merge patch applies only to a JSON object");
  }
  json::object result = *target_object;
  StrategicMerger merger(schema, KindOf(*target_object, *patch_object));
  KELP_RETURN_IF_ERROR(merger.MergeObject(result, *patch_object, ""));
  return json::value(std::move(result));
}

}  // namespace kelp::api
