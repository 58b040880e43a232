// Pod creation from templates, the pod-template-hash, and hash-blind template comparison.
#include "controllers/pod_template.h"

#include <algorithm>
#include <string>
#include <vector>

#include <boost/json.hpp>

namespace kelp::controllers {
namespace {

void WriteCanonical(const boost::json::value& value, std::string& out) {
  if (const boost::json::object* object = value.if_object()) {
    std::vector<const boost::json::key_value_pair*> fields;
    fields.reserve(object->size());
    for (const boost::json::key_value_pair& field : *object) fields.push_back(&field);
    std::sort(fields.begin(), fields.end(),
              [](const auto* a, const auto* b) { return a->key() < b->key(); });
    out.push_back('{');
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) out.push_back(',');
      out += boost::json::serialize(boost::json::string(fields[i]->key()));
      out.push_back(':');
      WriteCanonical(fields[i]->value(), out);
    }
    out.push_back('}');
    return;
  }
  if (const boost::json::array* array = value.if_array()) {
    out.push_back('[');
    for (size_t i = 0; i < array->size(); ++i) {
      if (i > 0) out.push_back(',');
      WriteCanonical((*array)[i], out);
    }
    out.push_back(']');
    return;
  }
  out += boost::json::serialize(value);
}

boost::json::object WithoutHashLabel(const boost::json::object& pod_template) {
  boost::json::object copy = pod_template;
  boost::json::value* metadata = copy.if_contains("metadata");
  if (metadata == nullptr || !metadata->is_object()) return copy;
  boost::json::value* labels = metadata->get_object().if_contains("labels");
  if (labels == nullptr || !labels->is_object()) return copy;
  labels->get_object().erase(kPodTemplateHashLabel);
  if (labels->get_object().empty()) metadata->get_object().erase("labels");
  if (metadata->get_object().empty()) copy.erase("metadata");
  return copy;
}

}  // namespace

std::string CanonicalJson(const boost::json::value& value) {
  std::string out;
  WriteCanonical(value, out);
  return out;
}

std::string SafeEncodeString(std::string_view text) {
  static constexpr std::string_view kAlphanums = "bcdfghjklmnpqrstvwxz2456789";
  std::string encoded;
  encoded.reserve(text.size());
  for (unsigned char byte : text) encoded.push_back(kAlphanums[byte % kAlphanums.size()]);
  return encoded;
}

uint32_t Fnv32a(std::string_view data, uint32_t hash) {
  for (unsigned char byte : data) {
    hash ^= byte;
    hash *= 16777619u;
  }
  return hash;
}

std::string ComputeTemplateHash(const boost::json::object& pod_template,
                                std::optional<int64_t> collision_count) {
  uint32_t hash = Fnv32a(CanonicalJson(pod_template));
  if (collision_count) {
    const auto count = static_cast<uint32_t>(*collision_count);
    char bytes[8] = {};
    for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>((count >> (8 * i)) & 0xff);
    hash = Fnv32a(std::string_view(bytes, sizeof(bytes)), hash);
  }
  return SafeEncodeString(std::to_string(hash));
}

bool TemplatesEqualIgnoringHash(const boost::json::object& a, const boost::json::object& b) {
  return CanonicalJson(WithoutHashLabel(a)) == CanonicalJson(WithoutHashLabel(b));
}

boost::json::object PodFromTemplate(const boost::json::object& pod_template,
                                    std::string_view owner_name, std::string_view namespace_name,
                                    const boost::json::object& controller_ref) {
  boost::json::object metadata{{"generateName", std::string(owner_name) + "-"},
                               {"namespace", namespace_name},
                               {"ownerReferences", boost::json::array{controller_ref}}};
  if (const boost::json::value* template_metadata = pod_template.if_contains("metadata")) {
    if (const boost::json::object* fields = template_metadata->if_object()) {
      for (std::string_view key : {"labels", "annotations", "finalizers"}) {
        if (const boost::json::value* value = fields->if_contains(key)) metadata[key] = *value;
      }
    }
  }
  boost::json::object pod{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", std::move(metadata)}};
  if (const boost::json::value* spec = pod_template.if_contains("spec")) pod["spec"] = *spec;
  return pod;
}

}  // namespace kelp::controllers
