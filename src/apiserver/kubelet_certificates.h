// The endpoint node agents get their kubelet serving certificate from (see
// agent/kubelet_certificate.h for the agent's side):
//   POST /apis/kelp.io/v1/nodes/<node>/kubeletcertificate  {"csr":PEM,"addresses":[IP...]}
//   → 201 {"kind":"KubeletCertificate","apiVersion":"kelp.io/v1","certificate":PEM chain,"ca":PEM}
// Like every route it sits behind bearer authentication: only holders of the cluster or the
// agent token get an answer. Not in discovery: it is kelp's own, not a Kubernetes API.
#pragma once

#include <filesystem>

#include "apiserver/router.h"

namespace kelp::apiserver {

// Signs with the CA in `tls_dir` (pki.h SignKubeletServingCertificate).
void AddKubeletCertificateRoutes(Router& router, std::filesystem::path tls_dir);

}  // namespace kelp::apiserver
