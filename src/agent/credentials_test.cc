// K10 token parsing: the CA hash comes out of well-formed tokens; others are named errors.
#include "agent/credentials.h"

#include <gtest/gtest.h>

namespace kelp::agent {
namespace {

const std::string kHash(64, 'a');

TEST(K10CaHashTest, ExtractsTheCaHash) {
  Result<std::string> hash = K10CaHash("K10" + kHash + "::node:s3cret");
  ASSERT_TRUE(hash.ok()) << hash.status().ToString();
  EXPECT_EQ(*hash, kHash);
}

TEST(K10CaHashTest, RejectsPlainAndMalformedTokens) {
  for (const std::string& token :
       {std::string("abcdef"), "K10" + kHash, "K10" + kHash + "::nocolon",
        "K10" + std::string(63, 'a') + "::node:x", "K10" + std::string(64, 'G') + "::node:x",
        "K11" + kHash + "::node:x"}) {
    Result<std::string> hash = K10CaHash(token);
    EXPECT_EQ(hash.status().code(), StatusCode::kInvalidArgument) << token;
  }
  EXPECT_NE(K10CaHash("plain").status().message().find("K10<sha256 of the server CA>"),
            std::string::npos);
}

}  // namespace
}  // namespace kelp::agent
