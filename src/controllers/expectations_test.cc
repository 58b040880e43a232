// ControllerExpectations: creations and deletions pending until observed, or until they expire.
#include "controllers/expectations.h"

#include <gtest/gtest.h>

#include "common/testing/fake_clock.h"

namespace kelp::controllers {
namespace {

TEST(ControllerExpectationsTest, CreationsMustAllBeObserved) {
  kelp::testing::FakeClock clock;
  ControllerExpectations expectations(clock);
  EXPECT_TRUE(expectations.Satisfied("ns/rs"));
  expectations.ExpectCreations("ns/rs", 2);
  EXPECT_FALSE(expectations.Satisfied("ns/rs"));
  expectations.CreationObserved("ns/rs");
  EXPECT_FALSE(expectations.Satisfied("ns/rs"));
  expectations.CreationObserved("ns/rs");
  EXPECT_TRUE(expectations.Satisfied("ns/rs"));
  expectations.CreationObserved("ns/rs");  // an extra observation does not go negative
  expectations.ExpectCreations("ns/rs", 1);
  EXPECT_FALSE(expectations.Satisfied("ns/rs"));
}

TEST(ControllerExpectationsTest, DeletionsAreTrackedByPodKeyOnce) {
  kelp::testing::FakeClock clock;
  ControllerExpectations expectations(clock);
  expectations.ExpectDeletions("ns/rs", {"ns/a", "ns/b"});
  expectations.DeletionObserved("ns/rs", "ns/a");
  expectations.DeletionObserved("ns/rs", "ns/a");  // marked, then gone: still one pod
  EXPECT_FALSE(expectations.Satisfied("ns/rs"));
  expectations.DeletionObserved("ns/rs", "ns/b");
  EXPECT_TRUE(expectations.Satisfied("ns/rs"));
}

TEST(ControllerExpectationsTest, ExpireAfterFiveMinutesAndCanBeDropped) {
  kelp::testing::FakeClock clock;
  ControllerExpectations expectations(clock);
  expectations.ExpectCreations("ns/rs", 3);
  clock.Advance(std::chrono::minutes(5));
  EXPECT_FALSE(expectations.Satisfied("ns/rs"));
  clock.Advance(std::chrono::seconds(1));
  EXPECT_TRUE(expectations.Satisfied("ns/rs"));
  expectations.ExpectCreations("ns/other", 1);
  expectations.Delete("ns/other");
  EXPECT_TRUE(expectations.Satisfied("ns/other"));
}

}  // namespace
}  // namespace kelp::controllers
