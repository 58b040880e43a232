// Template hash, safe encoding, hash-blind equality and pods made from templates.
#include "controllers/pod_template.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace kelp::controllers {
namespace {

boost::json::object Template(const char* image) {
  return {{"metadata", {{"labels", {{"app", "nginx"}}}}},
          {"spec", {{"containers", {{{"name", "nginx"}, {"image", image}}}}}}};
}

TEST(PodTemplateTest, Fnv32aMatchesReferenceVectors) {
  EXPECT_EQ(Fnv32a(""), 0x811c9dc5u);
  EXPECT_EQ(Fnv32a("a"), 0xe40c292cu);
  EXPECT_EQ(Fnv32a("foobar"), 0xbf9cf968u);
}

TEST(PodTemplateTest, SafeEncodeStringMapsDigitsAsKubernetes) {
  EXPECT_EQ(SafeEncodeString("0123456789"), "456789bcdf");
}

TEST(PodTemplateTest, HashIsStableSafeAndChangesWithTemplateAndCollisionCount) {
  const std::string hash = ComputeTemplateHash(Template("nginx:1.25"), std::nullopt);
  EXPECT_EQ(hash, SafeEncodeString(std::to_string(Fnv32a(CanonicalJson(Template("nginx:1.25"))))));
  EXPECT_EQ(hash.find_first_not_of("bcdfghjklmnpqrstvwxz2456789"), std::string::npos);
  EXPECT_NE(hash, ComputeTemplateHash(Template("nginx:1.26"), std::nullopt));
  EXPECT_NE(hash, ComputeTemplateHash(Template("nginx:1.25"), 1));
  EXPECT_NE(ComputeTemplateHash(Template("nginx:1.25"), 1),
            ComputeTemplateHash(Template("nginx:1.25"), 2));
}

TEST(PodTemplateTest, CanonicalJsonIgnoresKeyOrder) {
  boost::json::object a{{"x", 1}, {"y", {{"b", 2}, {"a", 3}}}};
  boost::json::object b{{"y", {{"a", 3}, {"b", 2}}}, {"x", 1}};
  EXPECT_EQ(CanonicalJson(a), CanonicalJson(b));
  EXPECT_EQ(CanonicalJson(a), R"({"x":1,"y":{"a":3,"b":2}})");
}

TEST(PodTemplateTest, EqualityIgnoresOnlyTheHashLabel) {
  boost::json::object with_hash = Template("nginx:1.25");
  with_hash["metadata"].get_object()["labels"].get_object()["pod-template-hash"] = "abc";
  EXPECT_TRUE(TemplatesEqualIgnoringHash(Template("nginx:1.25"), with_hash));
  EXPECT_FALSE(TemplatesEqualIgnoringHash(Template("nginx:1.26"), with_hash));
  boost::json::object only_hash{{"metadata", {{"labels", {{"pod-template-hash", "abc"}}}}}};
  EXPECT_TRUE(TemplatesEqualIgnoringHash(boost::json::object{}, only_hash));
}

TEST(PodTemplateTest, PodFromTemplateUsesGenerateNameAndOwner) {
  boost::json::object pod_template = Template("nginx:1.25");
  pod_template["metadata"].get_object()["annotations"] = {{"note", "x"}};
  boost::json::object owner{{"kind", "ReplicaSet"}, {"uid", "u1"}};
  boost::json::object pod = PodFromTemplate(pod_template, "web-abc", "ns1", owner);
  EXPECT_EQ(pod.at("kind"), "Pod");
  EXPECT_EQ(pod.at("metadata").at("generateName"), "web-abc-");
  EXPECT_EQ(pod.at("metadata").at("namespace"), "ns1");
  EXPECT_EQ(pod.at("metadata").at("labels").at("app"), "nginx");
  EXPECT_EQ(pod.at("metadata").at("annotations").at("note"), "x");
  EXPECT_EQ(pod.at("metadata").at("ownerReferences").at(0), owner);
  EXPECT_EQ(pod.at("spec"), pod_template.at("spec"));
  EXPECT_FALSE(pod.at("metadata").as_object().contains("name"));
}

}  // namespace
}  // namespace kelp::controllers
