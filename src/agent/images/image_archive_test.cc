// Planning image archives: docker-archive (classic and Docker 25 layouts, shared and linked
// layers), OCI layouts (names, nested indexes, platforms), and the errors for archives that
// lie about their digests or reach outside themselves.
#include "agent/images/image_archive.h"

#include <archive_entry.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/images/testing/image_builder.h"

namespace kelp::images {
namespace {

using testing::ArchiveImage;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TarBuilder;

ArchiveImage MakeImage(std::string marker, std::vector<std::string> tags = {}, bool gzip = false) {
  ArchiveImage image;
  image.layers.push_back(testing::MakeLayer(TarBuilder().File("base", "shared base"), gzip));
  image.layers.push_back(testing::MakeLayer(TarBuilder().File("marker", marker), gzip));
  image.config = testing::MakeConfig(
      {.diff_ids = {image.layers[0].diff_id, image.layers[1].diff_id}, .cmd = {"echo", marker}});
  image.repo_tags = std::move(tags);
  return image;
}

Result<Plan> PlanOf(const std::string& archive, PlanOptions options = {}) {
  Result<ArchiveIndex> index = ArchiveIndex::Scan(ArchiveInput::Memory(archive));
  if (!index.ok()) return index.status();
  return PlanImages(*index, options);
}

TEST(ImageArchiveTest, ClassicDockerArchive) {
  ArchiveImage a = MakeImage("a", {"app:1", "app:latest"});
  ArchiveImage b = MakeImage("b", {"registry:5000/b:2"});
  Result<Plan> plan = PlanOf(testing::DockerArchive({a, b}));
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(plan->images.size(), 2u);
  const ImagePlan& first = plan->images[0];
  EXPECT_EQ(first.id, testing::Sha256Of(a.config));
  EXPECT_THAT(first.names, ElementsAre("docker.io/library/app:1", "docker.io/library/app:latest"));
  ASSERT_EQ(first.layers.size(), 2u);
  EXPECT_EQ(first.layers[1].diff_id, a.layers[1].diff_id);
  EXPECT_EQ(first.layers[1].blob_digest, "");  // classic layout: only the diff_id is known
  EXPECT_THAT(first.config.config.cmd, ElementsAre("echo", "a"));
  EXPECT_THAT(plan->images[1].names, ElementsAre("registry:5000/b:2"));
  EXPECT_EQ(plan->images[1].layers[0].member, first.layers[0].member);  // the shared base
}

TEST(ImageArchiveTest, Docker25LayoutKnowsManifestDigests) {
  ArchiveImage a = MakeImage("a", {"app:1"});
  Result<Plan> plan = PlanOf(testing::DockerArchive({a}, /*blobs=*/true));
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(plan->images.size(), 1u);
  EXPECT_EQ(plan->images[0].manifest_digest, testing::OciManifest(a).second);
  EXPECT_EQ(plan->images[0].layers[0].blob_digest, a.layers[0].blob_digest);
}

TEST(ImageArchiveTest, DockerArchiveFollowsLinkedLayers) {
  ArchiveImage a = MakeImage("a", {"app:1"});
  const std::string config_hex = testing::Sha256Of(a.config).substr(7);
  TarBuilder archive;
  archive.File(config_hex + ".json", a.config)
      .File("one/layer.tar", a.layers[0].blob)
      .Symlink("two/layer.tar", "../one/layer.tar")  // as docker save does for shared layers
      .File("three/layer.tar", a.layers[1].blob)
      .Hardlink("four/layer.tar", "three/layer.tar")
      .File("manifest.json",
            R"([{"Config":")" + config_hex +
                R"(.json","RepoTags":["app:1"],"Layers":["two/layer.tar","./four/layer.tar"]}])");
  Result<Plan> plan = PlanOf(archive.Build());
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->images[0].layers[0].member, "one/layer.tar");
  EXPECT_EQ(plan->images[0].layers[1].member, "three/layer.tar");
}

TEST(ImageArchiveTest, DockerArchiveErrors) {
  ArchiveImage a = MakeImage("a", {"app:1"});
  const std::string config_hex = testing::Sha256Of(a.config).substr(7);
  auto with_manifest = [&](const std::string& manifest) {
    return testing::RawArchive({{config_hex + ".json", a.config},
                                {"l/layer.tar", a.layers[0].blob},
                                {"manifest.json", manifest}});
  };
  EXPECT_THAT(PlanOf(with_manifest(R"([{"Config":"../)" + config_hex +
                                   R"(.json","Layers":["l/layer.tar","l/layer.tar"]}])"))
                  .status()
                  .message(),
              HasSubstr("leaves the archive"));
  EXPECT_THAT(
      PlanOf(with_manifest(R"([{"Config":")" + config_hex + R"(.json","Layers":["l/layer.tar"]}])"))
          .status()
          .message(),
      HasSubstr("1 layers but the config has 2 diff_ids"));
  EXPECT_EQ(PlanOf(with_manifest(R"([{"Config":")" + config_hex +
                                 R"(.json","Layers":["l/layer.tar","missing/layer.tar"]}])"))
                .status()
                .code(),
            StatusCode::kNotFound);
  EXPECT_THAT(
      PlanOf(with_manifest(
                 R"([{"Config":")" + config_hex +
                 R"(.json","RepoTags":["Bad:Tag"],"Layers":["l/layer.tar","l/layer.tar"]}])"))
          .status()
          .message(),
      HasSubstr("RepoTags"));
  EXPECT_THAT(PlanOf(with_manifest("{not json")).status().message(), HasSubstr("manifest.json"));
  EXPECT_THAT(PlanOf(testing::RawArchive({{"hello.txt", "hi"}})).status().message(),
              HasSubstr("neither a docker-archive"));
  EXPECT_FALSE(PlanOf("this is not a tar archive at all, not even close......").ok());
  // A config stored as a blob must have the digest its name says.
  EXPECT_THAT(PlanOf(testing::RawArchive(
                         {{"blobs/sha256/" + std::string(64, 'c'), a.config},
                          {"manifest.json", R"([{"Config":"blobs/sha256/)" + std::string(64, 'c') +
                                                R"(","Layers":[]}])"}}))
                  .status()
                  .message(),
              HasSubstr("has digest"));
}

TEST(ImageArchiveTest, OciLayoutNamesImagesFromAnnotations) {
  ArchiveImage full = MakeImage("full", {}, /*gzip=*/true);
  full.annotations = {{"org.opencontainers.image.ref.name", "quay.io/team/full:3"}};
  ArchiveImage containerd = MakeImage("containerd");
  containerd.annotations = {{"io.containerd.image.name", "docker.io/library/nginx:1.22"},
                            {"org.opencontainers.image.ref.name", "1.22"}};
  ArchiveImage tag_only = MakeImage("tag");
  tag_only.annotations = {{"org.opencontainers.image.ref.name", "7"}};

  Result<Plan> plan = PlanOf(testing::OciArchive({full, containerd, tag_only}));
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(plan->images.size(), 3u);
  EXPECT_THAT(plan->images[0].names, ElementsAre("quay.io/team/full:3"));
  EXPECT_EQ(plan->images[0].layers[0].blob_digest, full.layers[0].blob_digest);
  EXPECT_EQ(plan->images[0].manifest_digest, testing::OciManifest(full).second);
  EXPECT_THAT(plan->images[1].names, ElementsAre("docker.io/library/nginx:1.22"));
  EXPECT_TRUE(plan->images[2].names.empty());
  ASSERT_EQ(plan->warnings.size(), 1u);
  EXPECT_THAT(plan->warnings[0], HasSubstr("--base-name"));

  Result<Plan> based = PlanOf(testing::OciArchive({tag_only}), {.base_name = "myapp"});
  ASSERT_TRUE(based.ok());
  EXPECT_THAT(based->images[0].names, ElementsAre("docker.io/library/myapp:7"));
}

TEST(ImageArchiveTest, OciNestedIndexAndPlatformSelection) {
  ArchiveImage amd = MakeImage("amd");
  amd.platform = {"linux", "amd64"};
  ArchiveImage arm = MakeImage("arm");
  arm.platform = {"linux", "arm64"};
  std::string archive = testing::OciArchive({amd, arm}, /*nested=*/true);
  Result<Plan> plan = PlanOf(archive, {.architecture = "amd64"});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(plan->images.size(), 1u);
  EXPECT_EQ(plan->images[0].id, testing::Sha256Of(amd.config));

  Result<Plan> none = PlanOf(archive, {.architecture = "riscv64"});
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(none.status().message(), HasSubstr("linux/amd64, linux/arm64"));
}

TEST(ImageArchiveTest, OciDigestsAreVerified) {
  ArchiveImage image = MakeImage("x");
  auto [manifest, manifest_digest] = testing::OciManifest(image);
  const std::string manifest_hex = manifest_digest.substr(7);
  const std::string config_hex = testing::Sha256Of(image.config).substr(7);
  const std::string index =
      R"({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      manifest_digest + R"(","size":)" + std::to_string(manifest.size()) + "}]}";
  auto layout = [&](std::string manifest_body, std::string config_body) {
    return testing::RawArchive({{"oci-layout", R"({"imageLayoutVersion":"1.0.0"})"},
                                {"index.json", index},
                                {"blobs/sha256/" + manifest_hex, manifest_body},
                                {"blobs/sha256/" + config_hex, config_body}});
  };
  Result<Plan> tampered_manifest = PlanOf(layout(manifest + " ", image.config));
  EXPECT_THAT(tampered_manifest.status().message(), HasSubstr("size"));
  std::string same_size = manifest;
  same_size[same_size.size() - 2] = same_size[same_size.size() - 2] == '1' ? '2' : '1';
  EXPECT_THAT(PlanOf(layout(same_size, image.config)).status().message(),
              HasSubstr("content has digest"));
  std::string config = image.config;
  config[config.size() - 3] = 'X';
  EXPECT_THAT(PlanOf(layout(manifest, config)).status().message(), HasSubstr("config"));
  // Layers are not in this archive at all.
  EXPECT_EQ(PlanOf(layout(manifest, image.config)).status().code(), StatusCode::kNotFound);
}

TEST(ImageArchiveTest, StreamMembersServesEachWantedMemberOnce) {
  std::string big(ArchiveIndex::kMaxInlineMember + 10, 'b');
  std::string archive = testing::RawArchive({{"small", "s"}, {"big", big}, {"other", "o"}});
  ArchiveInput input = ArchiveInput::Memory(archive);
  Result<ArchiveIndex> index = ArchiveIndex::Scan(input);
  ASSERT_TRUE(index.ok());
  EXPECT_FALSE(index->Data("big").ok());  // too large to keep: streamed in the second pass
  std::map<std::string, size_t> seen;
  Status status = StreamMembers(
      input, *index, {"small", "big"}, [&](const std::string& member, ByteSource& data) -> Status {
        char buffer[4096];
        while (true) {
          KELP_ASSIGN_OR_RETURN(size_t n, data.Read(buffer, sizeof buffer));
          if (n == 0) break;
          seen[member] += n;
        }
        return Status::Ok();
      });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen["small"], 1u);
  EXPECT_EQ(seen["big"], big.size());
}

}  // namespace
}  // namespace kelp::images
