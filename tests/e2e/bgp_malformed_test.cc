// Malformed messages from a plain TCP socket: the test plays a passive peer of `kelp bgp`
// from its own namespace, writes hand-built bytes (no kelp code makes them) and checks the
// NOTIFICATION code/subcode/data of RFC 4271 §6 (RFC 7606 for UPDATE attributes), that
// treat-as-withdraw keeps the session, and that the speaker stays up through all of it.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"
#include "tests/e2e/bgp_lab.h"

namespace kelp::e2e {
namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;

constexpr uint8_t kOpen = 1, kUpdate = 2, kNotification = 3, kKeepalive = 4;

// A message with a correct header (marker, length, type) around `body`.
Bytes Message(uint8_t type, const Bytes& body) {
  Bytes out(16, 0xff);
  const size_t length = 19 + body.size();
  out.push_back(static_cast<uint8_t>(length >> 8));
  out.push_back(static_cast<uint8_t>(length));
  out.push_back(type);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

struct OpenFields {
  uint8_t version = 4;
  uint16_t as = 64512;  // My AS and the 4-octet AS capability
  uint16_t hold_time = 9;
  Bytes identifier = {192, 168, 206, 20};
};

// OPEN with the multiprotocol IPv4 unicast and 4-octet AS capabilities.
Bytes OpenMessage(const OpenFields& fields) {
  const uint8_t as_high = static_cast<uint8_t>(fields.as >> 8), as_low = static_cast<uint8_t>(fields.as);
  Bytes capabilities = {1, 4, 0, 1, 0, 1, 65, 4, 0, 0, as_high, as_low};
  Bytes body = {fields.version, as_high, as_low, static_cast<uint8_t>(fields.hold_time >> 8),
                static_cast<uint8_t>(fields.hold_time)};
  body.insert(body.end(), fields.identifier.begin(), fields.identifier.end());
  body.push_back(static_cast<uint8_t>(2 + capabilities.size()));
  body.push_back(2);
  body.push_back(static_cast<uint8_t>(capabilities.size()));
  body.insert(body.end(), capabilities.begin(), capabilities.end());
  return Message(kOpen, body);
}

// UPDATE announcing 10.244.9.0/24 via 192.168.206.20 with the given ORIGIN value.
Bytes AnnounceMessage(uint8_t origin) {
  Bytes attributes = {0x40, 1, 1, origin,                              // ORIGIN
                      0x40, 2, 0,                                      // AS_PATH (empty)
                      0x40, 3, 4, 192, 168, 206, 20,                   // NEXT_HOP
                      0x40, 5, 4, 0, 0, 0, 100};                       // LOCAL_PREF
  Bytes body = {0, 0, 0, static_cast<uint8_t>(attributes.size())};
  body.insert(body.end(), attributes.begin(), attributes.end());
  body.insert(body.end(), {24, 10, 244, 9});
  return Message(kUpdate, body);
}

struct Received {
  uint8_t type = 0;
  Bytes body;  // after the 19-byte header
};

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { ::close(fd_); }

  bool Connect(const char* address, uint16_t port) {
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(port);
    ::inet_pton(AF_INET, address, &peer.sin_addr);
    return ::connect(fd_, reinterpret_cast<sockaddr*>(&peer), sizeof peer) == 0;
  }
  bool Send(const Bytes& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // The next whole message, or nullopt on EOF, error or 10 s of silence.
  std::optional<Received> Read() {
    Bytes header;
    if (!ReadExactly(19, header)) return std::nullopt;
    const size_t length = header[16] << 8 | header[17];
    Received message{.type = header[18]};
    if (length < 19 || !ReadExactly(length - 19, message.body)) return std::nullopt;
    return message;
  }
  // Reads until a message of `type` arrives; nullopt if the connection ends or goes quiet.
  std::optional<Received> ReadUntil(uint8_t type) {
    while (std::optional<Received> message = Read()) {
      if (message->type == type) return message;
    }
    return std::nullopt;
  }
  // True when the peer closed the connection (EOF within 10 s).
  bool ClosedByPeer() {
    Bytes ignored;
    return !ReadExactly(1, ignored);
  }

 private:
  bool ReadExactly(size_t count, Bytes& out) {
    out.clear();
    while (out.size() < count) {
      pollfd ready{.fd = fd_, .events = POLLIN, .revents = 0};
      if (::poll(&ready, 1, 10000) <= 0) return false;
      uint8_t chunk[4096];
      ssize_t n = ::recv(fd_, chunk, std::min(sizeof chunk, count - out.size()), 0);
      if (n <= 0) return false;
      out.insert(out.end(), chunk, chunk + n);
    }
    return true;
  }
  int fd_;
};

class BgpMalformedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "network namespaces need root";
    ASSERT_FALSE(dir_.path().empty());
    ASSERT_TRUE(lan_.Create().ok());
    ASSERT_TRUE(lan_.AddHost("kelp", "192.168.206.10").ok());
    ASSERT_TRUE(lan_.AddHost("raw", "192.168.206.20").ok());
    Status started = kelp_.Start(R"(as: 64512
router_id: 192.168.206.10
listen: 192.168.206.10:179
announce: [10.244.1.0/26]
peers:
  - {address: 192.168.206.20, as: 64512, hold_time: 9, passive: true}
)");
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  // A connection from the raw host to kelp, with kelp's OPEN read.
  std::unique_ptr<Socket> Connect() {
    Result<int> fd = lan_.TcpSocketIn("raw");
    EXPECT_TRUE(fd.ok()) << fd.status().ToString();
    if (!fd.ok()) return nullptr;
    auto socket = std::make_unique<Socket>(*fd);
    EXPECT_TRUE(socket->Connect("192.168.206.10", 179));
    EXPECT_TRUE(socket->ReadUntil(kOpen).has_value());
    return socket;
  }

  // OPEN + KEEPALIVE both ways: the session is Established.
  std::unique_ptr<Socket> Establish() {
    auto socket = Connect();
    if (!socket) return nullptr;
    EXPECT_TRUE(socket->Send(OpenMessage({})));
    EXPECT_TRUE(socket->Send(Message(kKeepalive, {})));
    EXPECT_TRUE(socket->ReadUntil(kKeepalive).has_value());
    EXPECT_TRUE(WaitFor([&] { return SessionShows(*socket, "Established"); }, 30s))
        << kelp_.Cli({});
    return socket;
  }

  // Whether `kelp bgp status` contains `text`. Each poll first sends a KEEPALIVE: the raw peer
  // sends nothing on its own, and polls on a loaded machine can outlast the 9 s hold time.
  bool SessionShows(Socket& socket, std::string_view text) {
    (void)socket.Send(Message(kKeepalive, {}));
    return Contains(kelp_.Cli({}), std::string(text));
  }

  // Sends `bytes` and expects NOTIFICATION code/subcode (and `data` unless nullopt), then EOF.
  void ExpectNotification(Socket& socket, const Bytes& bytes, uint8_t code, uint8_t subcode,
                          std::optional<Bytes> data) {
    ASSERT_TRUE(socket.Send(bytes));
    std::optional<Received> notification = socket.ReadUntil(kNotification);
    ASSERT_TRUE(notification.has_value()) << "no NOTIFICATION";
    ASSERT_GE(notification->body.size(), 2u);
    EXPECT_EQ(notification->body[0], code);
    EXPECT_EQ(notification->body[1], subcode);
    if (data) {
      EXPECT_EQ(Bytes(notification->body.begin() + 2, notification->body.end()), *data);
    }
    EXPECT_TRUE(socket.ClosedByPeer());
    ExpectSpeakerUp();
  }

  void ExpectSpeakerUp() {
    EXPECT_FALSE(kelp_.process()->Wait(0ms).ok()) << "kelp exited: " << kelp_.log();
    EXPECT_TRUE(Contains(kelp_.Cli({}), "192.168.206.20")) << kelp_.Cli({});
  }

  kelp::testing::ScopedTempDir dir_;
  SubprocessRunner runner_;
  Lan lan_{runner_, "kbgp" + std::to_string(::getpid())};
  KelpDaemon kelp_{runner_, lan_, "kelp", dir_.path()};
};

TEST_F(BgpMalformedTest, HeaderErrorsGetMessageHeaderErrorNotifications) {
  Bytes bad_marker = OpenMessage({});
  bad_marker[3] = 0x00;
  auto socket = Connect();
  ASSERT_TRUE(socket);
  ExpectNotification(*socket, bad_marker, 1, 1, std::nullopt);

  Bytes bad_length = Message(kKeepalive, {});
  bad_length[16] = 0x13, bad_length[17] = 0x88;  // 5000 > 4096
  socket = Connect();
  ASSERT_TRUE(socket);
  ExpectNotification(*socket, bad_length, 1, 2, Bytes{0x13, 0x88});

  socket = Connect();
  ASSERT_TRUE(socket);
  ExpectNotification(*socket, Message(9, {}), 1, 3, Bytes{9});
}

TEST_F(BgpMalformedTest, BadOpensGetOpenMessageErrorNotifications) {
  auto socket = Connect();
  ASSERT_TRUE(socket);
  ExpectNotification(*socket, OpenMessage({.version = 3}), 2, 1, Bytes{0, 4});

  socket = Connect();
  ASSERT_TRUE(socket);
  ExpectNotification(*socket, OpenMessage({.hold_time = 1}), 2, 6, std::nullopt);

  socket = Connect();
  ASSERT_TRUE(socket);
  ExpectNotification(*socket, OpenMessage({.identifier = {0, 0, 0, 0}}), 2, 3, std::nullopt);

  // AS 65000 where the configuration expects 64512: Bad Peer AS.
  socket = Connect();
  ASSERT_TRUE(socket);
  ExpectNotification(*socket, OpenMessage({.as = 65000}), 2, 2, std::nullopt);

  // After all that a well-formed OPEN still gets a session.
  socket = Establish();
  ASSERT_TRUE(socket);
}

TEST_F(BgpMalformedTest, BadUpdatesGetUpdateMessageErrorNotifications) {
  // Withdrawn Routes Length (200) runs past the message.
  auto socket = Establish();
  ASSERT_TRUE(socket);
  ExpectNotification(*socket, Message(kUpdate, {0, 200, 0, 0}), 3, 1, std::nullopt);

  // An NLRI prefix longer than 32 bits.
  socket = Establish();
  ASSERT_TRUE(socket);
  Bytes bad_prefix = AnnounceMessage(0);
  bad_prefix[bad_prefix.size() - 4] = 33;
  ExpectNotification(*socket, bad_prefix, 3, 10, std::nullopt);

  // An unrecognized well-known attribute (type 99, flags: well-known transitive).
  socket = Establish();
  ASSERT_TRUE(socket);
  Bytes unknown = {0x40, 99, 1, 7};
  Bytes body = {0, 0, 0, static_cast<uint8_t>(unknown.size())};
  body.insert(body.end(), unknown.begin(), unknown.end());
  ExpectNotification(*socket, Message(kUpdate, body), 3, 2, unknown);
}

TEST_F(BgpMalformedTest, BadOriginIsTreatAsWithdrawAndKeepsTheSession) {
  auto socket = Establish();
  ASSERT_TRUE(socket);
  ASSERT_TRUE(socket->Send(AnnounceMessage(0)));
  EXPECT_TRUE(
      WaitFor([&] { return SessionShows(*socket, "10.244.9.0/24 | 192.168.206.20"); }, 30s))
      << kelp_.Cli({});

  // ORIGIN 5 is malformed (RFC 7606 §7.1): the route is withdrawn, the session stays.
  ASSERT_TRUE(socket->Send(AnnounceMessage(5)));
  EXPECT_TRUE(WaitFor([&] { return !SessionShows(*socket, "10.244.9.0/24"); }, 30s))
      << kelp_.Cli({});
  ASSERT_TRUE(socket->Send(Message(kKeepalive, {})));
  // kelp's next KEEPALIVE (every 3 s with a 9 s hold time) arrives, no NOTIFICATION first.
  std::optional<Received> next = socket->Read();
  ASSERT_TRUE(next.has_value());
  EXPECT_NE(next->type, kNotification);
  EXPECT_TRUE(Contains(kelp_.Cli({}), "Established")) << kelp_.Cli({});
  ExpectSpeakerUp();
}

}  // namespace
}  // namespace kelp::e2e
