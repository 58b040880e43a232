// Reference normalization as Docker does it: Docker Hub defaults, domains with ports,
// digests, and the grammar errors.
#include "agent/images/reference.h"

#include <gtest/gtest.h>

namespace kelp::images {
namespace {

const std::string kHex(64, 'a');

std::string Normalized(std::string_view text) {
  Result<Reference> ref = ParseReference(text);
  return ref.ok() ? ref->String() : "error: " + ref.status().message();
}

TEST(ImageReferenceTest, DockerHubNamesGetLibraryAndLatest) {
  EXPECT_EQ(Normalized("nginx:1.22"), "docker.io/library/nginx:1.22");
  EXPECT_EQ(Normalized("docker.io/library/nginx:1.22"), "docker.io/library/nginx:1.22");
  EXPECT_EQ(Normalized("index.docker.io/library/nginx:1.22"), "docker.io/library/nginx:1.22");
  EXPECT_EQ(Normalized("busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(Normalized("team/app:v1"), "docker.io/team/app:v1");
  EXPECT_EQ(Normalized("docker.io/nginx"), "docker.io/library/nginx:latest");
}

TEST(ImageReferenceTest, DomainsPortsAndLocalhost) {
  EXPECT_EQ(Normalized("registry.example.com/team/app"), "registry.example.com/team/app:latest");
  EXPECT_EQ(Normalized("registry:5000/app:2"), "registry:5000/app:2");
  EXPECT_EQ(Normalized("localhost/app"), "localhost/app:latest");
  EXPECT_EQ(Normalized("[::1]:5000/app"), "[::1]:5000/app:latest");
  // Without '.', ':' or "localhost" the first component is a path component.
  EXPECT_EQ(Normalized("registry/app"), "docker.io/registry/app:latest");
}

TEST(ImageReferenceTest, DigestsKeepNoDefaultTag) {
  Result<Reference> ref = ParseReference("nginx@sha256:" + kHex);
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  EXPECT_EQ(ref->tag, "");
  EXPECT_EQ(ref->digest, "sha256:" + kHex);
  EXPECT_EQ(ref->String(), "docker.io/library/nginx@sha256:" + kHex);
  EXPECT_EQ(Normalized("nginx:1.22@sha256:" + kHex), "docker.io/library/nginx:1.22@sha256:" + kHex);
}

TEST(ImageReferenceTest, FamiliarForms) {
  EXPECT_EQ(ParseReference("docker.io/library/nginx:1.22")->FamiliarString(), "nginx:1.22");
  EXPECT_EQ(ParseReference("docker.io/team/app:v1")->FamiliarString(), "team/app:v1");
  EXPECT_EQ(ParseReference("quay.io/x/y:1")->FamiliarName(), "quay.io/x/y");
  EXPECT_EQ(ParseRepository("docker.io/library/nginx")->FamiliarString(), "nginx");
}

TEST(ImageReferenceTest, RejectsMalformedReferences) {
  for (const std::string& bad :
       {std::string(""), std::string("Nginx"), std::string("nginx:"), std::string(":tag"),
        std::string("nginx:-x"), std::string("nginx::1"), std::string("a//b"),
        std::string("nginx@sha256:abc"), std::string("nginx@md5:" + kHex), std::string("-nginx"),
        std::string("nginx_"), std::string("a/b/"), kHex,
        std::string("nginx:" + std::string(129, 't')), std::string("bad domain/app"),
        std::string("host:port/app")}) {
    EXPECT_FALSE(ParseReference(bad).ok()) << bad;
  }
}

TEST(ImageReferenceTest, UppercaseFirstComponentIsADomain) {
  // Docker's rule: a first component that is not all lowercase cannot be a path component.
  EXPECT_EQ(Normalized("Registry.Example.com/app:1"), "Registry.Example.com/app:1");
}

TEST(ImageReferenceTest, SeparatorsInPathComponents) {
  EXPECT_TRUE(ParseReference("a.b_c__d---e").ok());
  EXPECT_FALSE(ParseReference("a___b").ok());
  EXPECT_FALSE(ParseReference("a..b").ok());
  EXPECT_TRUE(IsValidTag("v1.2_3-rc"));
  EXPECT_FALSE(IsValidTag(".hidden"));
}

}  // namespace
}  // namespace kelp::images
