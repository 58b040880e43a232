// HttpsApiClient against an in-process kelp server on 127.0.0.1 (port 0, temp data dir):
// CRUD and the Status → StatusCode mapping, generateName, selectors and pagination, patches,
// delete options, watch events and 410 → kExpired, authentication, CA pinning, keep-alive under
// concurrency, Cancel() of a blocked watch, and an Informer converging over the real client.
#include "client/https_client.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <thread>

#include <fmt/format.h>

#include "apiserver/server.h"
#include "client/informer.h"
#include "common/file.h"
#include "common/json.h"
#include "common/testing/temp_dir.h"
#include "storage/sqlite/sqlite_store.h"

namespace kelp::client {
namespace {

namespace json = boost::json;

constexpr const char* kToken = "client-test-token";
constexpr auto kWait = std::chrono::seconds(20);

std::string Str(const json::object& object, std::string_view path) {
  const json::value* value = FindPath(object, path);
  return value && value->is_string() ? std::string(value->as_string()) : "";
}

json::object ConfigMap(std::string_view name, json::object labels = {}) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", json::object{{"name", name}, {"labels", std::move(labels)}}},
          {"data", json::object{{"k", "v"}}}};
}

json::object Pod(std::string_view name) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", json::object{{"name", name}}},
          {"spec", json::object{{"containers", json::array{json::object{
                                                   {"name", "c"}, {"image", "nginx"}}}}}}};
}

// Lower-case hex SHA-256 of the DER of the first certificate in `pem`.
std::string CertificateSha256(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), pem.size()),
                                                BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) return "";
  unsigned char* der = nullptr;
  int length = i2d_X509(cert.get(), &der);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(der, length, digest, &size, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

class HttpsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    StartServer();
    Result<ClientConfig> config = LoadKubeconfig(server_->kubeconfig_path());
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    config_ = *config;
    ASSERT_EQ(config_.server, "https://127.0.0.1:" + std::to_string(server_->port()));
    ASSERT_EQ(config_.token, kToken);
    client_ = MakeClient(config_);
    ASSERT_NE(client_, nullptr);
  }

  void StartServer() {
    apiserver::ServerOptions options{.data_dir = (dir_.path() / "server").string(),
                                     .bind_address = "127.0.0.1",
                                     .https_port = 0,
                                     .token = kToken};
    Result<std::unique_ptr<apiserver::Server>> server = apiserver::Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }

  std::unique_ptr<HttpsApiClient> MakeClient(ClientConfig config) {
    Result<std::unique_ptr<HttpsApiClient>> client = HttpsApiClient::Create(std::move(config));
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }

  std::string CaPem() { return ReadFile(dir_.path() / "server" / "tls" / "ca.crt").value_or(""); }

  kelp::testing::ScopedTempDir dir_;
  std::unique_ptr<apiserver::Server> server_;
  ClientConfig config_;
  std::unique_ptr<HttpsApiClient> client_;
};

TEST_F(HttpsClientTest, CreateGetUpdateDelete) {
  Result<json::object> created = client_->Create(kConfigMaps, "default", ConfigMap("cfg"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_FALSE(Str(*created, "metadata.uid").empty());
  EXPECT_EQ(Str(*created, "metadata.namespace"), "default");

  Result<json::object> got = client_->Get(kConfigMaps, "default", "cfg");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(Str(*got, "data.k"), "v");

  json::object changed = *got;
  changed["data"].as_object()["k"] = "w";
  Result<json::object> updated = client_->Update(kConfigMaps, changed);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(Str(*updated, "data.k"), "w");

  Result<json::object> stale = client_->Update(kConfigMaps, changed);
  EXPECT_EQ(stale.status().code(), StatusCode::kConflict) << stale.status().ToString();

  ASSERT_TRUE(client_->Delete(kConfigMaps, "default", "cfg", {}).ok());
  Result<json::object> gone = client_->Get(kConfigMaps, "default", "cfg");
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  EXPECT_NE(gone.status().message().find("\"cfg\" not found"), std::string::npos)
      << gone.status().message();
  EXPECT_EQ(client_->Delete(kConfigMaps, "default", "cfg", {}).code(), StatusCode::kNotFound);
}

TEST_F(HttpsClientTest, ErrorsMapToStatusCodes) {
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("cfg")).ok());
  Result<json::object> again = client_->Create(kConfigMaps, "default", ConfigMap("cfg"));
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists) << again.status().ToString();

  json::object pod = Pod("bad");
  pod["spec"].as_object()["containers"] = json::array();
  Result<json::object> invalid = client_->Create(kPods, "default", pod);
  EXPECT_EQ(invalid.status().code(), StatusCode::kInvalidArgument) << invalid.status().ToString();

  EXPECT_EQ(client_->List(kPods, "", {.label_selector = "a in (("}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Get(kNamespaces, "", "missing").status().code(), StatusCode::kNotFound);
}

TEST_F(HttpsClientTest, GenerateNameAndSubresources) {
  json::object pod = Pod("");
  pod["metadata"].as_object().erase("name");
  pod["metadata"].as_object()["generateName"] = "web-";
  Result<json::object> created = client_->Create(kPods, "default", pod);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::string name = Str(*created, "metadata.name");
  EXPECT_TRUE(name.starts_with("web-")) << name;
  EXPECT_GT(name.size(), 4u);

  json::object binding{{"apiVersion", "v1"},
                       {"kind", "Binding"},
                       {"metadata", json::object{{"name", name}}},
                       {"target", json::object{{"kind", "Node"}, {"name", "node01"}}}};
  Result<json::object> bound =
      client_->CreateSubresource(kPods, "default", name, "binding", binding);
  ASSERT_TRUE(bound.ok()) << bound.status().ToString();
  json::object current = *client_->Get(kPods, "default", name);
  EXPECT_EQ(Str(current, "spec.nodeName"), "node01");

  current["status"] = json::object{{"phase", "Running"}, {"podIP", "10.244.1.5"}};
  Result<json::object> status = client_->Update(kPods, current, "status");
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(Str(*status, "status.phase"), "Running");

  // A pod on a node is only marked; grace 0 removes it.
  ASSERT_TRUE(client_->Delete(kPods, "default", name, {}).ok());
  EXPECT_FALSE(Str(*client_->Get(kPods, "default", name), "metadata.deletionTimestamp").empty());
  EXPECT_EQ(client_->Delete(kPods, "default", name, {.precondition_uid = "wrong"}).code(),
            StatusCode::kConflict);
  ASSERT_TRUE(client_->Delete(kPods, "default", name, {.grace_period_seconds = 0}).ok());
  EXPECT_EQ(client_->Get(kPods, "default", name).status().code(), StatusCode::kNotFound);
}

TEST_F(HttpsClientTest, ListWithSelectorsAndPagination) {
  for (int i = 0; i < 5; ++i) {
    json::object labels{{"app", i % 2 == 0 ? "web" : "db"}};
    ASSERT_TRUE(
        client_->Create(kConfigMaps, "default", ConfigMap("c" + std::to_string(i), labels)).ok());
  }
  Result<ListResult> web = client_->List(kConfigMaps, "default", {.label_selector = "app=web"});
  ASSERT_TRUE(web.ok()) << web.status().ToString();
  ASSERT_EQ(web->items.size(), 3u);
  EXPECT_EQ(Str(web->items[0], "kind"), "ConfigMap");
  EXPECT_EQ(Str(web->items[0], "apiVersion"), "v1");
  EXPECT_FALSE(web->resource_version.empty());
  Result<ListResult> by_name = client_->List(kConfigMaps, "",
                                             {.field_selector = "metadata.name=c3"});
  ASSERT_TRUE(by_name.ok());
  ASSERT_EQ(by_name->items.size(), 1u);

  std::vector<std::string> names;
  ListOptions page{.label_selector = "app", .limit = 2};
  do {
    Result<ListResult> result = client_->List(kConfigMaps, "default", page);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_LE(result->items.size(), 2u);
    for (const json::object& item : result->items) names.push_back(Str(item, "metadata.name"));
    page.continue_token = result->continue_token;
  } while (!page.continue_token.empty());
  EXPECT_EQ(names, (std::vector<std::string>{"c0", "c1", "c2", "c3", "c4"}));
}

TEST_F(HttpsClientTest, PatchTypesSendTheirContentTypes) {
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("cfg", {{"a", "1"}})).ok());
  Result<json::object> merged = client_->Patch(kConfigMaps, "default", "cfg", PatchType::kMerge,
                                               R"({"metadata":{"labels":{"b":"2"}}})");
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(Str(*merged, "metadata.labels.a"), "1");
  EXPECT_EQ(Str(*merged, "metadata.labels.b"), "2");
  Result<json::object> strategic =
      client_->Patch(kConfigMaps, "default", "cfg", PatchType::kStrategicMerge,
                     R"({"data":{"x":"y"}})");
  ASSERT_TRUE(strategic.ok()) << strategic.status().ToString();
  EXPECT_EQ(Str(*strategic, "data.x"), "y");
  Result<json::object> json_patch = client_->Patch(
      kConfigMaps, "default", "cfg", PatchType::kJson,
      R"([{"op":"replace","path":"/data/k","value":"patched"}])");
  ASSERT_TRUE(json_patch.ok()) << json_patch.status().ToString();
  EXPECT_EQ(Str(*json_patch, "data.k"), "patched");
  Result<json::object> applied = client_->Patch(
      kConfigMaps, "default", "applied", PatchType::kApply,
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  from: apply\n");
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(Str(*applied, "data.from"), "apply");
  EXPECT_EQ(client_->Patch(kConfigMaps, "default", "cfg", PatchType::kJson,
                           R"([{"op":"test","path":"/data/k","value":"nope"}])")
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

TEST_F(HttpsClientTest, WatchDeliversEventsFromAResourceVersion) {
  Result<ListResult> list = client_->List(kConfigMaps, "default", {});
  ASSERT_TRUE(list.ok());
  auto watch = client_->Watch(kConfigMaps, "default",
                              {.resource_version = list->resource_version});
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("w")).ok());
  ASSERT_TRUE(client_->Patch(kConfigMaps, "default", "w", PatchType::kMerge,
                             R"({"data":{"k":"2"}})")
                  .ok());
  ASSERT_TRUE(client_->Delete(kConfigMaps, "default", "w", {}).ok());
  std::vector<WatchEvent::Type> types;
  while (types.size() < 3) {
    Result<std::optional<WatchEvent>> event = (*watch)->Next();
    ASSERT_TRUE(event.ok()) << event.status().ToString();
    ASSERT_TRUE(event->has_value());
    if ((*event)->type == WatchEvent::Type::kBookmark) continue;
    EXPECT_EQ(Str((*event)->object, "metadata.name"), "w");
    types.push_back((*event)->type);
  }
  EXPECT_EQ(types, (std::vector<WatchEvent::Type>{WatchEvent::Type::kAdded,
                                                  WatchEvent::Type::kModified,
                                                  WatchEvent::Type::kDeleted}));
}

TEST_F(HttpsClientTest, WatchEndsNormallyAtItsTimeout) {
  auto watch = client_->Watch(kConfigMaps, "default",
                              {.resource_version = client_->List(kConfigMaps, "", {})
                                                       ->resource_version,
                               .allow_bookmarks = false,
                               .timeout_seconds = 1});
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  Result<std::optional<WatchEvent>> end = (*watch)->Next();
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  EXPECT_FALSE(end->has_value());
}

TEST_F(HttpsClientTest, CancelUnblocksAWatch) {
  auto watch = client_->Watch(kConfigMaps, "default",
                              {.resource_version = client_->List(kConfigMaps, "", {})
                                                       ->resource_version,
                               .allow_bookmarks = false});
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  Result<std::optional<WatchEvent>> next = std::optional<WatchEvent>();
  std::thread reader([&] { next = (*watch)->Next(); });
  // Let the reader block in Next() (it returns only on Cancel(): nothing changes).
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  (*watch)->Cancel();
  reader.join();
  EXPECT_EQ(next.status().code(), StatusCode::kCancelled);
}

TEST_F(HttpsClientTest, WatchFromACompactedVersionExpires) {
  json::object first = *client_->Create(kConfigMaps, "default", ConfigMap("a"));
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("b")).ok());
  client_.reset();
  server_.reset();
  {
    auto store = storage::sqlite::SqliteStore::Open(
        (dir_.path() / "server" / "db" / "state.db").string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->Compact((*store)->CurrentRevision()).ok());
  }
  StartServer();
  Result<ClientConfig> config = LoadKubeconfig(server_->kubeconfig_path());
  ASSERT_TRUE(config.ok());
  client_ = MakeClient(*config);
  ASSERT_NE(client_, nullptr);
  auto watch = client_->Watch(kConfigMaps, "default",
                              {.resource_version = Str(first, "metadata.resourceVersion")});
  Status status = watch.status();
  if (watch.ok()) status = (*watch)->Next().status();
  EXPECT_EQ(status.code(), StatusCode::kExpired) << status.ToString();
}

TEST_F(HttpsClientTest, WrongTokenIsPermissionDenied) {
  ClientConfig config = config_;
  config.token = "wrong";
  std::unique_ptr<HttpsApiClient> client = MakeClient(config);
  ASSERT_NE(client, nullptr);
  Result<json::object> got = client->Get(kNamespaces, "", "default");
  EXPECT_EQ(got.status().code(), StatusCode::kPermissionDenied) << got.status().ToString();
}

TEST_F(HttpsClientTest, TrustsTheCaFromAFile) {
  ClientConfig config = config_;
  config.ca_pem.clear();
  config.ca_file = dir_.path() / "server" / "tls" / "ca.crt";
  std::unique_ptr<HttpsApiClient> client = MakeClient(config);
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->Get(kNamespaces, "", "default").ok());
}

TEST_F(HttpsClientTest, RejectsAServerSignedByAnotherCa) {
  kelp::testing::ScopedTempDir other;
  apiserver::ServerOptions options{.data_dir = (other.path() / "server").string(),
                                   .bind_address = "127.0.0.1",
                                   .https_port = 0,
                                   .token = kToken};
  auto other_server = apiserver::Server::Start(options);
  ASSERT_TRUE(other_server.ok()) << other_server.status().ToString();
  ClientConfig config = config_;
  config.server = "https://127.0.0.1:" + std::to_string((*other_server)->port());
  std::unique_ptr<HttpsApiClient> client = MakeClient(config);
  ASSERT_NE(client, nullptr);
  Result<json::object> got = client->Get(kNamespaces, "", "default");
  EXPECT_EQ(got.status().code(), StatusCode::kPermissionDenied) << got.status().ToString();
}

TEST_F(HttpsClientTest, CaPinnedByHashFromThePresentedChain) {
  std::string pin = CertificateSha256(CaPem());
  ASSERT_EQ(pin.size(), 64u);
  ClientConfig config = config_;
  config.ca_pem.clear();
  config.ca_sha256 = pin;
  std::unique_ptr<HttpsApiClient> good = MakeClient(config);
  ASSERT_NE(good, nullptr);
  Result<json::object> got = good->Get(kNamespaces, "", "default");
  EXPECT_TRUE(got.ok()) << got.status().ToString();

  config.ca_sha256 = std::string(64, 'a');
  std::unique_ptr<HttpsApiClient> bad = MakeClient(config);
  ASSERT_NE(bad, nullptr);
  Result<json::object> refused = bad->Get(kNamespaces, "", "default");
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied) << refused.status().ToString();

  config.ca_sha256 = "not-hex";
  EXPECT_EQ(HttpsApiClient::Create(config).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(HttpsClientTest, ConcurrentCallersShareAPoolOfKeptAliveConnections) {
  constexpr int kThreads = 8;
  constexpr int kRequestsEach = 20;
  std::vector<std::thread> threads;
  std::atomic<int> failures = 0;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRequestsEach; ++i) {
        std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!client_->Create(kConfigMaps, "default", ConfigMap(name)).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(client_->List(kConfigMaps, "default", {})->items.size(),
            static_cast<size_t>(kThreads * kRequestsEach));
  EXPECT_GE(client_->IdleConnections(), 1u);
  EXPECT_LE(client_->IdleConnections(), static_cast<size_t>(kThreads));
}

TEST_F(HttpsClientTest, InformerConvergesOverTheRealClient) {
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("before")).ok());
  Informer informer(*client_, kConfigMaps, {.label_selector = "informed"});
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> deleted;
  informer.AddHandlers({.on_delete = [&](const ObjectPtr& object) {
    std::lock_guard lock(mutex);
    deleted.push_back(ObjectKey(*object));
    changed.notify_all();
  }});
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("a", {{"informed", "1"}})).ok());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(kWait));
  EXPECT_EQ(informer.List().size(), 1u) << "the selector keeps 'before' out";
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(client_->Create(kConfigMaps, "default",
                                ConfigMap("n" + std::to_string(i), {{"informed", "1"}}))
                    .ok());
  }
  ASSERT_TRUE(client_->Patch(kConfigMaps, "default", "a", PatchType::kMerge,
                             R"({"data":{"k":"final"}})")
                  .ok());
  ASSERT_TRUE(client_->Delete(kConfigMaps, "default", "n0", {}).ok());
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, kWait, [&] { return !deleted.empty(); }));
    EXPECT_EQ(deleted, std::vector<std::string>{"default/n0"});
  }
  // Events arrive in order, so once n0's deletion is seen everything before it is too.
  EXPECT_EQ(informer.List().size(), 10u);
  ObjectPtr a = informer.Get("default/a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(Str(*a, "data.k"), "final");
  informer.Stop();
}

TEST(HttpsClientTimeoutTest, ASilentServerTimesOut) {
  // A listening socket that never accepts: the kernel completes TCP, nobody answers TLS.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  std::unique_ptr<int, void (*)(int*)> closer(&listener, [](int* fd) { ::close(*fd); });
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  ClientConfig config{.server = "https://127.0.0.1:" + std::to_string(ntohs(address.sin_port)),
                      .ca_sha256 = std::string(64, '0'),
                      .request_timeout = std::chrono::milliseconds(200)};
  Result<std::unique_ptr<HttpsApiClient>> client = HttpsApiClient::Create(config);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Result<json::object> got = (*client)->Get(kNamespaces, "", "default");
  EXPECT_EQ(got.status().code(), StatusCode::kDeadlineExceeded) << got.status().ToString();
}

}  // namespace
}  // namespace kelp::client
