// The BGP speaker process: one io_context thread runs the listener, outgoing connects, one
// session per TCP connection (reader, writer and FSM timer coroutines), the RIB, and a unix
// control socket serving `kelp bgp status`. Asio stays inside speaker.cc; this header only
// shows what callers need. Best routes go to a RouteSink (the kernel, or a log).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "bgp/config.h"
#include "bgp/message.h"
#include "common/clock.h"
#include "common/status.h"

namespace kelp::bgp {

// Where best routes learned from peers go. A sink may hold Install/Remove back until Flush():
// the speaker flushes once it has processed what one read from its peers brought (one burst
// of UPDATEs), after its other route changes, and before it exits.
class RouteSink {
 public:
  virtual ~RouteSink() = default;
  // Adds the route to `prefix`, or replaces the one there.
  virtual void Install(const Ipv4Prefix& prefix, uint32_t next_hop) = 0;
  virtual void Remove(const Ipv4Prefix& prefix) = 0;
  // Applies what Install/Remove held back; only the last change of a prefix counts.
  virtual void Flush() {}
  // Routes an earlier run left behind (in the kernel: kelp's route protocol). The speaker
  // removes them at start, or — restarting gracefully — once its peers' End-of-RIBs (or the
  // restart time) show which of them are still wanted.
  virtual std::vector<Ipv4Prefix> Leftovers() { return {}; }
};

// Logs each change; what `kelp bgp` uses with `kernel: {install: false}`.
class LoggingRouteSink final : public RouteSink {
 public:
  void Install(const Ipv4Prefix& prefix, uint32_t next_hop) override;
  void Remove(const Ipv4Prefix& prefix) override;
};

// What `kelp bgp status` shows.
struct PeerStatus {
  std::string address;
  std::string type;   // "node-to-node mesh", "global", "route reflector client"
  std::string state;  // "up", "start" (connecting) or "down"
  std::string since;  // "HH:MM:SS" UTC of the last state change
  std::string info;   // FSM state, plus the last error when not Established
};
struct RouteStatus {
  std::string prefix;
  std::string next_hop;
  std::string from;  // peer address or "local"; "(stale)" added while a peer restarts
  std::string as_path;
};
struct StatusReport {
  std::vector<PeerStatus> peers;
  std::vector<RouteStatus> routes;
};
// Tables in the style of `calicoctl node status`.
std::string FormatStatusReport(const StatusReport& report);

class Speaker {
 public:
  // Binds the BGP listener and the control socket (empty path: none); errors name the
  // address or path that failed.
  static Result<std::unique_ptr<Speaker>> Create(SpeakerConfig config,
                                                 std::string control_socket, RouteSink& sink,
                                                 const Clock& clock);
  ~Speaker();
  Speaker(const Speaker&) = delete;
  Speaker& operator=(const Speaker&) = delete;

  // The bound BGP port (useful when the configuration asked for port 0).
  uint16_t listen_port() const;
  // Runs until Stop() or, with `handle_signals`, SIGINT/SIGTERM; then sends Cease to peers and
  // removes its routes from the sink — unless graceful restart is configured: then it just
  // closes its connections and leaves the routes, so peers and forwarding carry on while it
  // restarts (RFC 4724).
  void Run(bool handle_signals);
  // Thread-safe.
  void Stop();

 private:
  class Impl;
  explicit Speaker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Connects to a speaker's control socket and returns its status text.
Result<std::string> QueryStatus(const std::string& control_socket);

}  // namespace kelp::bgp
