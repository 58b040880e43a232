// Tests for request splitting, header lookup, routing and Kubernetes Status bodies.
#include "apiserver/router.h"

#include <gtest/gtest.h>

namespace kelp::apiserver {
namespace {

TEST(MakeRequestTest, SplitsPathAndQueryAndLowercasesHeaderNames) {
  HttpRequest request = MakeRequest("GET", "/version?timeout=5s", {{"Accept", "application/json"}}, "");
  EXPECT_EQ(request.path, "/version");
  EXPECT_EQ(request.query, "timeout=5s");
  EXPECT_EQ(request.Header("ACCEPT"), "application/json");
  EXPECT_EQ(request.Header("authorization"), std::nullopt);
}

TEST(StatusFailureResponseTest, IsAKubernetesStatusDocument) {
  HttpResponse response = StatusFailureResponse(401, "Unauthorized", "Unauthorized");
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body,
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"Unauthorized","reason":"Unauthorized","code":401})");
}

TEST(RouterTest, DispatchesByMethodAndPathAndAnswersNotFoundOtherwise) {
  Router router;
  router.Add("GET", "/a", [](const HttpRequest&) { return TextResponse(200, "got a"); });
  EXPECT_EQ(router.Handle(MakeRequest("GET", "/a?x=1", {}, "")).body, "got a");
  HttpResponse wrong_method = router.Handle(MakeRequest("POST", "/a", {}, ""));
  EXPECT_EQ(wrong_method.status, 404);
  HttpResponse unknown = router.Handle(MakeRequest("GET", "/b", {}, ""));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find(R"("reason":"NotFound")"), std::string::npos);
}

}  // namespace
}  // namespace kelp::apiserver
