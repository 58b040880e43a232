#include "agent/runtime/sealed_program.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <gtest/gtest.h>

#include "common/file.h"
#include "common/process.h"

namespace kelp::agent {
namespace {

TEST(SealedProgramTest, CopyRunsLikeTheProgramAndCannotBeChanged) {
  Result<SealedProgram> sealed = SealedProgram::Create("sh");  // searched in PATH
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
  EXPECT_EQ(std::filesystem::path(sealed->source()).filename(), "sh");
  EXPECT_EQ(sealed->path(), "/proc/" + std::to_string(::getpid()) + "/fd/" +
                                std::to_string(sealed->fd()));

  // The same bytes as the program.
  Result<std::string> original = ReadFile(sealed->source());
  Result<std::string> copy = ReadFile(sealed->path());
  ASSERT_TRUE(original.ok() && copy.ok());
  EXPECT_EQ(sealed->size(), original->size());
  EXPECT_TRUE(*copy == *original);

  // Runs through the path, as a child of ours does.
  SubprocessRunner runner;
  Result<ProcessResult> ran =
      runner.Run({.argv = {sealed->path(), "-c", "echo from the copy; exit 7"}});
  ASSERT_TRUE(ran.ok()) << ran.status().ToString();
  EXPECT_EQ(ran->exit_code, 7);
  EXPECT_EQ(ran->stdout_data, "from the copy\n");

  // Exactly the seals runc looks for, so runc skips its own copy; nobody can write it.
  EXPECT_EQ(::fcntl(sealed->fd(), F_GET_SEALS), RuncCloneSeals());
  UniqueFd writable(::open(sealed->path().c_str(), O_WRONLY | O_CLOEXEC));
  if (writable.valid()) {
    EXPECT_LT(::write(writable.get(), "x", 1), 0);
    EXPECT_EQ(errno, EPERM);
  }
  EXPECT_NE(::ftruncate(sealed->fd(), 0), 0);
  EXPECT_NE(::fcntl(sealed->fd(), F_ADD_SEALS, F_SEAL_FUTURE_WRITE), 0);  // F_SEAL_SEAL
  // Not inherited: children reach it through /proc/<our pid>, never as an open descriptor.
  EXPECT_TRUE(::fcntl(sealed->fd(), F_GETFD) & FD_CLOEXEC);
}

TEST(SealedProgramTest, MissingProgramIsAnError) {
  Result<SealedProgram> absent = SealedProgram::Create("kelp-no-such-program");
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(SealedProgram::Create("/nonexistent/runc").ok());
  EXPECT_EQ(SealedProgram::Create("/").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kelp::agent
