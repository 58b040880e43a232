// Tests for cluster token loading/creation and bearer-token authentication.
#include "apiserver/token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/file.h"
#include "common/testing/temp_dir.h"

namespace kelp::apiserver {
namespace {

TEST(LoadOrCreateTokenTest, ConfiguredTokenWinsAndNothingIsWritten) {
  kelp::testing::ScopedTempDir dir;
  Result<std::string> token = LoadOrCreateToken(dir.path(), "s3cret");
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, "s3cret");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "token"));
}

TEST(LoadOrCreateTokenTest, GeneratesHexTokenOnceWithMode0600AndReusesIt) {
  kelp::testing::ScopedTempDir dir;
  Result<std::string> first = LoadOrCreateToken(dir.path(), "");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->size(), 64u);
  EXPECT_EQ(first->find_first_not_of("0123456789abcdef"), std::string::npos);
  struct stat info {};
  ASSERT_EQ(::stat((dir.path() / "token").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600u);

  Result<std::string> second = LoadOrCreateToken(dir.path(), "");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, *first);
}

TEST(LoadOrCreateTokenTest, RejectsTokensWithWhitespaceOrEmptyFile) {
  kelp::testing::ScopedTempDir dir;
  EXPECT_EQ(LoadOrCreateToken(dir.path(), "a b").status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(WriteFileAtomic(dir.path() / "token", "\n", 0600).ok());
  EXPECT_EQ(LoadOrCreateToken(dir.path(), "").status().code(), StatusCode::kInvalidArgument);
}

TEST(BearerTokenAuthenticatorTest, AcceptsOnlyTheExactBearerToken) {
  BearerTokenAuthenticator authenticator("abc123");
  EXPECT_TRUE(authenticator.Authenticate("Bearer abc123"));
  EXPECT_TRUE(authenticator.Authenticate("bearer abc123"));
  EXPECT_FALSE(authenticator.Authenticate(std::nullopt));
  EXPECT_FALSE(authenticator.Authenticate(""));
  EXPECT_FALSE(authenticator.Authenticate("Bearer "));
  EXPECT_FALSE(authenticator.Authenticate("Bearer abc12"));
  EXPECT_FALSE(authenticator.Authenticate("Bearer abc1234"));
  EXPECT_FALSE(authenticator.Authenticate("Basic abc123"));
  EXPECT_FALSE(authenticator.Authenticate("abc123"));
}

}  // namespace
}  // namespace kelp::apiserver
