// HttpsApiClient over Boost.Beast + OpenSSL; the only translation unit of src/client that
// includes Beast/Asio. Every Connection owns an io_context and runs each async operation to
// completion on the calling thread (the tcp_stream's expiry is the request timeout), so a
// request blocks only its caller. Idle keep-alive connections wait in a pool; a request that
// fails on a reused connection before any response arrived is retried once on a fresh one
// (the server may have closed it while idle). A watch owns its connection; Cancel() posts a
// cancel to that connection's io_context, which unblocks the Next() running it.
#include "client/https_client.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <mutex>
#include <vector>

#include "client/api_wire.h"
#include "common/file.h"
#include "common/json.h"

namespace kelp::client {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

constexpr size_t kWatchReadSize = 64 * 1024;

struct ServerAddress {
  std::string host;         // without brackets
  std::string port;
  std::string host_header;  // as sent in Host:
  bool is_ip = false;
};

Result<ServerAddress> ParseServerUrl(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (!url.starts_with(kScheme)) {
    return InvalidArgumentError("server URL must start with https://: \"" + std::string(url) + "\"");
  }
  std::string_view rest = url.substr(kScheme.size());
  rest = rest.substr(0, rest.find('/'));
  ServerAddress address;
  std::string_view port;
  if (rest.starts_with('[')) {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgumentError("server URL has an unterminated IPv6 address: \"" +
                                  std::string(url) + "\"");
    }
    address.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (after.starts_with(':')) port = after.substr(1);
  } else {
    size_t colon = rest.find(':');
    address.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (address.host.empty()) {
    return InvalidArgumentError("server URL has no host: \"" + std::string(url) + "\"");
  }
  address.port = port.empty() ? "443" : std::string(port);
  if (address.port.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgumentError("server URL has an invalid port: \"" + std::string(url) + "\"");
  }
  boost::system::error_code error;
  asio::ip::make_address(address.host, error);
  address.is_ip = !error;
  address.host_header = std::string(rest);
  return address;
}

// Percent-encoding of a query value (RFC 3986 unreserved characters stay).
std::string QueryEscape(std::string_view text) {
  static constexpr std::string_view kHex = "0123456789ABCDEF";
  std::string escaped;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      escaped += static_cast<char>(c);
    } else {
      escaped += '%';
      escaped += kHex[c >> 4];
      escaped += kHex[c & 0xF];
    }
  }
  return escaped;
}

class Query {
 public:
  void Add(std::string_view key, std::string_view value) {
    if (value.empty()) return;
    text_ += text_.empty() ? '?' : '&';
    text_ += std::string(key) + "=" + QueryEscape(value);
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

std::string ObjectPath(const Resource& resource, std::string_view namespace_name,
                       std::string_view name = "", std::string_view subresource = "") {
  std::string path = resource.GroupVersionPath();
  if (resource.namespaced && !namespace_name.empty()) {
    path += "/namespaces/" + QueryEscape(namespace_name);
  }
  path += "/" + std::string(resource.plural);
  if (!name.empty()) path += "/" + QueryEscape(name);
  if (!subresource.empty()) path += "/" + std::string(subresource);
  return path;
}

std::string MetadataString(const json::object& object, std::string_view field) {
  const json::value* value = FindPath(object, "metadata." + std::string(field));
  return value && value->is_string() ? std::string(value->as_string()) : "";
}

Status TransportError(std::string_view what, const beast::error_code& error) {
  if (error == beast::error::timeout) {
    return DeadlineExceededError(std::string(what) + ": timed out");
  }
  return UnavailableError(std::string(what) + ": " + error.message());
}

std::string Sha256Hex(X509* cert) {
  unsigned char* der = nullptr;
  int length = i2d_X509(cert, &der);
  if (length <= 0) return "";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  bool ok = EVP_Digest(der, static_cast<size_t>(length), digest, &digest_length, EVP_sha256(),
                       nullptr) == 1;
  OPENSSL_free(der);
  if (!ok) return "";
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < digest_length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xF];
  }
  return hex;
}

// k3s-style pinning: the certificate in the presented chain whose DER hashes to `pin` becomes
// the only trust anchor, and the leaf must verify against it for `address`.
Status VerifyPinnedChain(SSL* ssl, const ServerAddress& address, std::string_view pin) {
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  if (chain == nullptr || sk_X509_num(chain) == 0) {
    return PermissionDeniedError("the server presented no certificate");
  }
  X509* anchor = nullptr;
  for (int i = 0; i < sk_X509_num(chain) && anchor == nullptr; ++i) {
    if (Sha256Hex(sk_X509_value(chain, i)) == pin) anchor = sk_X509_value(chain, i);
  }
  if (anchor == nullptr) {
    return PermissionDeniedError("no certificate the server presented has the SHA-256 " +
                                 std::string(pin) + " (ca_sha256)");
  }
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(),
                                                                 X509_STORE_free);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> context(X509_STORE_CTX_new(),
                                                                          X509_STORE_CTX_free);
  if (!store || !context || X509_STORE_add_cert(store.get(), anchor) != 1 ||
      X509_STORE_CTX_init(context.get(), store.get(), sk_X509_value(chain, 0), chain) != 1) {
    return InternalError("cannot set up certificate verification");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(context.get());
  int named = address.is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, address.host.c_str())
                            : X509_VERIFY_PARAM_set1_host(param, address.host.c_str(), 0);
  if (named != 1) return InternalError("cannot set the expected server name");
  if (X509_verify_cert(context.get()) != 1) {
    return PermissionDeniedError(
        std::string("the server certificate does not verify against the pinned CA: ") +
        X509_verify_cert_error_string(X509_STORE_CTX_get_error(context.get())));
  }
  return Status::Ok();
}

// One TLS connection with its own io_context; used by one thread at a time.
class Connection {
 public:
  explicit Connection(ssl::context& tls) : stream_(io_, tls) {}

  beast::ssl_stream<beast::tcp_stream>& stream() { return stream_; }
  beast::flat_buffer& buffer() { return buffer_; }
  asio::io_context& io() { return io_; }
  void SetTimeout(std::chrono::milliseconds timeout) {
    if (timeout.count() > 0) {
      beast::get_lowest_layer(stream_).expires_after(timeout);
    } else {
      beast::get_lowest_layer(stream_).expires_never();
    }
  }

  // Starts one async operation through `start(handler)` and runs it to completion here.
  template <typename Start>
  beast::error_code Run(Start&& start) {
    beast::error_code result = asio::error::would_block;
    start([&result](beast::error_code error, auto&&...) { result = error; });
    io_.restart();
    io_.run();
    return result;
  }

  Status Connect(const ServerAddress& address, const std::string& ca_sha256,
                 std::chrono::milliseconds timeout) {
    tcp::resolver resolver(io_);
    tcp::resolver::results_type endpoints;
    beast::error_code error = Run([&](auto handler) {
      resolver.async_resolve(address.host, address.port,
                             [&endpoints, handler](beast::error_code e,
                                                   tcp::resolver::results_type results) mutable {
                               endpoints = std::move(results);
                               handler(e);
                             });
    });
    if (error) return TransportError("resolve " + address.host, error);
    SetTimeout(timeout);
    error = Run([&](auto handler) {
      beast::get_lowest_layer(stream_).async_connect(endpoints, handler);
    });
    if (error) return TransportError("connect to " + address.host_header, error);
    if (!address.is_ip) SSL_set_tlsext_host_name(stream_.native_handle(), address.host.c_str());
    if (ca_sha256.empty()) {
      stream_.set_verify_mode(ssl::verify_peer);
      stream_.set_verify_callback(ssl::host_name_verification(address.host));
    } else {
      stream_.set_verify_mode(ssl::verify_none);  // checked against the pin below
    }
    error = Run([&](auto handler) { stream_.async_handshake(ssl::stream_base::client, handler); });
    if (error) {
      if (error.category() == asio::error::get_ssl_category()) {
        return PermissionDeniedError("TLS handshake with " + address.host_header + ": " +
                                     error.message());
      }
      return TransportError("TLS handshake with " + address.host_header, error);
    }
    if (!ca_sha256.empty()) {
      KELP_RETURN_IF_ERROR(VerifyPinnedChain(stream_.native_handle(), address, ca_sha256));
    }
    return Status::Ok();
  }

  void Cancel() { beast::get_lowest_layer(stream_).cancel(); }

 private:
  asio::io_context io_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

struct HttpResult {
  int status = 0;
  std::string body;
};

class HttpsWatchStream final : public WatchStream {
 public:
  HttpsWatchStream(std::unique_ptr<Connection> connection,
                   std::unique_ptr<http::response_parser<http::buffer_body>> parser)
      : connection_(std::move(connection)), parser_(std::move(parser)) {}

  Result<std::optional<WatchEvent>> Next() override {
    while (true) {
      if (cancelled_) return CancelledError("watch cancelled");
      size_t newline = pending_.find('\n');
      if (newline != std::string::npos || (ended_ && !pending_.empty())) {
        std::string line = pending_.substr(0, newline);
        pending_.erase(0, newline == std::string::npos ? pending_.size() : newline + 1);
        if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
        KELP_ASSIGN_OR_RETURN(WatchEvent event, ParseWatchEvent(line));
        return std::optional<WatchEvent>(std::move(event));
      }
      if (ended_) return std::optional<WatchEvent>();
      KELP_RETURN_IF_ERROR(ReadSome());
    }
  }

  // The rest of the response body as text (for an error answer).
  std::string ReadRest() {
    while (!ended_ && ReadSome().ok()) {
    }
    return pending_;
  }

  void Cancel() override {
    cancelled_ = true;
    asio::post(connection_->io(), [connection = connection_.get()] { connection->Cancel(); });
  }

 private:
  Status ReadSome() {
    char data[kWatchReadSize];
    http::buffer_body::value_type& body = parser_->get().body();
    body.data = data;
    body.size = sizeof(data);
    beast::error_code error = connection_->Run([&](auto handler) {
      http::async_read_some(connection_->stream(), connection_->buffer(), *parser_, handler);
    });
    if (error == http::error::need_buffer) error = {};
    if (cancelled_) return CancelledError("watch cancelled");
    pending_.append(data, sizeof(data) - body.size);
    if (parser_->is_done() || error == http::error::end_of_stream ||
        error == asio::error::eof || error == ssl::error::stream_truncated) {
      ended_ = true;
      return Status::Ok();
    }
    if (error) return TransportError("watch", error);
    return Status::Ok();
  }

  std::unique_ptr<Connection> connection_;
  std::unique_ptr<http::response_parser<http::buffer_body>> parser_;
  std::string pending_;  // received text not yet split into events
  bool ended_ = false;
  std::atomic<bool> cancelled_ = false;
};

// Fills apiVersion and kind of list items (the API leaves them out of lists).
void FillTypeMeta(const Resource& resource, std::string_view list_kind,
                  std::vector<json::object>& items) {
  std::string kind(list_kind);
  if (kind.ends_with("List")) kind.resize(kind.size() - 4);
  for (json::object& item : items) {
    if (!item.contains("apiVersion")) item["apiVersion"] = resource.ApiVersion();
    if (!item.contains("kind") && !kind.empty()) item["kind"] = kind;
  }
}

std::string_view PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return "application/json";
}

bool IsLowerHexSha256(std::string_view text) {
  return text.size() == 64 && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

struct HttpsApiClient::Impl {
  ClientConfig config;
  ServerAddress address;
  ssl::context tls{ssl::context::tls_client};

  mutable std::mutex pool_mutex;  // guards idle
  std::vector<std::unique_ptr<Connection>> idle;

  Status Configure() {
    SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
    std::string& pin = config.ca_sha256;
    std::transform(pin.begin(), pin.end(), pin.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::erase(pin, ':');
    if (!pin.empty()) {
      if (!IsLowerHexSha256(pin)) {
        return InvalidArgumentError("ca_sha256 must be 64 hex digits, got \"" +
                                    config.ca_sha256 + "\"");
      }
      return Status::Ok();
    }
    std::string ca = config.ca_pem;
    if (ca.empty() && !config.ca_file.empty()) {
      KELP_ASSIGN_OR_RETURN(ca, ReadFile(config.ca_file));
    }
    if (ca.empty()) {
      beast::error_code error;
      tls.set_default_verify_paths(error);
      if (error) return InvalidArgumentError("no CA given and no system CAs: " + error.message());
      return Status::Ok();
    }
    beast::error_code error;
    tls.add_certificate_authority(asio::buffer(ca), error);
    if (error) return InvalidArgumentError("CA certificate: " + error.message());
    return Status::Ok();
  }

  Result<std::unique_ptr<Connection>> Connect(std::chrono::milliseconds timeout) {
    auto connection = std::make_unique<Connection>(tls);
    KELP_RETURN_IF_ERROR(connection->Connect(address, config.ca_sha256, timeout));
    return connection;
  }

  std::unique_ptr<Connection> TakeIdle() {
    std::lock_guard lock(pool_mutex);
    if (idle.empty()) return nullptr;
    std::unique_ptr<Connection> connection = std::move(idle.back());
    idle.pop_back();
    return connection;
  }

  void GiveBack(std::unique_ptr<Connection> connection) {
    std::lock_guard lock(pool_mutex);
    if (idle.size() < config.max_idle_connections) idle.push_back(std::move(connection));
  }

  http::request<http::string_body> MakeRequest(http::verb verb, const std::string& target,
                                                std::string_view content_type,
                                                std::string body) const {
    http::request<http::string_body> request{verb, target, 11};
    request.set(http::field::host, address.host_header);
    request.set(http::field::user_agent, config.user_agent);
    request.set(http::field::accept, "application/json");
    if (!config.token.empty()) request.set(http::field::authorization, "Bearer " + config.token);
    if (!content_type.empty()) request.set(http::field::content_type, content_type);
    request.keep_alive(true);
    request.body() = std::move(body);
    request.prepare_payload();
    return request;
  }

  // One exchange on `connection`. `nothing_received` tells whether the failure happened
  // before any byte of a response arrived (then the request may be retried elsewhere).
  Result<HttpResult> Exchange(Connection& connection, http::request<http::string_body>& request,
                              bool& keep_alive, bool& nothing_received) {
    nothing_received = true;
    connection.SetTimeout(config.request_timeout);
    beast::error_code error = connection.Run(
        [&](auto handler) { http::async_write(connection.stream(), request, handler); });
    if (error) return TransportError("send " + std::string(request.target()), error);
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    error = connection.Run([&](auto handler) {
      http::async_read(connection.stream(), connection.buffer(), parser, handler);
    });
    if (error) {
      nothing_received = !parser.got_some();
      return TransportError("receive " + std::string(request.target()), error);
    }
    nothing_received = false;
    keep_alive = parser.get().keep_alive();
    return HttpResult{static_cast<int>(parser.get().result_int()),
                      std::move(parser.get().body())};
  }

  Result<HttpResult> Send(http::verb verb, const std::string& target,
                          std::string_view content_type = "", std::string body = "") {
    http::request<http::string_body> request =
        MakeRequest(verb, target, content_type, std::move(body));
    std::unique_ptr<Connection> connection = TakeIdle();
    bool reused = connection != nullptr;
    while (true) {
      if (!connection) {
        KELP_ASSIGN_OR_RETURN(connection, Connect(config.request_timeout));
      }
      bool keep_alive = false;
      bool nothing_received = true;
      Result<HttpResult> result = Exchange(*connection, request, keep_alive, nothing_received);
      if (result.ok()) {
        if (keep_alive) GiveBack(std::move(connection));
        return result;
      }
      if (!reused || !nothing_received) return result.status();
      // The server may have closed the idle connection: retry once on a new one.
      connection.reset();
      reused = false;
    }
  }

  // A JSON object answer to `verb target`, or the API's error.
  Result<json::object> SendForObject(http::verb verb, const std::string& target,
                                     std::string_view content_type = "",
                                     std::string body = "") {
    KELP_ASSIGN_OR_RETURN(HttpResult result, Send(verb, target, content_type, std::move(body)));
    if (result.status < 200 || result.status >= 300) {
      return StatusFromResponse(result.status, result.body);
    }
    return ParseJsonObject(result.body);
  }
};

Result<std::unique_ptr<HttpsApiClient>> HttpsApiClient::Create(ClientConfig config) {
  auto impl = std::make_unique<Impl>();
  KELP_ASSIGN_OR_RETURN(impl->address, ParseServerUrl(config.server));
  impl->config = std::move(config);
  KELP_RETURN_IF_ERROR(impl->Configure());
  return std::unique_ptr<HttpsApiClient>(new HttpsApiClient(std::move(impl)));
}

HttpsApiClient::HttpsApiClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpsApiClient::~HttpsApiClient() = default;

size_t HttpsApiClient::IdleConnections() const {
  std::lock_guard lock(impl_->pool_mutex);
  return impl_->idle.size();
}

Result<json::object> HttpsApiClient::Get(const Resource& resource,
                                         std::string_view namespace_name, std::string_view name) {
  return impl_->SendForObject(http::verb::get, ObjectPath(resource, namespace_name, name));
}

Result<ListResult> HttpsApiClient::List(const Resource& resource, std::string_view namespace_name,
                                        const ListOptions& options) {
  Query query;
  query.Add("labelSelector", options.label_selector);
  query.Add("fieldSelector", options.field_selector);
  if (options.limit > 0) query.Add("limit", std::to_string(options.limit));
  query.Add("continue", options.continue_token);
  query.Add("resourceVersion", options.resource_version);
  KELP_ASSIGN_OR_RETURN(json::object list,
                        impl_->SendForObject(http::verb::get,
                                             ObjectPath(resource, namespace_name) + query.text()));
  ListResult result;
  result.resource_version = MetadataString(list, "resourceVersion");
  result.continue_token = MetadataString(list, "continue");
  if (json::value* items = list.if_contains("items"); items && items->is_array()) {
    for (json::value& item : items->as_array()) {
      if (item.is_object()) result.items.push_back(std::move(item.as_object()));
    }
  }
  const json::value* kind = list.if_contains("kind");
  FillTypeMeta(resource, kind && kind->is_string() ? std::string_view(kind->as_string()) : "",
               result.items);
  return result;
}

Result<json::object> HttpsApiClient::Create(const Resource& resource,
                                            std::string_view namespace_name,
                                            const json::object& object) {
  return impl_->SendForObject(http::verb::post, ObjectPath(resource, namespace_name),
                              "application/json", json::serialize(object));
}

Result<json::object> HttpsApiClient::CreateSubresource(const Resource& resource,
                                                       std::string_view namespace_name,
                                                       std::string_view name,
                                                       std::string_view subresource,
                                                       const json::object& object) {
  return impl_->SendForObject(http::verb::post,
                              ObjectPath(resource, namespace_name, name, subresource),
                              "application/json", json::serialize(object));
}

Result<json::object> HttpsApiClient::Update(const Resource& resource, const json::object& object,
                                            std::string_view subresource) {
  std::string name = MetadataString(object, "name");
  if (name.empty()) return InvalidArgumentError("update: the object has no metadata.name");
  return impl_->SendForObject(
      http::verb::put,
      ObjectPath(resource, MetadataString(object, "namespace"), name, subresource),
      "application/json", json::serialize(object));
}

Result<json::object> HttpsApiClient::Patch(const Resource& resource,
                                           std::string_view namespace_name, std::string_view name,
                                           PatchType type, std::string_view body,
                                           std::string_view subresource) {
  Query query;
  if (type == PatchType::kApply) query.Add("fieldManager", impl_->config.field_manager);
  return impl_->SendForObject(
      http::verb::patch, ObjectPath(resource, namespace_name, name, subresource) + query.text(),
      PatchContentType(type), std::string(body));
}

Status HttpsApiClient::Delete(const Resource& resource, std::string_view namespace_name,
                              std::string_view name, const DeleteOptions& options) {
  json::object body{{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  json::object preconditions;
  if (!options.precondition_uid.empty()) preconditions["uid"] = options.precondition_uid;
  if (!options.precondition_resource_version.empty()) {
    preconditions["resourceVersion"] = options.precondition_resource_version;
  }
  if (!preconditions.empty()) body["preconditions"] = std::move(preconditions);
  return impl_
      ->SendForObject(http::verb::delete_, ObjectPath(resource, namespace_name, name),
                      "application/json", json::serialize(body))
      .status();
}

Result<std::unique_ptr<WatchStream>> HttpsApiClient::Watch(const Resource& resource,
                                                           std::string_view namespace_name,
                                                           const ListOptions& options) {
  Query query;
  query.Add("watch", "true");
  query.Add("labelSelector", options.label_selector);
  query.Add("fieldSelector", options.field_selector);
  query.Add("resourceVersion", options.resource_version);
  if (options.allow_bookmarks) query.Add("allowWatchBookmarks", "true");
  if (options.timeout_seconds > 0) {
    query.Add("timeoutSeconds", std::to_string(options.timeout_seconds));
  }
  std::string target = ObjectPath(resource, namespace_name) + query.text();
  KELP_ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection,
                        impl_->Connect(impl_->config.request_timeout));
  http::request<http::string_body> request =
      impl_->MakeRequest(http::verb::get, target, "", "");
  connection->SetTimeout(impl_->config.request_timeout);
  beast::error_code error = connection->Run(
      [&](auto handler) { http::async_write(connection->stream(), request, handler); });
  if (error) return TransportError("watch " + target, error);
  auto parser = std::make_unique<http::response_parser<http::buffer_body>>();
  parser->body_limit(boost::none);
  error = connection->Run([&](auto handler) {
    http::async_read_header(connection->stream(), connection->buffer(), *parser, handler);
  });
  if (error) return TransportError("watch " + target, error);
  int status = static_cast<int>(parser->get().result_int());
  if (status != 200) {
    // An error answer: its body is a Status, read like event text within the request timeout.
    HttpsWatchStream answer(std::move(connection), std::move(parser));
    return StatusFromResponse(status, answer.ReadRest());
  }
  // The stream lasts as long as the server keeps it: only Cancel() or a broken connection
  // ends a read, never the request timeout.
  connection->SetTimeout(std::chrono::milliseconds(0));
  return std::unique_ptr<WatchStream>(
      std::make_unique<HttpsWatchStream>(std::move(connection), std::move(parser)));
}

}  // namespace kelp::client
