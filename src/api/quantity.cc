// Quantity parsing: a signed decimal number followed by a binary suffix (Ki..Ei), a decimal
// suffix (n, u, m, k, M, G, T, P, E) or a decimal exponent (e3, E-2).
#include "api/quantity.h"

#include <cmath>
#include <optional>
#include <string>

namespace kelp::api {
namespace {

Status FormatError() { return InvalidArgumentError(std::string(kQuantityFormatError)); }

// "[+-]digits[.digits]" read as an integer mantissa and a count of fraction digits, so that
// the scaling below divides exactly ("500m" is 500 / 10^3, not 500 * 0.001).
struct Decimal {
  long double mantissa = 0;
  int fraction_digits = 0;
};

std::optional<Decimal> ParseDecimalNumber(std::string_view& text) {
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  Decimal decimal;
  bool saw_digit = false;
  bool saw_point = false;
  while (!text.empty()) {
    const char c = text[0];
    if (c >= '0' && c <= '9') {
      saw_digit = true;
      decimal.mantissa = decimal.mantissa * 10 + (c - '0');
      if (saw_point) ++decimal.fraction_digits;
    } else if (c == '.' && !saw_point) {
      saw_point = true;
    } else {
      break;
    }
    text.remove_prefix(1);
  }
  if (!saw_digit) return std::nullopt;
  if (negative) decimal.mantissa = -decimal.mantissa;
  return decimal;
}

struct Scale {
  int power_of_ten = 0;
  int power_of_two = 0;
};

std::optional<Scale> SuffixScale(std::string_view suffix) {
  struct Suffix {
    std::string_view text;
    Scale scale;
  };
  static constexpr Suffix kSuffixes[] = {
      {"", {0, 0}},   {"n", {-9, 0}}, {"u", {-6, 0}}, {"m", {-3, 0}},  {"k", {3, 0}},
      {"M", {6, 0}},  {"G", {9, 0}},  {"T", {12, 0}}, {"P", {15, 0}},  {"E", {18, 0}},
      {"Ki", {0, 10}}, {"Mi", {0, 20}}, {"Gi", {0, 30}}, {"Ti", {0, 40}}, {"Pi", {0, 50}},
      {"Ei", {0, 60}},
  };
  for (const Suffix& s : kSuffixes) {
    if (s.text == suffix) return s.scale;
  }
  return std::nullopt;
}

// "e3", "E-2": a decimal exponent of at most three digits.
std::optional<Scale> ExponentScale(std::string_view suffix) {
  if (suffix.size() < 2 || (suffix[0] != 'e' && suffix[0] != 'E')) return std::nullopt;
  suffix.remove_prefix(1);
  bool negative = false;
  if (suffix[0] == '+' || suffix[0] == '-') {
    negative = suffix[0] == '-';
    suffix.remove_prefix(1);
  }
  if (suffix.empty() || suffix.size() > 3) return std::nullopt;
  int exponent = 0;
  for (char c : suffix) {
    if (c < '0' || c > '9') return std::nullopt;
    exponent = exponent * 10 + (c - '0');
  }
  return Scale{negative ? -exponent : exponent, 0};
}

long double PowerOfTen(int exponent) {
  long double result = 1;
  for (int i = 0; i < exponent; ++i) result *= 10;
  return result;
}

}  // namespace

Result<long double> ParseQuantity(std::string_view text) {
  const std::optional<Decimal> number = ParseDecimalNumber(text);
  if (!number) return FormatError();
  std::optional<Scale> scale = SuffixScale(text);
  if (!scale) scale = ExponentScale(text);
  if (!scale) return FormatError();
  const int power_of_ten = scale->power_of_ten - number->fraction_digits;
  const long double scaled = power_of_ten >= 0 ? number->mantissa * PowerOfTen(power_of_ten)
                                               : number->mantissa / PowerOfTen(-power_of_ten);
  return std::ldexp(scaled, scale->power_of_two);
}

}  // namespace kelp::api
