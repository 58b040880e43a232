// Tests of label and field selectors: the string grammar, Kubernetes' error texts, matching,
// the LabelSelector object form and printing, and per-resource selectable fields.
#include "api/selectors.h"

#include <gtest/gtest.h>

#include "common/json.h"

namespace kelp::api {
namespace {

boost::json::object Labels(std::string_view json) { return *ParseJsonObject(json); }

std::string ParseError(std::string_view text) {
  Result<LabelSelector> s = LabelSelector::Parse(text);
  EXPECT_FALSE(s.ok()) << text;
  return s.status().message();
}

TEST(LabelSelectorTest, ParsesAllOperatorsAndPrintsSortedByKey) {
  Result<LabelSelector> s = LabelSelector::Parse("a=b,c!=d,e in (y,x),f notin (z),g,!h,i==j");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->ToString(), "a=b,c!=d,e in (x,y),f notin (z),g,!h,i==j");
  EXPECT_EQ(s->requirements().size(), 7u);
}

TEST(LabelSelectorTest, EmptyStringSelectsEverything) {
  Result<LabelSelector> s = LabelSelector::Parse("  ");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->Empty());
  EXPECT_TRUE(s->Matches(nullptr));
}

TEST(LabelSelectorTest, Matches) {
  const boost::json::object labels = Labels(R"({"app":"web","tier":"db","n":"5"})");
  auto matches = [&](std::string_view text) { return LabelSelector::Parse(text)->Matches(&labels); };
  EXPECT_TRUE(matches("app=web"));
  EXPECT_TRUE(matches("app==web,tier"));
  EXPECT_FALSE(matches("app=api"));
  EXPECT_TRUE(matches("app!=api"));
  EXPECT_TRUE(matches("missing!=x"));
  EXPECT_TRUE(matches("tier in (db,cache)"));
  EXPECT_FALSE(matches("tier notin (db)"));
  EXPECT_TRUE(matches("missing notin (db)"));
  EXPECT_TRUE(matches("!missing"));
  EXPECT_FALSE(matches("!app"));
  EXPECT_TRUE(matches("n>4,n<6"));
  EXPECT_FALSE(matches("app>4"));
  EXPECT_TRUE(matches("x in (in)") == false);
  EXPECT_FALSE(LabelSelector::Parse("app")->Matches(nullptr));
}

TEST(LabelSelectorTest, EmptyValuesInSets) {
  Result<LabelSelector> s = LabelSelector::Parse("x in (foo,,baz),y,z notin ()");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->ToString(), "x in (,baz,foo),y,z notin ()");
  EXPECT_EQ(LabelSelector::Parse("a=")->ToString(), "a=");
}

TEST(LabelSelectorTest, SyntaxErrorsUseKubernetesMessages) {
  EXPECT_EQ(ParseError("a in (b"), "unable to parse requirement: found '', expected: ',' or ')'");
  EXPECT_EQ(ParseError("a b"),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt");
  EXPECT_EQ(ParseError("a=b,"), "found '', expected: identifier after ','");
  EXPECT_EQ(ParseError(","), "found ',', expected: !, identifier, or 'end of string'");
  EXPECT_EQ(ParseError("a in b"), "unable to parse requirement: found 'b' expected: '('");
  EXPECT_EQ(ParseError("a (b)"),
            "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt");
  EXPECT_EQ(ParseError("a=(b)"), "unable to parse requirement: found '(', expected: identifier");
  EXPECT_EQ(ParseError("!=x"), "found '!=', expected: !, identifier, or 'end of string'");
  EXPECT_EQ(ParseError("!,a"), "unable to parse requirement: found ',', expected: identifier");
  EXPECT_EQ(ParseError("!a=b"), "found '=', expected: ',' or 'end of string'");
  EXPECT_EQ(ParseError("a in (=)"),
            "unable to parse requirement: found '=', expected: ',', ')' or identifier");
}

TEST(LabelSelectorTest, InvalidKeysAndValuesUseKubernetesMessages) {
  EXPECT_EQ(ParseError("a@b=c"),
            "unable to parse requirement: <nil>: Invalid value: \"a@b\": name part must consist "
            "of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
  EXPECT_EQ(ParseError("app=-bad"),
            "unable to parse requirement: values[0][app]: Invalid value: \"-bad\": a valid label "
            "must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
            "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  "
            "or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
  EXPECT_EQ(ParseError("n>x"),
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' "
            "operators, the value must be an integer");
}

TEST(LabelSelectorTest, FromJsonPrintsLikeScaleStatusSelector) {
  Result<LabelSelector> s = LabelSelector::FromJson(Labels(R"({"matchLabels":{"app":"nginx1"}})"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->ToString(), "app=nginx1");

  s = LabelSelector::FromJson(Labels(R"({"matchLabels":{"b":"1"},"matchExpressions":[
      {"key":"a","operator":"In","values":["y","x"]},{"key":"c","operator":"DoesNotExist"},
      {"key":"d","operator":"Exists"},{"key":"e","operator":"NotIn","values":["q"]}]})"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->ToString(), "a in (x,y),b=1,!c,d,e notin (q)");
  const boost::json::object labels = Labels(R"({"a":"x","b":"1","d":""})");
  EXPECT_TRUE(s->Matches(&labels));

  EXPECT_TRUE(LabelSelector::FromJson(boost::json::object())->Empty());
}

TEST(LabelSelectorTest, FromJsonErrors) {
  Result<LabelSelector> s =
      LabelSelector::FromJson(Labels(R"({"matchExpressions":[{"key":"a","operator":"Foo"}]})"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "\"Foo\" is not a valid label selector operator");

  s = LabelSelector::FromJson(Labels(R"({"matchExpressions":[{"key":"a","operator":"In"}]})"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty");

  EXPECT_FALSE(LabelSelector::FromJson(Labels(R"({"matchLabels":{"a":1}})")).ok());
  EXPECT_FALSE(LabelSelector::FromJson(Labels(R"({"matchExpressions":[3]})")).ok());
}

boost::json::object Pod() {
  return *ParseJsonObject(R"({"metadata":{"name":"web-1","namespace":"default"},
      "spec":{"nodeName":"node01","restartPolicy":"Always","hostNetwork":true},
      "status":{"phase":"Running","podIP":"10.244.1.5"}})");
}

TEST(FieldSelectorTest, ParsesAndMatchesPodFields) {
  const boost::json::object pod = Pod();
  auto matches = [&](std::string_view text) {
    Result<FieldSelector> s = FieldSelector::Parse(text, "pods");
    EXPECT_TRUE(s.ok()) << text << ": " << s.status().ToString();
    return s.ok() && s->Matches(pod);
  };
  EXPECT_TRUE(matches("metadata.name=web-1"));
  EXPECT_TRUE(matches("metadata.name==web-1,metadata.namespace=default"));
  EXPECT_TRUE(matches("spec.nodeName!=node02"));
  EXPECT_FALSE(matches("spec.nodeName=node02"));
  EXPECT_TRUE(matches("status.phase=Running,status.podIP=10.244.1.5"));
  EXPECT_TRUE(matches("spec.hostNetwork=true"));
  EXPECT_TRUE(matches("spec.schedulerName="));
  EXPECT_TRUE(matches(""));
}

TEST(FieldSelectorTest, OtherResources) {
  const boost::json::object event = *ParseJsonObject(R"({"metadata":{"name":"e"},
      "involvedObject":{"kind":"Pod","name":"web-1"},"source":{"component":"kubelet"},
      "type":"Normal","reason":"Started"})");
  Result<FieldSelector> s = FieldSelector::Parse(
      "involvedObject.kind=Pod,involvedObject.name=web-1,source=kubelet,type=Normal,reason=Started",
      "events");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->Matches(event));

  const boost::json::object node = *ParseJsonObject(R"({"metadata":{"name":"n"},"spec":{}})");
  EXPECT_TRUE(FieldSelector::Parse("spec.unschedulable=false", "nodes")->Matches(node));
  const boost::json::object secret = *ParseJsonObject(R"({"type":"Opaque"})");
  EXPECT_TRUE(FieldSelector::Parse("type=Opaque", "secrets")->Matches(secret));
}

TEST(FieldSelectorTest, EscapedValues) {
  const boost::json::object pod = *ParseJsonObject(R"({"metadata":{"name":"a,b=c"}})");
  Result<FieldSelector> s = FieldSelector::Parse(R"(metadata.name=a\,b\=c)", "pods");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->Matches(pod));
}

TEST(FieldSelectorTest, ErrorsUseKubernetesMessages) {
  EXPECT_EQ(FieldSelector::Parse("foo=bar", "pods").status().message(),
            "field label not supported: foo");
  EXPECT_EQ(FieldSelector::Parse("spec.replicas=1", "deployments").status().message(),
            "\"spec.replicas\" is not a known field selector: only \"metadata.name\", "
            "\"metadata.namespace\"");
  EXPECT_EQ(FieldSelector::Parse("metadata.name", "pods").status().message(),
            "invalid selector: 'metadata.name'; can't understand 'metadata.name'");
  EXPECT_EQ(FieldSelector::Parse("metadata.name=a=b", "pods").status().message(),
            "invalid field selector: unescaped character in value: 61");
  EXPECT_EQ(FieldSelector::Parse(R"(metadata.name=a\x)", "pods").status().message(),
            "invalid field selector: invalid escape sequence: \\x");
  EXPECT_EQ(FieldSelector::Parse("spec.nodeName=x", "services").status().message(),
            "\"spec.nodeName\" is not a known field selector: only \"metadata.name\", "
            "\"metadata.namespace\"");
}

}  // namespace
}  // namespace kelp::api
