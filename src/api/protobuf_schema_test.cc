// Consistency checks over every schema table reachable from the known objects: a typo in a
// table (duplicate number or name, message kind without a message) fails here, not at runtime.
#include "api/protobuf_schema.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace kelp::api {
namespace {

bool TakesMessage(FieldKind kind) {
  return kind == FieldKind::kMessage || kind == FieldKind::kInlineMessage ||
         kind == FieldKind::kMessageList;
}

std::vector<const MessageSchema*> ReachableMessages() {
  std::vector<const MessageSchema*> found;
  std::set<const MessageSchema*> seen;
  for (const ObjectSchema& object : KnownObjectSchemas()) {
    if (seen.insert(object.schema).second) found.push_back(object.schema);
  }
  for (size_t i = 0; i < found.size(); ++i) {
    for (const FieldSpec& field : found[i]->fields) {
      if (field.message != nullptr && seen.insert(field.message).second) {
        found.push_back(field.message);
      }
    }
  }
  return found;
}

TEST(ProtobufSchema, EveryMessageHasUniqueNumbersAndNames) {
  for (const MessageSchema* message : ReachableMessages()) {
    std::set<uint32_t> numbers;
    std::set<std::string_view> names;
    for (const FieldSpec& field : message->fields) {
      EXPECT_TRUE(numbers.insert(field.number).second)
          << message->name << " repeats field number " << field.number;
      EXPECT_TRUE(names.insert(field.json_name).second)
          << message->name << " repeats field name " << field.json_name;
      EXPECT_GT(field.number, 0u) << message->name << "." << field.json_name;
    }
  }
}

TEST(ProtobufSchema, MessageKindsAndOnlyThemPointToAMessage) {
  for (const MessageSchema* message : ReachableMessages()) {
    for (const FieldSpec& field : message->fields) {
      EXPECT_EQ(TakesMessage(field.kind), field.message != nullptr)
          << message->name << "." << field.json_name;
    }
  }
}

TEST(ProtobufSchema, FindsKnownObjectsAndNothingElse) {
  const MessageSchema* deployment = FindObjectSchema("apps/v1", "Deployment");
  ASSERT_NE(deployment, nullptr);
  EXPECT_EQ(deployment->name, "Deployment");
  EXPECT_NE(FindObjectSchema("v1", "Namespace"), nullptr);
  EXPECT_NE(FindObjectSchema("autoscaling/v1", "HorizontalPodAutoscaler"), nullptr);
  EXPECT_NE(FindObjectSchema("autoscaling/v2", "HorizontalPodAutoscaler"), nullptr);
  EXPECT_EQ(FindObjectSchema("apps/v1", "Frobnicator"), nullptr);
  EXPECT_EQ(FindObjectSchema("v1", "Deployment"), nullptr);
}

TEST(ProtobufSchema, FindFieldLooksUpByNumber) {
  const MessageSchema* deployment = FindObjectSchema("apps/v1", "Deployment");
  ASSERT_NE(deployment, nullptr);
  const FieldSpec* spec = deployment->FindField(2);
  ASSERT_NE(spec, nullptr);
  EXPECT_EQ(spec->json_name, "spec");
  EXPECT_EQ(deployment->FindField(99), nullptr);
}

}  // namespace
}  // namespace kelp::api
