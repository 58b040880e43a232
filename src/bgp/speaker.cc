// Speaker: Asio plumbing around the transport-free Fsm and Rib. Every coroutine runs on the
// one io_context thread, so no state here needs a lock. A Connection is one TCP connection
// with its own FSM (two can exist per peer while a collision is being resolved, §6.8); once
// it closes it is dropped, and the peer starts a fresh one after the idle hold time.
#include "bgp/speaker.h"

#include <malloc.h>
#include <sys/stat.h>

#include <boost/asio.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <deque>
#include <filesystem>
#include <functional>
#include <set>
#include <span>

#include "bgp/codec.h"
#include "bgp/fsm.h"
#include "bgp/rib.h"

namespace kelp::bgp {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using ControlProtocol = asio::local::stream_protocol;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
using std::chrono::seconds;

constexpr seconds kIdleHoldTime{2};
constexpr seconds kConnectRetryTime{5};
// How long a stopping speaker waits for its Cease NOTIFICATIONs to be written.
constexpr seconds kStopGrace{2};
// Quiet time after the last route flush before the heap is trimmed.
constexpr std::chrono::milliseconds kTrimDelay{500};

std::string FormatTimeOfDay(std::chrono::system_clock::time_point time) {
  std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm parts{};
  gmtime_r(&t, &parts);
  char text[16];
  std::strftime(text, sizeof text, "%H:%M:%S", &parts);
  return text;
}

std::string FormatAsPath(const PathAttributes& attributes) {
  std::string text;
  if (!attributes.as_path) return text;
  for (const AsPathSegment& segment : attributes.as_path->segments) {
    if (!text.empty()) text += ' ';
    if (segment.type == AsSegmentType::kAsSet) text += '{';
    for (size_t i = 0; i < segment.asns.size(); ++i) {
      if (i > 0) text += segment.type == AsSegmentType::kAsSet ? "," : " ";
      text += std::to_string(segment.asns[i]);
    }
    if (segment.type == AsSegmentType::kAsSet) text += '}';
  }
  return text;
}

// A bordered table like calicoctl's.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size());
  for (size_t i = 0; i < header.size(); ++i) widths[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string border = "+";
  for (size_t width : widths) border += std::string(width + 2, '-') + "+";
  border += '\n';
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text = "|";
    for (size_t i = 0; i < cells.size(); ++i) {
      text += ' ' + cells[i] + std::string(widths[i] - cells[i].size(), ' ') + " |";
    }
    return text + '\n';
  };
  std::string out = border + line(header) + border;
  for (const auto& row : rows) out += line(row);
  return out + border;
}

}  // namespace

void LoggingRouteSink::Install(const Ipv4Prefix& prefix, uint32_t next_hop) {
  spdlog::info("route {} via {}", prefix.ToString(), FormatIpv4(next_hop));
}

void LoggingRouteSink::Remove(const Ipv4Prefix& prefix) {
  spdlog::info("route {} withdrawn", prefix.ToString());
}

std::string FormatStatusReport(const StatusReport& report) {
  std::vector<std::vector<std::string>> peers;
  for (const PeerStatus& peer : report.peers) {
    peers.push_back({peer.address, peer.type, peer.state, peer.since, peer.info});
  }
  std::vector<std::vector<std::string>> routes;
  for (const RouteStatus& route : report.routes) {
    routes.push_back({route.prefix, route.next_hop, route.from, route.as_path});
  }
  return "IPv4 BGP status\n" +
         FormatTable({"PEER ADDRESS", "PEER TYPE", "STATE", "SINCE", "INFO"}, peers) +
         "\nIPv4 routes\n" + FormatTable({"PREFIX", "NEXT HOP", "FROM", "AS PATH"}, routes);
}

// One TCP connection to a peer and the FSM that runs it.
struct Connection {
  Connection(asio::io_context& io, FsmConfig config, const Clock& clock, bool outgoing)
      : fsm(std::move(config), clock),
        socket(io),
        fsm_timer(io),
        write_signal(io),
        outgoing(outgoing) {}

  Fsm fsm;
  tcp::socket socket;
  asio::steady_timer fsm_timer;     // expires at the FSM's next deadline
  asio::steady_timer write_signal;  // cancelled to wake the writer
  std::deque<std::vector<uint8_t>> write_queue;
  const bool outgoing;
  bool connected = false;
  bool closing = false;   // the writer closes the socket once the queue is written
  bool finished = false;  // dropped by its peer; coroutines still holding it just return
  int connect_attempt = 0;
  uint32_t local_address = 0;
};

struct Peer {
  Peer(asio::io_context& io, PeerConfig config)
      : config(config), restart_timer(io), stale_timer(io) {}

  PeerConfig config;
  std::vector<std::shared_ptr<Connection>> connections;
  asio::steady_timer restart_timer;
  // RFC 4724 helper: while the peer restarts its routes are stale until its End-of-RIB, or
  // until this timer (its advertised restart time) runs out.
  asio::steady_timer stale_timer;
  bool restarting = false;
  std::string last_error;
  std::chrono::system_clock::time_point since;

  std::shared_ptr<Connection> Established() const {
    for (const auto& connection : connections) {
      if (connection->fsm.state() == FsmState::kEstablished) return connection;
    }
    return nullptr;
  }
};

class Speaker::Impl {
 public:
  Impl(SpeakerConfig config, RouteSink& sink, const Clock& clock)
      : config_(std::move(config)),
        sink_(sink),
        clock_(clock),
        acceptor_(io_),
        control_acceptor_(io_),
        signals_(io_),
        stop_timer_(io_),
        rib_(RibConfig{.local_as = config_.as, .router_id = config_.router_id}),
        leftover_timer_(io_),
        trim_timer_(io_) {
    for (const PeerConfig& peer : config_.peers) {
      peers_.push_back(std::make_unique<Peer>(io_, peer));
      peers_.back()->since = clock_.WallNow();
    }
    for (const Ipv4Prefix& prefix : config_.announce) rib_.Originate(prefix);
  }

  Status Bind(const std::string& control_socket) {
    tcp::endpoint endpoint(asio::ip::address_v4(config_.listen_address), config_.listen_port);
    std::string where = "listen " + FormatIpv4(config_.listen_address) + ":" +
                        std::to_string(config_.listen_port);
    boost::system::error_code ec;
    if (acceptor_.open(endpoint.protocol(), ec) ||
        acceptor_.set_option(tcp::acceptor::reuse_address(true), ec) ||
        acceptor_.bind(endpoint, ec) || acceptor_.listen(asio::socket_base::max_listen_connections, ec)) {
      return IoError(where + ": " + ec.message());
    }
    if (control_socket.empty()) return Status::Ok();
    std::error_code ignored;
    std::filesystem::remove(control_socket, ignored);  // a stale one from a crashed run
    if (control_acceptor_.open(ControlProtocol(), ec) ||
        control_acceptor_.bind(ControlProtocol::endpoint(control_socket), ec) ||
        control_acceptor_.listen(asio::socket_base::max_listen_connections, ec)) {
      return IoError("control socket " + control_socket + ": " + ec.message());
    }
    ::chmod(control_socket.c_str(), 0600);
    control_path_ = control_socket;
    return Status::Ok();
  }

  uint16_t listen_port() const { return acceptor_.local_endpoint().port(); }

  void Run(bool handle_signals) {
    asio::co_spawn(io_, AcceptLoop(), asio::detached);
    if (control_acceptor_.is_open()) asio::co_spawn(io_, ControlLoop(), asio::detached);
    if (handle_signals) {
      signals_.add(SIGINT);
      signals_.add(SIGTERM);
      signals_.async_wait([this](boost::system::error_code ec, int signal) {
        if (ec) return;
        spdlog::info("signal {}: stopping", signal);
        BeginStop();
      });
    }
    TakeLeftovers();
    for (auto& peer : peers_) StartPeer(*peer);
    spdlog::info("BGP speaker AS {} router id {} listening on {}:{}", config_.as,
                 FormatIpv4(config_.router_id), FormatIpv4(config_.listen_address), listen_port());
    io_.run();
    sink_.Flush();  // whatever the last handlers changed
    if (!control_path_.empty()) {
      std::error_code ignored;
      std::filesystem::remove(control_path_, ignored);
    }
  }

  void Stop() {
    asio::post(io_, [this] { BeginStop(); });
  }

 private:
  void BeginStop() {
    if (stopping_) return;
    stopping_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    control_acceptor_.close(ignored);
    signals_.cancel(ignored);
    leftover_timer_.cancel();
    trim_timer_.cancel();
    if (config_.graceful_restart) {
      // No Cease and no withdrawals: peers keep our routes as stale and the kernel keeps
      // forwarding until the restarted speaker has resynchronised (RFC 4724 §4.1).
      spdlog::info("stopping for a graceful restart: routes stay in place");
      io_.stop();
      return;
    }
    for (auto& peer : peers_) {
      peer->restart_timer.cancel();
      peer->stale_timer.cancel();
      for (const auto& connection : std::vector(peer->connections)) {
        Dispatch(*peer, connection, ManualStop{});
      }
    }
    // Writers flush their Cease NOTIFICATIONs, but a frozen peer could keep one waiting forever.
    if (active_writers_ == 0) return;
    stop_timer_.expires_after(kStopGrace);
    stop_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) io_.stop();
    });
  }

  FsmConfig MakeFsmConfig(const PeerConfig& peer, bool passive) const {
    return FsmConfig{.local_as = config_.as,
                     .local_identifier = config_.router_id,
                     .peer_as = peer.as,
                     .hold_time = seconds(peer.hold_time),
                     .keepalive_time = seconds(peer.keepalive_time),
                     .connect_retry_time = kConnectRetryTime,
                     .idle_hold_time = kIdleHoldTime,
                     .passive = passive,
                     // The peer starts a new Connection instead (see the file comment).
                     .automatic_restart = false,
                     .graceful_restart = LocalGracefulRestart()};
  }

  // Our RFC 4724 capability: R and F are set while we restart with routes kept in place.
  std::optional<GracefulRestart> LocalGracefulRestart() const {
    if (!config_.graceful_restart) return std::nullopt;
    return GracefulRestart{
        .restart_state = restarting_,
        .restart_time = config_.restart_time,
        .families = {{.family = kIpv4Unicast, .forwarding_state_preserved = restarting_}}};
  }

  // Routes an earlier run left in the sink: swept now, or kept until every peer has sent its
  // End-of-RIB (or our restart time passes) when we restart gracefully.
  void TakeLeftovers() {
    std::vector<Ipv4Prefix> leftovers = sink_.Leftovers();
    if (leftovers.empty()) return;
    if (!config_.graceful_restart) {
      spdlog::info("removing {} routes left by an earlier run", leftovers.size());
      for (const Ipv4Prefix& prefix : leftovers) sink_.Remove(prefix);
      FlushSinkSoon();
      return;
    }
    spdlog::info("graceful restart: keeping {} routes until the peers' End-of-RIB",
                 leftovers.size());
    leftovers_.insert(leftovers.begin(), leftovers.end());
    restarting_ = true;
    for (const auto& peer : peers_) awaiting_end_of_rib_.insert(peer->config.address);
    leftover_timer_.expires_after(seconds(config_.restart_time));
    leftover_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) SweepLeftovers("restart time over");
    });
    if (awaiting_end_of_rib_.empty()) SweepLeftovers("no peers");
  }

  void SweepLeftovers(const char* why) {
    size_t removed = 0;
    for (const Ipv4Prefix& prefix : leftovers_) {
      if (KernelNextHop(prefix)) continue;
      sink_.Remove(prefix);
      ++removed;
    }
    FlushSinkSoon();
    spdlog::info("graceful restart done ({}): {} stale routes removed", why, removed);
    leftovers_.clear();
    awaiting_end_of_rib_.clear();
    restarting_ = false;
    leftover_timer_.cancel();
  }

  // RFC 4724 §4.2: the peer advertised graceful restart for IPv4 unicast and the session
  // ended without a NOTIFICATION, so it is restarting and its routes are kept as stale.
  bool PeerMayRestart(const Connection& connection, const SessionDown& down) const {
    const auto& capability = connection.fsm.negotiated().peer_graceful_restart;
    if (!config_.graceful_restart || down.notification || stopping_ || !capability) return false;
    return std::any_of(capability->families.begin(), capability->families.end(),
                       [](const GracefulRestart::Family& f) { return f.family == kIpv4Unicast; });
  }

  void BeginPeerRestart(Peer& peer, const GracefulRestart& capability) {
    size_t count = rib_.MarkStale(peer.config.address);
    peer.restarting = true;
    spdlog::info("peer {}: restarting gracefully; {} routes kept as stale for up to {} s",
                 FormatIpv4(peer.config.address), count, capability.restart_time);
    peer.stale_timer.expires_after(seconds(capability.restart_time));
    peer.stale_timer.async_wait([this, &peer](boost::system::error_code ec) {
      if (!ec) EndPeerRestart(peer, "restart time over");
    });
  }

  void EndPeerRestart(Peer& peer, const char* why) {
    if (!peer.restarting) return;
    peer.restarting = false;
    peer.stale_timer.cancel();
    std::vector<Ipv4Prefix> swept = rib_.SweepStale(peer.config.address);
    spdlog::info("peer {}: graceful restart over ({}); {} stale routes removed",
                 FormatIpv4(peer.config.address), why, swept.size());
    Propagate(swept);
  }

  void StartPeer(Peer& peer) {
    if (stopping_ || !peer.connections.empty() || peer.config.passive) return;
    auto connection =
        std::make_shared<Connection>(io_, MakeFsmConfig(peer.config, false), clock_, true);
    peer.connections.push_back(connection);
    asio::co_spawn(io_, TimerLoop(peer, connection), asio::detached);
    Dispatch(peer, connection, ManualStart{});
  }

  void AdoptIncoming(Peer& peer, tcp::socket socket) {
    if (peer.Established()) {
      // §6.8: a connection arriving while a session is Established loses the collision.
      spdlog::info("peer {}: refusing a second connection", FormatIpv4(peer.config.address));
      return;
    }
    // An outgoing attempt still waiting for TCP is superseded by the peer's connection.
    for (const auto& connection : std::vector(peer.connections)) {
      if (!connection->connected) Dispatch(peer, connection, ManualStop{});
    }
    auto connection =
        std::make_shared<Connection>(io_, MakeFsmConfig(peer.config, true), clock_, false);
    connection->socket = std::move(socket);
    peer.connections.push_back(connection);
    asio::co_spawn(io_, TimerLoop(peer, connection), asio::detached);
    Dispatch(peer, connection, ManualStart{});
    OnConnected(peer, connection);
  }

  void OnConnected(Peer& peer, const std::shared_ptr<Connection>& connection) {
    boost::system::error_code ec;
    connection->local_address = connection->socket.local_endpoint(ec).address().to_v4().to_uint();
    connection->socket.set_option(tcp::no_delay(true), ec);
    connection->connected = true;
    asio::co_spawn(io_, ReadLoop(peer, connection), asio::detached);
    asio::co_spawn(io_, WriteLoop(connection), asio::detached);
    Dispatch(peer, connection, TcpConnectionConfirmed{});
  }

  awaitable<void> AcceptLoop() {
    while (true) {
      auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
      if (ec == asio::error::operation_aborted || stopping_) co_return;
      if (ec) {
        spdlog::warn("accept: {}", ec.message());
        continue;
      }
      boost::system::error_code endpoint_ec;
      tcp::endpoint remote = socket.remote_endpoint(endpoint_ec);
      uint32_t address = endpoint_ec ? 0 : remote.address().to_v4().to_uint();
      Peer* peer = FindPeer(address);
      if (!peer) {
        spdlog::warn("connection from unconfigured {} refused", FormatIpv4(address));
        continue;
      }
      AdoptIncoming(*peer, std::move(socket));
    }
  }

  awaitable<void> ConnectOnce(Peer& peer, std::shared_ptr<Connection> connection, int attempt) {
    tcp::endpoint remote(asio::ip::address_v4(peer.config.address), peer.config.port);
    boost::system::error_code ec;
    connection->socket = tcp::socket(io_);
    connection->socket.open(tcp::v4(), ec);
    // Connect from the listening address when there is one, so the peer recognises us.
    if (!ec && config_.listen_address != 0) {
      connection->socket.bind(tcp::endpoint(asio::ip::address_v4(config_.listen_address), 0), ec);
    }
    if (!ec) std::tie(ec) = co_await connection->socket.async_connect(remote, kNoThrow);
    if (connection->finished || attempt != connection->connect_attempt) co_return;
    if (ec) {
      peer.last_error = "connect: " + ec.message();
      Dispatch(peer, connection, TcpConnectionFails{});
      co_return;
    }
    OnConnected(peer, connection);
  }

  awaitable<void> ReadLoop(Peer& peer, std::shared_ptr<Connection> connection) {
    std::vector<uint8_t> buffer;
    std::array<uint8_t, 65536> chunk;
    while (true) {
      auto [ec, count] = co_await connection->socket.async_read_some(asio::buffer(chunk), kNoThrow);
      if (connection->finished) co_return;
      if (ec) {
        Dispatch(peer, connection, TcpConnectionFails{});
        co_return;
      }
      buffer.insert(buffer.end(), chunk.begin(), chunk.begin() + count);
      if (!DispatchMessages(peer, connection, buffer)) co_return;
    }
  }

  // Decodes and dispatches every whole message at the front of `buffer`, removing them.
  // False once the connection is done (a decode error or the FSM closed it). Kept out of the
  // coroutine so the decoded messages do not live in its frame.
  bool DispatchMessages(Peer& peer, const std::shared_ptr<Connection>& connection,
                        std::vector<uint8_t>& buffer) {
    size_t offset = 0;
    while (!connection->finished) {
      DecodeResult result =
          Decode(std::span(buffer).subspan(offset), connection->fsm.codec_options());
      if (std::holds_alternative<NeedMoreBytes>(result)) break;
      if (auto* error = std::get_if<DecodeError>(&result)) {
        Dispatch(peer, connection, MessageError{std::move(*error)});
        return false;
      }
      auto& decoded = std::get<DecodedMessage>(result);
      offset += decoded.consumed;
      Dispatch(peer, connection, ToEvent(decoded.message));
    }
    buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(offset));
    return !connection->finished;
  }

  static FsmEvent ToEvent(Message& message) {
    if (auto* open = std::get_if<Open>(&message)) return OpenReceived{std::move(*open)};
    if (auto* update = std::get_if<Update>(&message)) return UpdateReceived{std::move(*update)};
    if (auto* notification = std::get_if<Notification>(&message)) {
      return NotificationReceived{std::move(*notification)};
    }
    if (auto* refresh = std::get_if<RouteRefresh>(&message)) return RouteRefreshReceived{*refresh};
    return KeepaliveReceived{};
  }

  awaitable<void> WriteLoop(std::shared_ptr<Connection> connection) {
    ++active_writers_;
    while (true) {
      while (!connection->write_queue.empty()) {
        auto [ec, written] = co_await asio::async_write(
            connection->socket, asio::buffer(connection->write_queue.front()), kNoThrow);
        if (ec) {
          connection->write_queue.clear();  // the reader reports the failure
          break;
        }
        connection->write_queue.pop_front();
      }
      if (connection->closing) {
        boost::system::error_code ignored;
        connection->socket.shutdown(tcp::socket::shutdown_both, ignored);
        connection->socket.close(ignored);
        if (--active_writers_ == 0 && stopping_) stop_timer_.cancel();
        co_return;
      }
      connection->write_signal.expires_at(asio::steady_timer::time_point::max());
      co_await connection->write_signal.async_wait(kNoThrow);
    }
  }

  awaitable<void> TimerLoop(Peer& peer, std::shared_ptr<Connection> connection) {
    while (!connection->finished) {
      co_await connection->fsm_timer.async_wait(kNoThrow);
      if (connection->finished) co_return;
      Execute(peer, connection, connection->fsm.HandleExpiredTimers());
      AfterEvent(peer, connection);
    }
  }

  void Dispatch(Peer& peer, const std::shared_ptr<Connection>& connection, FsmEvent event) {
    if (connection->finished) return;
    if (const auto* open = std::get_if<OpenReceived>(&event)) {
      if (!ResolveCollision(peer, connection, open->open.bgp_identifier)) return;
    }
    Execute(peer, connection, connection->fsm.Handle(std::move(event)));
    AfterEvent(peer, connection);
  }

  // §6.8 on receipt of an OPEN: false when `connection` itself lost and was dumped.
  bool ResolveCollision(Peer& peer, const std::shared_ptr<Connection>& connection,
                        uint32_t remote_identifier) {
    for (const auto& other : std::vector(peer.connections)) {
      if (other == connection) continue;
      FsmState state = other->fsm.state();
      bool keep_this = state != FsmState::kEstablished;
      if (state == FsmState::kOpenConfirm) {
        ConnectionOrigin keep = ConnectionToKeep(config_.router_id, remote_identifier);
        keep_this = (keep == ConnectionOrigin::kLocallyInitiated) == connection->outgoing;
      } else if (state != FsmState::kEstablished) {
        continue;
      }
      spdlog::info("peer {}: connection collision, keeping the {} connection",
                   FormatIpv4(peer.config.address),
                   keep_this == connection->outgoing ? "outgoing" : "incoming");
      Dispatch(peer, keep_this ? other : connection, OpenCollisionDump{});
      if (!keep_this) return false;
    }
    return true;
  }

  void Execute(Peer& peer, const std::shared_ptr<Connection>& connection,
               std::vector<FsmAction> actions) {
    for (FsmAction& action : actions) {
      if (auto* send = std::get_if<SendMessage>(&action)) {
        Send(*connection, send->message);
      } else if (std::holds_alternative<ConnectToPeer>(action)) {
        asio::co_spawn(io_, ConnectOnce(peer, connection, ++connection->connect_attempt),
                       asio::detached);
      } else if (std::holds_alternative<CloseConnection>(action)) {
        Close(*connection);
      } else if (std::holds_alternative<SessionEstablished>(action)) {
        OnEstablished(peer, *connection);
      } else if (auto* down = std::get_if<SessionDown>(&action)) {
        spdlog::warn("peer {}: session down: {}", FormatIpv4(peer.config.address), down->reason);
        if (PeerMayRestart(*connection, *down)) {
          BeginPeerRestart(peer, *connection->fsm.negotiated().peer_graceful_restart);
        } else {
          peer.restarting = false;
          peer.stale_timer.cancel();
          // Withdrawing a full table takes a while (~80 ms for 100k routes): the writer woken
          // by this same event sends the NOTIFICATION and closes the connection first.
          AfterWriters([this, address = peer.config.address] {
            Propagate(rib_.PeerDown(address));
          });
        }
      } else if (auto* update = std::get_if<DeliverUpdate>(&action)) {
        OnUpdate(peer, update->update);
      } else if (std::holds_alternative<DeliverRouteRefresh>(action)) {
        rib_.ForgetAdjRibOut(peer.config.address);
        SendTable(*connection, rib_.FullTable(peer.config.address, connection->local_address));
      }
    }
  }

  void Send(Connection& connection, const Message& message) {
    Result<std::vector<uint8_t>> bytes = Encode(message, connection.fsm.codec_options());
    if (!bytes.ok()) {
      spdlog::error("cannot encode a message: {}", bytes.status().ToString());
      return;
    }
    connection.write_queue.push_back(std::move(bytes).value());
    connection.write_signal.cancel();
  }

  void SendTable(Connection& connection, const std::vector<Update>& updates) {
    for (const Update& update : updates) Send(connection, update);
    Send(connection, Update{});  // End-of-RIB for IPv4 unicast (RFC 4724 §2)
  }

  void Close(Connection& connection) {
    if (connection.connected) {
      connection.closing = true;
      connection.write_signal.cancel();
      return;
    }
    // Not connected yet: abandon the pending connect (a retry may start a new one).
    ++connection.connect_attempt;
    boost::system::error_code ignored;
    connection.socket.close(ignored);
  }

  void OnEstablished(Peer& peer, Connection& connection) {
    const Negotiated& negotiated = connection.fsm.negotiated();
    spdlog::info("peer {}: Established (hold {} s, keepalive {} s)",
                 FormatIpv4(peer.config.address), negotiated.hold_time.count(),
                 negotiated.keepalive_time.count());
    rib_.SetPeer(PeerInfo{.address = peer.config.address,
                          .as = peer.config.as,
                          .router_id = negotiated.peer_open.bgp_identifier,
                          .route_reflector_client = peer.config.route_reflector_client});
    if (peer.restarting) {
      // RFC 4724 §4.2: without the capability, or with forwarding state lost, stale routes go
      // now; otherwise they wait for the End-of-RIB, timed by the new restart time.
      const auto& capability = negotiated.peer_graceful_restart;
      bool preserved =
          capability && std::any_of(capability->families.begin(), capability->families.end(),
                                    [](const GracefulRestart::Family& f) {
                                      return f.family == kIpv4Unicast &&
                                             f.forwarding_state_preserved;
                                    });
      if (!preserved) {
        EndPeerRestart(peer, "forwarding state not preserved");
      } else {
        peer.stale_timer.expires_after(seconds(capability->restart_time));
      }
    }
    SendTable(connection, rib_.FullTable(peer.config.address, connection.local_address));
  }

  void OnUpdate(Peer& peer, const Update& update) {
    for (const std::string& error : update.attribute_errors) {
      spdlog::warn("peer {}: {}", FormatIpv4(peer.config.address), error);
    }
    if (update.EndOfRibFamily()) {
      spdlog::info("peer {}: End-of-RIB", FormatIpv4(peer.config.address));
      EndPeerRestart(peer, "End-of-RIB");
      if (awaiting_end_of_rib_.erase(peer.config.address) && awaiting_end_of_rib_.empty()) {
        SweepLeftovers("End-of-RIB from every peer");
      }
      return;
    }
    Propagate(rib_.ApplyUpdate(peer.config.address, update));
  }

  // The next hop the route sink holds for `prefix`: that of the best route when a peer sent
  // it (our own announcements are not installed). Derived from the RIB rather than kept in a
  // set of its own, which would cost some 50 bytes per route.
  std::optional<uint32_t> KernelNextHop(const Ipv4Prefix& prefix) const {
    const Route* best = rib_.Best(prefix);
    if (!best || best->from == kLocalOrigin) return std::nullopt;
    return best->attributes->next_hop;
  }

  // Sends the changed best routes to every established peer and the route sink.
  void Propagate(const std::vector<Ipv4Prefix>& changed) {
    if (changed.empty()) return;
    for (auto& peer : peers_) {
      std::shared_ptr<Connection> connection = peer->Established();
      if (!connection) continue;
      for (const Update& update :
           rib_.SyncAdjRibOut(peer->config.address, changed, connection->local_address)) {
        Send(*connection, update);
      }
    }
    for (const Ipv4Prefix& prefix : changed) {
      if (std::optional<uint32_t> next_hop = KernelNextHop(prefix)) {
        sink_.Install(prefix, *next_hop);
      } else {
        sink_.Remove(prefix);  // removing what is not there is a no-op
      }
    }
    FlushSinkSoon();
  }

  // The sink batches: it is flushed once the handler running now (a read's worth of UPDATEs,
  // a session going down) is done, so one batch carries all its changes. Posted twice, so a
  // writer woken by the same handler — sending the NOTIFICATION of an expired hold timer and
  // closing the connection — gets its turn, and its write's completion, before a long flush.
  void FlushSinkSoon() {
    if (flush_posted_) return;
    flush_posted_ = true;
    asio::post(io_, [this] {
      asio::post(io_, [this] {
        flush_posted_ = false;
        sink_.Flush();
        // Decoded UPDATEs and route batches leave free heap behind; once the burst is over
        // (no flush for kTrimDelay), give it back to the system.
        if (stopping_) return;
        trim_timer_.expires_after(kTrimDelay);
        trim_timer_.async_wait([](boost::system::error_code ec) {
          if (!ec) ::malloc_trim(0);
        });
      });
    });
  }

  // Runs `work` once the writers woken by the handler running now have had their turn and
  // their write's completion (posted twice, as FlushSinkSoon). Handlers run in order, so
  // nothing that arrives later (a new session's routes) can overtake it.
  void AfterWriters(std::function<void()> work) {
    asio::post(io_, [this, work = std::move(work)]() mutable {
      asio::post(io_, std::move(work));
    });
  }

  void AfterEvent(Peer& peer, const std::shared_ptr<Connection>& connection) {
    if (connection->finished) return;
    if (connection->closing || connection->fsm.state() == FsmState::kIdle) {
      Finish(peer, connection);
      return;
    }
    auto deadline = connection->fsm.NextDeadline();
    connection->fsm_timer.expires_at(deadline.value_or(asio::steady_timer::time_point::max()));
  }

  void Finish(Peer& peer, const std::shared_ptr<Connection>& connection) {
    connection->finished = true;
    connection->fsm_timer.cancel();
    if (!connection->connected) Close(*connection);
    std::erase(peer.connections, connection);
    if (!connection->fsm.last_error().empty()) peer.last_error = connection->fsm.last_error();
    peer.since = clock_.WallNow();
    if (!peer.connections.empty() || stopping_ || peer.config.passive) return;
    peer.restart_timer.expires_after(kIdleHoldTime);
    peer.restart_timer.async_wait([this, &peer](boost::system::error_code ec) {
      if (!ec) StartPeer(peer);
    });
  }

  Peer* FindPeer(uint32_t address) {
    for (auto& peer : peers_) {
      if (peer->config.address == address) return peer.get();
    }
    return nullptr;
  }

  awaitable<void> ControlLoop() {
    while (true) {
      auto [ec, socket] = co_await control_acceptor_.async_accept(kNoThrow);
      if (ec) co_return;
      asio::co_spawn(io_, ControlSession(std::move(socket)), asio::detached);
    }
  }

  awaitable<void> ControlSession(ControlProtocol::socket socket) {
    std::string request;
    auto [ec, count] =
        co_await asio::async_read_until(socket, asio::dynamic_buffer(request), '\n', kNoThrow);
    if (ec) co_return;
    std::string command = request.substr(0, count - 1);
    std::string reply = command == "status" ? FormatStatusReport(Snapshot())
                                            : "error: unknown command \"" + command + "\"\n";
    co_await asio::async_write(socket, asio::buffer(reply), kNoThrow);
  }

  StatusReport Snapshot() const {
    StatusReport report;
    for (const auto& peer : peers_) {
      PeerStatus status;
      status.address = FormatIpv4(peer->config.address);
      status.type = peer->config.route_reflector_client ? "route reflector client"
                    : peer->config.as == config_.as      ? "node-to-node mesh"
                                                         : "global";
      std::shared_ptr<Connection> best;
      for (const auto& connection : peer->connections) {
        if (!best || connection->fsm.state() > best->fsm.state()) best = connection;
      }
      FsmState state = best ? best->fsm.state() : FsmState::kIdle;
      status.state = state == FsmState::kEstablished ? "up" : best ? "start" : "down";
      status.since = FormatTimeOfDay(best ? best->fsm.since() : peer->since);
      status.info = std::string(FsmStateName(state));
      if (state != FsmState::kEstablished && !peer->last_error.empty()) {
        status.info += " (" + peer->last_error + ")";
      }
      report.peers.push_back(std::move(status));
    }
    for (const auto& [prefix, route] : rib_.LocRib()) {
      const PathAttributes& attributes = *route.attributes;
      report.routes.push_back(RouteStatus{
          .prefix = prefix.ToString(),
          .next_hop = attributes.next_hop ? FormatIpv4(*attributes.next_hop) : "self",
          .from = route.from == kLocalOrigin ? "local"
                  : route.stale              ? FormatIpv4(route.from) + " (stale)"
                                             : FormatIpv4(route.from),
          .as_path = FormatAsPath(attributes)});
    }
    return report;
  }

  SpeakerConfig config_;
  RouteSink& sink_;
  const Clock& clock_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  ControlProtocol::acceptor control_acceptor_;
  std::string control_path_;
  asio::signal_set signals_;
  asio::steady_timer stop_timer_;
  Rib rib_;
  std::vector<std::unique_ptr<Peer>> peers_;
  // Graceful restart of this speaker: routes found in the sink at start, the peers whose
  // End-of-RIB is still awaited, and the restart-time bound on the wait.
  std::set<Ipv4Prefix> leftovers_;
  std::set<uint32_t> awaiting_end_of_rib_;
  asio::steady_timer leftover_timer_;
  bool restarting_ = false;
  bool stopping_ = false;
  bool flush_posted_ = false;
  asio::steady_timer trim_timer_;  // malloc_trim once route changes have calmed down
  int active_writers_ = 0;  // WriteLoops still running; the stop grace ends when none is
};

Result<std::unique_ptr<Speaker>> Speaker::Create(SpeakerConfig config,
                                                 std::string control_socket, RouteSink& sink,
                                                 const Clock& clock) {
  auto impl = std::make_unique<Impl>(std::move(config), sink, clock);
  KELP_RETURN_IF_ERROR(impl->Bind(control_socket));
  return std::unique_ptr<Speaker>(new Speaker(std::move(impl)));
}

Speaker::Speaker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Speaker::~Speaker() = default;
uint16_t Speaker::listen_port() const { return impl_->listen_port(); }
void Speaker::Run(bool handle_signals) { impl_->Run(handle_signals); }
void Speaker::Stop() { impl_->Stop(); }

Result<std::string> QueryStatus(const std::string& control_socket) {
  asio::io_context io;
  ControlProtocol::socket socket(io);
  boost::system::error_code ec;
  if (socket.connect(ControlProtocol::endpoint(control_socket), ec)) {
    return UnavailableError("control socket " + control_socket + ": " + ec.message() +
                            " (is `kelp bgp` running?)");
  }
  asio::write(socket, asio::buffer(std::string("status\n")), ec);
  std::string reply;
  asio::read(socket, asio::dynamic_buffer(reply), ec);
  if (ec && ec != asio::error::eof) return IoError("control socket: " + ec.message());
  return reply;
}

}  // namespace kelp::bgp
