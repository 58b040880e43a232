// Tests of quantity parsing: suffixes, exponents and Kubernetes' error message.
#include "api/quantity.h"

#include <gtest/gtest.h>

namespace kelp::api {
namespace {

TEST(QuantityTest, ParsesDecimalAndBinarySuffixes) {
  EXPECT_EQ(*ParseQuantity("500m"), 0.5L);
  EXPECT_EQ(*ParseQuantity("2"), 2.0L);
  EXPECT_EQ(*ParseQuantity("1Gi"), *ParseQuantity("1024Mi"));
  EXPECT_EQ(*ParseQuantity("1.5k"), 1500.0L);
  EXPECT_EQ(*ParseQuantity("2e3"), 2000.0L);
  EXPECT_EQ(*ParseQuantity("-1"), -1.0L);
  EXPECT_EQ(*ParseQuantity(".5"), 0.5L);
}

TEST(QuantityTest, RejectsMalformedWithKubernetesMessage) {
  for (const char* bad : {"", "abc", "1x", "1Kii", "m", "1e", "1.2.3"}) {
    Result<long double> q = ParseQuantity(bad);
    ASSERT_FALSE(q.ok()) << bad;
    EXPECT_EQ(q.status().message(), kQuantityFormatError);
  }
}

}  // namespace
}  // namespace kelp::api
