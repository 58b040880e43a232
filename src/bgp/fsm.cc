// RFC 4271 §8.2.2 transitions. Kept deliberately close to the RFC's per-state lists so a
// reader can check each case against the text; optional session attributes beyond
// AutomaticStart with IdleHoldTime and passive TCP establishment are not implemented.
#include "bgp/fsm.h"

#include <algorithm>
#include <utility>

namespace kelp::bgp {
namespace {

using std::chrono::seconds;

// RFC 4271 §8.2.2: "a large value (suggested 4 minutes)" while waiting for the peer's OPEN.
constexpr seconds kOpenSentHoldTime{240};

// RFC 6608 subcodes of the Finite State Machine Error.
constexpr uint8_t kUnexpectedInOpenSent = 1;
constexpr uint8_t kUnexpectedInOpenConfirm = 2;
constexpr uint8_t kUnexpectedInEstablished = 3;

Notification MakeNotification(ErrorCode code, uint8_t subcode) {
  return Notification{.code = static_cast<uint8_t>(code), .subcode = subcode};
}

std::string DescribeNotification(const Notification& notification) {
  return std::to_string(notification.code) + "/" + std::to_string(notification.subcode);
}

}  // namespace

std::string_view FsmStateName(FsmState state) {
  switch (state) {
    case FsmState::kIdle: return "Idle";
    case FsmState::kConnect: return "Connect";
    case FsmState::kActive: return "Active";
    case FsmState::kOpenSent: return "OpenSent";
    case FsmState::kOpenConfirm: return "OpenConfirm";
    case FsmState::kEstablished: return "Established";
  }
  return "Unknown";
}

ConnectionOrigin ConnectionToKeep(uint32_t local_identifier, uint32_t remote_identifier) {
  return local_identifier > remote_identifier ? ConnectionOrigin::kLocallyInitiated
                                              : ConnectionOrigin::kRemotelyInitiated;
}

Fsm::Fsm(FsmConfig config, const Clock& clock)
    : config_(std::move(config)),
      clock_(clock),
      since_(clock.WallNow()),
      automatic_restart_(config_.automatic_restart) {}

Open Fsm::LocalOpen() const {
  Open open;
  open.my_as = TwoOctetAsField(config_.local_as);
  open.hold_time = static_cast<uint16_t>(config_.hold_time.count());
  open.bgp_identifier = config_.local_identifier;
  open.capabilities.multiprotocol = {kIpv4Unicast};
  open.capabilities.route_refresh = true;
  open.capabilities.four_octet_as = config_.local_as;
  open.capabilities.graceful_restart = config_.graceful_restart;
  return open;
}

std::vector<FsmAction> Fsm::Handle(FsmEvent event) {
  Actions out;
  switch (state_) {
    case FsmState::kIdle: OnIdle(event, out); break;
    case FsmState::kConnect:
    case FsmState::kActive: OnConnectOrActive(event, out); break;
    case FsmState::kOpenSent: OnOpenSent(event, out); break;
    case FsmState::kOpenConfirm: OnOpenConfirm(event, out); break;
    case FsmState::kEstablished: OnEstablished(event, out); break;
  }
  return out;
}

std::vector<FsmAction> Fsm::HandleExpiredTimers() {
  Actions out;
  const auto now = clock_.Now();
  // Earliest first, so that e.g. a hold expiry is not preceded by a later keepalive.
  while (true) {
    std::optional<FsmTimer> due;
    for (FsmTimer timer :
         {FsmTimer::kHold, FsmTimer::kKeepalive, FsmTimer::kConnectRetry, FsmTimer::kIdleHold}) {
      const auto& deadline = Deadline(timer);
      if (!deadline || *deadline > now) continue;
      if (!due || *deadline < *Deadline(*due)) due = timer;
    }
    if (!due) return out;
    Deadline(*due).reset();
    for (FsmAction& action : Handle(TimerExpired{*due})) out.push_back(std::move(action));
  }
}

std::optional<std::chrono::steady_clock::time_point> Fsm::NextDeadline() const {
  std::optional<std::chrono::steady_clock::time_point> next;
  for (const auto& deadline :
       {connect_retry_deadline_, hold_deadline_, keepalive_deadline_, idle_hold_deadline_}) {
    if (deadline && (!next || *deadline < *next)) next = deadline;
  }
  return next;
}

void Fsm::OnIdle(const FsmEvent& event, Actions& out) {
  if (std::holds_alternative<ManualStart>(event)) {
    automatic_restart_ = config_.automatic_restart;
    Start(out);
  } else if (const auto* timer = std::get_if<TimerExpired>(&event);
             timer && timer->timer == FsmTimer::kIdleHold && automatic_restart_) {
    Start(out);  // the AutomaticStart event
  } else if (std::holds_alternative<ManualStop>(event)) {
    automatic_restart_ = false;
    StopTimer(FsmTimer::kIdleHold);
  }
  // Every other event is ignored in Idle (RFC 4271 §8.2.2).
}

void Fsm::Start(Actions& out) {
  StopTimer(FsmTimer::kIdleHold);
  if (config_.passive) {
    EnterState(FsmState::kActive);
    return;
  }
  StartTimer(FsmTimer::kConnectRetry, config_.connect_retry_time);
  out.push_back(ConnectToPeer{});
  EnterState(FsmState::kConnect);
}

void Fsm::OnConnectOrActive(FsmEvent& event, Actions& out) {
  if (std::holds_alternative<ManualStop>(event)) {
    automatic_restart_ = false;
    Fail(std::nullopt, "stopped", out);
  } else if (std::holds_alternative<TcpConnectionConfirmed>(event)) {
    StopTimer(FsmTimer::kConnectRetry);
    out.push_back(SendMessage{LocalOpen()});
    StartTimer(FsmTimer::kHold, kOpenSentHoldTime);
    EnterState(FsmState::kOpenSent);
  } else if (std::holds_alternative<TcpConnectionFails>(event)) {
    Fail(std::nullopt, "connection failed", out);
  } else if (const auto* timer = std::get_if<TimerExpired>(&event)) {
    if (timer->timer != FsmTimer::kConnectRetry) return;
    if (state_ == FsmState::kConnect) out.push_back(CloseConnection{});
    StartTimer(FsmTimer::kConnectRetry, config_.connect_retry_time);
    out.push_back(ConnectToPeer{});
    EnterState(FsmState::kConnect);
  } else if (!std::holds_alternative<ManualStart>(event)) {
    Fail(std::nullopt, "unexpected event before the connection was up", out);
  }
}

void Fsm::OnOpenSent(FsmEvent& event, Actions& out) {
  if (auto* open = std::get_if<OpenReceived>(&event)) {
    OpenExpectations expect{.peer_as = config_.peer_as,
                            .local_as = config_.local_as,
                            .local_identifier = config_.local_identifier};
    if (std::optional<DecodeError> refusal = CheckOpen(open->open, expect)) {
      Fail(refusal->notification, "OPEN refused: " + refusal->reason, out);
      return;
    }
    AcceptOpen(open->open, out);
  } else if (std::holds_alternative<TcpConnectionFails>(event)) {
    // RFC 4271: back to Active, listening (and retrying unless passive).
    out.push_back(CloseConnection{});
    StopTimer(FsmTimer::kHold);
    if (!config_.passive) StartTimer(FsmTimer::kConnectRetry, config_.connect_retry_time);
    last_error_ = "connection closed in OpenSent";
    EnterState(FsmState::kActive);
  } else if (std::holds_alternative<KeepaliveReceived>(event) ||
             std::holds_alternative<UpdateReceived>(event) ||
             std::holds_alternative<RouteRefreshReceived>(event)) {
    Fail(MakeNotification(ErrorCode::kFiniteStateMachine, kUnexpectedInOpenSent),
         "unexpected message in OpenSent", out);
  } else {
    OnSessionEvent(event, out);
  }
}

void Fsm::OnOpenConfirm(FsmEvent& event, Actions& out) {
  if (std::holds_alternative<KeepaliveReceived>(event)) {
    RestartHoldTimer();
    EnterState(FsmState::kEstablished);
    out.push_back(SessionEstablished{});
  } else if (std::holds_alternative<OpenReceived>(event) ||
             std::holds_alternative<UpdateReceived>(event) ||
             std::holds_alternative<RouteRefreshReceived>(event)) {
    Fail(MakeNotification(ErrorCode::kFiniteStateMachine, kUnexpectedInOpenConfirm),
         "unexpected message in OpenConfirm", out);
  } else {
    OnSessionEvent(event, out);
  }
}

void Fsm::OnEstablished(FsmEvent& event, Actions& out) {
  if (std::holds_alternative<KeepaliveReceived>(event)) {
    RestartHoldTimer();
  } else if (auto* update = std::get_if<UpdateReceived>(&event)) {
    RestartHoldTimer();
    out.push_back(DeliverUpdate{std::move(update->update)});
  } else if (auto* refresh = std::get_if<RouteRefreshReceived>(&event)) {
    RestartHoldTimer();
    // RFC 2918 §4: a request for a capability we did not negotiate is ignored.
    if (negotiated_.route_refresh) out.push_back(DeliverRouteRefresh{refresh->request});
  } else if (std::holds_alternative<OpenReceived>(event)) {
    Fail(MakeNotification(ErrorCode::kFiniteStateMachine, kUnexpectedInEstablished),
         "unexpected OPEN in Established", out);
  } else {
    OnSessionEvent(event, out);
  }
}

// Events handled alike in OpenSent, OpenConfirm and Established.
void Fsm::OnSessionEvent(const FsmEvent& event, Actions& out) {
  if (std::holds_alternative<ManualStop>(event)) {
    automatic_restart_ = false;
    Fail(MakeNotification(ErrorCode::kCease, kCeaseAdministrativeShutdown), "stopped", out);
  } else if (std::holds_alternative<OpenCollisionDump>(event)) {
    Fail(MakeNotification(ErrorCode::kCease, kCeaseConnectionCollision),
         "connection collision resolved in favour of the other connection", out);
  } else if (std::holds_alternative<TcpConnectionFails>(event)) {
    Fail(std::nullopt, "connection closed by peer", out);
  } else if (const auto* notification = std::get_if<NotificationReceived>(&event)) {
    Fail(std::nullopt,
         "peer sent NOTIFICATION " + DescribeNotification(notification->notification), out,
         /*notification_received=*/true);
  } else if (const auto* error = std::get_if<MessageError>(&event)) {
    Fail(error->error.notification, "bad message from peer: " + error->error.reason, out);
  } else if (const auto* timer = std::get_if<TimerExpired>(&event)) {
    if (timer->timer == FsmTimer::kHold) {
      Fail(MakeNotification(ErrorCode::kHoldTimerExpired, 0), "hold timer expired", out);
    } else if (timer->timer == FsmTimer::kKeepalive && state_ != FsmState::kOpenSent) {
      out.push_back(SendMessage{Keepalive{}});
      StartTimer(FsmTimer::kKeepalive, negotiated_.keepalive_time);
    }
  }
  // ManualStart and TcpConnectionConfirmed are ignored once a session is underway.
}

void Fsm::AcceptOpen(const Open& open, Actions& out) {
  negotiated_ = Negotiated{.peer_open = open};
  negotiated_.hold_time = std::min(config_.hold_time, seconds(open.hold_time));
  if (negotiated_.hold_time.count() > 0) {
    negotiated_.keepalive_time =
        std::max(seconds(1), std::min(config_.keepalive_time, negotiated_.hold_time / 3));
  }
  const Capabilities& caps = open.capabilities;
  negotiated_.four_octet_as = caps.four_octet_as.has_value();
  negotiated_.route_refresh = caps.route_refresh;
  // RFC 4760 §8: a peer without the multiprotocol capability speaks IPv4 unicast only.
  negotiated_.ipv4_unicast =
      caps.multiprotocol.empty() || std::find(caps.multiprotocol.begin(), caps.multiprotocol.end(),
                                              kIpv4Unicast) != caps.multiprotocol.end();
  negotiated_.peer_graceful_restart = caps.graceful_restart;

  out.push_back(SendMessage{Keepalive{}});
  if (negotiated_.hold_time.count() > 0) {
    StartTimer(FsmTimer::kKeepalive, negotiated_.keepalive_time);
    RestartHoldTimer();
  } else {
    StopTimer(FsmTimer::kHold);
  }
  EnterState(FsmState::kOpenConfirm);
}

void Fsm::Fail(std::optional<Notification> notification, std::string reason, Actions& out,
               bool notification_received) {
  const bool notification_exchanged = notification_received || notification.has_value();
  if (notification) out.push_back(SendMessage{std::move(*notification)});
  out.push_back(CloseConnection{});
  for (FsmTimer timer :
       {FsmTimer::kConnectRetry, FsmTimer::kHold, FsmTimer::kKeepalive, FsmTimer::kIdleHold}) {
    StopTimer(timer);
  }
  if (state_ == FsmState::kEstablished) {
    out.push_back(SessionDown{.reason = reason, .notification = notification_exchanged});
  }
  last_error_ = std::move(reason);
  if (automatic_restart_) StartTimer(FsmTimer::kIdleHold, config_.idle_hold_time);
  EnterState(FsmState::kIdle);
}

void Fsm::EnterState(FsmState state) {
  if (state == state_) return;
  state_ = state;
  since_ = clock_.WallNow();
}

void Fsm::StartTimer(FsmTimer timer, std::chrono::steady_clock::duration after) {
  Deadline(timer) = clock_.Now() + after;
}

void Fsm::StopTimer(FsmTimer timer) { Deadline(timer).reset(); }

void Fsm::RestartHoldTimer() {
  if (negotiated_.hold_time.count() > 0) StartTimer(FsmTimer::kHold, negotiated_.hold_time);
}

std::optional<std::chrono::steady_clock::time_point>& Fsm::Deadline(FsmTimer timer) {
  switch (timer) {
    case FsmTimer::kConnectRetry: return connect_retry_deadline_;
    case FsmTimer::kHold: return hold_deadline_;
    case FsmTimer::kKeepalive: return keepalive_deadline_;
    case FsmTimer::kIdleHold: return idle_hold_deadline_;
  }
  return idle_hold_deadline_;
}

}  // namespace kelp::bgp
