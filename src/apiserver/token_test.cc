// Tests for cluster token loading/creation and bearer-token authentication.
#include "apiserver/token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "apiserver/pki.h"
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

TEST(AgentTokenTest, K10FormatPinsTheCaAndKeepsItsSecret) {
  kelp::testing::ScopedTempDir dir;
  Result<PkiFiles> pki = EnsurePki(dir.path() / "tls", {"127.0.0.1"});
  ASSERT_TRUE(pki.ok()) << pki.status().ToString();
  Result<std::string> hash = CertificateSha256(pki->ca_cert_pem);
  ASSERT_TRUE(hash.ok()) << hash.status().ToString();
  EXPECT_EQ(hash->size(), 64u);

  Result<std::string> token = LoadOrCreateAgentToken(dir.path(), pki->ca_cert_pem);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(token->rfind("K10" + *hash + "::node:", 0), 0u) << *token;
  EXPECT_GT(token->size(), 3 + 64 + 7 + 32);
  struct stat info {};
  ASSERT_EQ(::stat((dir.path() / "agent-token").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600u);
  EXPECT_EQ(*LoadOrCreateAgentToken(dir.path(), pki->ca_cert_pem), *token);
  EXPECT_EQ(CertificateSha256("junk").status().code(), StatusCode::kInvalidArgument);
}

TEST(BearerTokenAuthenticatorTest, AcceptsAnyOfSeveralTokens) {
  BearerTokenAuthenticator authenticator(std::vector<std::string>{"admin", "K10ab::node:xy"});
  EXPECT_TRUE(authenticator.Authenticate("Bearer admin"));
  EXPECT_TRUE(authenticator.Authenticate("Bearer K10ab::node:xy"));
  EXPECT_FALSE(authenticator.Authenticate("Bearer K10ab::node:x"));
  EXPECT_FALSE(authenticator.Authenticate("Bearer "));
}

}  // namespace
}  // namespace kelp::apiserver
