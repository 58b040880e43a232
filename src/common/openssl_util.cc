// OpenSSL helpers (see openssl_util.h): the error queue as a Status, a memory BIO's contents.
#include "common/openssl_util.h"

#include <openssl/bio.h>
#include <openssl/err.h>

namespace kelp {

Status OpenSslError(std::string_view what) {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  std::string message(what);
  if (code != 0) {
    char reason[256];
    ERR_error_string_n(code, reason, sizeof reason);
    message += ": ";
    message += reason;
  }
  return InternalError(std::move(message));
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  if (size <= 0 || data == nullptr) return "";
  return std::string(data, static_cast<size_t>(size));
}

}  // namespace kelp
