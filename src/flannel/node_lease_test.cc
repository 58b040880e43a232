// Node objects → leases, and the annotation/condition patches flannel writes.
#include "flannel/node_lease.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/json.h"

namespace kelp::flannel {
namespace {

namespace json = boost::json;

json::object Node(const std::string& json_text) { return *ParseJsonObject(json_text); }

TEST(NodeLeaseTest, VxlanLeaseFromAnnotations) {
  Result<NodeLease> lease = LeaseFromNode(Node(R"({"metadata":{"name":"node01","annotations":{
      "flannel.alpha.coreos.com/backend-type":"vxlan",
      "flannel.alpha.coreos.com/backend-data":"{\"VNI\":1,\"VtepMAC\":\"aa:bb:cc:dd:ee:01\"}",
      "flannel.alpha.coreos.com/public-ip":"192.168.206.20",
      "flannel.alpha.coreos.com/kube-subnet-manager":"true"}},
      "spec":{"podCIDR":"10.244.1.0/24"}})"));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_EQ(lease->node, "node01");
  EXPECT_EQ(lease->subnet.ToString(), "10.244.1.0/24");
  EXPECT_EQ(lease->public_ip.ToString(), "192.168.206.20");
  ASSERT_TRUE(lease->vtep_mac);
  EXPECT_EQ(lease->vtep_mac->ToString(), "aa:bb:cc:dd:ee:01");
  EXPECT_EQ(lease->vni, 1u);
}

TEST(NodeLeaseTest, NotFoundUntilPodCidrAndAnnotations) {
  EXPECT_EQ(LeaseFromNode(Node(R"({"metadata":{"name":"a"}})")).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(LeaseFromNode(Node(R"({"metadata":{"name":"a"},"spec":{"podCIDR":"10.244.1.0/24"}})"))
                .status()
                .code(),
            StatusCode::kNotFound);
}

TEST(NodeLeaseTest, MalformedValuesAreInvalid) {
  EXPECT_EQ(LeaseFromNode(Node(R"({"metadata":{"name":"a"},"spec":{"podCIDR":"10.244.1.0/99"}})"))
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(LeaseFromNode(Node(R"({"metadata":{"name":"a","annotations":{
      "flannel.alpha.coreos.com/backend-type":"vxlan",
      "flannel.alpha.coreos.com/backend-data":"{\"VtepMAC\":\"zz\"}",
      "flannel.alpha.coreos.com/public-ip":"192.168.206.20"}},"spec":{"podCIDR":"10.244.1.0/24"}})"))
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(LeaseFromNode(Node(R"({"metadata":{"name":"a","annotations":{
      "flannel.alpha.coreos.com/backend-type":"host-gw",
      "flannel.alpha.coreos.com/public-ip":"300.1.1.1"}},"spec":{"podCIDR":"10.244.1.0/24"}})"))
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

TEST(NodeLeaseTest, PatchesAreFlannels) {
  const net::Ipv4Address ip = *net::Ipv4Address::Parse("192.168.206.20");
  const std::string data = VxlanBackendData(1, *net::MacAddress::Parse("aa:bb:cc:dd:ee:01"));
  EXPECT_EQ(data, R"({"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:01"})");
  const std::string patch = AnnotationPatch("vxlan", data, ip);
  EXPECT_EQ(
      patch,
      R"({"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-type":"vxlan",)"
      R"("flannel.alpha.coreos.com/backend-data":"{\"VNI\":1,\"VtepMAC\":\"aa:bb:cc:dd:ee:01\"}",)"
      R"("flannel.alpha.coreos.com/public-ip":"192.168.206.20",)"
      R"("flannel.alpha.coreos.com/kube-subnet-manager":"true"}}})");
  json::object node = Node(patch);
  EXPECT_TRUE(HasAnnotations(node, "vxlan", data, ip));
  EXPECT_FALSE(HasAnnotations(node, "host-gw", "null", ip));

  const std::string status = NetworkAvailablePatch(std::chrono::system_clock::time_point{});
  EXPECT_EQ(
      status,
      R"({"status":{"conditions":[{"type":"NetworkUnavailable","status":"False",)"
      R"("reason":"FlannelIsUp","message":"Flannel is running on this node",)"
      R"("lastTransitionTime":"1970-01-01T00:00:00Z","lastHeartbeatTime":"1970-01-01T00:00:00Z"}]}})");
  EXPECT_TRUE(NetworkAvailable(Node(status)));
  EXPECT_FALSE(
      NetworkAvailable(Node(R"({"status":{"conditions":[{"type":"Ready","status":"False"}]}})")));
}

}  // namespace
}  // namespace kelp::flannel
