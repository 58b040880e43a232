// Tests of the RFC 4271 FSM driven by events and a FakeClock: the handshake as initiator
// and as passive side, hold-time negotiation and expiry, OPEN refusals, unexpected messages,
// automatic restart and collision resolution.
#include "bgp/fsm.h"

#include <gtest/gtest.h>

#include "common/testing/fake_clock.h"

namespace kelp::bgp {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kLocalId = 0xc0a8ce0a;  // 192.168.206.10
constexpr uint32_t kPeerId = 0xc0a8ce14;   // 192.168.206.20

FsmConfig Config(bool passive = false) {
  return FsmConfig{.local_as = 64512,
                   .local_identifier = kLocalId,
                   .peer_as = 64512,
                   .hold_time = 9s,
                   .keepalive_time = 3s,
                   .connect_retry_time = 5s,
                   .idle_hold_time = 2s,
                   .passive = passive};
}

Open PeerOpen(uint32_t as = 64512, uint16_t hold = 9) {
  Open open;
  open.my_as = TwoOctetAsField(as);
  open.hold_time = hold;
  open.bgp_identifier = kPeerId;
  open.capabilities.four_octet_as = as;
  open.capabilities.multiprotocol = {kIpv4Unicast};
  open.capabilities.route_refresh = true;
  return open;
}

template <typename T>
bool Has(const std::vector<FsmAction>& actions) {
  for (const FsmAction& action : actions) {
    if (std::holds_alternative<T>(action)) return true;
  }
  return false;
}

// The messages among `actions`, in order.
std::vector<Message> Sent(const std::vector<FsmAction>& actions) {
  std::vector<Message> messages;
  for (const FsmAction& action : actions) {
    if (const auto* send = std::get_if<SendMessage>(&action)) messages.push_back(send->message);
  }
  return messages;
}

std::optional<Notification> SentNotification(const std::vector<FsmAction>& actions) {
  for (const Message& message : Sent(actions)) {
    if (const auto* n = std::get_if<Notification>(&message)) return *n;
  }
  return std::nullopt;
}

class FsmTest : public ::testing::Test {
 protected:
  // Runs the active handshake up to Established.
  void Establish(Fsm& fsm) {
    fsm.Handle(ManualStart{});
    fsm.Handle(TcpConnectionConfirmed{});
    fsm.Handle(OpenReceived{PeerOpen()});
    fsm.Handle(KeepaliveReceived{});
    ASSERT_EQ(fsm.state(), FsmState::kEstablished);
  }

  kelp::testing::FakeClock clock_;
};

TEST_F(FsmTest, ActiveHandshakeReachesEstablished) {
  Fsm fsm(Config(), clock_);
  std::vector<FsmAction> start = fsm.Handle(ManualStart{});
  EXPECT_EQ(fsm.state(), FsmState::kConnect);
  EXPECT_TRUE(Has<ConnectToPeer>(start));

  std::vector<FsmAction> connected = fsm.Handle(TcpConnectionConfirmed{});
  EXPECT_EQ(fsm.state(), FsmState::kOpenSent);
  std::vector<Message> sent = Sent(connected);
  ASSERT_EQ(sent.size(), 1u);
  const Open& open = std::get<Open>(sent[0]);
  EXPECT_EQ(open.my_as, 64512);
  EXPECT_EQ(open.hold_time, 9);
  EXPECT_EQ(open.bgp_identifier, kLocalId);
  EXPECT_EQ(open.capabilities.four_octet_as, 64512u);
  EXPECT_TRUE(open.capabilities.route_refresh);
  EXPECT_EQ(open.capabilities.multiprotocol, std::vector<AfiSafi>{kIpv4Unicast});

  std::vector<FsmAction> opened = fsm.Handle(OpenReceived{PeerOpen()});
  EXPECT_EQ(fsm.state(), FsmState::kOpenConfirm);
  ASSERT_EQ(Sent(opened).size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Keepalive>(Sent(opened)[0]));

  std::vector<FsmAction> established = fsm.Handle(KeepaliveReceived{});
  EXPECT_EQ(fsm.state(), FsmState::kEstablished);
  EXPECT_TRUE(Has<SessionEstablished>(established));
  EXPECT_TRUE(fsm.negotiated().four_octet_as);
  EXPECT_TRUE(fsm.negotiated().route_refresh);
  EXPECT_TRUE(fsm.negotiated().ipv4_unicast);
  EXPECT_TRUE(fsm.codec_options().four_octet_as);
}

TEST_F(FsmTest, PassiveHandshakeWaitsInActiveForThePeer) {
  Fsm fsm(Config(/*passive=*/true), clock_);
  std::vector<FsmAction> start = fsm.Handle(ManualStart{});
  EXPECT_EQ(fsm.state(), FsmState::kActive);
  EXPECT_FALSE(Has<ConnectToPeer>(start));
  clock_.Advance(1h);
  EXPECT_TRUE(fsm.HandleExpiredTimers().empty()) << "a passive peer never connects";

  fsm.Handle(TcpConnectionConfirmed{});
  EXPECT_EQ(fsm.state(), FsmState::kOpenSent);
  fsm.Handle(OpenReceived{PeerOpen()});
  fsm.Handle(KeepaliveReceived{});
  EXPECT_EQ(fsm.state(), FsmState::kEstablished);
}

TEST_F(FsmTest, ConnectRetryTimerRetriesTheConnection) {
  Fsm fsm(Config(), clock_);
  fsm.Handle(ManualStart{});
  clock_.Advance(4s);
  EXPECT_TRUE(fsm.HandleExpiredTimers().empty());
  clock_.Advance(1s);
  std::vector<FsmAction> retry = fsm.HandleExpiredTimers();
  EXPECT_TRUE(Has<CloseConnection>(retry));
  EXPECT_TRUE(Has<ConnectToPeer>(retry));
  EXPECT_EQ(fsm.state(), FsmState::kConnect);
}

TEST_F(FsmTest, HoldTimeIsTheSmallerOfBothAndKeepaliveAThird) {
  FsmConfig config = Config();
  config.hold_time = 90s;
  config.keepalive_time = 30s;
  Fsm fsm(config, clock_);
  fsm.Handle(ManualStart{});
  fsm.Handle(TcpConnectionConfirmed{});
  fsm.Handle(OpenReceived{PeerOpen(64512, /*hold=*/3)});
  EXPECT_EQ(fsm.negotiated().hold_time, 3s);
  EXPECT_EQ(fsm.negotiated().keepalive_time, 1s);
}

TEST_F(FsmTest, ZeroHoldTimeMeansNoKeepalivesAndNoHoldTimer) {
  Fsm fsm(Config(), clock_);
  fsm.Handle(ManualStart{});
  fsm.Handle(TcpConnectionConfirmed{});
  fsm.Handle(OpenReceived{PeerOpen(64512, /*hold=*/0)});
  fsm.Handle(KeepaliveReceived{});
  EXPECT_EQ(fsm.negotiated().hold_time, 0s);
  EXPECT_FALSE(fsm.NextDeadline().has_value());
  clock_.Advance(24h);
  EXPECT_TRUE(fsm.HandleExpiredTimers().empty());
  EXPECT_EQ(fsm.state(), FsmState::kEstablished);
}

TEST_F(FsmTest, KeepalivesAreSentAndReceivedOnesKeepTheSessionUp) {
  Fsm fsm(Config(), clock_);
  Establish(fsm);
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(3s);
    std::vector<FsmAction> actions = fsm.HandleExpiredTimers();
    ASSERT_EQ(Sent(actions).size(), 1u);
    EXPECT_TRUE(std::holds_alternative<Keepalive>(Sent(actions)[0]));
    fsm.Handle(KeepaliveReceived{});
  }
  EXPECT_EQ(fsm.state(), FsmState::kEstablished);
}

TEST_F(FsmTest, HoldTimerExpirySendsNotification4And0) {
  Fsm fsm(Config(), clock_);
  Establish(fsm);
  clock_.Advance(8s);
  fsm.HandleExpiredTimers();
  EXPECT_EQ(fsm.state(), FsmState::kEstablished);
  clock_.Advance(1s);
  std::vector<FsmAction> actions = fsm.HandleExpiredTimers();
  EXPECT_EQ(fsm.state(), FsmState::kIdle);
  EXPECT_EQ(SentNotification(actions), (Notification{.code = 4, .subcode = 0}));
  EXPECT_TRUE(Has<CloseConnection>(actions));
  EXPECT_TRUE(Has<SessionDown>(actions));
  EXPECT_EQ(fsm.last_error(), "hold timer expired");
}

TEST_F(FsmTest, HoldTimerInOpenSentIsFourMinutes) {
  Fsm fsm(Config(), clock_);
  fsm.Handle(ManualStart{});
  fsm.Handle(TcpConnectionConfirmed{});
  clock_.Advance(239s);
  fsm.HandleExpiredTimers();
  EXPECT_EQ(fsm.state(), FsmState::kOpenSent);
  clock_.Advance(1s);
  EXPECT_EQ(SentNotification(fsm.HandleExpiredTimers()), (Notification{.code = 4, .subcode = 0}));
}

TEST_F(FsmTest, BadPeerAsIsRefusedWith2And2) {
  Fsm fsm(Config(), clock_);
  fsm.Handle(ManualStart{});
  fsm.Handle(TcpConnectionConfirmed{});
  std::vector<FsmAction> actions = fsm.Handle(OpenReceived{PeerOpen(/*as=*/65000)});
  EXPECT_EQ(fsm.state(), FsmState::kIdle);
  std::optional<Notification> sent = SentNotification(actions);
  ASSERT_TRUE(sent.has_value());
  EXPECT_EQ(sent->code, 2);
  EXPECT_EQ(sent->subcode, 2);
  EXPECT_TRUE(Has<CloseConnection>(actions));
  EXPECT_FALSE(Has<SessionDown>(actions)) << "the session never came up";
}

TEST_F(FsmTest, InternalPeerWithOurIdentifierIsRefusedWith2And3) {
  Fsm fsm(Config(), clock_);
  fsm.Handle(ManualStart{});
  fsm.Handle(TcpConnectionConfirmed{});
  Open open = PeerOpen();
  open.bgp_identifier = kLocalId;
  std::optional<Notification> sent = SentNotification(fsm.Handle(OpenReceived{open}));
  ASSERT_TRUE(sent.has_value());
  EXPECT_EQ(sent->code, 2);
  EXPECT_EQ(sent->subcode, 3);
}

TEST_F(FsmTest, UnexpectedMessagesAreFsmErrors) {
  Fsm fsm(Config(), clock_);
  fsm.Handle(ManualStart{});
  fsm.Handle(TcpConnectionConfirmed{});
  EXPECT_EQ(SentNotification(fsm.Handle(KeepaliveReceived{})),
            (Notification{.code = 5, .subcode = 1}));

  Fsm confirming(Config(), clock_);
  confirming.Handle(ManualStart{});
  confirming.Handle(TcpConnectionConfirmed{});
  confirming.Handle(OpenReceived{PeerOpen()});
  EXPECT_EQ(SentNotification(confirming.Handle(UpdateReceived{})),
            (Notification{.code = 5, .subcode = 2}));

  Fsm established(Config(), clock_);
  Establish(established);
  EXPECT_EQ(SentNotification(established.Handle(OpenReceived{PeerOpen()})),
            (Notification{.code = 5, .subcode = 3}));
}

TEST_F(FsmTest, UpdatesAreDeliveredAndRestartTheHoldTimer) {
  Fsm fsm(Config(), clock_);
  Establish(fsm);
  clock_.Advance(8s);
  Update update;
  update.withdrawn.push_back(*Ipv4Prefix::Parse("10.244.2.0/26"));
  std::vector<FsmAction> actions = fsm.Handle(UpdateReceived{update});
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(std::get<DeliverUpdate>(actions[0]).update, update);
  clock_.Advance(8s);
  fsm.HandleExpiredTimers();
  EXPECT_EQ(fsm.state(), FsmState::kEstablished);
}

TEST_F(FsmTest, DecodeErrorSendsItsNotification) {
  Fsm fsm(Config(), clock_);
  Establish(fsm);
  DecodeError error{.notification = {.code = 3, .subcode = 1}, .reason = "bad length"};
  std::vector<FsmAction> actions = fsm.Handle(MessageError{error});
  EXPECT_EQ(SentNotification(actions), (Notification{.code = 3, .subcode = 1}));
  EXPECT_TRUE(Has<SessionDown>(actions));
}

TEST_F(FsmTest, PeerNotificationClosesWithoutReply) {
  Fsm fsm(Config(), clock_);
  Establish(fsm);
  std::vector<FsmAction> actions =
      fsm.Handle(NotificationReceived{Notification{.code = 6, .subcode = 2}});
  EXPECT_FALSE(SentNotification(actions).has_value());
  EXPECT_TRUE(Has<SessionDown>(actions));
  EXPECT_EQ(fsm.last_error(), "peer sent NOTIFICATION 6/2");
}

TEST_F(FsmTest, AfterAnErrorTheFsmRestartsAfterIdleHoldTime) {
  Fsm fsm(Config(), clock_);
  Establish(fsm);
  fsm.Handle(TcpConnectionFails{});
  EXPECT_EQ(fsm.state(), FsmState::kIdle);
  clock_.Advance(1s);
  EXPECT_TRUE(fsm.HandleExpiredTimers().empty());
  clock_.Advance(1s);
  EXPECT_TRUE(Has<ConnectToPeer>(fsm.HandleExpiredTimers()));
  EXPECT_EQ(fsm.state(), FsmState::kConnect);
}

TEST_F(FsmTest, ManualStopSendsCeaseAndStaysIdle) {
  Fsm fsm(Config(), clock_);
  Establish(fsm);
  std::vector<FsmAction> actions = fsm.Handle(ManualStop{});
  EXPECT_EQ(SentNotification(actions),
            (Notification{.code = 6, .subcode = kCeaseAdministrativeShutdown}));
  clock_.Advance(1h);
  EXPECT_TRUE(fsm.HandleExpiredTimers().empty());
  EXPECT_EQ(fsm.state(), FsmState::kIdle);
}

TEST_F(FsmTest, CollisionKeepsTheConnectionOfTheHigherIdentifier) {
  EXPECT_EQ(ConnectionToKeep(kPeerId, kLocalId), ConnectionOrigin::kLocallyInitiated);
  EXPECT_EQ(ConnectionToKeep(kLocalId, kPeerId), ConnectionOrigin::kRemotelyInitiated);
  // Compared as unsigned integers: 200.0.0.1 beats 10.0.0.1.
  EXPECT_EQ(ConnectionToKeep(0xc8000001, 0x0a000001), ConnectionOrigin::kLocallyInitiated);
}

TEST_F(FsmTest, CollisionLoserSendsCease7) {
  // Our outgoing connection (local id .10 < peer id .20) loses to the peer's one.
  Fsm outgoing(Config(), clock_);
  outgoing.Handle(ManualStart{});
  outgoing.Handle(TcpConnectionConfirmed{});
  outgoing.Handle(OpenReceived{PeerOpen()});
  Fsm incoming(Config(/*passive=*/true), clock_);
  incoming.Handle(ManualStart{});
  incoming.Handle(TcpConnectionConfirmed{});
  incoming.Handle(OpenReceived{PeerOpen()});
  ASSERT_EQ(ConnectionToKeep(kLocalId, kPeerId), ConnectionOrigin::kRemotelyInitiated);

  std::vector<FsmAction> dumped = outgoing.Handle(OpenCollisionDump{});
  EXPECT_EQ(SentNotification(dumped),
            (Notification{.code = 6, .subcode = kCeaseConnectionCollision}));
  EXPECT_EQ(outgoing.state(), FsmState::kIdle);
  EXPECT_TRUE(Has<SessionEstablished>(incoming.Handle(KeepaliveReceived{})));
}

// The session-down action tells the speaker whether graceful restart may apply (RFC 4724
// §4.2): only when no NOTIFICATION went either way.
std::optional<SessionDown> Down(const std::vector<FsmAction>& actions) {
  for (const FsmAction& action : actions) {
    if (const auto* down = std::get_if<SessionDown>(&action)) return *down;
  }
  return std::nullopt;
}

TEST_F(FsmTest, SessionDownSaysWhetherANotificationWasExchanged) {
  Fsm closed(Config(), clock_);
  Establish(closed);
  std::optional<SessionDown> down = Down(closed.Handle(TcpConnectionFails{}));
  ASSERT_TRUE(down.has_value());
  EXPECT_FALSE(down->notification);

  Fsm notified(Config(), clock_);
  Establish(notified);
  down = Down(notified.Handle(NotificationReceived{Notification{.code = 6, .subcode = 2}}));
  ASSERT_TRUE(down.has_value());
  EXPECT_TRUE(down->notification);

  Fsm expired(Config(), clock_);
  Establish(expired);
  clock_.Advance(10s);
  down = Down(expired.HandleExpiredTimers());
  ASSERT_TRUE(down.has_value());
  EXPECT_TRUE(down->notification);  // we sent 4/0
}

TEST_F(FsmTest, GracefulRestartCapabilityIsAdvertisedWhenConfigured) {
  EXPECT_FALSE(Fsm(Config(), clock_).LocalOpen().capabilities.graceful_restart.has_value());
  FsmConfig config = Config();
  config.graceful_restart = GracefulRestart{
      .restart_state = true, .restart_time = 120, .families = {{kIpv4Unicast, true}}};
  Fsm fsm(config, clock_);
  EXPECT_EQ(fsm.LocalOpen().capabilities.graceful_restart, config.graceful_restart);
}

}  // namespace
}  // namespace kelp::bgp
