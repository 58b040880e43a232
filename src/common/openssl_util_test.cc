#include "common/openssl_util.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

namespace kelp {
namespace {

using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;

TEST(OpenSslErrorTest, NamesWhatFailedAndOpenSslsReasonThenClearsTheQueue) {
  const std::string garbage = "not a certificate";
  BioPtr bio(BIO_new_mem_buf(garbage.data(), static_cast<int>(garbage.size())));
  ASSERT_TRUE(bio);
  EXPECT_EQ(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), nullptr);
  Status status = OpenSslError("read certificate");
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_TRUE(status.message().starts_with("read certificate: ")) << status.message();
  EXPECT_GT(status.message().size(), std::string("read certificate: ").size());
  EXPECT_EQ(ERR_peek_error(), 0u);
  EXPECT_EQ(OpenSslError("again").message(), "again");
}

TEST(BioContentsTest, ReturnsWhatWasWrittenAndEmptyForAnEmptyBio) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  ASSERT_TRUE(bio);
  EXPECT_EQ(BioContents(bio.get()), "");
  ASSERT_EQ(BIO_write(bio.get(), "abc\0def", 7), 7);
  EXPECT_EQ(BioContents(bio.get()), std::string("abc\0def", 7));
}

}  // namespace
}  // namespace kelp
