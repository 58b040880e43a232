// Label selector lexer/parser (the grammar and messages of k8s.io/apimachinery/pkg/labels),
// LabelSelector objects, and field selectors with per-resource selectable fields.
#include "api/selectors.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <charconv>
#include <cstdint>
#include <optional>
#include <utility>

#include "api/validation.h"
#include "common/json.h"

namespace kelp::api {
namespace {

// ---------------------------------------------------------------------------------------------
// Label selector tokens.

enum class Token {
  kError,
  kEndOfString,
  kClosedPar,
  kComma,
  kDoesNotExist,  // "!"
  kDoubleEquals,
  kEquals,
  kGreaterThan,
  kIdentifier,
  kIn,
  kLessThan,
  kNotEquals,
  kNotIn,
  kOpenPar,
};

struct ScannedItem {
  Token token;
  std::string literal;
};

std::optional<Token> LiteralToken(std::string_view text) {
  static constexpr std::pair<std::string_view, Token> kLiterals[] = {
      {")", Token::kClosedPar}, {",", Token::kComma},       {"!", Token::kDoesNotExist},
      {"==", Token::kDoubleEquals}, {"=", Token::kEquals}, {">", Token::kGreaterThan},
      {"in", Token::kIn},       {"<", Token::kLessThan},    {"!=", Token::kNotEquals},
      {"notin", Token::kNotIn}, {"(", Token::kOpenPar},
  };
  for (const auto& [literal, token] : kLiterals) {
    if (literal == text) return token;
  }
  return std::nullopt;
}

bool IsWhitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool IsSpecialSymbol(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

// Splits a selector into tokens the way Kubernetes' lexer does: operators are the longest
// known run of special symbols, everything else up to a special symbol or blank is an
// identifier (or the keywords in/notin).
class Lexer {
 public:
  // Kubernetes' lexer treats a NUL byte as the end of the input.
  explicit Lexer(std::string_view text) : text_(text.substr(0, text.find('\0'))) {}

  std::vector<ScannedItem> ScanAll() {
    std::vector<ScannedItem> items;
    while (true) {
      items.push_back(Next());
      if (items.back().token == Token::kEndOfString) return items;
    }
  }

 private:
  ScannedItem Next() {
    while (pos_ < text_.size() && IsWhitespace(text_[pos_])) ++pos_;
    if (pos_ == text_.size()) return {Token::kEndOfString, ""};
    return IsSpecialSymbol(text_[pos_]) ? ScanSpecialSymbol() : ScanIdentifierOrKeyword();
  }

  ScannedItem ScanIdentifierOrKeyword() {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && !IsSpecialSymbol(text_[pos_]) && !IsWhitespace(text_[pos_])) {
      ++pos_;
    }
    std::string literal(text_.substr(start, pos_ - start));
    return {LiteralToken(literal).value_or(Token::kIdentifier), std::move(literal)};
  }

  ScannedItem ScanSpecialSymbol() {
    const std::size_t start = pos_;
    std::optional<ScannedItem> longest;
    while (pos_ < text_.size() && IsSpecialSymbol(text_[pos_])) {
      const std::string_view candidate = text_.substr(start, pos_ + 1 - start);
      if (std::optional<Token> token = LiteralToken(candidate)) {
        longest = ScannedItem{*token, std::string(candidate)};
      } else if (longest) {
        break;
      }
      ++pos_;
    }
    if (!longest) {
      return {Token::kError, "error expected: keyword found '" +
                                 std::string(text_.substr(start, pos_ - start)) + "'"};
    }
    return *std::move(longest);
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Requirements and their validation (labels.NewRequirement).

void SortUnique(std::vector<std::string>& values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
}

bool IsInteger(std::string_view text) {
  std::int64_t ignored = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), ignored);
  return error == std::errc() && end == text.data() + text.size() && !text.empty();
}

std::string JoinMessages(const std::vector<std::string>& messages) {
  std::string joined;
  for (const std::string& message : messages) {
    if (!joined.empty()) joined += "; ";
    joined += message;
  }
  return joined;
}

// The key check; `key_path` is "<nil>" where Kubernetes validates without a path.
std::optional<std::string> LabelKeyError(std::string_view key, std::string_view key_path) {
  const std::vector<std::string> messages = IsQualifiedName(key);
  if (messages.empty()) return std::nullopt;
  return CauseText(InvalidCause(std::string(key_path), boost::json::string(key),
                                JoinMessages(messages)));
}

boost::json::value ValuesAsJson(const std::vector<std::string>* values) {
  if (values == nullptr) return nullptr;
  boost::json::array array;
  for (const std::string& v : *values) array.emplace_back(v);
  return array;
}

// Kubernetes' NewRequirement: checks key, value count for the operator, and each value.
// `raw_values` is null when the client sent no list at all (rendered as null in messages).
Result<LabelRequirement> NewRequirement(std::string key, SelectorOperator op,
                                        const std::vector<std::string>* raw_values) {
  static const std::vector<std::string> kNoValues;
  const std::vector<std::string>& values = raw_values ? *raw_values : kNoValues;
  std::vector<std::string> errors;
  if (std::optional<std::string> key_error = LabelKeyError(key, "key")) {
    errors.push_back(*key_error);
  }
  auto invalid_values = [&](std::string_view detail) {
    errors.push_back(CauseText(InvalidCause("values", ValuesAsJson(raw_values), detail)));
  };
  switch (op) {
    case SelectorOperator::kIn:
    case SelectorOperator::kNotIn:
      if (values.empty()) invalid_values("for 'in', 'notin' operators, values set can't be empty");
      break;
    case SelectorOperator::kEquals:
    case SelectorOperator::kDoubleEquals:
    case SelectorOperator::kNotEquals:
      if (values.size() != 1) invalid_values("exact-match compatibility requires one single value");
      break;
    case SelectorOperator::kExists:
    case SelectorOperator::kDoesNotExist:
      if (!values.empty()) invalid_values("values set must be empty for exists and does not exist");
      break;
    case SelectorOperator::kGreaterThan:
    case SelectorOperator::kLessThan:
      if (values.size() != 1) {
        invalid_values("for 'Gt', 'Lt' operators, exactly one value is required");
      }
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (!IsInteger(values[i])) {
          errors.push_back(CauseText(InvalidCause("values[" + std::to_string(i) + "]",
                                                  boost::json::string(values[i]),
                                                  "for 'Gt', 'Lt' operators, the value must be an integer")));
        }
      }
      break;
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::vector<std::string> messages = IsValidLabelValue(values[i]);
    if (messages.empty()) continue;
    errors.push_back(CauseText(InvalidCause("values[" + std::to_string(i) + "][" + key + "]",
                                            boost::json::string(values[i]),
                                            JoinMessages(messages))));
  }
  if (!errors.empty()) return InvalidArgumentError(JoinCauseTexts(errors));
  LabelRequirement requirement{std::move(key), op, values};
  SortUnique(requirement.values);
  return requirement;
}

// ---------------------------------------------------------------------------------------------
// The recursive-descent parser over the scanned tokens.

enum class Context { kKeyAndOperator, kValues };

class Parser {
 public:
  explicit Parser(std::string_view text) : items_(Lexer(text).ScanAll()) {}

  Result<std::vector<LabelRequirement>> ParseAll() {
    std::vector<LabelRequirement> requirements;
    while (true) {
      const ScannedItem& next = Lookahead(Context::kValues);
      if (next.token == Token::kEndOfString) return requirements;
      if (next.token != Token::kIdentifier && next.token != Token::kDoesNotExist) {
        return Error("found '" + next.literal + "', expected: !, identifier, or 'end of string'");
      }
      Result<LabelRequirement> requirement = ParseRequirement();
      if (!requirement.ok()) {
        return Error("unable to parse requirement: " + requirement.status().message());
      }
      requirements.push_back(*std::move(requirement));
      const ScannedItem after = Consume(Context::kValues);
      if (after.token == Token::kEndOfString) return requirements;
      if (after.token != Token::kComma) {
        return Error("found '" + after.literal + "', expected: ',' or 'end of string'");
      }
      const ScannedItem& following = Lookahead(Context::kValues);
      if (following.token != Token::kIdentifier && following.token != Token::kDoesNotExist) {
        return Error("found '" + following.literal + "', expected: identifier after ','");
      }
    }
  }

 private:
  static Status Error(std::string message) { return InvalidArgumentError(std::move(message)); }

  // In a value position the keywords in/notin are plain identifiers ("x in (in)").
  static ScannedItem InContext(ScannedItem item, Context context) {
    if (context == Context::kValues && (item.token == Token::kIn || item.token == Token::kNotIn)) {
      item.token = Token::kIdentifier;
    }
    return item;
  }
  ScannedItem Lookahead(Context context) const { return InContext(items_[position_], context); }
  // Never moves past the end-of-string item, which the lexer always appends.
  ScannedItem Consume(Context context) {
    ScannedItem item = InContext(items_[position_], context);
    if (position_ + 1 < items_.size()) ++position_;
    return item;
  }

  Result<LabelRequirement> ParseRequirement() {
    bool negated = false;
    ScannedItem key = Consume(Context::kValues);
    if (key.token == Token::kDoesNotExist) {
      negated = true;
      key = Consume(Context::kValues);
    }
    if (key.token != Token::kIdentifier) {
      return Error("found '" + key.literal + "', expected: identifier");
    }
    if (std::optional<std::string> error = LabelKeyError(key.literal, "<nil>")) return Error(*error);
    // "!key" never takes an operator; whatever follows it is the caller's syntax error.
    const Token next = Lookahead(Context::kValues).token;
    if (negated || next == Token::kEndOfString || next == Token::kComma) {
      const std::vector<std::string> none;
      return NewRequirement(std::move(key.literal),
                            negated ? SelectorOperator::kDoesNotExist : SelectorOperator::kExists,
                            &none);
    }
    return ParseBinary(std::move(key.literal));
  }

  Result<LabelRequirement> ParseBinary(std::string key) {
    KELP_ASSIGN_OR_RETURN(const SelectorOperator op, ParseOperator());
    Result<std::vector<std::string>> values = (op == SelectorOperator::kIn ||
                                               op == SelectorOperator::kNotIn)
                                                  ? ParseValueSet()
                                                  : ParseExactValue();
    if (!values.ok()) return values.status();
    SortUnique(*values);
    return NewRequirement(std::move(key), op, &*values);
  }

  Result<SelectorOperator> ParseOperator() {
    const ScannedItem item = Consume(Context::kKeyAndOperator);
    switch (item.token) {
      case Token::kIn: return SelectorOperator::kIn;
      case Token::kNotIn: return SelectorOperator::kNotIn;
      case Token::kEquals: return SelectorOperator::kEquals;
      case Token::kDoubleEquals: return SelectorOperator::kDoubleEquals;
      case Token::kNotEquals: return SelectorOperator::kNotEquals;
      case Token::kGreaterThan: return SelectorOperator::kGreaterThan;
      case Token::kLessThan: return SelectorOperator::kLessThan;
      default:
        return Error("found '" + item.literal + "', expected: in, notin, =, ==, !=, gt, lt");
    }
  }

  // "(a,b)"; empty members ("(,a)", "()") stand for the empty value.
  Result<std::vector<std::string>> ParseValueSet() {
    const ScannedItem open = Consume(Context::kValues);
    if (open.token != Token::kOpenPar) return Error("found '" + open.literal + "' expected: '('");
    const ScannedItem first = Lookahead(Context::kValues);
    if (first.token == Token::kClosedPar) {
      Consume(Context::kValues);
      return std::vector<std::string>{""};
    }
    if (first.token != Token::kIdentifier && first.token != Token::kComma) {
      return Error("found '" + first.literal + "', expected: ',', ')' or identifier");
    }
    KELP_ASSIGN_OR_RETURN(std::vector<std::string> values, ParseIdentifierList());
    if (Consume(Context::kValues).token != Token::kClosedPar) {
      return Error("found '" + first.literal + "', expected: ')'");
    }
    return values;
  }

  Result<std::vector<std::string>> ParseIdentifierList() {
    std::vector<std::string> values;
    while (true) {
      const ScannedItem item = Consume(Context::kValues);
      if (item.token == Token::kIdentifier) {
        values.push_back(item.literal);
        const ScannedItem next = Lookahead(Context::kValues);
        if (next.token == Token::kClosedPar) return values;
        if (next.token != Token::kComma) {
          return Error("found '" + next.literal + "', expected: ',' or ')'");
        }
        continue;
      }
      if (item.token != Token::kComma) {
        return Error("found '" + item.literal + "', expected: ',', or identifier");
      }
      if (values.empty()) values.emplace_back();  // "(,"
      const Token next = Lookahead(Context::kValues).token;
      if (next == Token::kClosedPar) {  // ",)"
        values.emplace_back();
        return values;
      }
      if (next == Token::kComma) {  // ",,"
        Consume(Context::kValues);
        values.emplace_back();
      }
    }
  }

  Result<std::vector<std::string>> ParseExactValue() {
    const Token next = Lookahead(Context::kValues).token;
    if (next == Token::kEndOfString || next == Token::kComma) return std::vector<std::string>{""};
    const ScannedItem item = Consume(Context::kValues);
    if (item.token == Token::kIdentifier) return std::vector<std::string>{item.literal};
    return Error("found '" + item.literal + "', expected: identifier");
  }

  std::vector<ScannedItem> items_;
  std::size_t position_ = 0;
};

void SortByKey(std::vector<LabelRequirement>& requirements) {
  std::stable_sort(requirements.begin(), requirements.end(),
                   [](const LabelRequirement& a, const LabelRequirement& b) { return a.key < b.key; });
}

const boost::json::string* LabelValue(const boost::json::object* labels, std::string_view key) {
  if (labels == nullptr) return nullptr;
  const boost::json::value* value = labels->if_contains(key);
  return value ? value->if_string() : nullptr;
}

std::optional<SelectorOperator> ExpressionOperator(std::string_view name) {
  if (name == "In") return SelectorOperator::kIn;
  if (name == "NotIn") return SelectorOperator::kNotIn;
  if (name == "Exists") return SelectorOperator::kExists;
  if (name == "DoesNotExist") return SelectorOperator::kDoesNotExist;
  return std::nullopt;
}

Result<LabelRequirement> RequirementFromExpression(const boost::json::value& expression) {
  const boost::json::object* fields = expression.if_object();
  if (fields == nullptr) return InvalidArgumentError("matchExpressions: expected object");
  KELP_ASSIGN_OR_RETURN(std::optional<std::string> key, FindString(*fields, "key"));
  KELP_ASSIGN_OR_RETURN(std::optional<std::string> op_name, FindString(*fields, "operator"));
  const std::optional<SelectorOperator> op = ExpressionOperator(op_name.value_or(""));
  if (!op) {
    return InvalidArgumentError(GoQuote(op_name.value_or("")) +
                                " is not a valid label selector operator");
  }
  KELP_ASSIGN_OR_RETURN(const boost::json::array* values_json, FindArray(*fields, "values"));
  std::optional<std::vector<std::string>> values;
  if (values_json != nullptr && !values_json->empty()) {
    values.emplace();
    for (const boost::json::value& v : *values_json) {
      const boost::json::string* s = v.if_string();
      if (s == nullptr) return InvalidArgumentError("matchExpressions.values: expected string");
      values->emplace_back(*s);
    }
  }
  return NewRequirement(key.value_or(""), *op, values ? &*values : nullptr);
}

// ---------------------------------------------------------------------------------------------
// Field selectors.

enum class FieldKind { kString, kBool, kInteger };

struct SelectableField {
  std::string_view resource;  // "" = every resource
  std::string_view label;
  std::string_view path;
  FieldKind kind;
};

constexpr SelectableField kSelectableFields[] = {
    {"", "metadata.name", "metadata.name", FieldKind::kString},
    {"", "metadata.namespace", "metadata.namespace", FieldKind::kString},
    {"pods", "spec.nodeName", "spec.nodeName", FieldKind::kString},
    {"pods", "spec.restartPolicy", "spec.restartPolicy", FieldKind::kString},
    {"pods", "spec.schedulerName", "spec.schedulerName", FieldKind::kString},
    {"pods", "spec.serviceAccountName", "spec.serviceAccountName", FieldKind::kString},
    {"pods", "spec.hostNetwork", "spec.hostNetwork", FieldKind::kBool},
    {"pods", "status.phase", "status.phase", FieldKind::kString},
    {"pods", "status.podIP", "status.podIP", FieldKind::kString},
    {"pods", "status.nominatedNodeName", "status.nominatedNodeName", FieldKind::kString},
    {"events", "involvedObject.kind", "involvedObject.kind", FieldKind::kString},
    {"events", "involvedObject.namespace", "involvedObject.namespace", FieldKind::kString},
    {"events", "involvedObject.name", "involvedObject.name", FieldKind::kString},
    {"events", "involvedObject.uid", "involvedObject.uid", FieldKind::kString},
    {"events", "involvedObject.apiVersion", "involvedObject.apiVersion", FieldKind::kString},
    {"events", "involvedObject.resourceVersion", "involvedObject.resourceVersion",
     FieldKind::kString},
    {"events", "involvedObject.fieldPath", "involvedObject.fieldPath", FieldKind::kString},
    {"events", "reason", "reason", FieldKind::kString},
    {"events", "reportingComponent", "reportingComponent", FieldKind::kString},
    {"events", "source", "source.component", FieldKind::kString},
    {"events", "type", "type", FieldKind::kString},
    {"nodes", "spec.unschedulable", "spec.unschedulable", FieldKind::kBool},
    {"namespaces", "status.phase", "status.phase", FieldKind::kString},
    {"secrets", "type", "type", FieldKind::kString},
    {"replicationcontrollers", "status.replicas", "status.replicas", FieldKind::kInteger},
};

// Core resources whose field list Kubernetes registers explicitly; their rejection message is
// the short "field label not supported" one.
bool HasOwnFieldList(std::string_view resource) {
  for (const SelectableField& field : kSelectableFields) {
    if (field.resource == resource) return true;
  }
  return false;
}

const SelectableField* FindSelectableField(std::string_view resource, std::string_view label) {
  for (const SelectableField& field : kSelectableFields) {
    if ((field.resource.empty() || field.resource == resource) && field.label == label) {
      return &field;
    }
  }
  return nullptr;
}

Status UnsupportedFieldError(std::string_view resource, std::string_view label) {
  if (HasOwnFieldList(resource)) {
    return InvalidArgumentError("field label not supported: " + std::string(label));
  }
  return InvalidArgumentError(GoQuote(label) +
                              " is not a known field selector: only \"metadata.name\", "
                              "\"metadata.namespace\"");
}

// Terms are separated by commas that are not escaped with a backslash.
std::vector<std::string_view> SplitFieldTerms(std::string_view text) {
  std::vector<std::string_view> terms;
  if (text.empty()) return terms;
  std::size_t start = 0;
  bool escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (escaped) {
      escaped = false;
    } else if (text[i] == '\\') {
      escaped = true;
    } else if (text[i] == ',') {
      terms.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  terms.push_back(text.substr(start));
  return terms;
}

// The first operator ("!=", "==", "=", tried in that order at each position) splits the term.
std::optional<FieldRequirement> SplitFieldTerm(std::string_view term) {
  for (std::size_t i = 0; i < term.size(); ++i) {
    const std::string_view rest = term.substr(i);
    for (std::string_view op : {"!=", "==", "="}) {
      if (rest.starts_with(op)) {
        return FieldRequirement{std::string(term.substr(0, i)), op == "!=",
                                std::string(rest.substr(op.size()))};
      }
    }
  }
  return std::nullopt;
}

// Field selector values escape '\', ',' and '=' with a backslash.
Result<std::string> UnescapeFieldValue(std::string_view value) {
  std::string out;
  bool escaped = false;
  for (const char c : value) {
    if (escaped) {
      if (c != '\\' && c != ',' && c != '=') {
        return InvalidArgumentError("invalid field selector: invalid escape sequence: \\" +
                                    std::string(1, c));
      }
      out += c;
      escaped = false;
    } else if (c == '\\') {
      escaped = true;
    } else if (c == ',' || c == '=') {
      // Go prints the rune as its number.
      return InvalidArgumentError("invalid field selector: unescaped character in value: " +
                                  std::to_string(static_cast<int>(c)));
    } else {
      out += c;
    }
  }
  if (escaped) return InvalidArgumentError("invalid field selector: invalid escape sequence: \\");
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

bool LabelRequirement::Matches(const boost::json::object* labels) const {
  const boost::json::string* value = LabelValue(labels, key);
  auto has_value = [&] {
    return std::binary_search(values.begin(), values.end(), std::string_view(*value));
  };
  switch (op) {
    case SelectorOperator::kIn:
    case SelectorOperator::kEquals:
    case SelectorOperator::kDoubleEquals:
      return value != nullptr && has_value();
    case SelectorOperator::kNotIn:
    case SelectorOperator::kNotEquals:
      return value == nullptr || !has_value();
    case SelectorOperator::kExists:
      return value != nullptr;
    case SelectorOperator::kDoesNotExist:
      return value == nullptr;
    case SelectorOperator::kGreaterThan:
    case SelectorOperator::kLessThan: {
      std::int64_t actual = 0;
      std::int64_t bound = 0;
      if (value == nullptr || values.size() != 1) return false;
      const auto [end, error] = std::from_chars(value->data(), value->data() + value->size(), actual);
      if (error != std::errc() || end != value->data() + value->size() || value->empty()) return false;
      std::from_chars(values[0].data(), values[0].data() + values[0].size(), bound);
      return op == SelectorOperator::kGreaterThan ? actual > bound : actual < bound;
    }
  }
  return false;
}

std::string LabelRequirement::ToString() const {
  std::string out = op == SelectorOperator::kDoesNotExist ? "!" + key : key;
  std::string joined;
  for (std::size_t i = 0; i < values.size(); ++i) joined += (i == 0 ? "" : ",") + values[i];
  switch (op) {
    case SelectorOperator::kExists:
    case SelectorOperator::kDoesNotExist: return out;
    case SelectorOperator::kIn: return out + " in (" + joined + ")";
    case SelectorOperator::kNotIn: return out + " notin (" + joined + ")";
    case SelectorOperator::kEquals: return out + "=" + joined;
    case SelectorOperator::kDoubleEquals: return out + "==" + joined;
    case SelectorOperator::kNotEquals: return out + "!=" + joined;
    case SelectorOperator::kGreaterThan: return out + ">" + joined;
    case SelectorOperator::kLessThan: return out + "<" + joined;
  }
  return out;
}

LabelSelector::LabelSelector(std::vector<LabelRequirement> requirements)
    : requirements_(std::move(requirements)) {
  SortByKey(requirements_);
}

Result<LabelSelector> LabelSelector::Parse(std::string_view text) {
  KELP_ASSIGN_OR_RETURN(std::vector<LabelRequirement> requirements, Parser(text).ParseAll());
  return LabelSelector(std::move(requirements));
}

Result<LabelSelector> LabelSelector::FromJson(const boost::json::object& selector) {
  std::vector<LabelRequirement> requirements;
  KELP_ASSIGN_OR_RETURN(const boost::json::object* match_labels,
                        FindObject(selector, "matchLabels"));
  if (match_labels != nullptr) {
    for (const auto& [key, value] : *match_labels) {
      const boost::json::string* text = value.if_string();
      if (text == nullptr) return InvalidArgumentError("matchLabels: expected string values");
      const std::vector<std::string> values{std::string(*text)};
      KELP_ASSIGN_OR_RETURN(LabelRequirement requirement,
                            NewRequirement(std::string(key), SelectorOperator::kEquals, &values));
      requirements.push_back(std::move(requirement));
    }
  }
  KELP_ASSIGN_OR_RETURN(const boost::json::array* expressions,
                        FindArray(selector, "matchExpressions"));
  if (expressions != nullptr) {
    for (const boost::json::value& expression : *expressions) {
      KELP_ASSIGN_OR_RETURN(LabelRequirement requirement, RequirementFromExpression(expression));
      requirements.push_back(std::move(requirement));
    }
  }
  return LabelSelector(std::move(requirements));
}

bool LabelSelector::Matches(const boost::json::object* labels) const {
  return std::all_of(requirements_.begin(), requirements_.end(),
                     [&](const LabelRequirement& r) { return r.Matches(labels); });
}

std::string LabelSelector::ToString() const {
  std::string out;
  for (const LabelRequirement& requirement : requirements_) {
    if (!out.empty()) out += ",";
    out += requirement.ToString();
  }
  return out;
}

FieldSelector::FieldSelector(std::string resource, std::vector<FieldRequirement> requirements)
    : resource_(std::move(resource)), requirements_(std::move(requirements)) {}

Result<FieldSelector> FieldSelector::Parse(std::string_view text, std::string_view resource) {
  std::vector<std::string_view> terms = SplitFieldTerms(text);
  std::sort(terms.begin(), terms.end());
  std::vector<FieldRequirement> requirements;
  for (std::string_view term : terms) {
    if (term.empty()) continue;
    std::optional<FieldRequirement> requirement = SplitFieldTerm(term);
    if (!requirement) {
      return InvalidArgumentError("invalid selector: '" + std::string(text) +
                                  "'; can't understand '" + std::string(term) + "'");
    }
    KELP_ASSIGN_OR_RETURN(requirement->value, UnescapeFieldValue(requirement->value));
    requirements.push_back(*std::move(requirement));
  }
  for (const FieldRequirement& requirement : requirements) {
    if (FindSelectableField(resource, requirement.label) == nullptr) {
      return UnsupportedFieldError(resource, requirement.label);
    }
  }
  return FieldSelector(std::string(resource), std::move(requirements));
}

bool FieldSelector::Matches(const boost::json::object& object) const {
  return std::all_of(requirements_.begin(), requirements_.end(), [&](const FieldRequirement& r) {
    return (SelectableFieldValue(resource_, object, r.label) == r.value) != r.negated;
  });
}

std::string SelectableFieldValue(std::string_view resource, const boost::json::object& object,
                                 std::string_view label) {
  const SelectableField* field = FindSelectableField(resource, label);
  if (field == nullptr) return "";
  const boost::json::value* value = FindPath(object, field->path);
  switch (field->kind) {
    case FieldKind::kString: {
      const boost::json::string* text = value ? value->if_string() : nullptr;
      return text ? std::string(*text) : "";
    }
    case FieldKind::kBool: {
      const bool* flag = value ? value->if_bool() : nullptr;
      return flag && *flag ? "true" : "false";
    }
    case FieldKind::kInteger: {
      const std::int64_t* number = value ? value->if_int64() : nullptr;
      return std::to_string(number ? *number : 0);
    }
  }
  return "";
}

}  // namespace kelp::api
