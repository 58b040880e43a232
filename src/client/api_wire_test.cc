// StatusFromResponse maps each HTTP answer to the StatusCode api_client.h promises, and
// ParseWatchEvent decodes watch lines, turning ERROR events into Statuses.
#include "client/api_wire.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace kelp::client {
namespace {

std::string KubeStatus(int code, std::string_view reason, std::string_view message) {
  return boost::json::serialize(boost::json::object{{"kind", "Status"},
                                                    {"apiVersion", "v1"},
                                                    {"status", "Failure"},
                                                    {"message", message},
                                                    {"reason", reason},
                                                    {"code", code}});
}

TEST(StatusFromResponseTest, MapsKubernetesStatusCodes) {
  struct Case {
    int code;
    std::string_view reason;
    StatusCode want;
  };
  for (const Case& c : {Case{400, "BadRequest", StatusCode::kInvalidArgument},
                        Case{422, "Invalid", StatusCode::kInvalidArgument},
                        Case{401, "Unauthorized", StatusCode::kPermissionDenied},
                        Case{403, "Forbidden", StatusCode::kPermissionDenied},
                        Case{404, "NotFound", StatusCode::kNotFound},
                        Case{409, "AlreadyExists", StatusCode::kAlreadyExists},
                        Case{409, "Conflict", StatusCode::kConflict},
                        Case{410, "Expired", StatusCode::kExpired},
                        Case{429, "TooManyRequests", StatusCode::kUnavailable},
                        Case{500, "InternalError", StatusCode::kUnavailable},
                        Case{503, "ServiceUnavailable", StatusCode::kUnavailable},
                        Case{405, "MethodNotAllowed", StatusCode::kInvalidArgument}}) {
    Status status = StatusFromResponse(c.code, KubeStatus(c.code, c.reason, "the message"));
    EXPECT_EQ(status.code(), c.want) << c.code << " " << c.reason;
    EXPECT_NE(status.message().find("the message"), std::string::npos) << status.message();
  }
}

TEST(StatusFromResponseTest, FallsBackToTheBodyOrTheCode) {
  EXPECT_EQ(StatusFromResponse(502, "bad gateway\n"), UnavailableError("bad gateway\n"));
  EXPECT_EQ(StatusFromResponse(404, ""), NotFoundError("HTTP 404"));
}

TEST(ParseWatchEventTest, DecodesEachType) {
  Result<WatchEvent> added =
      ParseWatchEvent(R"({"type":"ADDED","object":{"metadata":{"name":"a"}}})");
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->type, WatchEvent::Type::kAdded);
  EXPECT_EQ(added->object.at("metadata").at("name"), "a");
  EXPECT_EQ(ParseWatchEvent(R"({"type":"MODIFIED","object":{}})")->type,
            WatchEvent::Type::kModified);
  EXPECT_EQ(ParseWatchEvent(R"({"type":"DELETED","object":{}})")->type,
            WatchEvent::Type::kDeleted);
  EXPECT_EQ(ParseWatchEvent(R"({"type":"BOOKMARK","object":{}})")->type,
            WatchEvent::Type::kBookmark);
}

TEST(ParseWatchEventTest, ErrorEventsBecomeStatuses) {
  std::string expired =
      R"({"type":"ERROR","object":)" + KubeStatus(410, "Expired", "too old resource version") +
      "}";
  Result<WatchEvent> event = ParseWatchEvent(expired);
  EXPECT_EQ(event.status(), ExpiredError("too old resource version"));
  EXPECT_EQ(ParseWatchEvent(R"({"type":"ERROR","object":{"code":200}})").status().code(),
            StatusCode::kUnavailable);
}

TEST(ParseWatchEventTest, RejectsMalformedLines) {
  for (std::string_view line : {"", "not json", "[]", R"({"type":"ADDED"})",
                                R"({"type":"ADDED","object":[]})", R"({"object":{}})",
                                R"({"type":"SOMETHING","object":{}})"}) {
    EXPECT_EQ(ParseWatchEvent(line).status().code(), StatusCode::kInvalidArgument) << line;
  }
}

}  // namespace
}  // namespace kelp::client
