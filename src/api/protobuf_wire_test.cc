// Tests of the bounds-checked protobuf wire reader: varints at their limits, every wire type,
// and the malformed inputs it must reject without reading past the buffer.
#include "api/protobuf_wire.h"

#include <gtest/gtest.h>

#include <string>

namespace kelp::api {
namespace {

Result<uint64_t> ReadWholeVarint(std::string bytes) {
  std::string_view input(bytes);
  Result<uint64_t> value = ReadVarint(input);
  if (value.ok()) {
    EXPECT_TRUE(input.empty()) << "varint left bytes unread";
  }
  return value;
}

TEST(ReadVarint, DecodesOneAndTwoByteValues) {
  EXPECT_EQ(*ReadWholeVarint(std::string(1, '\x00')), 0u);
  EXPECT_EQ(*ReadWholeVarint("\x7f"), 127u);
  EXPECT_EQ(*ReadWholeVarint("\xac\x02"), 300u);
}

TEST(ReadVarint, DecodesTheLargestTenByteValue) {
  EXPECT_EQ(*ReadWholeVarint("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"), UINT64_MAX);
}

TEST(ReadVarint, AdvancesOnlyPastTheVarint) {
  std::string_view input("\x96\x01rest");
  EXPECT_EQ(*ReadVarint(input), 150u);
  EXPECT_EQ(input, "rest");
}

TEST(ReadVarint, RejectsOverflowPastSixtyFourBits) {
  Result<uint64_t> value = ReadWholeVarint("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02");
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().code(), StatusCode::kInvalidArgument);
}

TEST(ReadVarint, RejectsMoreThanTenBytes) {
  EXPECT_FALSE(ReadWholeVarint(std::string(11, '\x80') + '\x01').ok());
}

TEST(ReadVarint, RejectsTruncatedAndEmptyInput) {
  EXPECT_FALSE(ReadWholeVarint("").ok());
  EXPECT_FALSE(ReadWholeVarint("\x80").ok());
  EXPECT_FALSE(ReadWholeVarint("\xff\xff").ok());
}

TEST(WireReader, ReadsEveryScalarWireTypeAndLengthDelimitedPayloads) {
  const std::string message =
      std::string("\x08\x96\x01", 3) +                     // 1: varint 150
      std::string("\x11\x01\x02\x03\x04\x05\x06\x07\x08", 9) +  // 2: fixed64
      std::string("\x1d\x01\x00\x00\x80", 5) +             // 3: fixed32
      std::string("\x22\x03" "abc", 5);                    // 4: "abc"
  WireReader reader(message);

  WireField field = *reader.Next();
  EXPECT_EQ(field.number, 1u);
  EXPECT_EQ(field.type, WireType::kVarint);
  EXPECT_EQ(field.scalar, 150u);

  field = *reader.Next();
  EXPECT_EQ(field.number, 2u);
  EXPECT_EQ(field.type, WireType::kFixed64);
  EXPECT_EQ(field.scalar, 0x0807060504030201u);

  field = *reader.Next();
  EXPECT_EQ(field.number, 3u);
  EXPECT_EQ(field.type, WireType::kFixed32);
  EXPECT_EQ(field.scalar, 0x80000001u);

  field = *reader.Next();
  EXPECT_EQ(field.number, 4u);
  EXPECT_EQ(field.type, WireType::kLengthDelimited);
  EXPECT_EQ(field.payload, "abc");
  EXPECT_TRUE(reader.AtEnd());
}

TEST(WireReader, ReadsLargeFieldNumbers) {
  // Field 536870911 (2^29 - 1), varint: tag is (number << 3) | 0.
  const std::string message("\xf8\xff\xff\xff\x0f\x01", 6);
  WireReader reader(message);
  WireField field = *reader.Next();
  EXPECT_EQ(field.number, kMaxFieldNumber);
  EXPECT_EQ(field.scalar, 1u);
}

Status FirstFieldStatus(std::string message) {
  WireReader reader(message);
  return reader.Next().status();
}

TEST(WireReader, RejectsLengthPastTheEnd) {
  Status status = FirstFieldStatus(std::string("\x0a\x05" "abc", 5));
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "field 1: length 5 exceeds the 3 bytes left");
  // A length near 2^64 must not wrap around.
  EXPECT_FALSE(FirstFieldStatus("\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01").ok());
}

TEST(WireReader, RejectsGroupsAndReservedWireTypes) {
  EXPECT_EQ(FirstFieldStatus("\x0b").message(), "field 1: protobuf groups are not supported");
  EXPECT_EQ(FirstFieldStatus("\x0c").message(), "field 1: protobuf groups are not supported");
  EXPECT_EQ(FirstFieldStatus("\x0e").message(), "field 1: invalid wire type 6");
  EXPECT_EQ(FirstFieldStatus("\x0f").message(), "field 1: invalid wire type 7");
}

TEST(WireReader, RejectsFieldNumberZeroAndTooLarge) {
  EXPECT_EQ(FirstFieldStatus(std::string("\x00\x01", 2)).message(), "invalid field number 0");
  EXPECT_FALSE(FirstFieldStatus("\x80\x80\x80\x80\x20\x01").ok());  // number 2^29
}

TEST(WireReader, RejectsTruncatedValues) {
  EXPECT_EQ(FirstFieldStatus("\x08").message(), "truncated varint");
  EXPECT_EQ(FirstFieldStatus("\x09\x01\x02").message(), "truncated fixed64 value");
  EXPECT_EQ(FirstFieldStatus("\x0d\x01").message(), "truncated fixed32 value");
  EXPECT_EQ(FirstFieldStatus("\x0a").message(), "truncated varint");
}

}  // namespace
}  // namespace kelp::api
