// The JSON reader used for safetensors headers and bitsandbytes quant states.
#include <gtest/gtest.h>

#include "error.h"
#include "json.h"

namespace {

rai::json::Value parse(const std::string &s) { return rai::json::parse(s.data(), s.size(), "test"); }

void expect_format_error(const std::string &s, const std::string &fragment) {
    try {
        parse(s);
        ADD_FAILURE() << "accepted: " << s;
    } catch (const rai::Error &e) {
        EXPECT_EQ(e.status(), RAI_ERROR_FORMAT) << s;
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
}

}  // namespace

TEST(Json, ParsesValuesInOrder) {
    const auto v = parse(" {\"b\": [1, -2, 3.5e2, true, false, null], \"a\": {\"x\": \"y\"}} ");
    ASSERT_EQ(v.kind, rai::json::Kind::Object);
    ASSERT_EQ(v.members.size(), 2u);
    EXPECT_EQ(v.members[0].first, "b");
    const auto &arr = v.members[0].second.items;
    ASSERT_EQ(arr.size(), 6u);
    int64_t i = 0;
    EXPECT_TRUE(arr[0].as_int64(i));
    EXPECT_EQ(i, 1);
    EXPECT_TRUE(arr[1].as_int64(i));
    EXPECT_EQ(i, -2);
    uint64_t u = 0;
    EXPECT_FALSE(arr[1].as_uint64(u));
    EXPECT_FALSE(arr[2].as_int64(i));
    double d = 0;
    EXPECT_TRUE(arr[2].as_double(d));
    EXPECT_EQ(d, 350.0);
    EXPECT_TRUE(arr[3].boolean);
    EXPECT_EQ(arr[5].kind, rai::json::Kind::Null);
    EXPECT_EQ(v.find("a")->find("x")->text, "y");
    EXPECT_EQ(v.find("zz"), nullptr);
}

TEST(Json, IntegersAreExact) {
    uint64_t u = 0;
    EXPECT_TRUE(parse("18446744073709551615").as_uint64(u));
    EXPECT_EQ(u, 18446744073709551615ull);
    EXPECT_FALSE(parse("18446744073709551616").as_uint64(u));
    int64_t i = 0;
    EXPECT_FALSE(parse("9223372036854775808").as_int64(i));
    EXPECT_FALSE(parse("1e3").as_int64(i));
}

TEST(Json, StringEscapesAndUtf8) {
    EXPECT_EQ(parse("\"a\\\"b\\\\c\\/\\n\\t\\u00e9\\ud83d\\ude00\"").text, "a\"b\\c/\n\t\xc3\xa9\xf0\x9f\x98\x80");
    EXPECT_EQ(parse("\"\xe2\x82\xac\"").text, "\xe2\x82\xac");
    std::string out;
    rai::json::append_string(out, std::string("q\"\\\n\x01", 5));
    EXPECT_EQ(out, "\"q\\\"\\\\\\n\\u0001\"");
    EXPECT_EQ(parse(out).text, std::string("q\"\\\n\x01", 5));
}

TEST(Json, RejectsMalformedInput) {
    expect_format_error("", "unexpected end");
    expect_format_error("{", "expected a string key");
    expect_format_error("{\"a\":1,}", "expected a string key");
    expect_format_error("[1,]", "unexpected character");
    expect_format_error("01", "unexpected data");
    expect_format_error("1.", "malformed number");
    expect_format_error("-", "malformed number");
    expect_format_error("\"abc", "unterminated string");
    expect_format_error("\"a\nb\"", "control character");
    expect_format_error("\"\\x\"", "unknown escape");
    expect_format_error("\"\\ud800\"", "unpaired surrogate");
    expect_format_error("\"\\udc00\"", "unpaired surrogate");
    expect_format_error("\"\xff\"", "invalid UTF-8");
    expect_format_error("\"\xc0\xaf\"", "invalid UTF-8");       // overlong
    expect_format_error("\"\xed\xa0\x80\"", "invalid UTF-8");   // encoded surrogate
    expect_format_error("\"\xe2\x82\"", "UTF-8");
    expect_format_error("tru", "unexpected character");
    expect_format_error("{} x", "unexpected data");
    expect_format_error(std::string(100, '[') + std::string(100, ']'), "nesting deeper than 64");
    EXPECT_NO_THROW(parse(std::string(64, '[') + std::string(64, ']')));
}

TEST(Json, PythonFloatRepr) {
    using rai::json::python_float_repr;
    EXPECT_EQ(python_float_repr(0.1320699006319046), "0.1320699006319046");
    EXPECT_EQ(python_float_repr(1e-05), "1e-05");
    EXPECT_EQ(python_float_repr(0.0001), "0.0001");
    EXPECT_EQ(python_float_repr(1.5e16), "1.5e+16");
    EXPECT_EQ(python_float_repr(1e16), "1e+16");
    EXPECT_EQ(python_float_repr(123456789012345.0), "123456789012345.0");
    EXPECT_EQ(python_float_repr(100.0), "100.0");
    EXPECT_EQ(python_float_repr(-2.5), "-2.5");
    EXPECT_EQ(python_float_repr(0.0), "0.0");
    EXPECT_EQ(python_float_repr(5.960464477539063e-08), "5.960464477539063e-08");
    EXPECT_EQ(python_float_repr(1.0 / 3), "0.3333333333333333");
}
