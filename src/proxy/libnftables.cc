// LibNftables: the Nftables seam on libnftables (see libnftables.h).
#include "proxy/libnftables.h"

#include <nftables/libnftables.h>

namespace kelp::proxy {

namespace {

// nft reports every error of a script; a broken 10 MB transaction must not make a 10 MB log line.
constexpr size_t kMaxErrorText = 4096;

Status ErrorFrom(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.size() > kMaxErrorText) text = text.substr(0, kMaxErrorText) + " [...]";
  if (text.empty()) text = "nft failed without a message";
  // nft prints the kernel's errno text; "No such file or directory" is ENOENT.
  if (text.find("No such file or directory") != std::string::npos) {
    return NotFoundError("nft: " + text);
  }
  if (text.find("Could not process rule") != std::string::npos) return IoError("nft: " + text);
  return InvalidArgumentError("nft: " + text);
}

}  // namespace

Result<std::unique_ptr<LibNftables>> LibNftables::Create() {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr) return IoError("nft_ctx_new failed");
  if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
    nft_ctx_free(ctx);
    return IoError("nft: cannot buffer output");
  }
  return std::unique_ptr<LibNftables>(new LibNftables(ctx));
}

LibNftables::~LibNftables() { nft_ctx_free(ctx_); }

Result<std::string> LibNftables::Run(std::string_view commands) {
  const std::string buffer(commands);  // libnftables wants a NUL-terminated string
  std::lock_guard lock(mutex_);
  const int rc = nft_run_cmd_from_buffer(ctx_, buffer.c_str());
  // Reading a buffer also resets it for the next command.
  std::string output = nft_ctx_get_output_buffer(ctx_);
  std::string error = nft_ctx_get_error_buffer(ctx_);
  if (rc != 0) return ErrorFrom(std::move(error));
  return output;
}

Status LibNftables::Apply(std::string_view transaction) { return Run(transaction).status(); }

Result<std::string> LibNftables::List(std::string_view command) { return Run(command); }

}  // namespace kelp::proxy
