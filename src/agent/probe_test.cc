// Probe parsing (handlers, defaults, named ports, bad specs) and the tcpSocket/httpGet checks
// against a listener on loopback.
#include "agent/probe.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "common/json.h"

namespace kelp::agent {
namespace {

boost::json::object Object(std::string_view text) { return *ParseJsonObject(text); }

const auto kNoExec = [](const std::vector<std::string>&, std::chrono::milliseconds) {
  return ProbeOutcome{.success = false, .message = "no exec here"};
};

TEST(ProbeTest, ParsesHttpGetWithDefaults) {
  Result<Probe> probe = ParseProbe(Object(R"({"name":"web"})"),
                                   Object(R"({"httpGet":{"path":"healthz","port":8080}})"));
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(probe->kind, Probe::Kind::kHttpGet);
  EXPECT_EQ(probe->port, 8080);
  EXPECT_EQ(probe->path, "/healthz");
  EXPECT_EQ(probe->period, std::chrono::seconds(10));
  EXPECT_EQ(probe->timeout, std::chrono::seconds(1));
  EXPECT_EQ(probe->success_threshold, 1);
  EXPECT_EQ(probe->failure_threshold, 3);
}

TEST(ProbeTest, ResolvesNamedPortsAndTimings) {
  Result<Probe> probe =
      ParseProbe(Object(R"({"name":"web","ports":[{"name":"http","containerPort":80}]})"),
                 Object(R"({"tcpSocket":{"port":"http"},"initialDelaySeconds":5,"periodSeconds":2,
                 "failureThreshold":1,"successThreshold":2})"));
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(probe->kind, Probe::Kind::kTcpSocket);
  EXPECT_EQ(probe->port, 80);
  EXPECT_EQ(probe->initial_delay, std::chrono::seconds(5));
  EXPECT_EQ(probe->period, std::chrono::seconds(2));
  EXPECT_EQ(probe->failure_threshold, 1);
  EXPECT_EQ(probe->success_threshold, 2);
}

TEST(ProbeTest, ParsesExec) {
  Result<Probe> probe =
      ParseProbe(Object(R"({"name":"c"})"), Object(R"({"exec":{"command":["cat","/tmp/ok"]}})"));
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ(probe->kind, Probe::Kind::kExec);
  EXPECT_EQ(probe->command, (std::vector<std::string>{"cat", "/tmp/ok"}));
}

TEST(ProbeTest, RejectsBadProbes) {
  EXPECT_FALSE(ParseProbe(Object(R"({"name":"c"})"), Object(R"({"periodSeconds":1})")).ok());
  EXPECT_FALSE(
      ParseProbe(Object(R"({"name":"c"})"), Object(R"({"tcpSocket":{"port":"nope"}})")).ok());
  EXPECT_FALSE(
      ParseProbe(Object(R"({"name":"c"})"), Object(R"({"httpGet":{"port":443,"scheme":"HTTPS"}})"))
          .ok());
  EXPECT_FALSE(ParseProbe(Object(R"({"name":"c"})"), Object(R"({"exec":{"command":[]}})")).ok());
}

// A loopback listener on a free port; `reply` (if any) is written to the first connection.
class Listener {
 public:
  explicit Listener(std::string reply = "") {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    socklen_t length = sizeof(address);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    ::listen(fd_, 4);
    if (!reply.empty()) {
      thread_ = std::thread([this, reply] {
        int client = ::accept(fd_, nullptr, nullptr);
        if (client < 0) return;
        char buffer[1024];
        (void)::read(client, buffer, sizeof(buffer));  // the request
        (void)::write(client, reply.data(), reply.size());
        ::close(client);
      });
    }
  }
  ~Listener() {
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST(ProbeTest, TcpSocketSucceedsOnAListenerAndFailsOnAClosedPort) {
  Probe probe{.kind = Probe::Kind::kTcpSocket};
  {
    Listener listener;
    probe.port = listener.port();
    EXPECT_TRUE(RunProbe(probe, "127.0.0.1", kNoExec).success);
  }
  ProbeOutcome closed = RunProbe(probe, "127.0.0.1", kNoExec);
  EXPECT_FALSE(closed.success);
  EXPECT_NE(closed.message.find("dial tcp"), std::string::npos) << closed.message;
}

TEST(ProbeTest, HttpGetJudgesTheStatusCode) {
  Probe probe{.kind = Probe::Kind::kHttpGet, .path = "/healthz"};
  {
    Listener ok("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    probe.port = ok.port();
    EXPECT_TRUE(RunProbe(probe, "127.0.0.1", kNoExec).success);
  }
  Listener missing("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  probe.port = missing.port();
  ProbeOutcome outcome = RunProbe(probe, "127.0.0.1", kNoExec);
  EXPECT_FALSE(outcome.success);
  EXPECT_EQ(outcome.message, "HTTP probe failed with statuscode: 404");
}

TEST(ProbeTest, ExecGoesThroughTheCallback) {
  Probe probe{.kind = Probe::Kind::kExec, .command = {"true"}};
  auto exec = [](const std::vector<std::string>& command, std::chrono::milliseconds) {
    return ProbeOutcome{.success = command == std::vector<std::string>{"true"}, .message = ""};
  };
  EXPECT_TRUE(RunProbe(probe, "10.0.0.1", exec).success);
}

}  // namespace
}  // namespace kelp::agent
