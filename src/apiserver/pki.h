// The apiserver's own small PKI under <data-dir>/tls/: a self-signed cluster CA and the HTTPS
// serving certificate it signs. Created on first start, reused afterwards; the serving
// certificate is re-issued only when its subject alternative names change, it no longer
// matches the CA or its key, or it nears expiry. Keys are EC P-256, written 0600. serving.crt
// holds the chain the server presents: the serving certificate, then the CA certificate.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kelp::apiserver {

struct PkiFiles {
  std::filesystem::path ca_cert_path;
  std::filesystem::path serving_cert_path;
  std::filesystem::path serving_key_path;
  std::string ca_cert_pem;
  bool serving_cert_issued = false;  // true when this call (re)issued the serving certificate
};

// Names the serving certificate must carry: localhost, kubernetes, kubernetes.default,
// kubernetes.default.svc, 127.0.0.1, ::1, the bind address unless it is a wildcard, the
// advertise address if any, and every extra name. Each is an IP literal or a DNS name.
std::vector<std::string> ServingCertificateNames(std::string_view bind_address,
                                                 std::string_view advertise_address,
                                                 const std::vector<std::string>& extra_names);

// Creates or reuses the CA and the serving certificate in `tls_dir` for `names`
// (IP literals become IP SANs, everything else DNS SANs). InvalidArgument for a name that is
// neither a valid IP nor a valid DNS name, or for an existing CA whose key is unusable.
Result<PkiFiles> EnsurePki(const std::filesystem::path& tls_dir,
                           const std::vector<std::string>& names);

// The certificate's SANs as sorted, de-duplicated "DNS:<name>" / "IP:<address>" strings.
Result<std::vector<std::string>> CertificateSubjectAltNames(std::string_view cert_pem);

// The API server's client identity towards kubelets (logs, exec, stats): kubelet-client.crt
// and .key in `tls_dir`, CN "kube-apiserver-kubelet-client", extended key usage clientAuth only,
// signed by the CA there. Created once, re-issued when it no longer verifies or nears expiry.
struct KubeletClientFiles {
  std::filesystem::path cert_path;
  std::filesystem::path key_path;
  std::string cert_pem;
  std::string key_pem;
};
Result<KubeletClientFiles> EnsureKubeletClientCertificate(const std::filesystem::path& tls_dir);

// A node's kubelet serving certificate, signed by the CA in `tls_dir`. The CSR (PEM) is only
// proof that the caller holds the key: its signature must verify, and its subject and
// extensions are ignored. The certificate says CN "system:node:<node_name>", SANs DNS
// <node_name> and each of `addresses` (IP literals), serverAuth only, valid one year. Returns
// the chain PEM (the certificate, then the CA). InvalidArgument for a bad CSR, node name or
// address.
Result<std::string> SignKubeletServingCertificate(const std::filesystem::path& tls_dir,
                                                  std::string_view csr_pem,
                                                  std::string_view node_name,
                                                  const std::vector<std::string>& addresses);

// OK if `cert_pem` chains to `ca_pem` and is currently valid.
Status VerifyCertificateAgainstCa(std::string_view cert_pem, std::string_view ca_pem);

}  // namespace kelp::apiserver
