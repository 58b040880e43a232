// Tests for the apiserver PKI: CA and serving certificate creation, SANs, reuse and re-issue.
#include "apiserver/pki.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include "common/file.h"
#include "common/testing/temp_dir.h"

namespace kelp::apiserver {
namespace {

using ::testing::ElementsAre;

mode_t FileMode(const std::filesystem::path& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? info.st_mode & 07777 : 0;
}

std::string Contents(const std::filesystem::path& path) { return ReadFile(path).value_or(""); }

bool IsCaCertificate(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  bool is_ca = cert != nullptr && X509_check_ca(cert) == 1;
  X509_free(cert);
  BIO_free(bio);
  return is_ca;
}

TEST(ServingCertificateNamesTest, AddsDefaultsBindAdvertiseAndExtras) {
  EXPECT_THAT(ServingCertificateNames("10.0.0.5", "192.168.206.10", {"api.example.com"}),
              ElementsAre("localhost", "kubernetes", "kubernetes.default",
                          "kubernetes.default.svc", "127.0.0.1", "::1", "10.0.0.5",
                          "192.168.206.10", "api.example.com"));
}

TEST(ServingCertificateNamesTest, LeavesOutWildcardBindAddress) {
  EXPECT_EQ(ServingCertificateNames("0.0.0.0", "", {}).size(), 6u);
  EXPECT_EQ(ServingCertificateNames("::", "", {}).size(), 6u);
}

TEST(EnsurePkiTest, CreatesCaAndServingCertificateVerifyingWithAllSans) {
  kelp::testing::ScopedTempDir dir;
  auto names = ServingCertificateNames("10.0.0.5", "192.168.206.10", {"API.example.com", "fd00::1"});
  Result<PkiFiles> pki = EnsurePki(dir.path() / "tls", names);
  ASSERT_TRUE(pki.ok()) << pki.status().ToString();
  EXPECT_TRUE(pki->serving_cert_issued);
  EXPECT_TRUE(IsCaCertificate(pki->ca_cert_pem));
  EXPECT_EQ(Contents(pki->ca_cert_path), pki->ca_cert_pem);

  std::string serving_pem = Contents(pki->serving_cert_path);
  EXPECT_TRUE(VerifyCertificateAgainstCa(serving_pem, pki->ca_cert_pem).ok());
  EXPECT_FALSE(IsCaCertificate(serving_pem));
  Result<std::vector<std::string>> sans = CertificateSubjectAltNames(serving_pem);
  ASSERT_TRUE(sans.ok());
  EXPECT_THAT(*sans, ElementsAre("DNS:api.example.com", "DNS:kubernetes", "DNS:kubernetes.default",
                                 "DNS:kubernetes.default.svc", "DNS:localhost", "IP:10.0.0.5",
                                 "IP:127.0.0.1", "IP:192.168.206.10", "IP:::1", "IP:fd00::1"));

  EXPECT_EQ(FileMode(dir.path() / "tls" / "ca.key"), 0600u);
  EXPECT_EQ(FileMode(pki->serving_key_path), 0600u);
  EXPECT_EQ(FileMode(dir.path() / "tls"), 0700u);
}

TEST(EnsurePkiTest, ReusesEverythingWhenNamesAreUnchanged) {
  kelp::testing::ScopedTempDir dir;
  auto names = ServingCertificateNames("0.0.0.0", "", {"node.example"});
  Result<PkiFiles> first = EnsurePki(dir.path() / "tls", names);
  ASSERT_TRUE(first.ok());
  std::string serving_pem = Contents(first->serving_cert_path);
  std::string serving_key = Contents(first->serving_key_path);

  Result<PkiFiles> second = EnsurePki(dir.path() / "tls", names);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_FALSE(second->serving_cert_issued);
  EXPECT_EQ(second->ca_cert_pem, first->ca_cert_pem);
  EXPECT_EQ(Contents(second->serving_cert_path), serving_pem);
  EXPECT_EQ(Contents(second->serving_key_path), serving_key);
}

TEST(EnsurePkiTest, ReissuesServingCertificateWhenNamesChangeButKeepsCa) {
  kelp::testing::ScopedTempDir dir;
  Result<PkiFiles> first = EnsurePki(dir.path() / "tls", ServingCertificateNames("0.0.0.0", "", {}));
  ASSERT_TRUE(first.ok());
  Result<PkiFiles> second =
      EnsurePki(dir.path() / "tls", ServingCertificateNames("0.0.0.0", "10.1.2.3", {}));
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->serving_cert_issued);
  EXPECT_EQ(second->ca_cert_pem, first->ca_cert_pem);
  std::string serving_pem = Contents(second->serving_cert_path);
  EXPECT_TRUE(VerifyCertificateAgainstCa(serving_pem, second->ca_cert_pem).ok());
  EXPECT_THAT(CertificateSubjectAltNames(serving_pem).value_or({}),
              ::testing::Contains("IP:10.1.2.3"));
}

TEST(EnsurePkiTest, ReissuesServingCertificateWhoseKeyWasReplaced) {
  kelp::testing::ScopedTempDir dir;
  auto names = ServingCertificateNames("0.0.0.0", "", {});
  ASSERT_TRUE(EnsurePki(dir.path() / "tls", names).ok());
  kelp::testing::ScopedTempDir other;
  Result<PkiFiles> other_pki = EnsurePki(other.path() / "tls", names);
  ASSERT_TRUE(other_pki.ok());
  ASSERT_TRUE(WriteFileAtomic(dir.path() / "tls" / "serving.key",
                                  Contents(other_pki->serving_key_path), 0600)
                  .ok());

  Result<PkiFiles> again = EnsurePki(dir.path() / "tls", names);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->serving_cert_issued);
}

TEST(EnsurePkiTest, RejectsNameThatIsNeitherIpNorDns) {
  kelp::testing::ScopedTempDir dir;
  Result<PkiFiles> pki = EnsurePki(dir.path() / "tls", {"bad name,DNS:evil"});
  ASSERT_FALSE(pki.ok());
  EXPECT_EQ(pki.status().code(), StatusCode::kInvalidArgument);
}

TEST(EnsurePkiTest, RefusesToReplaceCaWhoseKeyIsCorrupt) {
  kelp::testing::ScopedTempDir dir;
  auto names = ServingCertificateNames("0.0.0.0", "", {});
  ASSERT_TRUE(EnsurePki(dir.path() / "tls", names).ok());
  std::string ca_pem = Contents(dir.path() / "tls" / "ca.crt");
  ASSERT_TRUE(WriteFileAtomic(dir.path() / "tls" / "ca.key", "garbage", 0600).ok());

  Result<PkiFiles> pki = EnsurePki(dir.path() / "tls", names);
  ASSERT_FALSE(pki.ok());
  EXPECT_EQ(pki.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Contents(dir.path() / "tls" / "ca.crt"), ca_pem);
}

TEST(VerifyCertificateAgainstCaTest, RejectsCertificateFromAnotherCa) {
  kelp::testing::ScopedTempDir a;
  kelp::testing::ScopedTempDir b;
  auto names = ServingCertificateNames("0.0.0.0", "", {});
  Result<PkiFiles> pki_a = EnsurePki(a.path() / "tls", names);
  Result<PkiFiles> pki_b = EnsurePki(b.path() / "tls", names);
  ASSERT_TRUE(pki_a.ok() && pki_b.ok());
  EXPECT_FALSE(
      VerifyCertificateAgainstCa(Contents(pki_a->serving_cert_path), pki_b->ca_cert_pem).ok());
  EXPECT_FALSE(VerifyCertificateAgainstCa("not a certificate", pki_b->ca_cert_pem).ok());
}

}  // namespace
}  // namespace kelp::apiserver
