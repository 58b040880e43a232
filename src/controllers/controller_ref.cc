// Controller references and the claim (adopt/release) of objects by their controller.
#include "controllers/controller_ref.h"

#include <memory>
#include <optional>
#include <string>

#include <boost/json.hpp>

#include "common/json.h"
#include "controllers/object_meta.h"

namespace kelp::controllers {
namespace {

// Re-reads the owner once per claim: adoption needs the live object, not the cached one.
class AdoptionCheck {
 public:
  AdoptionCheck(client::ApiClient& client, const OwnerIdentity& owner)
      : client_(client), owner_(owner) {}

  Status CanAdopt() {
    if (!verdict_) verdict_ = Check();
    return *verdict_;
  }

 private:
  Status Check() {
    Result<boost::json::object> fresh =
        client_.Get(owner_.owner_resource, Namespace(owner_.owner), Name(owner_.owner));
    if (!fresh.ok()) return fresh.status().WithContext("can't recheck owner before adopting");
    if (Uid(*fresh) != Uid(owner_.owner)) {
      return ConflictError("original " + std::string(owner_.kind) + " " + Name(owner_.owner) +
                           " is gone: got uid " + Uid(*fresh) + ", wanted " + Uid(owner_.owner));
    }
    if (IsBeingDeleted(*fresh)) {
      return ConflictError(std::string(owner_.kind) + " " + Name(owner_.owner) +
                           " has just been deleted");
    }
    return Status::Ok();
  }

  client::ApiClient& client_;
  const OwnerIdentity& owner_;
  std::optional<Status> verdict_;
};

// Writes `object` with its ownerReferences replaced; nullptr when it no longer exists.
Result<client::ObjectPtr> WriteOwnerReferences(client::ApiClient& client,
                                              const client::Resource& resource,
                                              const boost::json::object& object,
                                              boost::json::array references) {
  boost::json::object updated = object;
  boost::json::object& metadata = MutableObjectAt(updated, "metadata");
  if (references.empty()) {
    metadata.erase("ownerReferences");
  } else {
    metadata["ownerReferences"] = std::move(references);
  }
  Result<boost::json::object> written = client.Update(resource, updated);
  if (!written.ok()) {
    if (written.status().code() == StatusCode::kNotFound) return client::ObjectPtr();
    return written.status();
  }
  return std::make_shared<const boost::json::object>(std::move(*written));
}

boost::json::array OwnerReferences(const boost::json::object& object) {
  const boost::json::value* references = FindPath(object, "metadata.ownerReferences");
  if (references == nullptr || !references->is_array()) return {};
  return references->get_array();
}

}  // namespace

const boost::json::object* ControllerRefOf(const boost::json::object& object) {
  const boost::json::value* references = FindPath(object, "metadata.ownerReferences");
  if (references == nullptr || !references->is_array()) return nullptr;
  for (const boost::json::value& entry : references->get_array()) {
    const boost::json::object* reference = entry.if_object();
    if (reference != nullptr && BoolAt(*reference, "controller")) return reference;
  }
  return nullptr;
}

boost::json::object MakeControllerRef(const boost::json::object& owner,
                                      std::string_view api_version, std::string_view kind) {
  return boost::json::object{{"apiVersion", api_version},
                             {"kind", kind},
                             {"name", Name(owner)},
                             {"uid", Uid(owner)},
                             {"controller", true},
                             {"blockOwnerDeletion", true}};
}

Result<std::vector<client::ObjectPtr>> ClaimObjects(
    client::ApiClient& client, const client::Resource& resource, const OwnerIdentity& owner,
    const api::LabelSelector& selector, const std::vector<client::ObjectPtr>& candidates) {
  const std::string owner_uid = Uid(owner.owner);
  const bool owner_deleting = IsBeingDeleted(owner.owner);
  AdoptionCheck adoption(client, owner);
  std::vector<client::ObjectPtr> claimed;
  Status first_error;
  for (const client::ObjectPtr& candidate : candidates) {
    const bool matches = selector.Matches(Labels(*candidate));
    if (const boost::json::object* reference = ControllerRefOf(*candidate)) {
      if (StringAt(*reference, "uid") != owner_uid) continue;
      if (matches) {
        claimed.push_back(candidate);
        continue;
      }
      if (owner_deleting) continue;
      boost::json::array kept;
      for (const boost::json::value& entry : OwnerReferences(*candidate)) {
        const boost::json::object* ref = entry.if_object();
        if (ref == nullptr || StringAt(*ref, "uid") != owner_uid) kept.push_back(entry);
      }
      Result<client::ObjectPtr> released =
          WriteOwnerReferences(client, resource, *candidate, std::move(kept));
      if (!released.ok() && first_error.ok()) first_error = released.status();
      continue;
    }
    if (owner_deleting || !matches || IsBeingDeleted(*candidate)) continue;
    if (Status can_adopt = adoption.CanAdopt(); !can_adopt.ok()) {
      if (first_error.ok()) first_error = can_adopt;
      continue;
    }
    boost::json::array references = OwnerReferences(*candidate);
    references.push_back(MakeControllerRef(owner.owner, owner.api_version, owner.kind));
    Result<client::ObjectPtr> adopted =
        WriteOwnerReferences(client, resource, *candidate, std::move(references));
    if (!adopted.ok()) {
      if (first_error.ok()) first_error = adopted.status();
      continue;
    }
    if (*adopted) claimed.push_back(*adopted);
  }
  if (!first_error.ok()) return first_error;
  return claimed;
}

}  // namespace kelp::controllers
