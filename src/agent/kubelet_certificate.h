// How a node's kubelet server gets its serving certificate: the agent makes an EC P-256 key
// and a certificate signing request locally (the key never leaves the node) and POSTs the CSR
// with its node name and addresses to the API server, authenticated by the agent token:
//   POST /apis/kelp.io/v1/nodes/<node>/kubeletcertificate
//   {"csr":"<PEM>","addresses":["192.168.206.20"]}
//   → {"kind":"KubeletCertificate","certificate":"<leaf + CA PEM>","ca":"<CA PEM>"}
// The answer is issued by the cluster CA (CN system:node:<node>, SANs the node name and the
// addresses, serverAuth only), the CA the API server verifies kubelets against. The same CA
// is what the kubelet server trusts for client certificates (KubeletServerOptions).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "client/api_client.h"
#include "common/status.h"

namespace kelp::agent {

inline constexpr client::Resource kKelpNodes{"kelp.io", "v1", "nodes", false};
inline constexpr std::string_view kKubeletCertificateSubresource = "kubeletcertificate";

struct KeyAndCsr {
  std::string key_pem;  // PKCS#8 PEM
  std::string csr_pem;
};
// A new EC P-256 key and a CSR for it (CN system:node:<node_name>).
Result<KeyAndCsr> NewKeyAndCsr(std::string_view node_name);

struct KubeletCertificate {
  std::string cert_pem;  // chain: the certificate, then the CA
  std::string key_pem;
  std::string ca_pem;  // the cluster CA (trust for client certificates)
};

// Makes a key and CSR and has the API server sign it for `node_name` and `addresses`.
Result<KubeletCertificate> RequestKubeletCertificate(client::ApiClient& api,
                                                     std::string_view node_name,
                                                     const std::vector<std::string>& addresses);

struct KubeletCertificateFiles {
  std::filesystem::path cert_path;  // <dir>/kubelet.crt
  std::filesystem::path key_path;   // <dir>/kubelet.key (0600)
  std::string ca_pem;
};
// RequestKubeletCertificate, written to `dir` (created 0700) for KubeletServerOptions.
Result<KubeletCertificateFiles> WriteKubeletCertificate(const std::filesystem::path& dir,
                                                        const KubeletCertificate& certificate);

}  // namespace kelp::agent
