// Key and CSR generation on OpenSSL 3, and the request to the API server.
#include "agent/kubelet_certificate.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "common/file.h"
#include "common/json.h"
#include "common/openssl_util.h"

namespace kelp::agent {
namespace json = boost::json;

Result<KeyAndCsr> NewKeyAndCsr(std::string_view node_name) {
  using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
  std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>> key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("generate EC P-256 key");
  std::unique_ptr<X509_REQ, OpenSslDeleter<X509_REQ_free>> csr(X509_REQ_new());
  if (!csr) return OpenSslError("X509_REQ_new");
  const std::string common_name = "system:node:" + std::string(node_name);
  X509_NAME* subject = X509_REQ_get_subject_name(csr.get());
  if (X509_REQ_set_version(csr.get(), 0) != 1 ||
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1 ||
      X509_REQ_set_pubkey(csr.get(), key.get()) != 1 ||
      X509_REQ_sign(csr.get(), key.get(), EVP_sha256()) == 0) {
    return OpenSslError("make certificate signing request");
  }
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  BioPtr csr_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || !csr_bio ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1 ||
      PEM_write_bio_X509_REQ(csr_bio.get(), csr.get()) != 1) {
    return OpenSslError("write key and CSR");
  }
  return KeyAndCsr{.key_pem = BioContents(key_bio.get()), .csr_pem = BioContents(csr_bio.get())};
}

Result<KubeletCertificate> RequestKubeletCertificate(client::ApiClient& api,
                                                     std::string_view node_name,
                                                     const std::vector<std::string>& addresses) {
  KELP_ASSIGN_OR_RETURN(KeyAndCsr made, NewKeyAndCsr(node_name));
  json::array address_list;
  for (const std::string& address : addresses) address_list.emplace_back(address);
  json::object request{{"kind", "KubeletCertificateRequest"},
                       {"apiVersion", "kelp.io/v1"},
                       {"csr", made.csr_pem},
                       {"addresses", std::move(address_list)}};
  Result<json::object> answer =
      api.CreateSubresource(kKelpNodes, "", node_name, kKubeletCertificateSubresource, request);
  if (!answer.ok()) return answer.status().WithContext("kubelet serving certificate");
  KubeletCertificate certificate{.key_pem = std::move(made.key_pem)};
  KELP_ASSIGN_OR_RETURN(certificate.cert_pem, GetString(*answer, "certificate"));
  KELP_ASSIGN_OR_RETURN(certificate.ca_pem, GetString(*answer, "ca"));
  return certificate;
}

Result<KubeletCertificateFiles> WriteKubeletCertificate(const std::filesystem::path& dir,
                                                        const KubeletCertificate& certificate) {
  KELP_RETURN_IF_ERROR(CreateDirectories(dir, 0700));
  KubeletCertificateFiles files{.cert_path = dir / "kubelet.crt",
                                .key_path = dir / "kubelet.key",
                                .ca_pem = certificate.ca_pem};
  KELP_RETURN_IF_ERROR(WriteFileAtomic(files.key_path, certificate.key_pem, 0600));
  KELP_RETURN_IF_ERROR(WriteFileAtomic(files.cert_path, certificate.cert_pem, 0644));
  return files;
}

}  // namespace kelp::agent
