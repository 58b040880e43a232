#include "common/status.h"

#include <cerrno>
#include <memory>

#include <gtest/gtest.h>

namespace kelp {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, ErrorCarriesCodeAndMessage) {
  Status s = NotFoundError("key /a not found");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "NotFound: key /a not found");
  EXPECT_EQ(s.WithContext("get").message(), "get: key /a not found");
  EXPECT_EQ(s.WithContext("get").code(), StatusCode::kNotFound);
}

TEST(StatusTest, ErrnoErrorNamesTheSystemError) {
  Status s = ErrnoError("open /x", ENOENT);
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_EQ(s.message(), "open /x: No such file or directory");
}

TEST(StatusTest, ErrnoStatusPicksTheCodeFromErrno) {
  EXPECT_EQ(ErrnoStatus("open /x", ENOENT),
            NotFoundError("open /x: No such file or directory"));
  EXPECT_EQ(ErrnoStatus("mkdir /x", EEXIST).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrnoStatus("open /x", EACCES).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoStatus("kill 1", EPERM).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoStatus("connect", ETIMEDOUT).code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(ErrnoStatus("write /x", EIO), ErrnoError("write /x", EIO));
}

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  KELP_ASSIGN_OR_RETURN(int half, Half(x));
  KELP_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckEven(int x) {
  KELP_RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(ResultTest, HoldsValueOrError) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Quarter(6).value_or(-1), -1);
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_FALSE(CheckEven(3).ok());
}

TEST(ResultTest, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

}  // namespace
}  // namespace kelp
