// Small helpers shared by kelp's OpenSSL code (the apiserver's PKI, the agent's key and CSR):
// unique_ptr deleters for OpenSSL objects, the library's last error as a Status, and the
// contents of a memory BIO. Library kelp_openssl (OpenSSL::Crypto only).
#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kelp {

// Frees an OpenSSL object with its own free function: std::unique_ptr<X509,
// OpenSslDeleter<X509_free>>.
template <auto FreeFunction>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* object) const {
    FreeFunction(object);
  }
};

// Internal error "<what>: <reason of OpenSSL's oldest queued error>" (just `what` when the
// queue is empty); clears the queue, so a later call does not report a stale reason.
Status OpenSslError(std::string_view what);

// What a memory BIO holds.
std::string BioContents(BIO* bio);

}  // namespace kelp
