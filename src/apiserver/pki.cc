// Certificate authority and serving certificate management on OpenSSL 3: EVP_PKEY keys,
// X509 certificates with v3 extensions, every OpenSSL object owned by a unique_ptr.
#include "apiserver/pki.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <memory>
#include <optional>
#include <set>

#include "common/file.h"
#include "common/openssl_util.h"

namespace kelp::apiserver {
namespace {

using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpenSslDeleter<X509_STORE_CTX_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslDeleter<GENERAL_NAMES_free>>;

constexpr int kCaValidityDays = 3650;
constexpr int kServingValidityDays = 365;
// A serving certificate closer than this to expiry is re-issued at start-up.
constexpr long kServingRenewBeforeSeconds = 30L * 24 * 3600;
constexpr mode_t kPrivateKeyMode = 0600;
constexpr mode_t kCertificateMode = 0644;

// Canonical text of an IP literal ("::1", "10.0.0.1"), or nullopt if `text` is not one.
std::optional<std::string> CanonicalIp(const std::string& text) {
  unsigned char bytes[16];
  char canonical[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) {
    return std::string(inet_ntop(AF_INET, bytes, canonical, sizeof canonical));
  }
  if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) {
    return std::string(inet_ntop(AF_INET6, bytes, canonical, sizeof canonical));
  }
  return std::nullopt;
}

bool IsValidDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '*';
  });
}

// "IP:<canonical>" or "DNS:<lower-case name>"; InvalidArgument for anything else.
Result<std::string> SubjectAltNameEntry(const std::string& name) {
  if (auto ip = CanonicalIp(name)) return "IP:" + *ip;
  if (!IsValidDnsName(name)) {
    return InvalidArgumentError("TLS SAN \"" + name + "\" is neither an IP address nor a DNS name");
  }
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return "DNS:" + lower;
}

Result<X509Ptr> ParseCertificate(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpenSslError("BIO_new_mem_buf");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return InvalidArgumentError("not a PEM certificate");
  return cert;
}

Result<EvpPkeyPtr> ParsePrivateKey(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpenSslError("BIO_new_mem_buf");
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return InvalidArgumentError("not a PEM private key");
  return key;
}

Result<std::string> CertificatePem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return OpenSslError("PEM_write_bio_X509");
  return BioContents(bio.get());
}

Result<std::string> PrivateKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("PEM_write_bio_PrivateKey");
  }
  return BioContents(bio.get());
}

Result<EvpPkeyPtr> GenerateKey() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("generate EC P-256 key");
  return key;
}

struct CertificateRequest {
  std::string common_name;
  int validity_days = 0;
  // (extension NID, OpenSSL v3 config value), added in order: SKI must precede AKI.
  std::vector<std::pair<int, std::string>> extensions;
};

// Issues a certificate for `subject_key`, signed by `issuer`/`issuer_key`, or self-signed when
// `issuer` is null.
Result<X509Ptr> IssueCertificate(const CertificateRequest& request, EVP_PKEY* subject_key,
                                 X509* issuer, EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  BignumPtr serial(BN_new());
  if (!cert || !serial) return OpenSslError("allocate certificate");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), request.validity_days, 0, nullptr) ==
          nullptr) {
    return OpenSslError("set certificate serial and validity");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(request.common_name.c_str()),
                                 -1, -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : subject) != 1 ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return OpenSslError("set certificate names and key");
  }
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : request.extensions) {
    X509ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str()));
    if (!extension || X509_add_ext(cert.get(), extension.get(), -1) != 1) {
      return OpenSslError(std::string("add extension ") + OBJ_nid2sn(nid) + "=" + value);
    }
  }
  if (X509_sign(cert.get(), issuer ? issuer_key : subject_key, EVP_sha256()) == 0) {
    return OpenSslError("sign certificate");
  }
  return cert;
}

struct Authority {
  X509Ptr cert;
  EvpPkeyPtr key;
  std::string cert_pem;
};

// Loads the CA, or creates it if its certificate does not exist yet. The key is written
// before the certificate, so a crash in between only leaves a key that is replaced next time.
Result<Authority> LoadOrCreateAuthority(const std::filesystem::path& cert_path,
                                        const std::filesystem::path& key_path) {
  Result<std::string> cert_pem = ReadFile(cert_path);
  if (cert_pem.ok()) {
    const std::string unusable = "CA in " + cert_path.parent_path().string() +
                                 " is unusable (remove the directory to create a new CA): ";
    KELP_ASSIGN_OR_RETURN(std::string key_pem, ReadFile(key_path));
    Result<X509Ptr> cert = ParseCertificate(*cert_pem);
    if (!cert.ok()) return InvalidArgumentError(unusable + cert_path.string() + " is not a certificate");
    Result<EvpPkeyPtr> key = ParsePrivateKey(key_pem);
    if (!key.ok()) return InvalidArgumentError(unusable + key_path.string() + " is not a key");
    if (X509_check_private_key(cert->get(), key->get()) != 1) {
      ERR_clear_error();
      return InvalidArgumentError(unusable + "key does not match certificate");
    }
    return Authority{std::move(*cert), std::move(*key), std::move(*cert_pem)};
  }
  if (cert_pem.status().code() != StatusCode::kNotFound) return cert_pem.status();

  KELP_ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateKey());
  CertificateRequest request{
      .common_name = "kelp-ca",
      .validity_days = kCaValidityDays,
      .extensions = {{NID_basic_constraints, "critical,CA:TRUE"},
                     {NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign"},
                     {NID_subject_key_identifier, "hash"}}};
  KELP_ASSIGN_OR_RETURN(X509Ptr cert, IssueCertificate(request, key.get(), nullptr, nullptr));
  KELP_ASSIGN_OR_RETURN(std::string key_pem, PrivateKeyPem(key.get()));
  KELP_ASSIGN_OR_RETURN(std::string new_cert_pem, CertificatePem(cert.get()));
  KELP_RETURN_IF_ERROR(WriteFileAtomic(key_path, key_pem, kPrivateKeyMode));
  KELP_RETURN_IF_ERROR(WriteFileAtomic(cert_path, new_cert_pem, kCertificateMode));
  return Authority{std::move(cert), std::move(key), std::move(new_cert_pem)};
}

// Whether the existing serving certificate and key can be kept for `wanted_names`.
bool ServingCertificateIsCurrent(const std::filesystem::path& cert_path,
                                 const std::filesystem::path& key_path, const Authority& ca,
                                 const std::vector<std::string>& wanted_names) {
  Result<std::string> cert_pem = ReadFile(cert_path);
  Result<std::string> key_pem = ReadFile(key_path);
  if (!cert_pem.ok() || !key_pem.ok()) return false;
  Result<X509Ptr> cert = ParseCertificate(*cert_pem);
  Result<EvpPkeyPtr> key = ParsePrivateKey(*key_pem);
  if (!cert.ok() || !key.ok()) return false;
  bool key_matches = X509_check_private_key(cert->get(), key->get()) == 1;
  ERR_clear_error();
  if (!key_matches || !VerifyCertificateAgainstCa(*cert_pem, ca.cert_pem).ok()) return false;
  // Files from before the chain was presented hold the leaf alone.
  if (!cert_pem->ends_with(ca.cert_pem)) return false;
  time_t renew_at = std::time(nullptr) + kServingRenewBeforeSeconds;
  if (X509_cmp_time(X509_get0_notAfter(cert->get()), &renew_at) <= 0) return false;
  Result<std::vector<std::string>> names = CertificateSubjectAltNames(*cert_pem);
  return names.ok() && *names == wanted_names;
}

std::string JoinWithCommas(const std::vector<std::string>& items) {
  std::string joined;
  for (const std::string& item : items) {
    if (!joined.empty()) joined += ',';
    joined += item;
  }
  return joined;
}

}  // namespace

std::vector<std::string> ServingCertificateNames(std::string_view bind_address,
                                                 std::string_view advertise_address,
                                                 const std::vector<std::string>& extra_names) {
  std::vector<std::string> names = {"localhost", "kubernetes", "kubernetes.default",
                                    "kubernetes.default.svc", "127.0.0.1", "::1"};
  if (!bind_address.empty() && bind_address != "0.0.0.0" && bind_address != "::") {
    names.emplace_back(bind_address);
  }
  if (!advertise_address.empty()) names.emplace_back(advertise_address);
  names.insert(names.end(), extra_names.begin(), extra_names.end());
  return names;
}

Result<PkiFiles> EnsurePki(const std::filesystem::path& tls_dir,
                           const std::vector<std::string>& names) {
  std::set<std::string> unique_entries;
  for (const std::string& name : names) {
    KELP_ASSIGN_OR_RETURN(std::string entry, SubjectAltNameEntry(name));
    unique_entries.insert(std::move(entry));
  }
  const std::vector<std::string> wanted(unique_entries.begin(), unique_entries.end());

  KELP_RETURN_IF_ERROR(CreateDirectories(tls_dir, 0700));
  PkiFiles files{.ca_cert_path = tls_dir / "ca.crt",
                 .serving_cert_path = tls_dir / "serving.crt",
                 .serving_key_path = tls_dir / "serving.key"};
  KELP_ASSIGN_OR_RETURN(Authority ca, LoadOrCreateAuthority(files.ca_cert_path, tls_dir / "ca.key"));
  files.ca_cert_pem = ca.cert_pem;
  if (ServingCertificateIsCurrent(files.serving_cert_path, files.serving_key_path, ca, wanted)) {
    return files;
  }

  KELP_ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateKey());
  CertificateRequest request{
      .common_name = "kube-apiserver",
      .validity_days = kServingValidityDays,
      .extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                     {NID_key_usage, "critical,digitalSignature"},
                     {NID_ext_key_usage, "serverAuth"},
                     {NID_subject_key_identifier, "hash"},
                     {NID_authority_key_identifier, "keyid:always"},
                     {NID_subject_alt_name, JoinWithCommas(wanted)}}};
  KELP_ASSIGN_OR_RETURN(X509Ptr cert, IssueCertificate(request, key.get(), ca.cert.get(),
                                                       ca.key.get()));
  KELP_ASSIGN_OR_RETURN(std::string key_pem, PrivateKeyPem(key.get()));
  KELP_ASSIGN_OR_RETURN(std::string cert_pem, CertificatePem(cert.get()));
  KELP_RETURN_IF_ERROR(WriteFileAtomic(files.serving_key_path, key_pem, kPrivateKeyMode));
  // The chain (leaf, then the CA) is what the server presents, so a client that pins the CA by
  // its hash (ClientConfig::ca_sha256) finds it in the handshake.
  KELP_RETURN_IF_ERROR(
      WriteFileAtomic(files.serving_cert_path, cert_pem + ca.cert_pem, kCertificateMode));
  files.serving_cert_issued = true;
  return files;
}

Result<KubeletClientFiles> EnsureKubeletClientCertificate(const std::filesystem::path& tls_dir) {
  KELP_RETURN_IF_ERROR(CreateDirectories(tls_dir, 0700));
  KubeletClientFiles files{.cert_path = tls_dir / "kubelet-client.crt",
                           .key_path = tls_dir / "kubelet-client.key"};
  KELP_ASSIGN_OR_RETURN(Authority ca,
                        LoadOrCreateAuthority(tls_dir / "ca.crt", tls_dir / "ca.key"));
  Result<std::string> cert_pem = ReadFile(files.cert_path);
  Result<std::string> key_pem = ReadFile(files.key_path);
  if (cert_pem.ok() && key_pem.ok()) {
    Result<X509Ptr> cert = ParseCertificate(*cert_pem);
    Result<EvpPkeyPtr> key = ParsePrivateKey(*key_pem);
    time_t renew_at = std::time(nullptr) + kServingRenewBeforeSeconds;
    if (cert.ok() && key.ok() && X509_check_private_key(cert->get(), key->get()) == 1 &&
        VerifyCertificateAgainstCa(*cert_pem, ca.cert_pem).ok() &&
        X509_cmp_time(X509_get0_notAfter(cert->get()), &renew_at) > 0) {
      files.cert_pem = std::move(*cert_pem);
      files.key_pem = std::move(*key_pem);
      return files;
    }
    ERR_clear_error();
  }
  KELP_ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateKey());
  CertificateRequest request{
      .common_name = "kube-apiserver-kubelet-client",
      .validity_days = kServingValidityDays,
      .extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                     {NID_key_usage, "critical,digitalSignature"},
                     {NID_ext_key_usage, "clientAuth"},
                     {NID_subject_key_identifier, "hash"},
                     {NID_authority_key_identifier, "keyid:always"}}};
  KELP_ASSIGN_OR_RETURN(X509Ptr cert,
                        IssueCertificate(request, key.get(), ca.cert.get(), ca.key.get()));
  KELP_ASSIGN_OR_RETURN(files.key_pem, PrivateKeyPem(key.get()));
  KELP_ASSIGN_OR_RETURN(files.cert_pem, CertificatePem(cert.get()));
  KELP_RETURN_IF_ERROR(WriteFileAtomic(files.key_path, files.key_pem, kPrivateKeyMode));
  KELP_RETURN_IF_ERROR(WriteFileAtomic(files.cert_path, files.cert_pem, kCertificateMode));
  return files;
}

Result<std::string> SignKubeletServingCertificate(const std::filesystem::path& tls_dir,
                                                  std::string_view csr_pem,
                                                  std::string_view node_name,
                                                  const std::vector<std::string>& addresses) {
  const std::string node(node_name);
  if (!IsValidDnsName(node) || node.find('*') != std::string::npos) {
    return InvalidArgumentError("node name \"" + node + "\" is not a valid DNS name");
  }
  std::vector<std::string> sans = {"DNS:" + node};
  for (const std::string& address : addresses) {
    std::optional<std::string> ip = CanonicalIp(address);
    if (!ip) return InvalidArgumentError("address \"" + address + "\" is not an IP address");
    sans.push_back("IP:" + *ip);
  }
  BioPtr bio(BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size())));
  if (!bio) return OpenSslError("BIO_new_mem_buf");
  std::unique_ptr<X509_REQ, OpenSslDeleter<X509_REQ_free>> csr(
      PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!csr) {
    ERR_clear_error();
    return InvalidArgumentError("not a PEM certificate signing request");
  }
  EVP_PKEY* public_key = X509_REQ_get0_pubkey(csr.get());
  if (public_key == nullptr || X509_REQ_verify(csr.get(), public_key) != 1) {
    ERR_clear_error();
    return InvalidArgumentError("the certificate signing request's signature does not verify");
  }
  KELP_ASSIGN_OR_RETURN(Authority ca,
                        LoadOrCreateAuthority(tls_dir / "ca.crt", tls_dir / "ca.key"));
  CertificateRequest request{
      .common_name = "system:node:" + node,
      .validity_days = kServingValidityDays,
      .extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                     {NID_key_usage, "critical,digitalSignature"},
                     {NID_ext_key_usage, "serverAuth"},
                     {NID_subject_key_identifier, "hash"},
                     {NID_authority_key_identifier, "keyid:always"},
                     {NID_subject_alt_name, JoinWithCommas(sans)}}};
  KELP_ASSIGN_OR_RETURN(X509Ptr cert,
                        IssueCertificate(request, public_key, ca.cert.get(), ca.key.get()));
  KELP_ASSIGN_OR_RETURN(std::string cert_pem, CertificatePem(cert.get()));
  return cert_pem + ca.cert_pem;
}

Result<std::vector<std::string>> CertificateSubjectAltNames(std::string_view cert_pem) {
  KELP_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertificate(cert_pem));
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  std::set<std::string> entries;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = name->d.dNSName;
      entries.insert("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                          static_cast<size_t>(ASN1_STRING_length(dns))));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      int length = ASN1_STRING_length(ip);
      int family = length == 4 ? AF_INET : length == 16 ? AF_INET6 : AF_UNSPEC;
      char text[INET6_ADDRSTRLEN];
      if (family == AF_UNSPEC ||
          inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof text) == nullptr) {
        return InvalidArgumentError("certificate has a malformed IP SAN");
      }
      entries.insert(std::string("IP:") + text);
    }
  }
  return std::vector<std::string>(entries.begin(), entries.end());
}

Status VerifyCertificateAgainstCa(std::string_view cert_pem, std::string_view ca_pem) {
  KELP_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertificate(cert_pem));
  KELP_ASSIGN_OR_RETURN(X509Ptr ca, ParseCertificate(ca_pem));
  X509StorePtr store(X509_STORE_new());
  X509StoreCtxPtr context(X509_STORE_CTX_new());
  if (!store || !context || X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
      X509_STORE_CTX_init(context.get(), store.get(), cert.get(), nullptr) != 1) {
    return OpenSslError("set up certificate verification");
  }
  if (X509_verify_cert(context.get()) != 1) {
    int error = X509_STORE_CTX_get_error(context.get());
    ERR_clear_error();
    return PermissionDeniedError(std::string("certificate does not verify against the CA: ") +
                                 X509_verify_cert_error_string(error));
  }
  return Status::Ok();
}

}  // namespace kelp::apiserver
