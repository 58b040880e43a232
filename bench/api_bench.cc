// api_bench: the API server measured as kubectl and controllers meet it — over HTTPS with
// keep-alive, from concurrent blocking OpenSSL clients — against an in-process apiserver::Server
// on 127.0.0.1 with its data dir under /var/tmp (a real disk). Reports pod creates/s, gets/s,
// LIST of 10k pods (JSON and Table), watch delivery latency with 100 watchers and the process
// RSS, and compares API creates/s with a fresh SqliteStore's own creates/s in the same run.
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "process_status.h"
#include "apiserver/server.h"
#include "common/file.h"
#include "common/status.h"
#include "storage/sqlite/sqlite_store.h"

namespace kelp::apiserver {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kCreatePhase = std::chrono::milliseconds(2000);
constexpr auto kGetPhase = std::chrono::milliseconds(1000);
constexpr int kListedPods = 10000;
constexpr int kListRuns = 3;
constexpr int kWatchers = 100;
constexpr int kWatchedCreates = 200;
constexpr auto kWatchPacing = std::chrono::milliseconds(3);
constexpr const char* kPodsPath = "/api/v1/namespaces/default/pods";
// The create-rate phases write here; their pods are deleted again before the LISTs, so the
// server holds exactly kListedPods pods, all in `default`.
constexpr const char* kCreatesNamespace = "bench-creates";
constexpr const char* kCreatesPath = "/api/v1/namespaces/bench-creates/pods";
constexpr const char* kTableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// CPU seconds used so far by the whole process and by the calling thread: their difference
// over a LIST is the server's CPU time, which a loaded machine does not inflate as it does
// wall time.
double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}
double ThreadCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = "/var/tmp/kelp-api-bench-XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  bool ok() const { return !path_.empty(); }
  std::filesystem::path path() const { return path_; }

 private:
  std::string path_;
};

// A realistic pod as kubectl would send it: nginx container, labels, resources, probe; ~1.5 KB.
std::string PodJson(const std::string& name, std::string_view namespace_name) {
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
         R"(","namespace":")" + std::string(namespace_name) + R"(","labels":{"app":"nginx","tier":"frontend","release":"stable",)"
         R"("app.kubernetes.io/name":"nginx","app.kubernetes.io/instance":"bench",)"
         R"("app.kubernetes.io/version":"1.22","app.kubernetes.io/managed-by":"api-bench"},)"
         R"("annotations":{"kubernetes.io/description":"api benchmark pod serving static content",)"
         R"("prometheus.io/scrape":"true","prometheus.io/port":"9113"}},)"
         R"("spec":{"containers":[{"name":"nginx","image":"nginx:1.22","imagePullPolicy":"IfNotPresent",)"
         R"("ports":[{"name":"http","containerPort":80,"protocol":"TCP"},)"
         R"({"name":"metrics","containerPort":9113,"protocol":"TCP"}],)"
         R"("env":[{"name":"NGINX_WORKER_PROCESSES","value":"2"},{"name":"NGINX_PORT","value":"80"},)"
         R"({"name":"POD_NAMESPACE","valueFrom":{"fieldRef":{"fieldPath":"metadata.namespace"}}}],)"
         R"("resources":{"requests":{"cpu":"100m","memory":"128Mi"},)"
         R"("limits":{"cpu":"500m","memory":"256Mi"}},)"
         R"("readinessProbe":{"httpGet":{"path":"/healthz","port":80},"initialDelaySeconds":5,)"
         R"("periodSeconds":10},"livenessProbe":{"tcpSocket":{"port":80},"initialDelaySeconds":15,)"
         R"("periodSeconds":20},"volumeMounts":[{"name":"html","mountPath":"/usr/share/nginx/html",)"
         R"("readOnly":true},{"name":"config","mountPath":"/etc/nginx/conf.d"}]}],)"
         R"("volumes":[{"name":"html","emptyDir":{}},{"name":"config","configMap":{"name":"nginx-conf"}}],)"
         R"("restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst",)"
         R"("nodeSelector":{"kubernetes.io/os":"linux"},)"
         R"("tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists",)"
         R"("effect":"NoExecute","tolerationSeconds":300}]}})";
}



Status TlsError(const std::string& what) {
  char reason[256] = "";
  ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
  ERR_clear_error();
  return IoError(what + ": " + reason);
}

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

// A client TLS context that trusts only the cluster CA and speaks HTTP/1.1.
Result<SslCtxPtr> ClientContext(const std::filesystem::path& ca_path) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return TlsError("client TLS context");
  if (SSL_CTX_load_verify_locations(ctx.get(), ca_path.c_str(), nullptr) != 1) {
    return TlsError("load CA " + ca_path.string());
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  // Whole socket reads instead of a header read and a body read per TLS record, as a client
  // reading megabytes would do.
  SSL_CTX_set_read_ahead(ctx.get(), 1);
  static constexpr unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  if (SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof kAlpn) != 0) return TlsError("ALPN");
  return ctx;
}

struct Response {
  int status = 0;
  std::string body;
};

// One keep-alive HTTPS connection to 127.0.0.1, used by one thread at a time. Reads
// Content-Length framed responses, and chunked ones line by line for watch streams.
class Connection {
 public:
  static Result<std::unique_ptr<Connection>> Open(SSL_CTX* ctx, uint16_t port,
                                                  std::string token) {
    std::unique_ptr<Connection> connection(new Connection(std::move(token)));
    KELP_RETURN_IF_ERROR(connection->Connect(ctx, port));
    return connection;
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    ssl_.reset();
    if (fd_ >= 0) ::close(fd_);
  }

  // A whole response: Content-Length framed, or chunked (large LISTs) read to its last chunk.
  Result<Response> Call(std::string_view method, std::string_view target,
                        std::string_view body = {}, std::string_view accept = "application/json") {
    Response response;
    KELP_RETURN_IF_ERROR(CallInto(response, method, target, body, accept));
    return response;
  }

  // Call into `response`, whose body's memory is reused (a LIST repeated reads into the same
  // buffer, so its page faults are not counted again and again).
  Status CallInto(Response& response, std::string_view method, std::string_view target,
                  std::string_view body, std::string_view accept) {
    KELP_RETURN_IF_ERROR(Send(method, target, body, accept));
    std::string reused = std::move(response.body);
    reused.clear();
    KELP_ASSIGN_OR_RETURN(response, ReadResponse());
    if (chunked_) {
      reused.swap(response.body);
      KELP_RETURN_IF_ERROR(ReadChunkedBody(response.body));
    }
    return Status::Ok();
  }

  Status Send(std::string_view method, std::string_view target, std::string_view body,
              std::string_view accept) {
    std::string request;
    request.reserve(256 + body.size());
    request.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    request.append("Authorization: Bearer ").append(token_).append("\r\n");
    request.append("Accept: ").append(accept).append("\r\n");
    if (!body.empty()) request.append("Content-Type: application/json\r\n");
    request.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
    request.append(body);
    if (SSL_write(ssl_.get(), request.data(), static_cast<int>(request.size())) <= 0) {
      return TlsError("TLS write");
    }
    return Status::Ok();
  }

  // Reads the status line and headers; returns the status and whether the body is chunked.
  // A Content-Length body is then read into `body`.
  Result<Response> ReadResponse() {
    KELP_ASSIGN_OR_RETURN(size_t header_end, ReadUntil("\r\n\r\n", 0));
    Response response;
    const std::string head = Lowercase(buffer_.substr(0, header_end));
    response.status = std::atoi(head.c_str() + 9);
    buffer_.erase(0, header_end + 4);
    chunked_ = head.find("transfer-encoding: chunked") != std::string::npos;
    if (chunked_) return response;
    const size_t length_at = head.find("content-length: ");
    if (length_at == std::string::npos) return InternalError("response without Content-Length");
    const size_t length = std::strtoull(head.c_str() + length_at + 16, nullptr, 10);
    KELP_RETURN_IF_ERROR(ReadAtLeast(length));
    response.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return response;
  }

  // Appends the rest of a chunked body to `body`, up to and including its last chunk.
  Status ReadChunkedBody(std::string& body) {
    for (;;) {
      KELP_ASSIGN_OR_RETURN(size_t size_end, ReadUntil("\r\n", 0));
      const size_t size = std::strtoull(buffer_.c_str(), nullptr, 16);
      if (size == 0) {
        KELP_ASSIGN_OR_RETURN(size_t trailer_end, ReadUntil("\r\n\r\n", 0));
        buffer_.erase(0, trailer_end + 4);
        return Status::Ok();
      }
      KELP_RETURN_IF_ERROR(ReadAtLeast(size_end + 2 + size + 2));
      body.append(buffer_, size_end + 2, size);
      buffer_.erase(0, size_end + 2 + size + 2);
    }
  }

  // The next newline-terminated line of a chunked body (a watch event); NotFound at its end.
  Result<std::string> NextLine() {
    for (;;) {
      if (size_t newline = lines_.find('\n'); newline != std::string::npos) {
        std::string line = lines_.substr(0, newline);
        lines_.erase(0, newline + 1);
        return line;
      }
      KELP_ASSIGN_OR_RETURN(size_t size_end, ReadUntil("\r\n", 0));
      const size_t size = std::strtoull(buffer_.c_str(), nullptr, 16);
      if (size == 0) return NotFoundError("end of stream");
      KELP_RETURN_IF_ERROR(ReadAtLeast(size_end + 2 + size + 2));
      lines_.append(buffer_, size_end + 2, size);
      buffer_.erase(0, size_end + 2 + size + 2);
    }
  }

 private:
  explicit Connection(std::string token) : token_(std::move(token)) {}

  Status Connect(SSL_CTX* ctx, uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return ErrnoError("socket", errno);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      return ErrnoError("connect 127.0.0.1:" + std::to_string(port), errno);
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ssl_.reset(SSL_new(ctx));
    if (!ssl_ || SSL_set_fd(ssl_.get(), fd_) != 1 ||
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_.get()), "127.0.0.1") != 1) {
      return TlsError("client TLS session");
    }
    if (SSL_connect(ssl_.get()) != 1) return TlsError("TLS handshake");
    return Status::Ok();
  }

  Status ReadMore() {
    char chunk[16384];
    const int n = SSL_read(ssl_.get(), chunk, sizeof chunk);
    if (n <= 0) return TlsError("TLS read (connection closed?)");
    buffer_.append(chunk, static_cast<size_t>(n));
    return Status::Ok();
  }

  Result<size_t> ReadUntil(std::string_view marker, size_t from) {
    for (;;) {
      if (size_t at = buffer_.find(marker, from); at != std::string::npos) return at;
      KELP_RETURN_IF_ERROR(ReadMore());
    }
  }

  Status ReadAtLeast(size_t bytes) {
    while (buffer_.size() < bytes) KELP_RETURN_IF_ERROR(ReadMore());
    return Status::Ok();
  }

  static std::string Lowercase(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  }

  std::string token_;
  int fd_ = -1;
  std::unique_ptr<SSL, SslDeleter> ssl_;
  std::string buffer_;  // bytes read but not consumed
  std::string lines_;   // decoded chunk data not yet split into lines
  bool chunked_ = false;
};

// What every phase needs to reach the server.
struct Target {
  SSL_CTX* ctx;
  uint16_t port;
  std::string token;

  Result<std::unique_ptr<Connection>> Connect() const {
    return Connection::Open(ctx, port, token);
  }
};

struct Rate {
  int64_t done = 0;
  int64_t failed = 0;
  double seconds = 0;
  double PerSecond() const { return seconds > 0 ? static_cast<double>(done) / seconds : 0; }
};

// Runs `clients` threads calling `operation(client, i)` until `duration` has passed. Each
// thread makes its own state with `make_client` (a connection, or nothing for the store).
template <typename MakeClient, typename Operation>
Rate RunFor(int clients, Clock::duration duration, MakeClient make_client, Operation operation) {
  std::atomic<bool> stop = false;
  std::atomic<int64_t> done = 0;
  std::atomic<int64_t> failed = 0;
  std::vector<std::thread> threads;
  std::atomic<int> ready = 0;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto client = make_client();
      ready.fetch_add(1);
      if (!client.ok()) {
        failed.fetch_add(1);
        return;
      }
      while (ready.load() < clients) std::this_thread::yield();
      for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        (operation(*client, c, i) ? done : failed).fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  while (ready.load() < clients) std::this_thread::yield();
  const auto start = Clock::now();
  std::this_thread::sleep_for(duration);
  stop = true;
  for (auto& thread : threads) thread.join();
  return Rate{.done = done.load(), .failed = failed.load(), .seconds = Seconds(Clock::now() - start)};
}

using ConnectionPtr = std::unique_ptr<Connection>;

bool CreatePod(ConnectionPtr& connection, const std::string& name,
               bool in_creates_namespace = false) {
  Result<Response> response =
      in_creates_namespace
          ? connection->Call("POST", kCreatesPath, PodJson(name, kCreatesNamespace))
          : connection->Call("POST", kPodsPath, PodJson(name, "default"));
  return response.ok() && response->status == 201;
}

Rate ApiCreates(const Target& target, int clients, const std::string& tag,
                Clock::duration duration) {
  return RunFor(clients, duration, [&] { return target.Connect(); },
                [&](ConnectionPtr& connection, int c, int i) {
                  return CreatePod(connection,
                                   tag + "-" + std::to_string(c) + "-" + std::to_string(i),
                                   /*in_creates_namespace=*/true);
                });
}

// Creates pods "fill-0".."fill-<count - 1>" over 64 connections.
Status FillPods(const Target& target, int count) {
  std::atomic<int> next = 0;
  std::atomic<int> failed = 0;
  std::vector<std::thread> threads;
  for (int c = 0; c < 64; ++c) {
    threads.emplace_back([&] {
      auto connection = target.Connect();
      if (!connection.ok()) {
        failed.fetch_add(1);
        return;
      }
      for (int i; (i = next.fetch_add(1)) < count;) {
        if (!CreatePod(*connection, "fill-" + std::to_string(i))) failed.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  if (failed.load() != 0) return InternalError(std::to_string(failed.load()) + " fill creates failed");
  return Status::Ok();
}

// Deletes every pod of the create phases over 64 connections.
Status DeleteCreatedPods(const Target& target) {
  KELP_ASSIGN_OR_RETURN(ConnectionPtr lister, target.Connect());
  KELP_ASSIGN_OR_RETURN(Response listed, lister->Call("GET", kCreatesPath));
  boost::json::monotonic_resource arena;
  boost::system::error_code error;
  boost::json::value parsed = boost::json::parse(listed.body, error, &arena);
  if (error || !parsed.is_object() || !parsed.as_object().contains("items")) {
    return InternalError("list of created pods is not a list");
  }
  std::vector<std::string> names;
  for (const boost::json::value& item : parsed.at("items").as_array()) {
    names.emplace_back(item.at("metadata").at("name").as_string());
  }
  std::atomic<size_t> next = 0;
  std::atomic<int> failed = 0;
  std::vector<std::thread> threads;
  for (int c = 0; c < 64; ++c) {
    threads.emplace_back([&] {
      auto connection = target.Connect();
      if (!connection.ok()) {
        failed.fetch_add(1);
        return;
      }
      for (size_t i; (i = next.fetch_add(1)) < names.size();) {
        Result<Response> response =
            (*connection)->Call("DELETE", std::string(kCreatesPath) + "/" + names[i]);
        if (!response.ok() || response->status != 200) failed.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  if (failed.load() != 0) return InternalError(std::to_string(failed.load()) + " deletes failed");
  return Status::Ok();
}

Rate ApiGets(const Target& target, int clients, const std::vector<std::string>& names) {
  return RunFor(clients, kGetPhase, [&] { return target.Connect(); },
                [&](ConnectionPtr& connection, int c, int i) {
                  const std::string& name = names[(static_cast<size_t>(c) * 7919 + i) % names.size()];
                  Result<Response> response =
                      connection->Call("GET", std::string(kPodsPath) + "/" + name);
                  return response.ok() && response->status == 200;
                });
}

struct ListTiming {
  double mean_ms = 0;
  double min_ms = 0;
  double max_ms = 0;
  double server_cpu_ms = 0;  // per LIST: process CPU less the listing thread's own
  double client_cpu_ms = 0;  // per LIST: the listing thread's (TLS reads, chunk decoding)
  size_t items = 0;
  size_t bytes = 0;
};

// Lists the pods `list_runs` times; `rows_field` names the array counted ("items" or "rows").
Result<ListTiming> TimeList(const Target& target, std::string_view accept,
                            const char* rows_field, int list_runs) {
  KELP_ASSIGN_OR_RETURN(ConnectionPtr connection, target.Connect());
  ListTiming timing;
  timing.min_ms = 1e12;
  Response last;
  const double process_cpu_start = ProcessCpuSeconds();
  const double thread_cpu_start = ThreadCpuSeconds();
  double total_ms = 0;
  for (int run = 0; run < list_runs; ++run) {
    const auto start = Clock::now();
    KELP_RETURN_IF_ERROR(connection->CallInto(last, "GET", kPodsPath, {}, accept));
    if (last.status != 200) return InternalError("list answered " + std::to_string(last.status));
    const double ms = Millis(Clock::now() - start);
    total_ms += ms;
    timing.min_ms = std::min(timing.min_ms, ms);
    timing.max_ms = std::max(timing.max_ms, ms);
  }
  const double client_cpu = ThreadCpuSeconds() - thread_cpu_start;
  timing.server_cpu_ms =
      (ProcessCpuSeconds() - process_cpu_start - client_cpu) * 1000.0 / list_runs;
  timing.client_cpu_ms = client_cpu * 1000.0 / list_runs;
  timing.mean_ms = total_ms / list_runs;
  timing.bytes = last.body.size();
  // Parsed into an arena handed back in one piece, so the client's DOM does not stay in the
  // process RSS that is reported as the server's.
  boost::json::monotonic_resource arena;
  boost::system::error_code error;
  boost::json::value parsed = boost::json::parse(last.body, error, &arena);
  if (error || !parsed.is_object()) return InternalError("list body is not a JSON object");
  if (const auto* rows = parsed.as_object().if_contains(rows_field); rows && rows->is_array()) {
    timing.items = rows->as_array().size();
  }
  return timing;
}

Result<std::string> CurrentResourceVersion(const Target& target) {
  KELP_ASSIGN_OR_RETURN(ConnectionPtr connection, target.Connect());
  KELP_ASSIGN_OR_RETURN(Response response,
                        connection->Call("GET", std::string(kPodsPath) + "?limit=1"));
  boost::system::error_code error;
  boost::json::value parsed = boost::json::parse(response.body, error);
  const boost::json::value* rv = error ? nullptr : parsed.find_pointer("/metadata/resourceVersion", error);
  if (rv == nullptr || !rv->is_string()) return InternalError("list without resourceVersion");
  return std::string(rv->as_string());
}

struct WatchLatency {
  std::vector<double> from_response_ms;
  std::vector<double> from_request_ms;
  int64_t missing = 0;
};

// Index of watched pod "w-<i>" named in an event line, or -1.
int WatchedIndex(const std::string& line) {
  constexpr std::string_view kMarker = R"("name":"w-)";
  const size_t at = line.find(kMarker);
  return at == std::string::npos ? -1 : std::atoi(line.c_str() + at + kMarker.size());
}

// `kWatchers` watch streams from the current revision; one client creates `kWatchedCreates`
// pods at a steady pace; each watcher notes when it read each event line.
Result<WatchLatency> MeasureWatch(const Target& target) {
  KELP_ASSIGN_OR_RETURN(std::string rv, CurrentResourceVersion(target));
  std::vector<ConnectionPtr> watches;
  for (int w = 0; w < kWatchers; ++w) {
    KELP_ASSIGN_OR_RETURN(ConnectionPtr connection, target.Connect());
    KELP_RETURN_IF_ERROR(connection->Send(
        "GET", std::string(kPodsPath) + "?watch=true&timeoutSeconds=30&resourceVersion=" + rv, {},
        "application/json"));
    KELP_ASSIGN_OR_RETURN(Response head, connection->ReadResponse());
    if (head.status != 200) return InternalError("watch answered " + std::to_string(head.status));
    watches.push_back(std::move(connection));
  }
  using Stamp = Clock::time_point;
  std::vector<std::vector<Stamp>> seen(kWatchers, std::vector<Stamp>(kWatchedCreates));
  std::vector<std::thread> readers;
  for (int w = 0; w < kWatchers; ++w) {
    readers.emplace_back([&, w] {
      for (int received = 0; received < kWatchedCreates;) {
        Result<std::string> line = watches[w]->NextLine();
        if (!line.ok()) return;
        const int index = WatchedIndex(*line);
        if (index < 0 || index >= kWatchedCreates) continue;
        seen[w][index] = Clock::now();
        ++received;
      }
    });
  }
  KELP_ASSIGN_OR_RETURN(ConnectionPtr writer, target.Connect());
  std::vector<Stamp> sent(kWatchedCreates);
  std::vector<Stamp> answered(kWatchedCreates);
  for (int i = 0; i < kWatchedCreates; ++i) {
    sent[i] = Clock::now();
    if (!CreatePod(writer, "w-" + std::to_string(i))) return InternalError("watched create failed");
    answered[i] = Clock::now();
    std::this_thread::sleep_for(kWatchPacing);
  }
  for (auto& reader : readers) reader.join();
  WatchLatency latency;
  for (int w = 0; w < kWatchers; ++w) {
    for (int i = 0; i < kWatchedCreates; ++i) {
      if (seen[w][i] == Stamp()) {
        ++latency.missing;
        continue;
      }
      latency.from_response_ms.push_back(std::max(0.0, Millis(seen[w][i] - answered[i])));
      latency.from_request_ms.push_back(Millis(seen[w][i] - sent[i]));
    }
  }
  return latency;
}

double Percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(fraction * values.size()))];
}

// The store's own durable create rate with `writers` threads on a fresh SqliteStore.
Result<Rate> StoreCreates(const std::filesystem::path& dir, int writers) {
  KELP_ASSIGN_OR_RETURN(
      std::unique_ptr<storage::sqlite::SqliteStore> store,
      storage::sqlite::SqliteStore::Open((dir / ("store-" + std::to_string(writers) + ".db")).string()));
  auto no_client = [] { return Result<int>(0); };
  auto create = [&](int, int c, int i) {
    const std::string name = std::to_string(c) + "-" + std::to_string(i);
    return store->Create("/registry/core/pods/default/" + name, PodJson(name, "default")).ok();
  };
  (void)RunFor(16, std::chrono::milliseconds(300), no_client, create);  // fill the WAL once
  return RunFor(writers, kCreatePhase, no_client, [&](int, int c, int i) {
    return create(0, c, i + 1'000'000);
  });
}

// Command line: `api_bench [--lists-only] [--list-runs N]`. --lists-only skips the create, get
// and watch phases and the store baseline (for profiling the LIST path).
struct BenchOptions {
  bool lists_only = false;
  int list_runs = kListRuns;
};

struct Figures {
  double rss_before_mb = 0;
  double rss_loaded_mb = 0;
  double rss_after_lists_mb = 0;
  double rss_after_trim_mb = 0;
  std::vector<std::pair<int, Rate>> api_creates;
  std::vector<std::pair<int, Rate>> store_creates;
  std::vector<std::pair<int, Rate>> gets;
  ListTiming list_json;
  ListTiming list_table;
  WatchLatency watch;
};

void PrintRate(const char* what, int clients, const Rate& rate, const char* target) {
  std::printf("%-34s %3d  %12.0f /s  %-22s", what, clients, rate.PerSecond(), target);
  if (rate.failed != 0) std::printf(" (%lld failed)", static_cast<long long>(rate.failed));
  std::printf("\n");
}

void PrintList(const char* what, const ListTiming& list, const char* unit) {
  std::printf("%-34s %3d  %12.1f ms  %-22s (%zu %s, %.1f MB; min %.1f max %.1f ms; "
              "CPU: server %.1f ms, client %.1f ms)\n",
              what, 1, list.mean_ms, "< 150 ms", list.items, unit, list.bytes / 1e6, list.min_ms,
              list.max_ms, list.server_cpu_ms, list.client_cpu_ms);
}

void PrintFigures(const Figures& f) {
  std::printf("\n%-34s %3s  %15s  %s\n", "measure", "cli", "result", "target (issue 3)");
  for (const auto& [clients, rate] : f.api_creates) {
    PrintRate("API pod creates (HTTPS, durable)", clients, rate, ">= 3,000 /s");
  }
  for (const auto& [clients, rate] : f.store_creates) {
    PrintRate("SqliteStore creates (direct)", clients, rate, "baseline");
  }
  for (size_t i = 0; i < f.api_creates.size() && i < f.store_creates.size(); ++i) {
    std::printf("%-34s %3d  %14.2fx\n", "ratio API / store creates", f.api_creates[i].first,
                f.api_creates[i].second.PerSecond() / f.store_creates[i].second.PerSecond());
  }
  for (const auto& [clients, rate] : f.gets) PrintRate("API pod gets", clients, rate, "");
  PrintList("LIST 10k pods, JSON", f.list_json, "items");
  PrintList("LIST 10k pods, Table", f.list_table, "rows");
  std::printf("%-34s %3d  %12.2f ms  %s\n", "watch latency p50 (from response)", kWatchers,
              Percentile(f.watch.from_response_ms, 0.50), "");
  std::printf("%-34s %3d  %12.2f ms  %s\n", "watch latency p99 (from response)", kWatchers,
              Percentile(f.watch.from_response_ms, 0.99), "< 20 ms");
  std::printf("%-34s %3d  %12.2f ms  %s\n", "watch latency p99 (from request)", kWatchers,
              Percentile(f.watch.from_request_ms, 0.99), "");
  if (f.watch.missing != 0) {
    std::printf("  (%lld watch events never arrived)\n", static_cast<long long>(f.watch.missing));
  }
  std::printf("%-34s %3s  %12.1f MB  %s\n", "process RSS before server start", "", f.rss_before_mb,
              "");
  std::printf("%-34s %3s  %12.1f MB  %s\n", "process RSS holding 10k pods", "", f.rss_loaded_mb,
              "< 150 MB");
  std::printf("%-34s %3s  %12.1f MB  %s\n", "process RSS after the 6 LISTs", "",
              f.rss_after_lists_mb, "");
  std::printf("%-34s %3s  %12.1f MB  %s\n", "  the same after malloc_trim(0)", "",
              f.rss_after_trim_mb, "");
}

Result<Target> PrepareTarget(const Server& server, const std::filesystem::path& data_dir,
                             SslCtxPtr& ctx) {
  KELP_ASSIGN_OR_RETURN(std::string token, ReadFile(data_dir / "token"));
  token.erase(token.find_last_not_of(" \r\n\t") + 1);
  KELP_ASSIGN_OR_RETURN(ctx, ClientContext(data_dir / "tls" / "ca.crt"));
  return Target{.ctx = ctx.get(), .port = server.port(), .token = std::move(token)};
}

Status MeasureApi(const std::filesystem::path& data_dir, const BenchOptions& options,
                  Figures& figures) {
  KELP_ASSIGN_OR_RETURN(
      std::unique_ptr<Server> server,
      Server::Start({.data_dir = data_dir.string(), .bind_address = "127.0.0.1", .https_port = 0}));
  SslCtxPtr ctx;
  KELP_ASSIGN_OR_RETURN(Target target, PrepareTarget(*server, data_dir, ctx));

  {
    KELP_ASSIGN_OR_RETURN(ConnectionPtr connection, target.Connect());
    KELP_ASSIGN_OR_RETURN(Response made,
                          connection->Call("POST", "/api/v1/namespaces",
                                           std::string(R"({"metadata":{"name":")") +
                                               kCreatesNamespace + R"("}})"));
    if (made.status != 201) return InternalError("create namespace: " + made.body);
  }
  if (!options.lists_only) (void)ApiCreates(target, 16, "warm", std::chrono::milliseconds(300));
  for (int clients : {1, 16, 64}) {
    if (options.lists_only) break;
    const std::string tag = "c" + std::to_string(clients);
    Rate rate = ApiCreates(target, clients, tag, kCreatePhase);
    figures.api_creates.emplace_back(clients, rate);
    std::printf("API creates, %d clients: %.0f/s\n", clients, rate.PerSecond());
    std::fflush(stdout);
  }
  const auto delete_start = Clock::now();
  KELP_RETURN_IF_ERROR(DeleteCreatedPods(target));
  std::printf("deleted the created pods in %.1f s\n", Seconds(Clock::now() - delete_start));
  const auto fill_start = Clock::now();
  KELP_RETURN_IF_ERROR(FillPods(target, kListedPods));
  std::printf("filled %d pods in %.1f s\n", kListedPods, Seconds(Clock::now() - fill_start));
  std::vector<std::string> names;
  for (int i = 0; i < kListedPods; i += kListedPods / 1000) names.push_back("fill-" + std::to_string(i));
  figures.rss_loaded_mb = kelp::bench::RssMegabytes();
  for (int clients : {1, 16, 64}) {
    if (!options.lists_only) figures.gets.emplace_back(clients, ApiGets(target, clients, names));
  }
  KELP_ASSIGN_OR_RETURN(figures.list_json,
                        TimeList(target, "application/json", "items", options.list_runs));
  KELP_ASSIGN_OR_RETURN(figures.list_table,
                        TimeList(target, kTableAccept, "rows", options.list_runs));
  if (figures.list_json.items != kListedPods || figures.list_table.items != kListedPods) {
    return InternalError("the LISTs returned " + std::to_string(figures.list_json.items) + " and " +
                         std::to_string(figures.list_table.items) + " pods, not " +
                         std::to_string(kListedPods));
  }
  figures.rss_after_lists_mb = kelp::bench::RssMegabytes();
  malloc_trim(0);  // tells retained free heap apart from live memory
  figures.rss_after_trim_mb = kelp::bench::RssMegabytes();
  if (!options.lists_only) {
    KELP_ASSIGN_OR_RETURN(figures.watch, MeasureWatch(target));
  }
  return Status::Ok();
}

Result<BenchOptions> ParseOptions(int argc, char** argv) {
  BenchOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--lists-only") {
      options.lists_only = true;
    } else if (arg == "--list-runs" && i + 1 < argc && std::atoi(argv[i + 1]) > 0) {
      options.list_runs = std::atoi(argv[++i]);
    } else {
      return InvalidArgumentError("usage: api_bench [--lists-only] [--list-runs N]");
    }
  }
  return options;
}

int Run(int argc, char** argv) {
  Result<BenchOptions> options = ParseOptions(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "%s\n", options.status().message().c_str());
    return 2;
  }
  ScratchDir dir;
  if (!dir.ok()) {
    std::fprintf(stderr, "cannot create a scratch directory under /var/tmp\n");
    return 1;
  }
  std::printf("api_bench: in-process apiserver on 127.0.0.1, data under %s; HTTPS keep-alive "
              "clients; ~1.5 KB pods; create phases %lld ms\n",
              dir.path().c_str(), static_cast<long long>(kCreatePhase.count()));
  Figures figures;
  figures.rss_before_mb = kelp::bench::RssMegabytes();
  if (Status status = MeasureApi(dir.path() / "server", *options, figures); !status.ok()) {
    std::fprintf(stderr, "api: %s\n", status.ToString().c_str());
    return 1;
  }
  for (int writers : {1, 16, 64}) {
    if (options->lists_only) break;
    Result<Rate> rate = StoreCreates(dir.path(), writers);
    if (!rate.ok()) {
      std::fprintf(stderr, "store: %s\n", rate.status().ToString().c_str());
      return 1;
    }
    figures.store_creates.emplace_back(writers, *rate);
  }
  PrintFigures(figures);
  std::printf("(RSS is this whole process: server, client threads and buffers; VmHWM %s)\n",
              kelp::bench::ProcStatusField("VmHWM:").c_str());
  return 0;
}

}  // namespace
}  // namespace kelp::apiserver

int main(int argc, char** argv) { return kelp::apiserver::Run(argc, argv); }
