// bgp_bench: kelp's BGP speaker against BIRD 2 on the same job in the same run. A GoBGP peer
// holding 100,000 IPv4 /24s (generated MRT TABLE_DUMP_V2 file, `gobgp mrt inject`) feeds
// `kelp bgp` and BIRD, each alone in its own namespace of a namespace LAN (tests/e2e/bgp_lab,
// prefix `kbb-<pid>`, removed on every exit path including SIGINT/SIGTERM). One daemon at a
// time, for each: time from its session coming up (its TCP connection to GoBGP established)
// until every prefix is in its namespace's main table under its route protocol (86 for kelp,
// 12 "bird" for BIRD's kernel protocol), counted by a kernel-filtered netlink dump; and its
// RSS 1 s later (and its peak); `kelp bgp` runs as the slim kelp-bgp binary it execs. Then
// GoBGP is frozen (SIGSTOP) while both hold a session with 3 s hold / 1 s keepalive: time
// until each logs the hold timer's expiry, closes the TCP connection, and has its kernel
// routes gone.
// Needs root; prints ratios kelp / BIRD against the targets (time and RSS <= 1.0x, detection
// < 3 s). `--prefixes N` runs a smaller table (quick checks); the figures are for 100,000.
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/file.h"
#include "common/process.h"
#include "common/testing/temp_dir.h"
#include "net/netns.h"
#include "tests/e2e/bgp_lab.h"

namespace kelp::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr size_t kDefaultPrefixes = 100000;
constexpr size_t kMaxPrefixes = 1000000;  // /24s from 20.0.0.0 up
constexpr auto kSessionTimeout = 30s;
constexpr auto kConvergeTimeout = 300s;
constexpr auto kDetectTimeout = 60s;
constexpr auto kSettle = 1s;
constexpr uint8_t kKelpProtocol = 86;
constexpr uint8_t kBirdProtocol = 12;  // RTPROT_BIRD
constexpr uint16_t kBgpPort = 179;

// Set by SIGINT/SIGTERM/SIGHUP; every wait gives up, so the namespaces and daemons are
// removed by the destructors on the way out.
std::atomic<bool> interrupted{false};
extern "C" void OnSignal(int) { interrupted = true; }

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Polls `predicate` every `period` until it holds; false on timeout or interruption.
template <typename Predicate>
bool PollUntil(Predicate predicate, Clock::duration timeout, Clock::duration period) {
  const auto deadline = Clock::now() + timeout;
  while (!predicate()) {
    if (interrupted || Clock::now() > deadline) return false;
    std::this_thread::sleep_for(period);
  }
  return true;
}

void Put16(std::string& out, uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v);
}
void Put32(std::string& out, uint32_t v) {
  Put16(out, static_cast<uint16_t>(v >> 16));
  Put16(out, static_cast<uint16_t>(v));
}
void PutMrtRecord(std::string& out, uint16_t subtype, const std::string& body) {
  Put32(out, 0);   // timestamp
  Put16(out, 13);  // TABLE_DUMP_V2
  Put16(out, subtype);
  Put32(out, static_cast<uint32_t>(body.size()));
  out += body;
}

// RFC 6396 TABLE_DUMP_V2: one peer, then one RIB_IPV4_UNICAST record per /24 from 20.0.0.0,
// ORIGIN IGP, empty AS_PATH, NEXT_HOP `next_hop` (gobgp rewrites it with --nexthop anyway).
// The records come twice: `gobgp mrt inject` (3.10) returns without closing its gRPC stream,
// so the last few thousand paths it sent can be lost; what is lost is then only the second,
// idempotent copy (no peer is connected yet to see the re-adds).
std::string MakeMrt(size_t prefixes, uint32_t next_hop) {
  std::string out, peers;
  Put32(peers, next_hop);  // collector id
  Put16(peers, 0);         // no view name
  Put16(peers, 1);
  peers += static_cast<char>(0x02);  // IPv4 peer, 4-octet AS
  Put32(peers, next_hop);
  Put32(peers, next_hop);
  Put32(peers, 64512);
  PutMrtRecord(out, 1, peers);
  std::string attributes = {0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4};
  Put32(attributes, next_hop);
  for (size_t n = 0; n < 2 * prefixes; ++n) {
    const size_t i = n % prefixes;
    const uint32_t address = (20u << 24) + (static_cast<uint32_t>(i) << 8);
    std::string rib;
    Put32(rib, static_cast<uint32_t>(n));  // sequence number
    rib += static_cast<char>(24);
    rib += static_cast<char>(address >> 24);
    rib += static_cast<char>(address >> 16);
    rib += static_cast<char>(address >> 8);
    Put16(rib, 1);
    Put16(rib, 0);  // peer index
    Put32(rib, 0);  // originated time
    Put16(rib, static_cast<uint16_t>(attributes.size()));
    rib += attributes;
    PutMrtRecord(out, 2, rib);
  }
  return out;
}

// "VmRSS:" / "VmHWM:" of another process, in MB.
double ProcessMegabytes(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::atof(line.c_str() + field.size()) / 1024.0;
  }
  return 0;
}

// True while a namespace has an established TCP connection to or from port 179, read from
// its /proc/<pid>/net/tcp (or /proc/thread-self/net/tcp on a thread inside it): the same
// neutral view of "the session is up" for both daemons, cheap enough to poll every
// millisecond.
bool HasBgpConnection(const std::string& proc_net_tcp) {
  std::ifstream tcp(proc_net_tcp);
  std::string line;
  std::getline(tcp, line);  // header
  char port[8];
  std::snprintf(port, sizeof port, ":%04X", kBgpPort);
  while (std::getline(tcp, line)) {
    // "  0: 0ACEA8C0:00B3 1ECEA8C0:D2F4 01 ..." — local, remote, state (01 = ESTABLISHED).
    char local[64], remote[64];
    unsigned state = 0;
    if (std::sscanf(line.c_str(), "%*d: %63s %63s %x", local, remote, &state) != 3) continue;
    if (state != 1) continue;
    if (std::strstr(local, port) != nullptr || std::strstr(remote, port) != nullptr) return true;
  }
  return false;
}

// Counts the IPv4 routes of one protocol in a namespace's main table with one netlink dump
// that the kernel filters (NETLINK_GET_STRICT_CHK), parsed by libnl without building route
// objects: polling it costs the measured daemons as little CPU as possible.
class RouteCounter {
 public:
  static Result<std::unique_ptr<RouteCounter>> Open(const std::string& netns) {
    KELP_ASSIGN_OR_RETURN(UniqueFd ns, net::OpenNetns("/run/netns/" + netns));
    std::unique_ptr<RouteCounter> counter(new RouteCounter);
    KELP_RETURN_IF_ERROR(net::RunInNetns(ns.get(), [&]() -> Status {
      counter->sock_ = nl_socket_alloc();
      if (counter->sock_ == nullptr) return IoError("nl_socket_alloc failed");
      if (int err = nl_connect(counter->sock_, NETLINK_ROUTE); err < 0) {
        return IoError(std::string("netlink connect: ") + nl_geterror(err));
      }
      return Status::Ok();
    }));
    int on = 1;
    ::setsockopt(nl_socket_get_fd(counter->sock_), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &on,
                 sizeof on);
    nl_socket_modify_cb(counter->sock_, NL_CB_VALID, NL_CB_CUSTOM, &RouteCounter::OnRoute,
                        counter.get());
    return counter;
  }
  ~RouteCounter() {
    if (sock_ != nullptr) nl_socket_free(sock_);
  }
  RouteCounter(const RouteCounter&) = delete;
  RouteCounter& operator=(const RouteCounter&) = delete;

  // Routes of `protocol` in the main table, or an error.
  Result<size_t> Count(uint8_t protocol) {
    rtmsg request{};
    request.rtm_family = AF_INET;
    request.rtm_table = RT_TABLE_MAIN;
    request.rtm_protocol = protocol;
    protocol_ = protocol;
    count_ = 0;
    int err = nl_send_simple(sock_, RTM_GETROUTE, NLM_F_DUMP, &request, sizeof request);
    if (err >= 0) err = nl_recvmsgs_default(sock_);
    if (err < 0) return IoError(std::string("route dump: ") + nl_geterror(err));
    return count_;
  }

 private:
  RouteCounter() = default;

  static int OnRoute(nl_msg* msg, void* arg) {
    auto* self = static_cast<RouteCounter*>(arg);
    nlmsghdr* header = nlmsg_hdr(msg);
    if (header->nlmsg_type != RTM_NEWROUTE) return NL_OK;
    const auto* route = static_cast<const rtmsg*>(nlmsg_data(header));
    // Older kernels ignore the filter; check again.
    if (route->rtm_protocol == self->protocol_ && route->rtm_table == RT_TABLE_MAIN) {
      ++self->count_;
    }
    return NL_OK;
  }

  nl_sock* sock_ = nullptr;
  uint8_t protocol_ = 0;
  size_t count_ = 0;
};

// The UTC time a log line starts with: kelp "2026-12-04T15:46:06.394", BIRD (`timeformat
// log iso long ms`) "2026-12-04 15:46:06.359".
std::optional<std::chrono::system_clock::time_point> LogTime(const std::string& line) {
  std::tm parts{};
  int millis = 0;
  if (std::sscanf(line.c_str(), "%d-%d-%d%*c%d:%d:%d.%d", &parts.tm_year, &parts.tm_mon,
                  &parts.tm_mday, &parts.tm_hour, &parts.tm_min, &parts.tm_sec, &millis) != 7) {
    return std::nullopt;
  }
  parts.tm_year -= 1900;
  parts.tm_mon -= 1;
  return std::chrono::system_clock::from_time_t(::timegm(&parts)) +
         std::chrono::milliseconds(millis);
}

struct Run {
  double session_seconds = 0;   // daemon start → session up
  double converge_seconds = 0;  // session up → every prefix in the kernel
  double rss_mb = 0;
  double anon_mb = 0;  // RssAnon: heap and stacks, without the mapped binary and libraries
  double peak_mb = 0;
  double expiry_seconds = 0;  // GoBGP frozen → "hold timer expired" in the daemon's log
  double detect_seconds = 0;  // GoBGP frozen → session dropped
  double flush_seconds = 0;   // GoBGP frozen → kernel routes gone
};

// One daemon under test: its host, its route protocol, its route counter.
struct Subject {
  std::string name;
  std::string host;
  uint8_t protocol;
  e2e::BgpDaemon& daemon;
  std::unique_ptr<RouteCounter> counter;
  UniqueFd netns;
  Run run;

  size_t KernelRoutes() {
    Result<size_t> count = counter->Count(protocol);
    return count.ok() ? *count : 0;
  }
  pid_t pid() const { return daemon.process()->pid(); }
  std::string proc_net_tcp() const { return "/proc/" + std::to_string(pid()) + "/net/tcp"; }
};

class Bench {
 public:
  explicit Bench(size_t prefixes)
      : prefixes_(prefixes), lan_(runner_, "kbb-" + std::to_string(::getpid())) {}

  int Main() {
    if (::geteuid() != 0) return Fail("needs root (network namespaces)");
    if (dir_.path().empty()) return Fail("no temp dir");
    for (Status status :
         {lan_.Create(), lan_.AddHost("kelp", "192.168.206.10"),
          lan_.AddHost("bird", "192.168.206.20"), lan_.AddHost("gobgp", "192.168.206.30")}) {
      if (!status.ok()) return Fail(status.ToString());
    }
    if (Status status = StartFeeder(); !status.ok()) return Fail(status.ToString());

    e2e::KelpDaemon kelp_daemon(runner_, lan_, "kelp", dir_.path());
    e2e::BirdDaemon bird_daemon(runner_, lan_, "bird", dir_.path());
    Subject kelp{.name = "kelp", .host = "kelp", .protocol = kKelpProtocol, .daemon = kelp_daemon};
    Subject bird{.name = "BIRD", .host = "bird", .protocol = kBirdProtocol, .daemon = bird_daemon};
    for (Subject* subject : {&kelp, &bird}) {
      Result<std::unique_ptr<RouteCounter>> counter = RouteCounter::Open(lan_.Netns(subject->host));
      if (!counter.ok()) return Fail(counter.status().ToString());
      subject->counter = std::move(counter).value();
      Result<UniqueFd> netns = net::OpenNetns("/run/netns/" + lan_.Netns(subject->host));
      if (!netns.ok()) return Fail(netns.status().ToString());
      subject->netns = std::move(netns).value();
    }
    // One at a time, so neither competes with the other for the CPUs; GoBGP sends each the
    // same table.
    if (Status s = Learn(kelp, KelpConfig()); !s.ok()) return Fail(s.ToString(), kelp_daemon);
    if (Status s = Learn(bird, BirdConfig()); !s.ok()) return Fail(s.ToString(), bird_daemon);
    if (Status s = DetectFailure(kelp, bird); !s.ok()) return Fail(s.ToString());

    std::printf("\nbgp_bench: learn %zu prefixes from GoBGP and install them into the kernel\n",
                loaded_);
    std::printf("%-34s %10s %10s %10s\n", "", "kelp", "BIRD 2", "kelp/BIRD");
    Row("session up after start (s)", kelp.run.session_seconds, bird.run.session_seconds);
    Row("session up -> all in kernel (s)", kelp.run.converge_seconds, bird.run.converge_seconds,
        "target <= 1.00x");
    Row("RSS after (MB)", kelp.run.rss_mb, bird.run.rss_mb, "target <= 1.00x");
    Row("  of which anonymous (MB)", kelp.run.anon_mb, bird.run.anon_mb);
    Row("peak RSS (MB)", kelp.run.peak_mb, bird.run.peak_mb);
    std::printf("failure detection, 3 s hold / 1 s keepalive (GoBGP frozen with SIGSTOP):\n");
    Row("hold timer expired after (s, log)", kelp.run.expiry_seconds, bird.run.expiry_seconds,
        "target < 3 s");
    Row("session closed after (s, TCP)", kelp.run.detect_seconds, bird.run.detect_seconds);
    Row("kernel routes gone after (s)", kelp.run.flush_seconds, bird.run.flush_seconds);
    auto verdict = [](bool met) { return met ? "met" : "NOT met"; };
    std::printf("targets: time %s, RSS %s, detection %s\n",
                verdict(kelp.run.converge_seconds <= bird.run.converge_seconds),
                verdict(kelp.run.rss_mb <= bird.run.rss_mb),
                verdict(kelp.run.expiry_seconds > 0 && kelp.run.expiry_seconds < 3.0 &&
                        kelp.run.detect_seconds < 3.0));
    return 0;
  }

 private:
  std::string KelpConfig() const {
    return R"(as: 64512
router_id: 192.168.206.10
listen: 192.168.206.10:179
kernel: {install: true}
peers:
  - {address: 192.168.206.30, as: 64512, hold_time: 3, keepalive_time: 1}
)";
  }
  // The kernel protocol exports every best route into the main table (import none: BIRD
  // learns nothing back from the kernel, `learn` stays off); its periodic scan is the default
  // 60 s and plays no part in the initial export. The BGP session is direct (same LAN), so
  // the next hop 192.168.206.30 is used as is.
  std::string BirdConfig() const {
    return R"(router id 192.168.206.20;
log stderr { info, remote, warning, error, auth, fatal, bug };
timeformat log iso long ms;
protocol device {}
protocol kernel {
  ipv4 { import none; export all; };
  learn off;
}
protocol bgp gobgp {
  local 192.168.206.20 as 64512;
  neighbor 192.168.206.30 as 64512;
  direct;
  hold time 3;
  keepalive time 1;
  connect delay time 1;
  ipv4 { import all; export none; gateway direct; };
}
)";
  }

  static int Fail(const std::string& why) {
    if (interrupted) {
      std::fprintf(stderr, "bgp_bench: interrupted; removing the namespaces and daemons\n");
      return 1;
    }
    std::fprintf(stderr, "bgp_bench: %s\n", why.c_str());
    return 1;
  }
  static int Fail(const std::string& why, const e2e::BgpDaemon& daemon) {
    std::string log = daemon.log();
    if (log.size() > 4000) log = "..." + log.substr(log.size() - 4000);
    return Fail(why + "\n--- daemon log ---\n" + log);
  }
  static void Row(const char* name, double kelp, double bird, const char* target = "") {
    std::printf("%-34s %10.2f %10.2f %9.2fx  %s\n", name, kelp, bird, bird > 0 ? kelp / bird : 0,
                target);
  }

  Status StartFeeder() {
    KELP_RETURN_IF_ERROR(feeder_.Start(R"([global.config]
  as = 64512
  router-id = "192.168.206.30"
  local-address-list = ["192.168.206.30"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.168.206.10"
    peer-as = 64512
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 3
    keepalive-interval = 1
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.168.206.20"
    peer-as = 64512
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 3
    keepalive-interval = 1
)"));
    const auto mrt = dir_.path() / "table.mrt";
    KELP_RETURN_IF_ERROR(WriteFileAtomic(mrt, MakeMrt(prefixes_, 0xc0a8ce1e)));
    const auto start = Clock::now();
    // Injecting again is idempotent, should the second copy of the table not have sufficed.
    for (int attempt = 0; attempt < 3 && loaded_ < prefixes_ && !interrupted; ++attempt) {
      // Not through Cli(): the injection can take longer than its 20 s limit.
      KELP_RETURN_IF_ERROR(runner_
                               .Run({.argv = lan_.In("gobgp", {"/usr/bin/gobgp", "mrt", "inject",
                                                               "global", "--no-ipv6", "--nexthop",
                                                               "192.168.206.30", mrt.string()}),
                                     .timeout = kConvergeTimeout})
                               .status());
      std::string summary = feeder_.Cli({"global", "rib", "summary", "-a", "ipv4"});
      size_t at = summary.find("Destination: ");
      loaded_ = at == std::string::npos ? 0 : std::strtoul(summary.c_str() + at + 13, nullptr, 10);
    }
    if (interrupted) return CancelledError("interrupted");
    if (loaded_ != prefixes_) {
      return InternalError("gobgp holds " + std::to_string(loaded_) + " of " +
                           std::to_string(prefixes_) + " prefixes after 3 injections");
    }
    std::printf("GoBGP holds %zu prefixes (injected in %.1f s)\n", loaded_,
                Seconds(Clock::now() - start));
    return Status::Ok();
  }

  Status Learn(Subject& subject, const std::string& config) {
    if (size_t before = subject.KernelRoutes(); before != 0) {
      return InternalError(subject.name + ": " + std::to_string(before) + " routes before start");
    }
    // The session is watched from a thread inside the daemon's namespace from before the
    // start, since Start() returns only once the daemon answers its CLI (polled every 100 ms)
    // and a session can be up, even a table learned, by then.
    std::atomic<bool> seen{false}, stop{false};
    Clock::time_point session_up;
    std::thread watcher([&] {
      (void)net::RunInNetns(subject.netns.get(), [&]() -> Status {
        while (!stop && !interrupted) {
          if (HasBgpConnection("/proc/thread-self/net/tcp")) {
            session_up = Clock::now();
            seen = true;
            break;
          }
          std::this_thread::sleep_for(1ms);
        }
        return Status::Ok();
      });
    });
    const auto start = Clock::now();
    Status started = subject.daemon.Start(config);
    if (started.ok()) PollUntil([&] { return seen.load(); }, kSessionTimeout, 2ms);
    stop = true;
    watcher.join();
    KELP_RETURN_IF_ERROR(started);
    if (!seen) return DeadlineExceededError(subject.name + ": no session with GoBGP");
    const pid_t pid = subject.pid();
    size_t installed = 0;
    if (!PollUntil([&] { return (installed = subject.KernelRoutes()) >= loaded_; },
                   kConvergeTimeout, 20ms)) {
      return DeadlineExceededError(subject.name + " did not install " + std::to_string(loaded_) +
                                   " routes; has " + std::to_string(installed));
    }
    const auto done = Clock::now();
    subject.run.session_seconds = Seconds(session_up - start);
    subject.run.converge_seconds = Seconds(done - session_up);
    // Memory once the daemon has settled (both give freed heap back after the initial table),
    // the same pause for both.
    std::this_thread::sleep_for(kSettle);
    subject.run.rss_mb = ProcessMegabytes(pid, "VmRSS:");
    subject.run.anon_mb = ProcessMegabytes(pid, "RssAnon:");
    subject.run.peak_mb = ProcessMegabytes(pid, "VmHWM:");
    std::printf(
        "%s: session up %.2f s after start, %zu routes in the kernel %.2f s later, "
        "RSS %.1f MB (anonymous %.1f MB, peak %.1f MB)\n",
        subject.name.c_str(), subject.run.session_seconds, installed, subject.run.converge_seconds,
        subject.run.rss_mb, subject.run.anon_mb, subject.run.peak_mb);
    return Status::Ok();
  }

  Status DetectFailure(Subject& kelp, Subject& bird) {
    for (Subject* subject : {&kelp, &bird}) {
      if (!HasBgpConnection(subject->proc_net_tcp())) {
        return InternalError(subject->name + " has no session before the freeze");
      }
    }
    KELP_RETURN_IF_ERROR(feeder_.process()->Signal(SIGSTOP));
    const auto frozen = Clock::now();
    const auto frozen_wall = std::chrono::system_clock::now();
    bool down[2] = {false, false}, flushed[2] = {false, false};
    Subject* subjects[2] = {&kelp, &bird};
    bool done = PollUntil(
        [&] {
          for (int i = 0; i < 2; ++i) {
            Subject& subject = *subjects[i];
            if (!down[i] && !HasBgpConnection(subject.proc_net_tcp())) {
              down[i] = true;
              subject.run.detect_seconds = Seconds(Clock::now() - frozen);
            }
            if (down[i] && !flushed[i] && subject.KernelRoutes() == 0) {
              flushed[i] = true;
              subject.run.flush_seconds = Seconds(Clock::now() - frozen);
            }
          }
          return flushed[0] && flushed[1];
        },
        kDetectTimeout, 5ms);
    (void)feeder_.process()->Signal(SIGCONT);
    if (!done) return DeadlineExceededError("failure not detected and flushed in 60 s");
    // The daemons' own account of the expiry, to set against the freeze time (UTC).
    const std::time_t t = std::chrono::system_clock::to_time_t(frozen_wall);
    std::tm parts{};
    gmtime_r(&t, &parts);
    char when[32];
    std::strftime(when, sizeof when, "%H:%M:%S", &parts);
    std::printf("GoBGP frozen at %s.%03lld UTC; the daemons' logs:\n", when,
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           frozen_wall.time_since_epoch())
                                           .count() %
                                       1000));
    for (Subject* subject : subjects) {
      std::istringstream log(subject->daemon.log());
      for (std::string line; std::getline(log, line);) {
        if (line.find("old timer") == std::string::npos) continue;
        std::printf("  %s: %s\n", subject->name.c_str(), line.c_str());
        if (std::optional<std::chrono::system_clock::time_point> at = LogTime(line)) {
          subject->run.expiry_seconds = Seconds(*at - frozen_wall);
        }
        break;
      }
    }
    return Status::Ok();
  }

  const size_t prefixes_;
  kelp::testing::ScopedTempDir dir_;
  SubprocessRunner runner_;
  e2e::Lan lan_;
  e2e::GobgpDaemon feeder_{runner_, lan_, "gobgp", dir_.path()};
  size_t loaded_ = 0;  // prefixes GoBGP holds and advertises
};

}  // namespace
}  // namespace kelp::bench

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines as they happen
  size_t prefixes = kelp::bench::kDefaultPrefixes;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--prefixes" && i + 1 < argc) {
      prefixes = std::strtoul(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: bgp_bench [--prefixes N]  (default 100000)\n");
      return 2;
    }
  }
  if (prefixes == 0 || prefixes > kelp::bench::kMaxPrefixes) {
    std::fprintf(stderr, "bgp_bench: --prefixes must be 1..%zu\n", kelp::bench::kMaxPrefixes);
    return 2;
  }
  struct sigaction action {};
  action.sa_handler = kelp::bench::OnSignal;
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signal, &action, nullptr);
  return kelp::bench::Bench(prefixes).Main();
}
