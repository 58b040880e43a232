// Overlay root filesystems from stored images: the option string (golden), mountinfo parsing,
// and real mounts (root) showing that converted whiteouts and opaque directories hide the
// lower layers, that images with many layers mount through lowerdir+, and that a mounted
// image is seen as in use.
#include "agent/images/overlay_mount.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <fstream>

#include "agent/images/image_store.h"
#include "agent/images/testing/image_builder.h"
#include "common/file.h"
#include "common/testing/temp_dir.h"

namespace kelp::images {
namespace {

namespace fs = std::filesystem;
using testing::ArchiveImage;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TarBuilder;

TEST(OverlayMountTest, OptionsListTheTopLayerFirstAndEscape) {
  OverlaySpec spec{.layers = {"/s/layers/a/diff", "/s/layers/b,c/diff", "/s/layers/d:e/diff"},
                   .upper = "/c/upper",
                   .work = "/c/work",
                   .target = "/c/rootfs"};
  EXPECT_EQ(OverlayMountOptions(spec),
            "lowerdir=/s/layers/d\\:e/diff:/s/layers/b\\,c/diff:/s/layers/a/diff,"
            "upperdir=/c/upper,workdir=/c/work,index=off");
}

TEST(OverlayMountTest, ParsesMountinfo) {
  const std::string text =
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
      "99 22 0:50 / /run/a\\040b rw shared:5 - overlay overlay "
      "rw,lowerdir=/l/two:/l/o\\134\\072ne,upperdir=/u,workdir=/w\n"
      "100 22 0:51 / /run/c rw - overlay overlay rw,lowerdir+=/l/x,lowerdir+=/l/y,upperdir=/u2\n"
      "garbage line\n";
  std::vector<OverlayMountInfo> mounts = ParseOverlayMounts(text);
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_EQ(mounts[0].mount_point, "/run/a b");
  EXPECT_THAT(mounts[0].lowerdirs, ElementsAre("/l/two", "/l/o:ne"));
  EXPECT_EQ(mounts[0].upperdir, "/u");
  EXPECT_THAT(mounts[1].lowerdirs, ElementsAre("/l/x", "/l/y"));
}

class OverlayStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_.path().empty());
    auto store = ImageStore::Open(temp_.path() / "images");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    for (const char* dir : {"upper", "work", "rootfs"}) fs::create_directories(temp_.path() / dir);
  }

  OverlaySpec Spec(const agent::ResolvedImage& image) {
    return {.layers = image.layers,
            .upper = temp_.path() / "upper",
            .work = temp_.path() / "work",
            .target = temp_.path() / "rootfs"};
  }

  kelp::testing::ScopedTempDir temp_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(OverlayStoreTest, WhiteoutsAndOpaqueDirectoriesHideLowerContent) {
  ArchiveImage image;
  image.layers.push_back(testing::MakeLayer(TarBuilder()
                                                .File("bin/sh", "shell", 0755)
                                                .File("etc/motd", "old motd")
                                                .File("etc/keep", "kept")
                                                .File("cache/old1", "1")
                                                .File("cache/old2", "2")));
  image.layers.push_back(testing::MakeLayer(TarBuilder()
                                                .File("etc/.wh.motd", "")
                                                .Dir("cache")
                                                .File("cache/.wh..wh..opq", "")
                                                .File("cache/new", "n")));
  image.config =
      testing::MakeConfig({.diff_ids = {image.layers[0].diff_id, image.layers[1].diff_id}});
  image.repo_tags = {"layered:1"};
  ASSERT_TRUE(store_->Load(ArchiveInput::Memory(testing::DockerArchive({image}))).ok());
  Result<agent::ResolvedImage> resolved = store_->Resolve("layered:1");
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();

  auto mount = ScopedOverlayMount::Mount(Spec(*resolved));
  ASSERT_TRUE(mount.ok()) << mount.status().ToString();
  const fs::path root = (*mount)->target();
  EXPECT_EQ(ReadFile(root / "bin/sh").value_or(""), "shell");
  EXPECT_FALSE(fs::exists(root / "etc/motd"));
  EXPECT_EQ(ReadFile(root / "etc/keep").value_or(""), "kept");
  std::vector<std::string> cache;
  for (const auto& entry : fs::directory_iterator(root / "cache")) {
    cache.push_back(entry.path().filename().string());
  }
  EXPECT_THAT(cache, ElementsAre("new"));
  // Writes land in the container's upper directory, never in the shared layers.
  std::ofstream(root / "etc/keep") << "changed";
  EXPECT_EQ(ReadFile(temp_.path() / "upper/etc/keep").value_or(""), "changed");
  EXPECT_EQ(ReadFile(resolved->layers[0] / "etc/keep").value_or(""), "kept");

  // The store sees the mount in the real mountinfo and keeps the image.
  bool listed = false;
  for (const OverlayMountInfo& info :
       ParseOverlayMounts(ReadFile("/proc/self/mountinfo").value_or(""))) {
    if (info.mount_point != root.string()) continue;
    listed = true;
    EXPECT_THAT(info.lowerdirs,
                ElementsAre(resolved->layers[1].string(), resolved->layers[0].string()));
  }
  EXPECT_TRUE(listed);
  EXPECT_EQ(store_->Remove("layered:1").status().code(), StatusCode::kConflict);
}

TEST_F(OverlayStoreTest, ManyLayersMountThroughLowerdirPlus) {
  ArchiveImage image;
  testing::ConfigSpec config;
  for (int i = 0; i < 60; ++i) {
    image.layers.push_back(testing::MakeLayer(TarBuilder().File("f" + std::to_string(i), "x")));
    config.diff_ids.push_back(image.layers.back().diff_id);
  }
  image.config = testing::MakeConfig(config);
  image.repo_tags = {"tall:1"};
  ASSERT_TRUE(store_->Load(ArchiveInput::Memory(testing::DockerArchive({image}))).ok());
  Result<agent::ResolvedImage> resolved = store_->Resolve("tall:1");
  ASSERT_TRUE(resolved.ok());
  ASSERT_GT(OverlayMountOptions(Spec(*resolved)).size(), 4096u);
  auto mount = ScopedOverlayMount::Mount(Spec(*resolved));
  ASSERT_TRUE(mount.ok()) << mount.status().ToString();
  EXPECT_TRUE(fs::exists((*mount)->target() / "f0"));
  EXPECT_TRUE(fs::exists((*mount)->target() / "f59"));
}

TEST(OverlayMountErrorsTest, ClearErrors) {
  EXPECT_THAT(MountOverlay({}).message(), HasSubstr("without layers"));
  EXPECT_FALSE(MountOverlay({.layers = {"/nonexistent/kelp/a"},
                             .upper = "/nonexistent/kelp/u",
                             .work = "/nonexistent/kelp/w",
                             .target = "/nonexistent/kelp/t"})
                   .ok());
}

}  // namespace
}  // namespace kelp::images
