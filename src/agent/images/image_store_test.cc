// ImageStore over a temp directory: loading both archive formats, resolving references,
// reloading, digest mismatches, crash leftovers, removal with garbage collection, the in-use
// check against mounted overlays, and concurrent loads.
#include "agent/images/image_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "agent/images/testing/image_builder.h"
#include "common/file.h"
#include "common/testing/temp_dir.h"

namespace kelp::images {
namespace {

namespace fs = std::filesystem;
using testing::ArchiveImage;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::TarBuilder;
using ::testing::UnorderedElementsAre;

ArchiveImage MakeImage(std::string marker, std::vector<std::string> tags, bool gzip = false) {
  ArchiveImage image;
  image.layers.push_back(testing::MakeLayer(
      TarBuilder().Dir("bin").File("bin/sh", "shell", 0755).File("etc/base", "base"), gzip));
  image.layers.push_back(
      testing::MakeLayer(TarBuilder().File("marker", marker).File("etc/.wh.base", ""), gzip));
  image.config =
      testing::MakeConfig({.diff_ids = {image.layers[0].diff_id, image.layers[1].diff_id},
                           .entrypoint = {"/bin/sh"},
                           .cmd = {"-c", marker},
                           .working_dir = "/srv",
                           .user = "101"});
  image.repo_tags = std::move(tags);
  return image;
}

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_.path().empty());
    mountinfo_ = temp_.path() / "mountinfo";
    WriteMountinfo("");
    auto store = ImageStore::Open(temp_.path() / "data" / "images", {.mountinfo = mountinfo_});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  void WriteMountinfo(const std::string& text) { std::ofstream(mountinfo_) << text; }

  Result<LoadResult> Load(const std::string& archive, LoadOptions options = {}) {
    return store_->Load(ArchiveInput::Memory(archive), options);
  }

  std::vector<std::string> Entries(const std::string& sub) {
    std::vector<std::string> out;
    for (const auto& entry : fs::directory_iterator(store_->root() / sub)) {
      out.push_back(entry.path().filename().string());
    }
    return out;
  }

  kelp::testing::ScopedTempDir temp_;
  fs::path mountinfo_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(ImageStoreTest, LoadsDockerArchiveAndResolvesNormalizedReferences) {
  ArchiveImage image = MakeImage("nginx", {"nginx:1.22"});
  Result<LoadResult> loaded = Load(testing::DockerArchive({image}));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->images.size(), 1u);
  EXPECT_EQ(loaded->images[0].id, testing::Sha256Of(image.config));
  EXPECT_THAT(loaded->images[0].names, ElementsAre("docker.io/library/nginx:1.22"));
  EXPECT_EQ(loaded->layers_unpacked, 2);

  for (const std::string& ref :
       std::vector<std::string>{"nginx:1.22", "docker.io/library/nginx:1.22", loaded->images[0].id,
                                loaded->images[0].id.substr(7)}) {
    Result<agent::ResolvedImage> resolved = store_->Resolve(ref);
    ASSERT_TRUE(resolved.ok()) << ref << ": " << resolved.status().ToString();
    EXPECT_EQ(resolved->id, loaded->images[0].id);
    EXPECT_EQ(resolved->ref, "docker.io/library/nginx:1.22");
    ASSERT_EQ(resolved->layers.size(), 2u);
    EXPECT_EQ(resolved->layers[0], store_->LayerDir(image.layers[0].diff_id));
    EXPECT_EQ(ReadFile(resolved->layers[0] / "bin/sh").value_or(""), "shell");
    EXPECT_EQ(ReadFile(resolved->layers[1] / "marker").value_or(""), "nginx");
    EXPECT_THAT(resolved->config.entrypoint, ElementsAre("/bin/sh"));
    EXPECT_THAT(resolved->config.cmd, ElementsAre("-c", "nginx"));
    EXPECT_EQ(resolved->config.working_dir, "/srv");
    EXPECT_EQ(resolved->config.user, "101");
  }
  // The top layer's whiteout is in overlayfs form.
  struct stat whiteout {};
  ASSERT_EQ(::lstat((store_->LayerDir(image.layers[1].diff_id) / "etc/base").c_str(), &whiteout),
            0);
  EXPECT_TRUE(S_ISCHR(whiteout.st_mode));
}

TEST_F(ImageStoreTest, AbsentImageIsNotFoundWithAHint) {
  Result<agent::ResolvedImage> resolved = store_->Resolve("nginx:1.22");
  EXPECT_EQ(resolved.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(resolved.status().message(), HasSubstr("kelp images load"));
  EXPECT_EQ(store_->Resolve("sha256:" + std::string(64, 'e')).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->Resolve("Not A Reference").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ImageStoreTest, LoadsOciLayoutWithGzipLayersAndDigestReferences) {
  ArchiveImage image = MakeImage("oci", {}, /*gzip=*/true);
  image.annotations = {{"org.opencontainers.image.ref.name", "1.0"}};
  Result<LoadResult> loaded =
      Load(testing::OciArchive({image}, /*nested=*/true), {.base_name = "team/app"});
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_THAT(loaded->images[0].names, ElementsAre("docker.io/team/app:1.0"));
  const std::string manifest_digest = testing::OciManifest(image).second;
  Result<agent::ResolvedImage> by_digest = store_->Resolve("team/app@" + manifest_digest);
  ASSERT_TRUE(by_digest.ok()) << by_digest.status().ToString();
  EXPECT_EQ(by_digest->id, testing::Sha256Of(image.config));
  EXPECT_EQ(by_digest->ref, "docker.io/team/app@" + manifest_digest);
  EXPECT_EQ(ReadFile(by_digest->layers[1] / "marker").value_or(""), "oci");
  // The manifest blob is kept with the config.
  EXPECT_TRUE(fs::exists(store_->root() / "blobs/sha256" / manifest_digest.substr(7)));
}

TEST_F(ImageStoreTest, ReloadIsIdempotentAndUnpacksNothing) {
  ArchiveImage image = MakeImage("x", {"x:1"});
  std::string archive = testing::DockerArchive({image});
  ASSERT_TRUE(Load(archive).ok());
  struct stat before {};
  ASSERT_EQ(::stat(store_->LayerDir(image.layers[1].diff_id).c_str(), &before), 0);

  Result<LoadResult> again = Load(archive);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->layers_unpacked, 0);
  EXPECT_EQ(again->layers_reused, 2);
  EXPECT_EQ(again->images[0].id, testing::Sha256Of(image.config));
  struct stat after {};
  ASSERT_EQ(::stat(store_->LayerDir(image.layers[1].diff_id).c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  Result<std::vector<StoredImage>> images = store_->List();
  ASSERT_TRUE(images.ok());
  ASSERT_EQ(images->size(), 1u);
  EXPECT_EQ((*images)[0].size, 5 + 4 + 1);  // "shell" + "base" + "x"
  EXPECT_THAT((*images)[0].refs, ElementsAre("docker.io/library/x:1"));
}

TEST_F(ImageStoreTest, LayerNotMatchingItsDiffIdIsRejectedAndNothingIsReferenced) {
  ArchiveImage image = MakeImage("x", {"x:1"});
  // The config promises a different top layer than the archive carries.
  ArchiveImage liar = image;
  liar.layers[1] = testing::MakeLayer(TarBuilder().File("marker", "evil"));
  liar.config = image.config;  // still names the honest diff_ids
  std::string archive = testing::DockerArchive({liar});
  Result<LoadResult> loaded = Load(archive);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr("diff_id"));
  EXPECT_EQ(store_->Resolve("x:1").status().code(), StatusCode::kNotFound);
  Result<std::vector<StoredImage>> images = store_->List();
  ASSERT_TRUE(images.ok());
  EXPECT_THAT(*images, IsEmpty());
  EXPECT_THAT(Entries("tmp"), IsEmpty());  // the load cleaned its staging directory

  // The honest bottom layer may have been unpacked already; GC removes it, unreferenced.
  Result<GcResult> gc = store_->CollectGarbage();
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_THAT(Entries("layers"), IsEmpty());
  EXPECT_THAT(Entries("blobs/sha256"), IsEmpty());
}

TEST_F(ImageStoreTest, OciBlobDigestMismatchIsRejected) {
  ArchiveImage image = MakeImage("x", {}, /*gzip=*/true);
  image.annotations = {{"io.containerd.image.name", "x:1"}};
  // Same diff_id, different compressed bytes than the manifest's digest.
  std::string archive = testing::OciArchive({image});
  ArchiveImage recompressed = image;
  recompressed.layers[1].blob =
      TarBuilder().File("marker", "x").File("etc/.wh.base", "").Build(false);
  std::string blob_path = "blobs/sha256/" + image.layers[1].blob_digest.substr(7);
  // Rebuild the archive by hand with the swapped blob under the old name.
  auto [manifest, manifest_digest] = testing::OciManifest(image);
  std::string index =
      R"({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      manifest_digest + R"(","annotations":{"io.containerd.image.name":"x:1"}}]})";
  std::string tampered = testing::RawArchive(
      {{"oci-layout", R"({"imageLayoutVersion":"1.0.0"})"},
       {"index.json", index},
       {"blobs/sha256/" + manifest_digest.substr(7), manifest},
       {"blobs/sha256/" + testing::Sha256Of(image.config).substr(7), image.config},
       {"blobs/sha256/" + image.layers[0].blob_digest.substr(7), image.layers[0].blob},
       {blob_path, recompressed.layers[1].blob}});
  Result<LoadResult> loaded = Load(tampered);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr("blob digest"));
  EXPECT_EQ(store_->Resolve("x:1").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(Load(archive).ok());
  EXPECT_TRUE(store_->Resolve("x:1").ok());
}

TEST_F(ImageStoreTest, CrashLeftoversAreUnreferencedAndCollected) {
  // What a load killed before its commit leaves: a staged directory, a renamed layer, a blob.
  ArchiveImage image = MakeImage("x", {"x:1"});
  ASSERT_TRUE(Load(testing::DockerArchive({image})).ok());
  fs::create_directories(store_->root() / "tmp/load-dead/layer-0/diff");
  fs::create_directories(store_->root() / "layers" / std::string(64, 'd') / "diff");
  std::ofstream(store_->root() / "blobs/sha256" / std::string(64, 'd')) << "{}";
  Result<GcResult> gc = store_->CollectGarbage();
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_EQ(gc->layers_removed, 1);
  EXPECT_EQ(gc->blobs_removed, 1);
  EXPECT_EQ(gc->temp_removed, 1);
  EXPECT_THAT(Entries("tmp"), IsEmpty());
  EXPECT_EQ(Entries("layers").size(), 2u);
  EXPECT_TRUE(store_->Resolve("x:1").ok());
}

TEST_F(ImageStoreTest, RemoveUntagsThenDeletesAndCollectsUnsharedLayers) {
  ArchiveImage a = MakeImage("a", {"a:1", "a:latest"});
  ArchiveImage b = MakeImage("b", {"b:1"});
  ASSERT_TRUE(Load(testing::DockerArchive({a, b})).ok());
  ASSERT_EQ(Entries("layers").size(), 3u);  // the base layer is shared

  Result<RemoveResult> untag = store_->Remove("a:latest");
  ASSERT_TRUE(untag.ok()) << untag.status().ToString();
  EXPECT_THAT(untag->untagged, ElementsAre("docker.io/library/a:latest"));
  EXPECT_THAT(untag->deleted, IsEmpty());
  EXPECT_TRUE(store_->Resolve("a:1").ok());

  Result<RemoveResult> removed = store_->Remove("a:1");
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_THAT(removed->deleted, ElementsAre(testing::Sha256Of(a.config)));
  EXPECT_EQ(store_->Resolve("a:1").status().code(), StatusCode::kNotFound);
  EXPECT_THAT(Entries("layers"),
              UnorderedElementsAre(b.layers[0].diff_id.substr(7), b.layers[1].diff_id.substr(7)));
  ASSERT_TRUE(store_->Resolve("b:1").ok());
  EXPECT_TRUE(fs::exists(store_->Resolve("b:1")->layers[0] / "bin/sh"));

  EXPECT_EQ(store_->Remove("a:1").status().code(), StatusCode::kNotFound);
  // By id prefix, as `docker rmi 1a2b` does.
  ASSERT_TRUE(store_->Remove(testing::Sha256Of(b.config).substr(7, 8)).ok());
  EXPECT_THAT(Entries("layers"), IsEmpty());
  EXPECT_THAT(Entries("blobs/sha256"), IsEmpty());
}

TEST_F(ImageStoreTest, RetaggingLeavesTheOldImageDangling) {
  ArchiveImage v1 = MakeImage("v1", {"app:stable"});
  ArchiveImage v2 = MakeImage("v2", {"app:stable"});
  ASSERT_TRUE(Load(testing::DockerArchive({v1})).ok());
  ASSERT_TRUE(Load(testing::DockerArchive({v2})).ok());
  EXPECT_EQ(store_->Resolve("app:stable")->id, testing::Sha256Of(v2.config));
  Result<std::vector<StoredImage>> images = store_->List();
  ASSERT_TRUE(images.ok());
  ASSERT_EQ(images->size(), 2u);
  for (const StoredImage& image : *images) {
    if (image.id == testing::Sha256Of(v1.config)) {
      EXPECT_THAT(image.refs, IsEmpty());
    }
  }
  ASSERT_TRUE(store_->Remove(testing::Sha256Of(v1.config)).ok());
  EXPECT_EQ(store_->List()->size(), 1u);
}

TEST_F(ImageStoreTest, PruneDeletesDanglingImagesUnlessMounted) {
  ArchiveImage v1 = MakeImage("v1", {"app:stable"});
  ArchiveImage v2 = MakeImage("v2", {"app:stable"});
  ASSERT_TRUE(Load(testing::DockerArchive({v1})).ok());
  Result<agent::ResolvedImage> old = store_->Resolve("app:stable");
  ASSERT_TRUE(old.ok());
  ASSERT_TRUE(Load(testing::DockerArchive({v2})).ok());
  // v1 is dangling now, but a container still runs on it.
  WriteMountinfo("99 22 0:50 / /run/c rw - overlay overlay rw,lowerdir=" + old->layers[1].string() +
                 ":" + old->layers[0].string() + ",upperdir=/u,workdir=/w\n");
  GcResult gc;
  Result<std::vector<std::string>> pruned = store_->Prune(&gc);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_THAT(*pruned, IsEmpty());
  WriteMountinfo("");
  pruned = store_->Prune(&gc);
  ASSERT_TRUE(pruned.ok());
  EXPECT_THAT(*pruned, ElementsAre(testing::Sha256Of(v1.config)));
  EXPECT_EQ(gc.layers_removed, 1);  // v1's top layer; the base is v2's too
  EXPECT_TRUE(store_->Resolve("app:stable").ok());
}

TEST_F(ImageStoreTest, ImageOfAMountedRootIsKeptUnlessForced) {
  ArchiveImage image = MakeImage("x", {"x:1"});
  ASSERT_TRUE(Load(testing::DockerArchive({image})).ok());
  Result<agent::ResolvedImage> resolved = store_->Resolve("x:1");
  ASSERT_TRUE(resolved.ok());
  // A container root as the runtime mounts it, listed as the kernel lists it (top first).
  WriteMountinfo(
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
      "99 22 0:50 / /run/kelp/c1/rootfs rw,relatime shared:50 - overlay overlay rw,lowerdir=" +
      resolved->layers[1].string() + ":" + resolved->layers[0].string() +
      ",upperdir=/var/lib/kelp/c1/upper,workdir=/var/lib/kelp/c1/work,index=off\n");
  Result<RemoveResult> refused = store_->Remove("x:1");
  EXPECT_EQ(refused.status().code(), StatusCode::kConflict);
  EXPECT_THAT(refused.status().message(), HasSubstr("in use"));
  EXPECT_TRUE(store_->Resolve("x:1").ok());

  Result<RemoveResult> forced = store_->Remove("x:1", /*force=*/true);
  ASSERT_TRUE(forced.ok()) << forced.status().ToString();
  EXPECT_EQ(forced->deleted.size(), 1u);
  EXPECT_EQ(Entries("layers").size(), 2u);  // still mounted: kept
  WriteMountinfo("");
  Result<GcResult> gc = store_->CollectGarbage();
  ASSERT_TRUE(gc.ok());
  EXPECT_EQ(gc->layers_removed, 2);
}

TEST_F(ImageStoreTest, ConcurrentLoadsOfTheSameArchiveBothSucceed) {
  ArchiveImage a = MakeImage("a", {"a:1"});
  ArchiveImage b = MakeImage("b", {"b:1"});
  std::string first = testing::DockerArchive({a});
  std::string second = testing::DockerArchive({b, a});
  Result<LoadResult> one = InternalError("not run");
  Result<LoadResult> two = InternalError("not run");
  std::thread t1([&] { one = Load(first); });
  std::thread t2([&] { two = Load(second); });
  t1.join();
  t2.join();
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  EXPECT_TRUE(store_->Resolve("a:1").ok());
  EXPECT_TRUE(store_->Resolve("b:1").ok());
  EXPECT_EQ(Entries("layers").size(), 3u);
  EXPECT_THAT(Entries("tmp"), IsEmpty());
}

TEST_F(ImageStoreTest, CompressedOuterArchiveAndDocker25Layout) {
  ArchiveImage image = MakeImage("x", {"x:1"});
  TarBuilder outer;  // the classic layout, gzip'ed as `docker save | gzip` makes it
  const std::string config_hex = testing::Sha256Of(image.config).substr(7);
  outer.File(config_hex + ".json", image.config)
      .File("l0/layer.tar", image.layers[0].blob)
      .File("l1/layer.tar", image.layers[1].blob)
      .File("manifest.json",
            R"([{"Config":")" + config_hex +
                R"(.json","RepoTags":["x:1"],"Layers":["l0/layer.tar","l1/layer.tar"]}])");
  Result<LoadResult> gz = Load(outer.Build(/*gzip=*/true));
  ASSERT_TRUE(gz.ok()) << gz.status().ToString();
  ASSERT_TRUE(store_->Remove("x:1").ok());

  Result<LoadResult> modern = Load(testing::DockerArchive({image}, /*blobs=*/true));
  ASSERT_TRUE(modern.ok()) << modern.status().ToString();
  const std::string manifest_digest = testing::OciManifest(image).second;
  EXPECT_TRUE(store_->Resolve("x@" + manifest_digest).ok());
  // Removing the last tag takes the digest reference with it.
  Result<RemoveResult> removed = store_->Remove("x:1");
  ASSERT_TRUE(removed.ok());
  EXPECT_THAT(removed->untagged, UnorderedElementsAre("docker.io/library/x:1",
                                                      "docker.io/library/x@" + manifest_digest));
}

TEST_F(ImageStoreTest, LargeLayersAreStreamedInTheSecondPass) {
  std::string big(ArchiveIndex::kMaxInlineMember + 4096, 'z');
  ArchiveImage image;
  image.layers.push_back(testing::MakeLayer(TarBuilder().File("big", big)));
  image.config = testing::MakeConfig({.diff_ids = {image.layers[0].diff_id}});
  image.repo_tags = {"big:1"};
  ASSERT_TRUE(Load(testing::DockerArchive({image})).ok());
  Result<agent::ResolvedImage> resolved = store_->Resolve("big:1");
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(fs::file_size(resolved->layers[0] / "big"), big.size());
}

TEST_F(ImageStoreTest, DamagedIndexIsAnError) {
  ASSERT_TRUE(WriteFileAtomic(store_->root() / "repositories.json", "{\"images\": [").ok());
  EXPECT_THAT(store_->List().status().message(), HasSubstr("damaged"));
  EXPECT_FALSE(store_->Resolve("x").ok());
}

}  // namespace
}  // namespace kelp::images
