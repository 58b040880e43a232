// Errors as values: Status carries a code and a message; Result<T> is a T or a non-OK Status.
// Every fallible function in kelp returns one of these; exceptions never cross a component
// boundary. Codes mirror the HTTP/Kubernetes outcomes they will become (NotFound → 404,
// AlreadyExists/Conflict → 409, Expired → 410, InvalidArgument → 400/422, ...).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kelp {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // the caller's input is malformed
  kNotFound,          // the named thing does not exist
  kAlreadyExists,     // create of something that exists
  kConflict,          // a precondition (e.g. expected revision) does not hold
  kExpired,           // a revision older than the compacted one was asked for
  kUnavailable,       // try again later (shutting down, not ready)
  kDeadlineExceeded,  // a timeout passed
  kCancelled,         // the operation was cancelled by its owner
  kPermissionDenied,  // not allowed
  kUnimplemented,     // not supported
  kIoError,           // the OS or a file failed
  kInternal,          // a bug or an invariant broken in kelp itself
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NotFound: key /a not found", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is "context: message" (code unchanged).
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

Status InvalidArgumentError(std::string message);
Status NotFoundError(std::string message);
Status AlreadyExistsError(std::string message);
Status ConflictError(std::string message);
Status ExpiredError(std::string message);
Status UnavailableError(std::string message);
Status DeadlineExceededError(std::string message);
Status CancelledError(std::string message);
Status PermissionDeniedError(std::string message);
Status UnimplementedError(std::string message);
Status IoError(std::string message);
// IoError with strerror(errnum) appended: "open /x: No such file or directory".
Status ErrnoError(std::string_view what, int errnum);
// Like ErrnoError, but the code follows errno so callers can branch on it: ENOENT → NotFound,
// EEXIST → AlreadyExists, EACCES/EPERM → PermissionDenied, ETIMEDOUT → DeadlineExceeded,
// anything else → IoError.
Status ErrnoStatus(std::string_view what, int errnum);
Status InternalError(std::string message);

// Result<T> holds either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // The error; OK when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace kelp

#define KELP_CONCAT_INNER_(a, b) a##b
#define KELP_CONCAT_(a, b) KELP_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function if `expr` (a Status) is not OK.
#define KELP_RETURN_IF_ERROR(expr)          \
  do {                                      \
    ::kelp::Status kelp_status_ = (expr);   \
    if (!kelp_status_.ok()) return kelp_status_; \
  } while (0)

// KELP_ASSIGN_OR_RETURN(auto x, FunctionReturningResult()); returns the error if any.
#define KELP_ASSIGN_OR_RETURN(lhs, expr) \
  KELP_ASSIGN_OR_RETURN_IMPL_(KELP_CONCAT_(kelp_result_, __LINE__), lhs, expr)
#define KELP_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
