// ConfigMap kube-system/kube-flannel-cfg written at server start through RestApi over a real
// SqliteStore: created from the flags when absent, an existing (edited) one left alone,
// backend "none" writes nothing, bad flags are an error.
#include "apiserver/flannel_config.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/testing/fake_clock.h"
#include "common/testing/temp_dir.h"
#include "flannel/net_conf.h"
#include "storage/sqlite/sqlite_store.h"

namespace kelp::apiserver {
namespace {

namespace json = boost::json;

constexpr char kPath[] = "/api/v1/namespaces/kube-system/configmaps/kube-flannel-cfg";

class FlannelConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::sqlite::SqliteStore::Open((dir_.path() / "state.db").string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    api_ = std::make_unique<RestApi>(*store_, clock_, RestOptions{});
    ASSERT_TRUE(api_->EnsureDefaultNamespaces().ok());
  }
  HttpResponse Get() const { return api_->Handle(MakeRequest("GET", kPath, {}, "")); }
  std::string NetConf() const {
    HttpResponse response = Get();
    EXPECT_EQ(response.status, 200) << response.body;
    json::value value = json::parse(response.body);
    return std::string(value.at("data").at("net-conf.json").as_string());
  }

  kelp::testing::ScopedTempDir dir_;
  kelp::testing::FakeClock clock_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<RestApi> api_;
};

TEST_F(FlannelConfigTest, CreatesNetConfFromTheFlags) {
  ASSERT_TRUE(EnsureFlannelConfig(*api_, "10.244.0.0/16", "host-gw").ok());
  Result<flannel::NetworkConfig> config = flannel::ParseNetConf(NetConf());
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->network.ToString(), "10.244.0.0/16");
  EXPECT_EQ(config->backend.type, "host-gw");
}

TEST_F(FlannelConfigTest, LeavesAnExistingConfigMapAlone) {
  ASSERT_TRUE(EnsureFlannelConfig(*api_, "10.244.0.0/16", "vxlan").ok());
  // A restart with other flags (or an administrator's edit) does not overwrite it.
  ASSERT_TRUE(EnsureFlannelConfig(*api_, "10.50.0.0/16", "host-gw").ok());
  EXPECT_NE(NetConf().find(R"("Network":"10.244.0.0/16")"), std::string::npos) << NetConf();
}

TEST_F(FlannelConfigTest, NoneWritesNothingAndBadFlagsFail) {
  ASSERT_TRUE(EnsureFlannelConfig(*api_, "10.244.0.0/16", "none").ok());
  EXPECT_EQ(Get().status, 404);
  EXPECT_EQ(EnsureFlannelConfig(*api_, "10.244.0.0/99", "vxlan").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(EnsureFlannelConfig(*api_, "10.244.0.0/16", "ipip").code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kelp::apiserver
