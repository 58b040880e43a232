// Tests of the HTTPS transport's streamed responses over real TLS on 127.0.0.1: a finite stream
// (a LIST written while it is made) is sent chunked and keeps the connection for the next
// request; an open-ended one (a watch) closes it when it ends.
#include "apiserver/https_server.h"

#include <gtest/gtest.h>

#include <deque>

#include "apiserver/pki.h"
#include "apiserver/testing/tls_client.h"
#include "common/testing/temp_dir.h"

namespace kelp::apiserver {
namespace {

// Hands out fixed chunks, then ends.
class FixedStream final : public ResponseStream {
 public:
  FixedStream(std::deque<std::string> chunks, bool keeps_connection)
      : chunks_(std::move(chunks)), keeps_connection_(keeps_connection) {}
  std::optional<std::string> Next() override {
    if (chunks_.empty()) return std::nullopt;
    std::string chunk = std::move(chunks_.front());
    chunks_.pop_front();
    return chunk;
  }
  void Cancel() override {}
  bool KeepsConnection() const override { return keeps_connection_; }

 private:
  std::deque<std::string> chunks_;
  const bool keeps_connection_;
};

// The decoded body of a chunked message starting at `at` in `raw`; `end` is set past it.
std::string DecodeChunked(const std::string& raw, size_t at, size_t& end) {
  std::string body;
  for (;;) {
    const size_t line_end = raw.find("\r\n", at);
    if (line_end == std::string::npos) return body + "<truncated>";
    const size_t size = std::stoul(raw.substr(at, line_end - at), nullptr, 16);
    if (size == 0) {
      end = line_end + 4;
      return body;
    }
    body.append(raw, line_end + 2, size);
    at = line_end + 2 + size + 2;
  }
}

class HttpsServerStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<PkiFiles> pki = EnsurePki(dir_.path() / "tls", {"127.0.0.1"});
    ASSERT_TRUE(pki.ok()) << pki.status().ToString();
    ca_pem_ = pki->ca_cert_pem;
    // 64 chunks of 64 KiB: larger than the transport's queue holds at once (1 MiB).
    std::deque<std::string> big;
    for (int i = 0; i < 64; ++i) {
      big.push_back(std::string(64 * 1024, static_cast<char>('a' + i % 26)));
    }
    expected_big_body_.clear();
    for (const std::string& chunk : big) expected_big_body_ += chunk;
    auto server = HttpsServer::Start(
        {.bind_address = "127.0.0.1", .port = 0, .cert_path = pki->serving_cert_path,
         .key_path = pki->serving_key_path},
        [big](const HttpRequest& request) {
          HttpResponse response = JsonResponse(200, "");
          if (request.path == "/list") {
            response.stream = std::make_shared<FixedStream>(big, /*keeps_connection=*/true);
          } else if (request.path == "/watch") {
            response.stream = std::make_shared<FixedStream>(std::deque<std::string>{"e1\n", "e2\n"},
                                                            /*keeps_connection=*/false);
          } else {
            response.body = "plain";
          }
          return response;
        });
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }

  std::string Exchange(const std::string& requests) {
    Result<testing::TlsExchangeResult> exchange =
        testing::TlsExchange(server_->port(), ca_pem_, requests);
    EXPECT_TRUE(exchange.ok()) << exchange.status().ToString();
    return exchange.ok() ? exchange->received : "";
  }

  kelp::testing::ScopedTempDir dir_;
  std::string ca_pem_;
  std::string expected_big_body_;
  std::unique_ptr<HttpsServer> server_;
};

TEST_F(HttpsServerStreamTest, FiniteStreamIsChunkedAndKeepsTheConnection) {
  const std::string received = Exchange(
      "GET /list HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const size_t header_end = received.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos) << received.substr(0, 200);
  const std::string head = received.substr(0, header_end);
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200")) << head;
  EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos) << head;
  EXPECT_EQ(head.find("Connection: close"), std::string::npos) << head;
  size_t end = 0;
  const std::string body = DecodeChunked(received, header_end + 4, end);
  EXPECT_TRUE(body == expected_big_body_) << "body of " << body.size() << " bytes";
  ASSERT_GT(end, 0u);
  const std::string second = received.substr(end);
  EXPECT_TRUE(second.starts_with("HTTP/1.1 200")) << second.substr(0, 200);
  EXPECT_TRUE(second.ends_with("\r\n\r\nplain")) << second;
}

TEST_F(HttpsServerStreamTest, OpenEndedStreamClosesTheConnectionWhenItEnds) {
  const std::string received = Exchange(
      "GET /watch HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const size_t header_end = received.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos) << received;
  EXPECT_NE(received.substr(0, header_end).find("Connection: close"), std::string::npos);
  size_t end = 0;
  EXPECT_EQ(DecodeChunked(received, header_end + 4, end), "e1\ne2\n");
  EXPECT_EQ(received.substr(end), "");  // the second request was not answered
}

}  // namespace
}  // namespace kelp::apiserver
