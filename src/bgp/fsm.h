// The RFC 4271 §8 BGP finite state machine of one TCP connection to a peer, transport-free:
// the session driver feeds it events (operator start/stop, TCP outcomes, decoded messages,
// expired timers) and carries out the actions it returns (send, connect, close, deliver).
// Timers are deadlines read from a Clock, so tests drive time with testing::FakeClock.
// Collision detection (§6.8) spans two connections; ConnectionToKeep decides it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bgp/codec.h"
#include "bgp/message.h"
#include "common/clock.h"

namespace kelp::bgp {

enum class FsmState { kIdle, kConnect, kActive, kOpenSent, kOpenConfirm, kEstablished };
std::string_view FsmStateName(FsmState state);  // "Idle", "OpenSent", ...

enum class FsmTimer { kConnectRetry, kHold, kKeepalive, kIdleHold };

// ---- events (RFC 4271 §8.1) ---------------------------------------------------------------
struct ManualStart {};
struct ManualStop {};
struct TcpConnectionConfirmed {};  // the connection is up (either direction)
struct TcpConnectionFails {};
struct OpenReceived {
  Open open;
};
struct KeepaliveReceived {};
struct UpdateReceived {
  Update update;
};
struct NotificationReceived {
  Notification notification;
};
struct RouteRefreshReceived {
  RouteRefresh request;
};
// The codec refused the peer's bytes (BGPHeaderErr, BGPOpenMsgErr, UpdateMsgErr).
struct MessageError {
  DecodeError error;
};
struct TimerExpired {
  FsmTimer timer;
};
// Collision detection chose the other connection (§6.8): this one ends with Cease.
struct OpenCollisionDump {};

using FsmEvent = std::variant<ManualStart, ManualStop, TcpConnectionConfirmed, TcpConnectionFails,
                              OpenReceived, KeepaliveReceived, UpdateReceived,
                              NotificationReceived, RouteRefreshReceived, MessageError,
                              TimerExpired, OpenCollisionDump>;

// ---- actions --------------------------------------------------------------------------------
struct SendMessage {
  Message message;
};
struct ConnectToPeer {};    // initiate an outgoing TCP connection
struct CloseConnection {};  // drop the TCP connection once queued messages are written
struct SessionEstablished {};
struct SessionDown {  // left Established: the peer's routes must be withdrawn (or kept stale)
  std::string reason;
  // A NOTIFICATION was sent or received: no graceful restart applies (RFC 4724 §4.2).
  bool notification = false;
};
struct DeliverUpdate {
  Update update;
};
struct DeliverRouteRefresh {
  RouteRefresh request;
};

using FsmAction = std::variant<SendMessage, ConnectToPeer, CloseConnection, SessionEstablished,
                               SessionDown, DeliverUpdate, DeliverRouteRefresh>;

struct FsmConfig {
  uint32_t local_as = 0;
  uint32_t local_identifier = 0;
  uint32_t peer_as = 0;
  // Offered hold time: 0 (no keepalives) or >= 3 s.
  std::chrono::seconds hold_time{90};
  // Upper bound on the keepalive interval; the FSM uses min(this, negotiated hold / 3).
  std::chrono::seconds keepalive_time{30};
  std::chrono::seconds connect_retry_time{5};
  // Wait in Idle after an error before the automatic restart (RFC 4271 IdleHoldTime).
  std::chrono::seconds idle_hold_time{2};
  // Never initiate: wait in Active for the peer to connect.
  bool passive = false;
  // Restart by itself after errors (AutomaticStart); a ManualStop turns this off.
  bool automatic_restart = true;
  // The RFC 4724 capability to advertise; nullopt advertises none.
  std::optional<GracefulRestart> graceful_restart;
};

// What the OPEN exchange settled; valid from OpenConfirm on.
struct Negotiated {
  Open peer_open;
  std::chrono::seconds hold_time{0};
  std::chrono::seconds keepalive_time{0};
  bool four_octet_as = false;
  bool route_refresh = false;
  bool ipv4_unicast = false;
  std::optional<GracefulRestart> peer_graceful_restart;
};

class Fsm {
 public:
  Fsm(FsmConfig config, const Clock& clock);

  std::vector<FsmAction> Handle(FsmEvent event);
  // Fires every timer whose deadline has passed (Clock::Now()) and returns the actions.
  std::vector<FsmAction> HandleExpiredTimers();
  // The earliest running timer; nullopt when none runs.
  std::optional<std::chrono::steady_clock::time_point> NextDeadline() const;

  FsmState state() const { return state_; }
  // When the current state was entered (wall clock, for status output).
  std::chrono::system_clock::time_point since() const { return since_; }
  // Why the session last went down or was refused ("" if never).
  const std::string& last_error() const { return last_error_; }
  const Negotiated& negotiated() const { return negotiated_; }
  CodecOptions codec_options() const { return {.four_octet_as = negotiated_.four_octet_as}; }
  const FsmConfig& config() const { return config_; }
  // The OPEN this side sends.
  Open LocalOpen() const;

 private:
  using Actions = std::vector<FsmAction>;

  void OnIdle(const FsmEvent& event, Actions& out);
  void OnConnectOrActive(FsmEvent& event, Actions& out);
  void OnOpenSent(FsmEvent& event, Actions& out);
  void OnOpenConfirm(FsmEvent& event, Actions& out);
  void OnEstablished(FsmEvent& event, Actions& out);

  void Start(Actions& out);
  void AcceptOpen(const Open& open, Actions& out);
  // Sends `notification` (if any), closes, and goes to Idle with `reason` as last_error.
  void OnSessionEvent(const FsmEvent& event, Actions& out);
  void Fail(std::optional<Notification> notification, std::string reason, Actions& out,
            bool notification_received = false);
  void EnterState(FsmState state);

  void StartTimer(FsmTimer timer, std::chrono::steady_clock::duration after);
  void StopTimer(FsmTimer timer);
  std::optional<std::chrono::steady_clock::time_point>& Deadline(FsmTimer timer);
  void RestartHoldTimer();

  FsmConfig config_;
  const Clock& clock_;
  FsmState state_ = FsmState::kIdle;
  std::chrono::system_clock::time_point since_;
  std::string last_error_;
  Negotiated negotiated_;
  bool automatic_restart_;
  std::optional<std::chrono::steady_clock::time_point> connect_retry_deadline_;
  std::optional<std::chrono::steady_clock::time_point> hold_deadline_;
  std::optional<std::chrono::steady_clock::time_point> keepalive_deadline_;
  std::optional<std::chrono::steady_clock::time_point> idle_hold_deadline_;
};

// Cease subcodes used by the FSM and the speaker (RFC 4486).
inline constexpr uint8_t kCeaseAdministrativeShutdown = 2;
inline constexpr uint8_t kCeaseConnectionCollision = 7;

// RFC 4271 §6.8: of two connections to one peer, the one initiated by the speaker with the
// higher BGP identifier survives (identifiers compared as unsigned 32-bit integers).
enum class ConnectionOrigin { kLocallyInitiated, kRemotelyInitiated };
ConnectionOrigin ConnectionToKeep(uint32_t local_identifier, uint32_t remote_identifier);

}  // namespace kelp::bgp
