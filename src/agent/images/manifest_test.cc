// The archive JSON parsers: the fields they take, and clear errors for malformed documents.
#include "agent/images/manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kelp::images {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kDigest = "sha256:" + std::string(64, 'b');

TEST(ImageManifestTest, DockerManifest) {
  auto entries = ParseDockerManifest(
      R"([{"Config":"abc.json","RepoTags":["nginx:1.22"],"Layers":["l1/layer.tar","l2/layer.tar"]},
          {"Config":"def.json","RepoTags":null,"Layers":[]}])");
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].config, "abc.json");
  EXPECT_THAT((*entries)[0].repo_tags, ElementsAre("nginx:1.22"));
  EXPECT_THAT((*entries)[0].layers, ElementsAre("l1/layer.tar", "l2/layer.tar"));
  EXPECT_TRUE((*entries)[1].repo_tags.empty());
}

TEST(ImageManifestTest, DockerManifestErrorsNameTheField) {
  EXPECT_THAT(ParseDockerManifest("{}").status().message(), HasSubstr("manifest.json"));
  EXPECT_THAT(ParseDockerManifest("[]").status().message(), HasSubstr("lists no images"));
  EXPECT_THAT(ParseDockerManifest(R"([{"RepoTags":[]}])").status().message(), HasSubstr("Config"));
  EXPECT_THAT(ParseDockerManifest(R"([{"Config":"a","Layers":[1]}])").status().message(),
              HasSubstr("[0].Layers.0: expected string"));
  EXPECT_THAT(ParseDockerManifest(R"([{"Config":"a",)").status().message(), HasSubstr("line 1"));
}

TEST(ImageManifestTest, OciIndexWithAnnotationsAndPlatform) {
  auto index = ParseOciIndex(R"({"schemaVersion":2,"manifests":[{
      "mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                             kDigest + R"(",
      "size":12,"annotations":{"org.opencontainers.image.ref.name":"1.22"},
      "platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]})");
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  ASSERT_EQ(index->manifests.size(), 1u);
  const Descriptor& d = index->manifests[0];
  EXPECT_EQ(d.digest, kDigest);
  EXPECT_EQ(d.size, 12);
  EXPECT_EQ(d.annotations.at(std::string(kOciRefNameAnnotation)), "1.22");
  ASSERT_TRUE(d.platform.has_value());
  EXPECT_EQ(d.platform->architecture, "arm64");
  EXPECT_EQ(d.platform->variant, "v8");
}

TEST(ImageManifestTest, DescriptorDigestsAreChecked) {
  EXPECT_THAT(ParseOciIndex(R"({"manifests":[{"digest":"sha256:xyz"}]})").status().message(),
              HasSubstr("manifests.0.digest"));
  EXPECT_EQ(ParseOciIndex(R"({"manifests":[{"digest":"sha512:)" + std::string(128, 'a') + R"("}]})")
                .status()
                .code(),
            StatusCode::kUnimplemented);
  EXPECT_THAT(ParseOciIndex(R"({"manifests":[{"size":1}]})").status().message(),
              HasSubstr("manifests.0.digest: required"));
  EXPECT_THAT(ParseOciIndex(R"({"manifests":[{"digest":")" + kDigest + R"(","size":-1}]})")
                  .status()
                  .message(),
              HasSubstr("negative"));
  EXPECT_FALSE(ParseOciIndex(R"({"schemaVersion":1,"manifests":[]})").ok());
}

TEST(ImageManifestTest, OciManifest) {
  auto manifest = ParseOciManifest(R"({"schemaVersion":2,"config":{"digest":")" + kDigest +
                                   R"(","size":3},"layers":[{"mediaType":"x","digest":")" +
                                   kDigest + R"("}]})");
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  EXPECT_EQ(manifest->config.size, 3);
  ASSERT_EQ(manifest->layers.size(), 1u);
  EXPECT_EQ(manifest->layers[0].size, -1);
  EXPECT_THAT(ParseOciManifest(R"({"layers":[]})").status().message(), HasSubstr("config"));
}

TEST(ImageManifestTest, SniffsKinds) {
  EXPECT_EQ(SniffManifestKind(R"({"manifests":[]})"), "index");
  EXPECT_EQ(SniffManifestKind(R"({"config":{},"layers":[]})"), "manifest");
  EXPECT_EQ(
      SniffManifestKind(R"({"mediaType":"application/vnd.docker.distribution.manifest.v2+json"})"),
      "manifest");
  EXPECT_EQ(SniffManifestKind("not json"), "");
}

TEST(ImageManifestTest, ImageConfig) {
  auto config =
      ParseImageConfig(R"({"architecture":"amd64","os":"linux","created":"2023-06-10T00:00:00Z",
      "config":{"Entrypoint":null,"Cmd":["nginx","-g","daemon off;"],"Env":["PATH=/bin"],
                "WorkingDir":"/srv","User":"101:101","ExposedPorts":{"80/tcp":{}}},
      "rootfs":{"type":"layers","diff_ids":[")" +
                       kDigest + R"("]}})");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->config.entrypoint.empty());
  EXPECT_THAT(config->config.cmd, ElementsAre("nginx", "-g", "daemon off;"));
  EXPECT_THAT(config->config.env, ElementsAre("PATH=/bin"));
  EXPECT_EQ(config->config.working_dir, "/srv");
  EXPECT_EQ(config->config.user, "101:101");
  EXPECT_THAT(config->diff_ids, ElementsAre(kDigest));
  EXPECT_EQ(config->created, "2023-06-10T00:00:00Z");
}

TEST(ImageManifestTest, ImageConfigErrors) {
  EXPECT_THAT(ParseImageConfig(R"({"config":{}})").status().message(), HasSubstr("rootfs"));
  EXPECT_THAT(ParseImageConfig(R"({"rootfs":{"type":"tarball","diff_ids":[]}})").status().message(),
              HasSubstr("rootfs.type"));
  EXPECT_THAT(
      ParseImageConfig(R"({"rootfs":{"type":"layers","diff_ids":["x"]}})").status().message(),
      HasSubstr("rootfs.diff_ids.0"));
  EXPECT_THAT(
      ParseImageConfig(R"({"config":{"Cmd":"sh"},"rootfs":{"type":"layers"}})").status().message(),
      HasSubstr("config.Cmd"));
}

TEST(ImageManifestTest, OciLayout) {
  EXPECT_TRUE(ValidateOciLayout(R"({"imageLayoutVersion":"1.0.0"})").ok());
  EXPECT_FALSE(ValidateOciLayout(R"({"imageLayoutVersion":"2.0.0"})").ok());
  EXPECT_FALSE(ValidateOciLayout("{}").ok());
}

}  // namespace
}  // namespace kelp::images
