// In-process tests of the running apiserver over real TLS on 127.0.0.1: authentication,
// routes, Status errors, malformed input, keep-alive, ALPN and shutdown.
#include "apiserver/server.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "common/file.h"
#include "common/testing/temp_dir.h"
#include "apiserver/testing/tls_client.h"

namespace kelp::apiserver {
namespace {

using testing::ClientResponse;
using testing::HttpsGet;
using testing::TlsExchange;

constexpr const char* kToken = "test-token-123";

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options{.data_dir = (dir_.path() / "server").string(),
                          .bind_address = "127.0.0.1",
                          .https_port = 0,
                          .token = kToken};
    Result<std::unique_ptr<Server>> server = Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    ca_pem_ = ReadFile(dir_.path() / "server" / "tls" / "ca.crt").value_or("");
    ASSERT_FALSE(ca_pem_.empty());
  }

  Result<ClientResponse> Get(std::string_view target, std::optional<std::string_view> token) {
    return HttpsGet(server_->port(), ca_pem_, target, token);
  }

  void ExpectStatusFailure(const Result<ClientResponse>& response, int code,
                           std::string_view reason) {
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    EXPECT_EQ(response->status, code);
    EXPECT_EQ(response->headers.at("content-type"), "application/json");
    boost::system::error_code error;
    boost::json::value body = boost::json::parse(response->body, error);
    ASSERT_FALSE(error) << response->body;
    EXPECT_EQ(body.at("kind"), "Status");
    EXPECT_EQ(body.at("apiVersion"), "v1");
    EXPECT_EQ(body.at("status"), "Failure");
    EXPECT_EQ(body.at("reason").as_string(), reason);
    EXPECT_EQ(body.at("code"), code);
  }

  kelp::testing::ScopedTempDir dir_;
  std::unique_ptr<Server> server_;
  std::string ca_pem_;
};

TEST_F(ServerTest, VersionWithTokenReturnsKubernetesVersionInfo) {
  Result<ClientResponse> response = Get("/version?timeout=5s", kToken);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->headers.at("content-type"), "application/json");
  boost::json::value body = boost::json::parse(response->body);
  EXPECT_EQ(body.at("major"), "1");
  EXPECT_EQ(body.at("minor"), "32");
  EXPECT_EQ(body.at("gitVersion"), "v1.32.0-kelp.0");
  EXPECT_TRUE(body.as_object().contains("platform"));
}

TEST_F(ServerTest, HealthEndpointsAnswerOk) {
  for (const char* path : {"/healthz", "/livez", "/readyz"}) {
    Result<ClientResponse> response = Get(path, kToken);
    ASSERT_TRUE(response.ok()) << path;
    EXPECT_EQ(response->status, 200) << path;
    EXPECT_EQ(response->body, "ok") << path;
    EXPECT_EQ(response->headers.at("content-type").rfind("text/plain", 0), 0u);
  }
}

TEST_F(ServerTest, MissingOrWrongTokenIsUnauthorized) {
  ExpectStatusFailure(Get("/version", std::nullopt), 401, "Unauthorized");
  ExpectStatusFailure(Get("/version", "wrong-token"), 401, "Unauthorized");
  ExpectStatusFailure(Get("/healthz", "test-token-12"), 401, "Unauthorized");
}

TEST_F(ServerTest, UnknownPathIsNotFoundStatus) {
  ExpectStatusFailure(Get("/api/v1/nothing", kToken), 404, "NotFound");
}

TEST_F(ServerTest, SelectsHttp11ThroughAlpnWhenOfferedH2) {
  Result<testing::TlsExchangeResult> exchange = TlsExchange(
      server_->port(), ca_pem_, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(exchange.ok()) << exchange.status().ToString();
  EXPECT_EQ(exchange->alpn_protocol, "http/1.1");
}

TEST_F(ServerTest, ServesSeveralRequestsOnOneKeepAliveConnection) {
  std::string auth = std::string("Authorization: Bearer ") + kToken + "\r\n";
  std::string requests = "GET /healthz HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n" +
                         "GET /version HTTP/1.1\r\nHost: x\r\n" + auth +
                         "Connection: close\r\n\r\n";
  Result<testing::TlsExchangeResult> exchange = TlsExchange(server_->port(), ca_pem_, requests);
  ASSERT_TRUE(exchange.ok());
  const std::string& received = exchange->received;
  size_t first = received.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos);
  EXPECT_NE(received.find("HTTP/1.1 200", first + 1), std::string::npos);
  EXPECT_NE(received.find(R"("minor":"32")"), std::string::npos);
}

TEST_F(ServerTest, MalformedHttpGetsBadRequestAndServerKeepsServing) {
  Result<testing::TlsExchangeResult> exchange =
      TlsExchange(server_->port(), ca_pem_, std::string("\x01\x02 garbage \xff\r\n\r\n", 17));
  ASSERT_TRUE(exchange.ok());
  Result<ClientResponse> response = testing::ParseResponse(exchange->received);
  ExpectStatusFailure(response, 400, "BadRequest");

  ASSERT_TRUE(testing::SendPlainTcp(server_->port(), "GET / HTTP/1.1\r\n\r\n not tls").ok());
  Result<ClientResponse> after = Get("/healthz", kToken);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->status, 200);
}

TEST_F(ServerTest, OversizedBodyIsRejectedWith413) {
  std::string request = std::string("POST /api/v1/namespaces HTTP/1.1\r\nHost: x\r\n") +
                        "Authorization: Bearer " + kToken + "\r\nContent-Length: 2000000\r\n\r\n";
  Result<testing::TlsExchangeResult> exchange = TlsExchange(server_->port(), ca_pem_, request);
  ASSERT_TRUE(exchange.ok());
  ExpectStatusFailure(testing::ParseResponse(exchange->received), 413, "RequestEntityTooLarge");
}

TEST_F(ServerTest, WritesKubeconfigForTheBoundPortWithMode0600) {
  std::string kubeconfig = ReadFile(server_->kubeconfig_path()).value_or("");
  EXPECT_EQ(server_->kubeconfig_path(), dir_.path() / "server" / "kubeconfig.yaml");
  EXPECT_NE(kubeconfig.find("https://127.0.0.1:" + std::to_string(server_->port())),
            std::string::npos);
  EXPECT_NE(kubeconfig.find(kToken), std::string::npos);
}

TEST_F(ServerTest, StopClosesTheListener) {
  uint16_t port = server_->port();
  server_->Stop();
  EXPECT_FALSE(HttpsGet(port, ca_pem_, "/healthz", kToken).ok());
}

TEST(ServerSignalTest, StopSignalEndsWait) {
  kelp::testing::ScopedTempDir dir;
  ServerOptions options{.data_dir = dir.path().string(), .bind_address = "127.0.0.1",
                        .https_port = 0};
  Result<std::unique_ptr<Server>> server = Server::Start(options, {SIGUSR1});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  (*server)->Wait();
  EXPECT_FALSE(HttpsGet((*server)->port(), ReadFile(dir.path() / "tls" / "ca.crt").value_or(""),
                        "/healthz", std::nullopt)
                   .ok());
}

TEST(ServerStartTest, FailsCleanlyOnBadBindAddress) {
  kelp::testing::ScopedTempDir dir;
  ServerOptions options{.data_dir = dir.path().string(), .bind_address = "not-an-ip",
                        .https_port = 0};
  Result<std::unique_ptr<Server>> server = Server::Start(options);
  ASSERT_FALSE(server.ok());
}

}  // namespace
}  // namespace kelp::apiserver
