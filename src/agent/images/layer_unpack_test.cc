// Layer unpacking on a real filesystem (tests run as root): entry types and metadata,
// whiteout conversion to overlayfs form, and refusal of entries that would escape the layer.
#include "agent/images/layer_unpack.h"

#include <archive_entry.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fstream>

#include "agent/images/testing/image_builder.h"
#include "common/file.h"
#include "common/testing/temp_dir.h"

namespace kelp::images {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::TarBuilder;
using testing::TarEntry;

class LayerUnpackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_.path().empty());
    layer_ = temp_.path() / "layer";
    outside_ = temp_.path() / "outside";
    fs::create_directories(layer_);
    fs::create_directories(outside_);
  }

  Result<UnpackStats> Unpack(const TarBuilder& tar) {
    std::string bytes = tar.Build();
    auto reader = ArchiveReader::OpenMemory(bytes, ArchiveReader::Kind::kPlainTar);
    if (!reader.ok()) return reader.status();
    return UnpackLayer(**reader, layer_);
  }

  struct stat Lstat(const fs::path& path) {
    struct stat info {};
    EXPECT_EQ(::lstat(path.c_str(), &info), 0) << path;
    return info;
  }

  std::string Xattr(const fs::path& path, const char* name) {
    char value[256];
    ssize_t n = ::lgetxattr(path.c_str(), name, value, sizeof(value));
    return n < 0 ? "<absent>" : std::string(value, static_cast<size_t>(n));
  }

  kelp::testing::ScopedTempDir temp_;
  fs::path layer_;
  fs::path outside_;
};

TEST_F(LayerUnpackTest, KeepsTypesOwnershipModesAndTimes) {
  TarBuilder tar;
  tar.Dir("./usr/", 0755)
      .Dir("usr/bin", 0711)
      .Add({.path = "usr/bin/tool",
            .perm = 04755,
            .content = "#!/bin/sh\n",
            .uid = 1000,
            .gid = 50,
            .mtime = 1'234'567'890})
      .Symlink("usr/bin/alias", "tool")
      .Symlink("abs", "/usr/bin/tool")
      .Hardlink("usr/bin/tool2", "usr/bin/tool")
      .Add({.path = "dev/null", .type = AE_IFCHR, .perm = 0666, .major = 1, .minor = 3})
      .Add({.path = "run/fifo", .type = AE_IFIFO, .perm = 0600})
      .Add({.path = "usr/data",
            .content = "x",
            .xattrs = {{"user.kelp", "yes"}, {"trusted.evil", "1"}}});
  Result<UnpackStats> stats = Unpack(tar);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->entries, 9);
  EXPECT_EQ(stats->bytes, 11);
  EXPECT_GE(stats->skipped_xattrs, 1);  // trusted.evil (pax may carry it twice)

  struct stat tool = Lstat(layer_ / "usr/bin/tool");
  EXPECT_TRUE(S_ISREG(tool.st_mode));
  EXPECT_EQ(tool.st_mode & 07777, 04755u);
  EXPECT_EQ(tool.st_uid, 1000u);
  EXPECT_EQ(tool.st_gid, 50u);
  EXPECT_EQ(tool.st_mtime, 1'234'567'890);
  EXPECT_EQ(tool.st_nlink, 2u);
  EXPECT_EQ(Lstat(layer_ / "usr/bin/tool2").st_ino, tool.st_ino);
  EXPECT_EQ(Lstat(layer_ / "usr/bin").st_mode & 07777, 0711u);
  EXPECT_EQ(fs::read_symlink(layer_ / "usr/bin/alias"), "tool");
  EXPECT_EQ(fs::read_symlink(layer_ / "abs"), "/usr/bin/tool");
  struct stat null = Lstat(layer_ / "dev/null");
  EXPECT_TRUE(S_ISCHR(null.st_mode));
  EXPECT_EQ(major(null.st_rdev), 1u);
  EXPECT_EQ(minor(null.st_rdev), 3u);
  EXPECT_EQ(null.st_mode & 07777, 0666u);
  EXPECT_TRUE(S_ISFIFO(Lstat(layer_ / "run/fifo").st_mode));
  EXPECT_EQ(Xattr(layer_ / "usr/data", "user.kelp"), "yes");
  EXPECT_EQ(Xattr(layer_ / "usr/data", "trusted.evil"), "<absent>");
}

TEST_F(LayerUnpackTest, DirectoryTimesSurviveTheirChildren) {
  TarBuilder tar;
  tar.Add({.path = "etc", .type = AE_IFDIR, .perm = 0755, .mtime = 1'000'000'000})
      .File("etc/passwd", "root:x:0:0::/root:/bin/sh\n");
  ASSERT_TRUE(Unpack(tar).ok());
  EXPECT_EQ(Lstat(layer_ / "etc").st_mtime, 1'000'000'000);
}

TEST_F(LayerUnpackTest, WhiteoutsBecomeOverlayfsWhiteouts) {
  TarBuilder tar;
  tar.Dir("etc")
      .File("etc/.wh.motd", "")
      .Dir("var/cache")
      .File("var/cache/.wh..wh..opq", "")
      .File("var/cache/kept", "k")
      .File("usr/.wh..wh.plnk", "");
  Result<UnpackStats> stats = Unpack(tar);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->whiteouts, 2);
  struct stat whiteout = Lstat(layer_ / "etc/motd");
  EXPECT_TRUE(S_ISCHR(whiteout.st_mode));
  EXPECT_EQ(whiteout.st_rdev, makedev(0, 0));
  EXPECT_FALSE(fs::exists(layer_ / "etc/.wh.motd"));
  EXPECT_EQ(Xattr(layer_ / "var/cache", "trusted.overlay.opaque"), "y");
  EXPECT_TRUE(fs::exists(layer_ / "var/cache/kept"));
  EXPECT_FALSE(fs::exists(layer_ / "var/cache/.wh..wh..opq"));
  EXPECT_FALSE(fs::exists(layer_ / "usr/.wh..wh.plnk"));
}

TEST_F(LayerUnpackTest, LaterEntriesReplaceEarlierOnes) {
  TarBuilder tar;
  tar.File("a", "file")
      .Dir("a")
      .File("a/inside", "1")
      .File("b/c", "deep")
      .File("b", "now a file")
      .Symlink("s", "a")
      .File("s", "regular");
  ASSERT_TRUE(Unpack(tar).ok());
  EXPECT_TRUE(fs::is_directory(layer_ / "a"));
  EXPECT_EQ(ReadFile(layer_ / "b").value_or(""), "now a file");
  EXPECT_FALSE(fs::is_symlink(layer_ / "s"));
  EXPECT_EQ(ReadFile(layer_ / "s").value_or(""), "regular");
}

TEST_F(LayerUnpackTest, RefusesPathTraversal) {
  for (const char* name : {"../escaped", "a/../../escaped", "/abs/escaped"}) {
    TarBuilder tar;
    tar.File(name, "pwned");
    Result<UnpackStats> stats = Unpack(tar);
    ASSERT_FALSE(stats.ok()) << name;
    EXPECT_EQ(stats.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(stats.status().message(), HasSubstr(name));
  }
  EXPECT_FALSE(fs::exists(temp_.path() / "escaped"));
  EXPECT_FALSE(fs::exists("/abs/escaped"));
}

TEST_F(LayerUnpackTest, NeverWritesThroughSymlinks) {
  TarBuilder tar;
  tar.Symlink("link", outside_.string()).File("link/pwned", "x");
  Result<UnpackStats> stats = Unpack(tar);
  ASSERT_FALSE(stats.ok());
  EXPECT_THAT(stats.status().message(), HasSubstr("symlink"));
  EXPECT_FALSE(fs::exists(outside_ / "pwned"));

  TarBuilder relative;
  relative.Symlink("up", "../outside").File("up/pwned", "x");
  EXPECT_FALSE(Unpack(relative).ok());
  EXPECT_FALSE(fs::exists(outside_ / "pwned"));

  // A whiteout below a symlink would delete outside the layer.
  std::ofstream(outside_ / "victim") << "keep";
  TarBuilder whiteout;
  whiteout.Symlink("w", outside_.string()).File("w/.wh.victim", "");
  EXPECT_FALSE(Unpack(whiteout).ok());
  EXPECT_TRUE(fs::exists(outside_ / "victim"));
}

TEST_F(LayerUnpackTest, RefusesHardlinksOutOfTheLayer) {
  std::ofstream(outside_ / "secret") << "s";
  for (const std::string& target :
       std::vector<std::string>{"../outside/secret", (outside_ / "secret").string()}) {
    TarBuilder tar;
    tar.Hardlink("stolen", target);
    EXPECT_FALSE(Unpack(tar).ok()) << target;
    EXPECT_FALSE(fs::exists(layer_ / "stolen"));
  }
  TarBuilder through_symlink;
  through_symlink.Symlink("out", outside_.string()).Hardlink("stolen", "out/secret");
  EXPECT_FALSE(Unpack(through_symlink).ok());
  EXPECT_EQ(Lstat(outside_ / "secret").st_nlink, 1u);
}

TEST_F(LayerUnpackTest, CleanEntryPath) {
  EXPECT_EQ(CleanEntryPath("./usr//lib/").value_or("?"), "usr/lib");
  EXPECT_EQ(CleanEntryPath("./").value_or("?"), "");
  EXPECT_EQ(CleanEntryPath("a/./b").value_or("?"), "a/b");
  EXPECT_FALSE(CleanEntryPath("a/..").ok());
  EXPECT_FALSE(CleanEntryPath("/etc").ok());
}

TEST_F(LayerUnpackTest, BlobDigestsCoverCompressedAndPlainStreams) {
  TarBuilder tar;
  tar.File("hello", "world");
  testing::TestLayer layer = testing::MakeLayer(tar, /*gzip=*/true);
  MemorySource source(layer.blob);
  Result<UnpackedBlob> unpacked = UnpackLayerBlob(source, layer_);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status().ToString();
  EXPECT_EQ(unpacked->diff_id, layer.diff_id);
  EXPECT_EQ(unpacked->blob_digest, layer.blob_digest);
  EXPECT_NE(layer.diff_id, layer.blob_digest);
  EXPECT_EQ(ReadFile(layer_ / "hello").value_or(""), "world");
}

TEST_F(LayerUnpackTest, GarbageIsAnErrorNotACrash) {
  std::string garbage(3000, '\x7f');
  MemorySource source(garbage);
  EXPECT_FALSE(UnpackLayerBlob(source, layer_).ok());
  std::string truncated = testing::MakeLayer(TarBuilder().File("f", std::string(10000, 'x'))).blob;
  truncated.resize(2000);
  MemorySource short_source(truncated);
  EXPECT_FALSE(UnpackLayerBlob(short_source, layer_).ok());
}

TEST_F(LayerUnpackTest, EmptyBlobIsAnEmptyLayer) {
  MemorySource empty("");
  Result<UnpackedBlob> unpacked = UnpackLayerBlob(empty, layer_);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status().ToString();
  EXPECT_EQ(unpacked->stats.entries, 0);
  EXPECT_EQ(unpacked->diff_id, Sha256Digest(""));
  EXPECT_EQ(unpacked->blob_digest, Sha256Digest(""));

  // The canonical empty layer: nothing but the two zero blocks that end a tar.
  std::string zeros(1024, '\0');
  MemorySource end_of_archive(zeros);
  unpacked = UnpackLayerBlob(end_of_archive, layer_);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status().ToString();
  EXPECT_EQ(unpacked->stats.entries, 0);
  EXPECT_EQ(unpacked->diff_id,
            "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
}

TEST_F(LayerUnpackTest, RemoveTreeAtDoesNotFollowSymlinks) {
  std::ofstream(outside_ / "keep") << "k";
  fs::create_directories(layer_ / "tree/sub");
  fs::create_symlink(outside_, layer_ / "tree/sub/link");
  UniqueFd dir(::open(layer_.c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(RemoveTreeAt(dir.get(), "tree").ok());
  EXPECT_FALSE(fs::exists(layer_ / "tree"));
  EXPECT_TRUE(fs::exists(outside_ / "keep"));
}

}  // namespace
}  // namespace kelp::images
