// Tests for UniqueFd, ReadFile and WriteFileAtomic against a real temp directory.
#include "common/file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/testing/temp_dir.h"

namespace kelp {
namespace {

namespace fs = std::filesystem;

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }

  int CountEntries(const fs::path& dir) {
    int count = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++count;
    return count;
  }

  testing::ScopedTempDir dir_;
};

TEST_F(FileTest, UniqueFdClosesOnDestructionAndMoves) {
  int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  {
    UniqueFd first(raw);
    UniqueFd second(std::move(first));
    EXPECT_FALSE(first.valid());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_EQ(second.get(), raw);
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST_F(FileTest, WriteThenReadRoundTripsContents) {
  fs::path path = dir_.path() / "subnet.env";
  std::string contents = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n";
  ASSERT_TRUE(WriteFileAtomic(path, contents).ok());
  Result<std::string> read = ReadFile(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, contents);
}

TEST_F(FileTest, WriteAppliesModeExactly) {
  fs::path path = dir_.path() / "secret";
  ASSERT_TRUE(WriteFileAtomic(path, "token", 0600).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  ASSERT_TRUE(WriteFileAtomic(path, "token", 0755).ok());
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST_F(FileTest, WriteReplacesExistingFileAndLeavesNoTempFile) {
  fs::path path = dir_.path() / "10-kelp.conflist";
  ASSERT_TRUE(WriteFileAtomic(path, "old contents that are longer").ok());
  ASSERT_TRUE(WriteFileAtomic(path, "new").ok());
  EXPECT_EQ(ReadFile(path).value_or(""), "new");
  EXPECT_EQ(CountEntries(dir_.path()), 1);
}

TEST_F(FileTest, ProcessCrashSafeWriteReplacesAtomicallyWithMode) {
  fs::path path = dir_.path() / "10.244.1.2";
  ASSERT_TRUE(WriteFileAtomic(path, "old", 0600, Durability::kProcessCrashSafe).ok());
  ASSERT_TRUE(WriteFileAtomic(path, "container\r\neth0", 0644, Durability::kProcessCrashSafe).ok());
  EXPECT_EQ(ReadFile(path).value_or(""), "container\r\neth0");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_EQ(CountEntries(dir_.path()), 1);
}

TEST_F(FileTest, WriteIntoMissingDirectoryFailsWithoutLeavingFiles) {
  Status status = WriteFileAtomic(dir_.path() / "missing" / "file", "x");
  EXPECT_EQ(status.code(), StatusCode::kNotFound) << status.ToString();
  EXPECT_EQ(CountEntries(dir_.path()), 0);
}

TEST_F(FileTest, FailedRenameRemovesTempFile) {
  // Renaming a file over a non-empty directory fails after the temp file was written.
  fs::path target = dir_.path() / "occupied";
  fs::create_directories(target / "child");
  Status status = WriteFileAtomic(target, "x");
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(CountEntries(dir_.path()), 1);
}

TEST_F(FileTest, CreateDirectoriesMakesMissingParentsWithTheMode) {
  const fs::path deep = dir_.path() / "a" / "b" / "c";
  ASSERT_TRUE(CreateDirectories(deep, 0711).ok());
  for (const fs::path& made : {dir_.path() / "a", dir_.path() / "a" / "b", deep}) {
    struct stat info {};
    ASSERT_EQ(::stat(made.c_str(), &info), 0) << made;
    EXPECT_TRUE(S_ISDIR(info.st_mode));
    EXPECT_EQ(info.st_mode & 0777 & ~0022, 0711 & ~0022) << made;  // umask may clear bits
  }
  EXPECT_TRUE(CreateDirectories(deep, 0711).ok());  // existing: fine
  EXPECT_TRUE(CreateDirectories(dir_.path() / "a" / "b" / "d" / "", 0755).ok());
  EXPECT_TRUE(fs::is_directory(dir_.path() / "a" / "b" / "d"));
  EXPECT_TRUE(CreateDirectories("/", 0755).ok());
}

TEST_F(FileTest, CreateDirectoriesRefusesAFileInTheWay) {
  ASSERT_TRUE(WriteFileAtomic(dir_.path() / "file", "x").ok());
  Status over_file = CreateDirectories(dir_.path() / "file", 0755);
  EXPECT_FALSE(over_file.ok());
  EXPECT_NE(over_file.message().find("not a directory"), std::string::npos);
  EXPECT_FALSE(CreateDirectories(dir_.path() / "file" / "below", 0755).ok());
}

TEST_F(FileTest, ReadMissingFileIsNotFound) {
  Result<std::string> read = ReadFile(dir_.path() / "nope");
  EXPECT_EQ(read.status().code(), StatusCode::kNotFound);
  EXPECT_NE(read.status().message().find("nope"), std::string::npos);
}

TEST_F(FileTest, ReadsLargeFile) {
  fs::path path = dir_.path() / "big";
  std::string contents(3 * 1024 * 1024 + 17, 'k');
  ASSERT_TRUE(WriteFileAtomic(path, contents).ok());
  EXPECT_EQ(ReadFile(path).value_or(""), contents);
}

}  // namespace
}  // namespace kelp
